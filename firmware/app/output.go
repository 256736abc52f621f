package app

import (
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/camwarden/camwarden/firmware/report"
	"github.com/camwarden/camwarden/probes/classify"
)

// SurveyJSON is the public survey/analyze output: {"devices":[...]}.
type SurveyJSON struct {
	Devices []report.Device `json:"devices"`
}

// WriteJSON writes the survey JSON of DESIGN.md.
func WriteJSON(w io.Writer, devs []report.Device) error {
	if devs == nil {
		devs = []report.Device{}
	}
	for i := range devs {
		if devs[i].Evidence == nil {
			devs[i].Evidence = []report.EvidenceItem{}
		}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(SurveyJSON{Devices: devs})
}

// ReadJSON reads a survey/analyze JSON file's devices.
func ReadJSON(r io.Reader) ([]report.Device, error) {
	var s SurveyJSON
	dec := json.NewDecoder(io.LimitReader(r, 64<<20))
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("survey JSON: %w", err)
	}
	return s.Devices, nil
}

// WriteTable prints devices as an aligned table for a terminal.
func WriteTable(w io.Writer, devs []report.Device) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "IP\tMAC\tMAKER\tBRAND\tMODEL\tSERIAL\tCONFIDENCE\tSTATUS")
	count := map[string]int{}
	for _, d := range behindOrder(devs) {
		st := statusWord(d)
		count[st]++
		if d.Flagged {
			st = "FLAGGED"
			if d.Action != "" {
				st += " (" + d.Action + ")"
			}
		} else if st == report.StatusReview {
			st = "REVIEW"
		}
		maker := d.Maker
		switch {
		case maker == "" && len(d.Candidates) > 0:
			maker = strings.Join(d.Candidates, "|") + "?"
		case maker == "":
			maker = "?"
		}
		if len(d.Components) > 0 {
			maker += " [" + strings.Join(d.Components, ",") + "]"
		}
		ip, mac := d.IP, d.MAC
		if b := d.Behind; b != nil {
			// Indented under its recorder: the channel, and the camera's
			// address on the recorder's own network.
			ip, mac = fmt.Sprintf("  └ ch%d %s", b.Channel, b.IP), dash(d.MAC)
		} else if d.CamerasBehind > 0 {
			maker += fmt.Sprintf(" (records %d cameras)", d.CamerasBehind)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", ip, mac, maker, dash(d.Brand), dash(trunc(d.Model, 24)),
			dash(trunc(d.Serial, 24)), d.Confidence, st)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "%d devices: %d flagged, %d to review, %d clean, %d unknown\n", len(devs),
		count[report.StatusFlagged], count[report.StatusReview], count[report.StatusClean], count[report.StatusUnknown])
	if err == nil && count[report.StatusReview] > 0 {
		_, err = fmt.Fprintln(w, "REVIEW: the maker could not be determined; nothing is cut for these. See `camwarden explain MAC`.")
	}
	return err
}

// behindOrder lists each recorder's channel cameras right after it, by
// channel number; channels whose recorder is not in devs come last.
func behindOrder(devs []report.Device) []report.Device {
	chans := map[string][]report.Device{}
	var out []report.Device
	for _, d := range devs {
		if d.Behind != nil {
			chans[d.Behind.NVR] = append(chans[d.Behind.NVR], d)
		}
	}
	for _, c := range chans {
		slices.SortFunc(c, func(a, b report.Device) int { return a.Behind.Channel - b.Behind.Channel })
	}
	for _, d := range devs {
		if d.Behind != nil {
			continue
		}
		out = append(out, d)
		out = append(out, chans[d.MAC]...)
		delete(chans, d.MAC)
	}
	for _, d := range devs {
		if d.Behind != nil && chans[d.Behind.NVR] != nil {
			out = append(out, chans[d.Behind.NVR]...)
			delete(chans, d.Behind.NVR)
		}
	}
	return out
}

