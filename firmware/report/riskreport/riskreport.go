// Package riskreport renders the risk-assessment report: one self-contained
// HTML file (inline CSS and SVG, nothing fetched) that the people who sign
// a risk assessment can read and print to PDF. `wardenctl report` builds it
// for a fleet, a site or an appliance from the fleet store; `camwarden
// survey --report` for the one site it surveyed.
//
// The report states what the appliances found and what the rules say, in
// plain words; it gives no legal advice.
package riskreport

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/camwarden/camwarden/firmware/report"
	"github.com/camwarden/camwarden/probes/classify"
)

// Device is one device in the report.
type Device struct {
	Appliance string `json:"appliance"`
	Site      string `json:"site,omitempty"`
	report.Device
}

// Action is something done on the fleet: an uplink cut or restore, an
// acknowledgement.
type Action struct {
	Time      time.Time `json:"time"`
	Appliance string    `json:"appliance"`
	Kind      string    `json:"kind"` // "Uplink cut", "Uplink restored", "Acknowledged", ...
	Who       string    `json:"who,omitempty"`
	Detail    string    `json:"detail,omitempty"`
}

// Exception is an allow-list entry of the policy in force.
type Exception struct {
	MAC     string    `json:"mac,omitempty"`
	Serial  string    `json:"serial,omitempty"`
	Reason  string    `json:"reason"`
	Expires time.Time `json:"expires,omitzero"`
}

// Data is everything a report is built from. Its JSON (Marshal) is what the
// digest printed in the report covers, so a reader can check the report
// against the data it claims to show.
type Data struct {
	Scope          string      `json:"scope"` // "Fleet", "Site site12", "Appliance site12-cam-a"
	Source         string      `json:"source"`
	PolicyVersions []string    `json:"policy_versions,omitempty"`
	Firmware       []string    `json:"firmware,omitempty"`
	Appliances     int         `json:"appliances"`
	Devices        []Device    `json:"devices"`
	Actions        []Action    `json:"actions,omitempty"`
	Exceptions     []Exception `json:"exceptions,omitempty"`
}

// Digest is the SHA-256 of the data's canonical JSON (hex).
func (d Data) Digest() (string, error) {
	b, err := json.Marshal(d)
	if err != nil {
		return "", err
	}
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:]), nil
}

// Render writes the report generated at now.
func Render(w io.Writer, d Data, now time.Time) error {
	digest, err := d.Digest()
	if err != nil {
		return err
	}
	v := build(d)
	v.Generated, v.Digest = now, digest
	// Not html/template: text/template's executor looks methods up by name
	// at run time, which makes the linker keep every exported method of
	// every type in the binary (4 MB of arm64 camwarden). render.go says
	// how the page escapes instead.
	_, err = w.Write(render(v))
	return err
}

type bar struct {
	Label        string
	Count, Total int
	Flagged      int
	Y, W, FW     int // geometry of the bar and of its flagged part
}

type statusCount struct {
	Status, Word, Class string
	Count               int
}

type deviceView struct {
	Device
	MakerName, BrandName string
	Relabel              bool
	ActionWords          string
	Explain              []string
	Behind               string // where a camera behind a recorder sits
}

type ruleView struct {
	Maker string
	Rules []rule
}

type view struct {
	Data
	Generated       time.Time
	Digest          string
	Statuses        []statusCount
	Bars            []bar
	ChartHeight     int
	Restricted      []deviceView
	Review          []deviceView
	Rules           []ruleView
	Expired         int
	MakersFlagged   int
	ComponentsNoted bool
}

var statusOrder = []statusCount{
	{Status: report.StatusFlagged, Word: "Restricted maker or part", Class: "flagged"},
	{Status: report.StatusReview, Word: "Needs a person to decide", Class: "review"},
	{Status: report.StatusClean, Word: "Maker identified, not restricted", Class: "clean"},
	{Status: report.StatusUnknown, Word: "Maker not identified", Class: "unknown"},
}

