package riskreport

import (
	"bytes"
	"html"
	"strconv"
)

// page writes the report into a buffer (so a failing writer never leaves
// half a page behind a good status) and is plain Go on purpose: the earlier
// html/template and then templ versions cost 260 KB of the appliance's
// arm64 binary (text/template's method lookup by name, or templ's runtime,
// which imports html/template), measured with go tool nm.
//
// The page has one rule for what it did not write itself: every string
// that comes from the data, which means from devices that may be hostile
// or from operators, goes through text(), whether it lands in element
// content or in a double-quoted attribute value. html.EscapeString escapes
// < > & ' and ", which is all either place needs; the report has no
// script, style, URL or unquoted attribute that would need more, and
// nothing from the data is ever put into the style block.
// TestHostileStringsStayText parses the result to hold the page to that.
type page struct{ b bytes.Buffer }

// raw writes markup the report itself owns: never data.
func (p *page) raw(s ...string) {
	for _, x := range s {
		p.b.WriteString(x)
	}
}

// text writes data, escaped.
func (p *page) text(s string) { p.b.WriteString(html.EscapeString(s)) }

// num writes a number the report computed.
func (p *page) num(n int) { p.b.WriteString(strconv.Itoa(n)) }

// item writes <tag>data</tag>.
func (p *page) item(tag, s string) { p.raw("<", tag, ">"); p.text(s); p.raw("</", tag, ">") }

// fact writes one <dt>term</dt><dd>data</dd> line.
func (p *page) fact(term, s string) {
	p.raw("<dt>", term, "</dt><dd>")
	p.text(s)
	p.raw("</dd>\n")
}

const style = `@page { size: A4; margin: 16mm 14mm; }
* { box-sizing: border-box; }
html { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
body { margin: 0; font: 14px/1.5 "DejaVu Sans", "Helvetica Neue", Arial, sans-serif; color: #1d2530; background: #fff; }
main { max-width: 960px; margin: 0 auto; padding: 28px 28px 40px; }
h1 { font-size: 26px; margin: 0 0 4px; letter-spacing: -0.01em; }
h2 { font-size: 18px; margin: 34px 0 10px; padding-bottom: 6px; border-bottom: 2px solid #1d2530; page-break-after: avoid; }
h3 { font-size: 15px; margin: 0 0 6px; }
p { margin: 6px 0; }
.sub { color: #4a5563; margin: 0 0 18px; }
.meta { display: grid; grid-template-columns: 170px 1fr; gap: 4px 14px; font-size: 13px; background: #f3f5f8; border: 1px solid #d9dee5; border-radius: 6px; padding: 12px 16px; }
.meta dt { color: #4a5563; }
.meta dd { margin: 0; overflow-wrap: anywhere; }
.mono { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 12px; }
.cards { display: grid; grid-template-columns: repeat(4, 1fr); gap: 10px; margin: 12px 0 16px; }
.card { border: 1px solid #d9dee5; border-left-width: 6px; border-radius: 6px; padding: 10px 12px; }
.card b { display: block; font-size: 26px; line-height: 1.1; }
.card span { font-size: 12px; color: #4a5563; }
.flagged { border-left-color: #b42318; } .review { border-left-color: #b54708; } .clean { border-left-color: #067647; } .unknown { border-left-color: #667085; }
table { width: 100%; border-collapse: collapse; table-layout: fixed; font-size: 13px; margin: 8px 0; }
th, td { text-align: left; vertical-align: top; padding: 6px 8px; border-bottom: 1px solid #e3e7ec; overflow-wrap: anywhere; }
th { background: #f3f5f8; font-weight: 600; }
tr { page-break-inside: avoid; }
.device { border: 1px solid #d9dee5; border-radius: 6px; padding: 12px 14px; margin: 12px 0; page-break-inside: avoid; }
.device.r { border-left: 6px solid #b42318; }
.device.q { border-left: 6px solid #b54708; }
.facts { display: grid; grid-template-columns: 150px 1fr; gap: 2px 12px; font-size: 13px; margin: 6px 0; }
.facts dt { color: #4a5563; } .facts dd { margin: 0; overflow-wrap: anywhere; }
.explain { margin: 8px 0 0; padding: 8px 12px; background: #f8f9fb; border-radius: 4px; font-size: 13px; }
.explain li { margin: 2px 0; overflow-wrap: anywhere; }
ul.explain { list-style: none; }
.pill { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; font-weight: 600; color: #fff; background: #b42318; }
.pill.alert { background: #b54708; } .pill.allowed { background: #667085; }
.rule { border: 1px solid #d9dee5; border-radius: 6px; padding: 10px 14px; margin: 10px 0; page-break-inside: avoid; }
.rule h4 { margin: 8px 0 2px; font-size: 13px; }
.note { font-size: 12px; color: #4a5563; }
.empty { color: #4a5563; font-style: italic; }
svg { display: block; max-width: 100%; height: auto; }
footer { margin-top: 36px; padding-top: 10px; border-top: 1px solid #d9dee5; font-size: 12px; color: #4a5563; }
@media print { main { padding: 0; max-width: none; } h2 { margin-top: 24px; } }
`