// statusWord is d.Status, derived for files written before it existed.
func statusWord(d report.Device) string {
	switch {
	case d.Status != "":
		return d.Status
	case d.Flagged:
		return report.StatusFlagged
	case d.Maker != "":
		return report.StatusClean
	}
	return report.StatusUnknown
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func trunc(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}

// Explain prints, in plain words, why a device got its verdict: the same
// text classify.Explain writes for a live verdict (rebuilt from the survey
// or state file), then what the policy in force does about it.
func Explain(w io.Writer, d report.Device) error {
	var b strings.Builder
	if bh := d.Behind; bh != nil {
		fmt.Fprintf(&b, "Camera %s: channel %d of the recorder %s (%s), at %s on the recorder's network, reached over %s\n",
			d.ID, bh.Channel, bh.NVR, dash(bh.NVRIP), dash(bh.IP), dash(bh.Protocol))
	} else {
		fmt.Fprintf(&b, "Device %s at %s\n", d.MAC, dash(d.IP))
	}
	if d.CamerasBehind > 0 {
		fmt.Fprintf(&b, "Recorder: it records %d cameras (listed as %s/chN).\n", d.CamerasBehind, d.MAC)
	}
	b.WriteString(classify.Explain(verdictOf(d)))
	switch {
	case statusWord(d) == report.StatusReview && d.Maker != "":
		b.WriteString("REVIEW: no action is taken until a person settles it.\n")
		for _, r := range d.Review {
			fmt.Fprintf(&b, "  ? %s\n", r)
		}
	case statusWord(d) == report.StatusReview:
		// classify.Explain said what a review asks for.
	case d.Flagged && d.Action == "allowed":
		b.WriteString("Policy: flagged, but on the allow-list: no action is taken.\n")
	case d.Flagged:
		fmt.Fprintf(&b, "Policy: FLAGGED; action: %s.\n", dash(d.Action))
	default:
		b.WriteString("Policy: not flagged by the policy in force.\n")
	}
	if d.ProbedAt.IsZero() {
		b.WriteString("Active probing: not (yet) probed; the verdict rests on what the device said unasked.\n")
	} else {
		fmt.Fprintf(&b, "Active probing: last finished %s.\n", d.ProbedAt.Format(time.RFC3339))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// verdictOf rebuilds the classify verdict a published device came from.
func verdictOf(d report.Device) classify.Verdict {
	conf, _ := classify.ParseConfidence(d.Confidence)
	v := classify.Verdict{Maker: d.Maker, Brand: d.Brand, Model: d.Model, Serial: d.Serial, Firmware: d.Firmware,
		Confidence: conf, Conflicts: d.Conflicts, Components: d.Components, Notes: d.Notes}
	if d.Maker == "" {
		// A classification review; a recorder with unread cameras keeps its
		// maker and is explained by Explain itself.
		v.Review, v.Candidates = d.Review, d.Candidates
	}
	for _, e := range d.Evidence {
		s, _ := classify.ParseConfidence(e.Strength)
		v.Evidence = append(v.Evidence, classify.Evidence{Probe: e.Probe, Detail: e.Detail, Maker: e.Maker,
			Brand: e.Brand, Strength: s, Rule: e.Rule})
	}
	return v
}

// compareIP orders dotted IPv4 strings numerically, empty last.
func compareIP(a, b string) int {
	pa, ea := netipParse(a)
	pb, eb := netipParse(b)
	switch {
	case ea && eb:
		return strings.Compare(a, b)
	case ea:
		return 1
	case eb:
		return -1
	}
	return pa.Compare(pb)
}

func netipParse(s string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(s)
	return a, err != nil
}

// WriteStatus prints the daemon snapshot for `camwarden status`.
func WriteStatus(w io.Writer, id string, s Snapshot) error {
	st := s.Status
	relay := "connected"
	if st.UplinkCut {
		relay = "CUT since " + s.Relay.CutSince.Format(time.RFC3339)
		if s.Relay.Acked {
			relay += ", acknowledged by " + s.Relay.AckedBy
		}
		if len(s.Relay.WaitingFor) > 0 {
			relay += ", waiting for " + strings.Join(s.Relay.WaitingFor, " ")
		}
	}
	if s.Relay.RelayFault != "" {
		relay += " (relay fault: " + s.Relay.RelayFault + ")"
	}
	age := time.Since(s.Updated).Round(time.Second)
	fmt.Fprintf(w, "appliance:  %s\n", id)
	if s.Site != "" {
		fmt.Fprintf(w, "site:       %s\n", s.Site)
	}
	fmt.Fprintf(w, "firmware:   %s\n", st.Firmware)
	fmt.Fprintf(w, "policy:     version %d\n", st.PolicyVersion)
	fmt.Fprintf(w, "interfaces: %s\n", dash(strings.Join(st.Interfaces, ", ")))
	if st.Unconfigured {
		fmt.Fprintln(w, "state:      UNCONFIGURED: name the camera interface under interfaces: in the configuration")
	}
	fmt.Fprintf(w, "devices:    %d (%d flagged)\n", st.Devices, st.Flagged)
	if st.CaptureDropped+st.PipelineDropped > 0 {
		fmt.Fprintf(w, "dropped:    %d frames by the kernel, %d observations by the pipeline\n", st.CaptureDropped, st.PipelineDropped)
	}
	switch {
	case !s.Broker.Configured:
		fmt.Fprintln(w, "broker:     not configured (mqtt.broker)")
	case s.Broker.Connected:
		fmt.Fprintln(w, "broker:     connected")
	default:
		fmt.Fprintln(w, "broker:     NOT CONNECTED (retrying; events wait in the outbox)")
	}
	fmt.Fprintf(w, "uplink:     %s\n", relay)
	switch s.Daemon.Alive() {
	case LiveRunning:
		fmt.Fprintf(w, "daemon:     running (pid %d)\n", s.Daemon.PID)
	case LiveGone:
		fmt.Fprintln(w, "daemon:     NOT RUNNING (this is its last state)")
	}
	_, err := fmt.Fprintf(w, "updated:    %s (%s ago; rewritten on change and every %s)\n", s.Updated.Format(time.RFC3339), age, stateHeartbeatText)
	return err
}