func statusOf(d report.Device) string {
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

func build(d Data) view {
	v := view{Data: d}
	counts := map[string]int{}
	byMaker := map[string]*bar{}
	for _, dev := range d.Devices {
		st := statusOf(dev.Device)
		counts[st]++
		m := dev.Maker
		if m == "" {
			m = "(not identified)"
		}
		b := byMaker[m]
		if b == nil {
			b = &bar{Label: maker(m)}
			byMaker[m] = b
		}
		b.Count++
		if st == report.StatusFlagged {
			b.Flagged++
		}
		switch st {
		case report.StatusFlagged:
			v.Restricted = append(v.Restricted, viewOf(dev))
		case report.StatusReview:
			v.Review = append(v.Review, viewOf(dev))
		}
	}
	for _, s := range statusOrder {
		s.Count = counts[s.Status]
		v.Statuses = append(v.Statuses, s)
	}
	bars := make([]bar, 0, len(byMaker))
	for _, b := range byMaker {
		bars = append(bars, *b)
	}
	slices.SortFunc(bars, func(a, b bar) int {
		return cmp.Or(b.Flagged-a.Flagged, b.Count-a.Count, strings.Compare(a.Label, b.Label))
	})
	if len(bars) > 12 { // the chart stays readable; the tables list every device
		other := bar{Label: fmt.Sprintf("%d other makers", len(bars)-11)}
		for _, b := range bars[11:] {
			other.Count += b.Count
			other.Flagged += b.Flagged
		}
		bars = append(bars[:11], other)
	}
	top := 1
	for _, b := range bars {
		top = max(top, b.Count)
	}
	for i := range bars {
		bars[i].Y = 8 + i*30
		bars[i].W = max(2, bars[i].Count*420/top)
		bars[i].FW = bars[i].Flagged * 420 / top
		bars[i].Total = len(d.Devices)
	}
	v.Bars, v.ChartHeight = bars, 16+len(bars)*30
	sortDevices := func(ds []deviceView) {
		slices.SortFunc(ds, func(a, b deviceView) int {
			return cmp.Or(strings.Compare(a.Site, b.Site), strings.Compare(a.Appliance, b.Appliance), strings.Compare(a.IP, b.IP), strings.Compare(a.Key(), b.Key()))
		})
	}
	sortDevices(v.Restricted)
	sortDevices(v.Review)
	slices.SortFunc(v.Actions, func(a, b Action) int { return a.Time.Compare(b.Time) })
	makers := map[string]bool{}
	for _, r := range v.Restricted {
		if r.Maker != "" {
			makers[r.Maker] = true
		}
		for _, c := range r.Components {
			makers[strings.ToLower(c)] = true
			v.ComponentsNoted = true
		}
	}
	v.MakersFlagged = len(makers)
	for _, m := range sortedKeys(makers) {
		v.Rules = append(v.Rules, ruleView{Maker: maker(m), Rules: rulesFor(m)})
	}
	return v
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func viewOf(d Device) deviceView {
	v := deviceView{Device: d, MakerName: maker(d.Maker), BrandName: d.Brand}
	v.Relabel = d.Brand != "" && !strings.EqualFold(d.Brand, d.Maker) && !strings.EqualFold(d.Brand, v.MakerName)
	switch d.Action {
	case "isolate":
		v.ActionWords = "Isolated: the appliance cuts the camera network's uplink while it is present"
	case "alert":
		v.ActionWords = "Alert only: reported, not disconnected"
	case "allowed":
		v.ActionWords = "Allowed by an allow-list exception: no action taken"
	default:
		v.ActionWords = "Reported"
	}
	for _, line := range strings.Split(strings.TrimRight(classify.Explain(verdictOf(d.Device)), "\n"), "\n") {
		if line = strings.TrimSpace(line); line != "" {
			v.Explain = append(v.Explain, line)
		}
	}
	v.Behind = behind(d.Device.Behind)
	return v
}

// verdictOf rebuilds the classifier's verdict from a published device, so
// the report explains it in the same words as `camwarden explain`.
func verdictOf(d report.Device) classify.Verdict {
	conf, _ := classify.ParseConfidence(d.Confidence)
	v := classify.Verdict{Maker: d.Maker, Brand: d.Brand, Model: d.Model, Serial: d.Serial, Firmware: d.Firmware,
		Confidence: conf, Conflicts: d.Conflicts, Components: d.Components, Notes: d.Notes,
		Review: d.Review, Candidates: d.Candidates}
	for _, e := range d.Evidence {
		s, _ := classify.ParseConfidence(e.Strength)
		v.Evidence = append(v.Evidence, classify.Evidence{Probe: e.Probe, Detail: e.Detail, Maker: e.Maker,
			Brand: e.Brand, Strength: s, Rule: e.Rule})
	}
	return v
}

// behind says in words where a camera behind a recorder sits.
func behind(b *report.Behind) string {
	if b == nil {
		return ""
	}
	parts := []string{"recorder " + b.NVR}
	if b.NVRIP != "" {
		parts[0] += " (" + b.NVRIP + ")"
	}
	parts = append(parts, fmt.Sprintf("channel %d", b.Channel))
	if b.Name != "" {
		parts = append(parts, "named \""+b.Name+"\"")
	}
	if b.IP != "" {
		parts = append(parts, "address "+b.IP+" on the recorder's camera network")
	}
	if b.Protocol != "" {
		parts = append(parts, "reached over "+b.Protocol)
	}
	return strings.Join(parts, ", ")
}

var makerNames = map[string]string{
	"hikvision": "Hikvision", "dahua": "Dahua", "huawei": "Huawei", "zte": "ZTE", "hytera": "Hytera",
	"hisilicon": "HiSilicon", "axis": "Axis", "uniview": "Uniview", "hanwha": "Hanwha Vision", "bosch": "Bosch",
}

// maker is a maker id as a reader writes it.
func maker(id string) string {
	if n, ok := makerNames[strings.ToLower(id)]; ok {
		return n
	}
	if id == "" {
		return "—"
	}
	return strings.ToUpper(id[:1]) + id[1:]
}

// The helpers below are the words the page is assembled from; they return
// plain text, which the page escapes where it writes it.

func when(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2 Jan 2006 15:04 UTC")
}

func day(t time.Time) string {
	if t.IsZero() {
		return "no expiry"
	}
	return t.UTC().Format("2 Jan 2006")
}

func dash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

// suffix is s after sep, or nothing when s is empty.
func suffix(sep, s string) string {
	if s == "" {
		return ""
	}
	return sep + s
}

// count is "1 device", "2 devices".
func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

// list joins items with sep, or is a dash when there are none.
func list(items []string, sep string) string {
	return dash(strings.Join(items, sep))
}

// makers joins maker ids as a reader writes them.
func makers(ids []string, sep string) string {
	names := make([]string, len(ids))
	for i, id := range ids {
		names[i] = maker(id)
	}
	return list(names, sep)
}

func summaryLine(st []statusCount) string {
	flagged, review := st[0].Count, st[1].Count
	s := strconv.Itoa(flagged) + " device"
	if flagged == 1 {
		s += " was"
	} else {
		s += "s were"
	}
	s += " found to be made by a restricted maker or to contain a restricted part; " + strconv.Itoa(review) + " need"
	if review == 1 {
		return s + "s a person to decide who made it."
	}
	return s + " a person to decide who made them."
}

func barCount(b bar) string {
	s := strconv.Itoa(b.Count)
	if b.Flagged > 0 {
		s += " (" + strconv.Itoa(b.Flagged) + " restricted)"
	}
	return s
}

func where(d deviceView) string {
	s := "appliance " + d.Appliance
	if d.Site != "" {
		s = "site " + d.Site + ", " + s
	}
	return s
}

func pill(action string) string {
	switch action {
	case "isolate":
		return "isolated"
	case "allowed", "alert":
		return action
	}
	return "flagged"
}

func madeBy(d deviceView) string {
	if !d.Relabel {
		return d.MakerName
	}
	return d.MakerName + " (sold under the brand " + d.BrandName + ": " + d.BrandName + " → " + d.MakerName + ")"
}

func address(d deviceView) string {
	s := "IP " + dash(d.IP) + ", MAC " + dash(d.MAC)
	if d.VLAN != 0 {
		s += ", VLAN " + strconv.Itoa(int(d.VLAN))
	}
	return s
}