func render(v view) []byte {
	p := &page{}
	p.raw("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n",
		"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>Camera network risk report: ")
	p.text(v.Scope)
	p.raw("</title>\n<style>\n", style, "</style>\n</head>\n<body>\n<main>\n")
	p.header(v)
	p.summary(v)
	p.actions(v)
	p.review(v)
	p.restricted(v)
	p.exceptions(v)
	p.rules(v)
	p.raw("<footer>\n<p>This report states what the camwarden appliances observed on the camera network and summarises ",
		"public rules in plain words. It is not legal advice: whether a rule applies to your organisation, and what to do ",
		"about it, is for your legal and security advisers.</p>\n<p>The data digest is the SHA-256 of the report's input data (")
	p.num(len(v.Devices))
	p.raw(" devices, ")
	p.num(len(v.Actions))
	p.raw(" actions, ")
	p.num(len(v.Exceptions))
	p.raw(" exceptions) as JSON; the command that made this report writes that JSON with <span class=\"mono\">--data FILE</span> ",
		"so the digest can be checked.</p>\n</footer>\n</main>\n</body>\n</html>\n")
	return p.b.Bytes()
}

func (p *page) header(v view) {
	p.raw("<header>\n<h1>Camera network risk report</h1>\n<p class=\"sub\">")
	p.text(v.Scope + " · generated " + when(v.Generated))
	p.raw("</p>\n<dl class=\"meta\" id=\"about\">\n")
	p.fact("Scope", v.Scope+" ("+count(v.Appliances, "appliance")+", "+count(len(v.Devices), "device")+")")
	p.fact("Generated", when(v.Generated))
	p.fact("Data from", v.Source)
	p.fact("Policy version", list(v.PolicyVersions, ", "))
	p.fact("Appliance firmware", list(v.Firmware, ", "))
	p.raw("<dt>Data digest (SHA-256)</dt><dd class=\"mono\">")
	p.text(v.Digest)
	p.raw("</dd>\n</dl>\n</header>\n\n")
}

func (p *page) summary(v view) {
	p.raw("<section id=\"summary\">\n<h2>1. Summary</h2>\n<div class=\"cards\">\n")
	for _, s := range v.Statuses {
		p.raw("<div class=\"card ")
		p.text(s.Class)
		p.raw("\"><b>")
		p.num(s.Count)
		p.raw("</b>")
		p.item("span", s.Word)
		p.raw("</div>\n")
	}
	p.raw("</div>\n")
	p.item("p", summaryLine(v.Statuses))
	p.raw("\n<figure style=\"margin:12px 0\">\n<svg viewBox=\"0 0 720 ")
	p.num(v.ChartHeight)
	p.raw("\" width=\"720\" height=\"")
	p.num(v.ChartHeight)
	p.raw("\" role=\"img\" aria-label=\"Devices by maker\">\n")
	for _, b := range v.Bars {
		p.raw("<text x=\"160\" y=\"")
		p.num(b.Y)
		p.raw("\" dy=\"15\" text-anchor=\"end\" font-size=\"13\" fill=\"#1d2530\">")
		p.text(b.Label)
		p.raw("</text>\n<rect x=\"170\" y=\"")
		p.num(b.Y)
		p.raw("\" width=\"")
		p.num(b.W)
		p.raw("\" height=\"20\" rx=\"3\" fill=\"#98a2b3\"/>")
		if b.Flagged > 0 {
			p.raw("<rect x=\"170\" y=\"")
			p.num(b.Y)
			p.raw("\" width=\"")
			p.num(b.FW)
			p.raw("\" height=\"20\" rx=\"3\" fill=\"#b42318\"/>")
		}
		p.raw("\n<text x=\"")
		p.num(b.W)
		p.raw("\" dx=\"178\" y=\"")
		p.num(b.Y)
		p.raw("\" dy=\"15\" font-size=\"12\" fill=\"#1d2530\">")
		p.text(barCount(b))
		p.raw("</text>\n")
	}
	p.raw("</svg>\n<figcaption class=\"note\">Devices by maker. Red: restricted by the policy in force; grey: not ",
		"restricted or maker not identified.</figcaption>\n</figure>\n</section>\n\n")
}

func (p *page) actions(v view) {
	p.raw("<section id=\"actions\">\n<h2>2. What was done</h2>\n")
	if len(v.Actions) == 0 {
		p.raw("<p class=\"empty\">No uplink was cut or restored and nothing was acknowledged in this period.</p>\n</section>\n\n")
		return
	}
	p.raw("<table>\n<colgroup><col style=\"width:22%\"><col style=\"width:20%\"><col style=\"width:18%\"><col style=\"width:14%\"><col></colgroup>\n",
		"<tr><th>When</th><th>Appliance</th><th>What</th><th>By</th><th>Details</th></tr>\n")
	for _, a := range v.Actions {
		p.raw("<tr>")
		p.item("td", when(a.Time))
		p.item("td", a.Appliance)
		p.item("td", a.Kind)
		p.item("td", dash(a.Who))
		p.item("td", a.Detail)
		p.raw("</tr>\n")
	}
	p.raw("</table>\n</section>\n\n")
}

