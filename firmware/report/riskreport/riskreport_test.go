package riskreport_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/camwarden/camwarden/firmware/report"
	"github.com/camwarden/camwarden/firmware/report/riskreport"
	"github.com/camwarden/camwarden/scripts/lab/labtest"
)

const (
	chromium  = "/usr/bin/chromium"
	pdftotext = "/usr/bin/pdftotext"
)

// sample is a site with one of everything the report must show.
func sample() riskreport.Data {
	t0 := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	d := riskreport.Data{Scope: "Site site12", Source: "fleet store (test)", PolicyVersions: []string{"7"},
		Firmware: []string{"1.2.3"}, Appliances: 2}
	d.Devices = append(d.Devices,
		riskreport.Device{Appliance: "site12-cam-a", Site: "site12", Device: report.Device{MAC: "bc:ad:28:00:00:01", IP: "198.18.1.21",
			Maker: "hikvision", Brand: "LTS", Model: "DS-2CD2385G1-I", Serial: "DS-2CD2385G1-I20200101AAWRD12345678",
			Firmware: "V5.6.3", Flagged: true, Confidence: "definitive", Action: "isolate", Status: report.StatusFlagged, FirstSeen: t0,
			Evidence: []report.EvidenceItem{{Probe: "sadp", Detail: "SADP reply names model DS-2CD2385G1-I", Maker: "hikvision", Strength: "definitive"},
				{Probe: "oui", Detail: "MAC prefix registered to Hangzhou Hikvision Digital Technology", Maker: "hikvision", Strength: "strong"}}}},
		riskreport.Device{Appliance: "site12-cam-a", Site: "site12", Device: report.Device{MAC: "02:11:22:33:44:55", IP: "198.18.1.30",
			Maker: "dahua", Model: "NVR4108HS-8P-4KS2", Flagged: true, Confidence: "strong", Action: "alert", Status: report.StatusFlagged,
			CamerasBehind: 2,
			Evidence:      []report.EvidenceItem{{Probe: "dhip", Detail: "DHIP reply names device class NVR", Maker: "dahua", Strength: "strong"}}}},
		riskreport.Device{Appliance: "site12-cam-a", Site: "site12", Device: report.Device{ID: "02:11:22:33:44:55/ch1", IP: "198.18.1.30",
			Maker: "dahua", Model: "IPC-HDW2431T", Flagged: true, Confidence: "strong", Action: "alert", Status: report.StatusFlagged,
			Behind:   &report.Behind{NVR: "02:11:22:33:44:55", NVRIP: "198.18.1.30", Channel: 1, IP: "10.1.1.64", Protocol: "dahua private"},
			Evidence: []report.EvidenceItem{{Probe: "nvr", Detail: "the recorder lists channel 1 as IPC-HDW2431T", Maker: "dahua", Strength: "strong"}}}},
		riskreport.Device{Appliance: "site12-cam-b", Site: "site12", Device: report.Device{MAC: "02:aa:bb:cc:dd:01", IP: "198.18.1.40",
			Maker: "xiongmai", Flagged: true, Confidence: "strong", Action: "isolate", Status: report.StatusFlagged, Components: []string{"hisilicon"},
			Evidence: []report.EvidenceItem{{Probe: "xm", Detail: "NetSurveillance service reports a HiSilicon Hi3516 board", Maker: "xiongmai", Strength: "strong"}}}},
		riskreport.Device{Appliance: "site12-cam-b", Site: "site12", Device: report.Device{MAC: "02:aa:bb:cc:dd:02", IP: "198.18.1.41",
			Confidence: "weak", Status: report.StatusReview, Candidates: []string{"dahua", "uniview"},
			Review: []string{"the MAC prefix and the web page name different makers"}}},
	)
	for i := range 40 {
		mk := []string{"axis", "bosch", "hanwha", ""}[i%4]
		st := report.StatusClean
		if mk == "" {
			st = report.StatusUnknown
		}
		d.Devices = append(d.Devices, riskreport.Device{Appliance: "site12-cam-b", Site: "site12", Device: report.Device{
			MAC: fmt.Sprintf("02:00:00:00:01:%02x", i), IP: fmt.Sprintf("198.18.1.%d", 100+i), Maker: mk, Status: st, Confidence: "strong"}})
	}
	d.Actions = []riskreport.Action{
		{Time: t0.Add(time.Minute), Appliance: "site12-cam-a", Kind: "Uplink cut", Detail: "restricted device bc:ad:28:00:00:01 present"},
		{Time: t0.Add(20 * time.Minute), Appliance: "site12-cam-a", Kind: "Acknowledged", Who: "cmd:alice"},
	}
	d.Exceptions = []riskreport.Exception{{MAC: "02:11:22:33:44:66", Reason: "Lift-shaft camera, replacement ordered (PO 4471)", Expires: t0.Add(60 * 24 * time.Hour)}}
	return d
}

