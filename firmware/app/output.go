package app

import (
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/camwarden/camwarden/firmware/report"
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
	for _, d := range devs {
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
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", d.IP, d.MAC, maker, dash(d.Brand), dash(trunc(d.Model, 24)),
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

// Explain prints, in plain words, why a device got its verdict.
func Explain(w io.Writer, d report.Device) error {
	var b strings.Builder
	who := d.Maker
	if who == "" {
		who = "an unknown maker"
	}
	fmt.Fprintf(&b, "Device %s at %s\n", d.MAC, dash(d.IP))
	if statusWord(d) == report.StatusReview {
		who = "UNDETERMINED (review): the evidence points at " + strings.Join(d.Candidates, " and ")
	}
	fmt.Fprintf(&b, "  Made by:    %s", who)
	if d.Brand != "" && !strings.EqualFold(d.Brand, d.Maker) {
		fmt.Fprintf(&b, " (sold under the brand %s)", d.Brand)
	}
	fmt.Fprintf(&b, "\n  Confidence: %s\n", d.Confidence)
	if d.Model != "" || d.Serial != "" || d.Firmware != "" {
		fmt.Fprintf(&b, "  Model %s, serial %s, firmware %s\n", dash(d.Model), dash(d.Serial), dash(d.Firmware))
	}
	switch {
	case statusWord(d) == report.StatusReview:
		b.WriteString("  REVIEW: no action is taken until a person settles it.\n")
		for _, r := range d.Review {
			fmt.Fprintf(&b, "    ? %s\n", r)
		}
		b.WriteString("  To settle it: check the label and the web interface; allow-list the device by MAC or serial\n" +
			"  (policy allow:) if it is harmless, or have a signed policy add a signature naming its maker.\n")
	case d.Flagged && d.Action == "allowed":
		b.WriteString("  Flagged by policy, but on the allow-list: no action is taken.\n")
	case d.Flagged:
		fmt.Fprintf(&b, "  FLAGGED by policy; action: %s.\n", dash(d.Action))
	default:
		b.WriteString("  Not flagged by the policy in force.\n")
	}
	if len(d.Evidence) > 0 {
		b.WriteString("  Why:\n")
		for i, e := range d.Evidence {
			fmt.Fprintf(&b, "    %d. [%s] %s\n", i+1, e.Probe, e.Detail)
		}
	} else {
		b.WriteString("  No identifying evidence was seen.\n")
	}
	for _, c := range d.Conflicts {
		fmt.Fprintf(&b, "  Note: %s\n", c)
	}
	for _, c := range d.Components {
		fmt.Fprintf(&b, "  Contains restricted component: %s\n", c)
	}
	_, err := io.WriteString(w, b.String())
	return err
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
	fmt.Fprintf(w, "firmware:   %s\n", st.Firmware)
	fmt.Fprintf(w, "policy:     version %d\n", st.PolicyVersion)
	fmt.Fprintf(w, "interfaces: %s\n", dash(strings.Join(st.Interfaces, ", ")))
	if st.Unconfigured {
		fmt.Fprintln(w, "state:      UNCONFIGURED: name the camera interface under interfaces: in the configuration")
	}
	fmt.Fprintf(w, "devices:    %d (%d flagged)\n", st.Devices, st.Flagged)
	fmt.Fprintf(w, "uplink:     %s\n", relay)
	_, err := fmt.Fprintf(w, "updated:    %s (%s ago)\n", s.Updated.Format(time.RFC3339), age)
	return err
}