func (p *page) explain(lines []string) {
	p.raw("<ul class=\"explain\">")
	for _, l := range lines {
		p.item("li", l)
	}
	p.raw("</ul>\n")
}

func (p *page) review(v view) {
	p.raw("<section id=\"review\">\n<h2>3. Open review items</h2>\n<p>The appliance could not decide who made these ",
		"devices: its evidence points at more than one maker. Nothing is done about them until a person checks the device ",
		"and settles it.</p>\n")
	for _, d := range v.Review {
		p.raw("<div class=\"device q\">\n")
		p.item("h3", dash(d.IP)+" · "+d.Key())
		p.raw("\n<dl class=\"facts\">\n")
		p.fact("Where", where(d))
		p.fact("Could be made by", makers(d.Candidates, " or "))
		if d.Model != "" {
			p.fact("Model", d.Model)
		}
		p.raw("</dl>\n")
		p.explain(d.Explain)
		p.raw("</div>\n")
	}
	if len(v.Review) == 0 {
		p.raw("<p class=\"empty\">No open review items.</p>\n")
	}
	p.raw("</section>\n\n")
}

func (p *page) restricted(v view) {
	p.raw("<section id=\"restricted\">\n<h2>4. Restricted devices and the evidence</h2>\n")
	for _, d := range v.Restricted {
		p.raw("<div class=\"device r\">\n<h3>")
		p.text(d.MakerName + suffix(" ", d.Model) + " · " + dash(d.IP))
		p.raw(" <span class=\"pill ")
		p.text(d.Action)
		p.raw("\">")
		p.text(pill(d.Action))
		p.raw("</span></h3>\n<dl class=\"facts\">\n")
		p.fact("Made by", madeBy(d))
		p.fact("Where", where(d))
		p.fact("Network address", address(d))
		if d.Serial != "" {
			p.fact("Serial", d.Serial)
		}
		if d.Firmware != "" {
			p.fact("Firmware", d.Firmware)
		}
		p.fact("Confidence", dash(d.Confidence))
		if len(d.Components) > 0 {
			p.fact("Restricted parts inside", makers(d.Components, ", "))
		}
		if d.Behind != "" {
			p.fact("Behind a recorder", d.Behind)
		}
		if d.CamerasBehind != 0 {
			p.fact("Cameras behind it", strconv.Itoa(d.CamerasBehind)+" (each listed as a device of its own)")
		}
		p.fact("First seen", when(d.FirstSeen))
		p.fact("What happens", d.ActionWords)
		p.raw("</dl>\n")
		p.explain(d.Explain)
		p.raw("</div>\n")
	}
	if len(v.Restricted) == 0 {
		p.raw("<p class=\"empty\">No device made by a restricted maker or containing a restricted part was found.</p>\n")
	}
	p.raw("</section>\n\n")
}

func (p *page) exceptions(v view) {
	p.raw("<section id=\"exceptions\">\n<h2>5. Allow-list exceptions</h2>\n")
	if len(v.Exceptions) == 0 {
		p.raw("<p class=\"empty\">The policy in force has no allow-list exceptions.</p>\n</section>\n\n")
		return
	}
	p.raw("<table>\n<colgroup><col style=\"width:24%\"><col style=\"width:20%\"><col><col style=\"width:16%\"></colgroup>\n",
		"<tr><th>Device (MAC)</th><th>Serial</th><th>Reason given</th><th>Expires</th></tr>\n")
	for _, e := range v.Exceptions {
		p.raw("<tr>")
		p.item("td", dash(e.MAC))
		p.item("td", dash(e.Serial))
		p.item("td", e.Reason)
		p.item("td", day(e.Expires))
		p.raw("</tr>\n")
	}
	p.raw("</table>\n<p class=\"note\">An exception lets a restricted device stay connected; the appliance still reports it.</p>\n</section>\n\n")
}

func (p *page) rules(v view) {
	p.raw("<section id=\"rules\">\n<h2>6. The rules that apply to each maker</h2>\n",
		"<p>Plain-words summaries of public rules, for each restricted maker or part found above.</p>\n")
	for _, m := range v.Rules {
		p.raw("<div class=\"rule\">")
		p.item("h3", m.Maker)
		p.raw("\n")
		for _, r := range m.Rules {
			p.item("h4", r.Name)
			p.item("p", r.Text)
		}
		p.raw("</div>\n")
	}
	if len(v.Rules) == 0 {
		p.raw("<p class=\"empty\">No restricted maker was found, so no rule is listed.</p>\n")
	}
	p.raw("</section>\n\n")
}