func TestRenderHTML(t *testing.T) {
	var b bytes.Buffer
	if err := riskreport.Render(&b, sample(), time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	html := b.String()
	// Self-contained: no fetch of any kind.
	if m := regexp.MustCompile(`(?i)(src=|href=|url\(|@import|<link|<script)`).FindString(html); m != "" {
		t.Errorf("report fetches something: %q", m)
	}
	for _, want := range []string{"LTS → Hikvision", "section 889", "National Intelligence Law", "HiSilicon", "cmd:alice",
		"PO 4471", "recorder 02:11:22:33:44:55 (198.18.1.30), channel 1, address 10.1.1.64", "Dahua or Uniview", "1.2.3", "<svg"} {
		if !strings.Contains(html, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	d1, _ := sample().Digest()
	other := sample()
	other.Devices[0].Serial = "X"
	if d2, _ := other.Digest(); d1 == d2 || !strings.Contains(html, d1) {
		t.Errorf("digest does not follow the data or is missing")
	}
}

// TestHostileStringsStayText puts markup into every kind of place a
// device or an operator can fill (text, a class attribute, the title, table
// cells) and parses the page as a browser would: the strings must come back
// as the same text or attribute value, and no element may appear that the
// report does not write itself.
func TestHostileStringsStayText(t *testing.T) {
	d := sample()
	hostile := map[string]bool{}
	set := func(p *string, s string) { *p = s; hostile[s] = false }
	set(&d.Scope, `Site <i>x</i>`)
	set(&d.Devices[0].Model, `<script>alert(1)</script>"'&amp;`)
	set(&d.Devices[0].Serial, `</dd><img src=x onerror=alert(2)>`)
	set(&d.Devices[1].Firmware, `V1 <!-- comment`)
	set(&d.Devices[4].Model, `<svg onload=alert(3)>`)
	set(&d.Actions[0].Detail, `<b>bold</b>`)
	set(&d.Exceptions[0].Reason, `"><iframe src=//x>`)
	d.Devices[0].Action = `isolate" onmouseover="alert(4)`
	var b bytes.Buffer
	if err := riskreport.Render(&b, d, time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	allowed := map[string]bool{}
	for _, tag := range strings.Fields("html head meta title style body main header h1 p dl dt dd section h2 div b span " +
		"figure svg text rect figcaption table colgroup col tr th td h3 ul li h4 footer") {
		allowed[tag] = true
	}
	pillClass := false
	z := html.NewTokenizer(&b)
	var text strings.Builder
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			break
		}
		tok := z.Token()
		switch tt {
		case html.StartTagToken, html.SelfClosingTagToken:
			if !allowed[tok.Data] {
				t.Errorf("element <%s> in the report: device text became markup", tok.Data)
			}
			for _, a := range tok.Attr {
				if strings.HasPrefix(a.Key, "on") || a.Key == "src" {
					t.Errorf("attribute %s=%q on <%s>", a.Key, a.Val, tok.Data)
				}
				if a.Key == "class" && a.Val == "pill "+d.Devices[0].Action {
					pillClass = true
				}
			}
		case html.CommentToken:
			t.Errorf("comment in the report: %q", tok.Data)
		case html.TextToken:
			text.WriteString(tok.Data)
		}
	}
	if !pillClass {
		t.Errorf("the action's class attribute did not come back whole")
	}
	for s := range hostile {
		if !strings.Contains(text.String(), s) {
			t.Errorf("%q is not in the report's text", s)
		}
	}
}

// TestRenderInChromium renders the report in a real browser: a screenshot,
// a check that nothing is wider than an A4-like viewport, and a PDF whose
// text holds the same facts as the HTML.
func TestRenderInChromium(t *testing.T) {
	labtest.RequireBinary(t, chromium)
	labtest.RequireBinary(t, pdftotext)
	dir := t.TempDir()
	if keep := os.Getenv("CWREPORT_KEEP"); keep != "" {
		dir = keep
	}
	data := sample()
	var b bytes.Buffer
	if err := riskreport.Render(&b, data, time.Now()); err != nil {
		t.Fatal(err)
	}
	page := filepath.Join(dir, "report.html")
	if err := os.WriteFile(page, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	// A copy that measures itself: the widest element's right edge and the
	// document's scroll width against the viewport, and which sections
	// have a size.
	probe := strings.Replace(b.String(), "</body>", `<script>
var w = window.innerWidth, worst = 0, who = "";
document.querySelectorAll("body *").forEach(function (e) { var r = e.getBoundingClientRect().right; if (r > worst) { worst = r; who = e.tagName + "." + e.className; } });
var secs = [];
document.querySelectorAll("section, header, footer").forEach(function (s) { if (s.getBoundingClientRect().height > 20) secs.push(s.id || s.tagName); });
document.body.setAttribute("data-measure", JSON.stringify({viewport: w, scroll: document.documentElement.scrollWidth, right: Math.ceil(worst), widest: who, sections: secs}));
</script></body>`, 1)
	probePath := filepath.Join(dir, "probe.html")
	if err := os.WriteFile(probePath, []byte(probe), 0o644); err != nil {
		t.Fatal(err)
	}
	browser := func(args ...string) []byte {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
			"--disable-extensions", "--user-data-dir=" + filepath.Join(dir, "profile"), "--hide-scrollbars"}
		cmd := exec.CommandContext(ctx, chromium, append(base, args...)...)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			t.Fatalf("chromium %v: %v\n%s", args, err, errb.String())
		}
		return out.Bytes()
	}
	for _, width := range []int{800, 1280} {
		dom := browser(fmt.Sprintf("--window-size=%d,1200", width), "--dump-dom", "file://"+probePath)
		m := regexp.MustCompile(`data-measure="([^"]*)"`).FindSubmatch(dom)
		if m == nil {
			t.Fatalf("width %d: no measurement in the DOM", width)
		}
		meas := strings.ReplaceAll(string(m[1]), "&quot;", `"`)
		var vw, sw, right int
		fmt.Sscanf(regexp.MustCompile(`"viewport":(\d+)`).FindStringSubmatch(meas)[1], "%d", &vw)
		fmt.Sscanf(regexp.MustCompile(`"scroll":(\d+)`).FindStringSubmatch(meas)[1], "%d", &sw)
		fmt.Sscanf(regexp.MustCompile(`"right":(\d+)`).FindStringSubmatch(meas)[1], "%d", &right)
		if sw > vw || right > vw {
			t.Errorf("width %d: content overflows: %s", width, meas)
		}
		for _, s := range []string{"summary", "actions", "review", "restricted", "exceptions", "rules", "FOOTER"} {
			if !strings.Contains(meas, `"`+s+`"`) {
				t.Errorf("width %d: section %s not rendered: %s", width, s, meas)
			}
		}
		t.Logf("width %d: %s", width, meas)
	}
	png := filepath.Join(dir, "report.png")
	browser("--window-size=1024,2600", "--screenshot="+png, "file://"+page)
	if st, err := os.Stat(png); err != nil || st.Size() < 20000 {
		t.Fatalf("screenshot: %v (%d bytes)", err, st.Size())
	}
	pdf := filepath.Join(dir, "report.pdf")
	browser("--no-pdf-header-footer", "--print-to-pdf="+pdf, "file://"+page)
	txt, err := exec.Command(pdftotext, pdf, "-").Output()
	if err != nil {
		t.Fatalf("pdftotext: %v", err)
	}
	text := strings.Join(strings.Fields(string(txt)), " ")
	digest, _ := data.Digest()
	for _, want := range []string{"Camera network risk report", "Site site12", "DS-2CD2385G1-I20200101AAWRD12345678",
		"bc:ad:28:00:00:01", "LTS → Hikvision", "cmd:alice", "Lift-shaft camera, replacement ordered", "PO 4471",
		"National Intelligence Law", "section 889", "HiSilicon", "IPC-HDW2431T", "Dahua or Uniview", "1.2.3", digest[:32]} {
		if !strings.Contains(text, want) {
			t.Errorf("PDF text lacks %q", want)
		}
	}
}
