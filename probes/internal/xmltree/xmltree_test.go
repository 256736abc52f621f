package xmltree

import (
	"encoding/xml"
	"errors"
	"os"
	"strings"
	"testing"
)

func mustParse(t *testing.T, s string, lim Limits) *Node {
	t.Helper()
	n, err := Parse([]byte(s), lim)
	if err != nil {
		t.Fatalf("Parse(%.60q): %v", s, err)
	}
	return n
}

func nested(depth int) string {
	return strings.Repeat("<a>", depth) + "x" + strings.Repeat("</a>", depth)
}

func TestDepthCap(t *testing.T) {
	for _, c := range []struct {
		lim  Limits
		ok   int // deepest accepted nesting
		name string
	}{
		{Limits{MaxDepth: 5}, 5, "explicit"},
		{Limits{}, DefaultMaxDepth, "default"},
		{Limits{MaxDepth: -1}, DefaultMaxDepth, "negative takes default"},
	} {
		n := mustParse(t, nested(c.ok), c.lim)
		deepest := n
		for deepest.Child("a") != nil {
			deepest = deepest.Child("a")
		}
		if deepest.Text() != "x" {
			t.Errorf("%s: depth %d: innermost text %q", c.name, c.ok, deepest.Text())
		}
		_, err := Parse([]byte(nested(c.ok+1)), c.lim)
		if !errors.Is(err, ErrTooComplex) {
			t.Errorf("%s: depth %d: got %v, want ErrTooComplex", c.name, c.ok+1, err)
		}
	}
}

func TestElementCap(t *testing.T) {
	// The root counts: root plus n-1 children is n elements.
	wide := func(n int) string { return "<r>" + strings.Repeat("<i/>", n-1) + "</r>" }
	lim := Limits{MaxElements: 10}
	if n := mustParse(t, wide(10), lim); len(n.Children("i")) != 9 {
		t.Errorf("got %d children", len(n.Children("i")))
	}
	if _, err := Parse([]byte(wide(11)), lim); !errors.Is(err, ErrTooComplex) {
		t.Errorf("11 elements: got %v, want ErrTooComplex", err)
	}
	// Elements after the root element count too.
	if _, err := Parse([]byte("<r/>"+strings.Repeat("<s/>", 10)), lim); !errors.Is(err, ErrTooComplex) {
		t.Errorf("trailing elements: got %v, want ErrTooComplex", err)
	}
	if _, err := Parse([]byte(wide(DefaultMaxElements+1)), Limits{MaxBytes: 1 << 20}); !errors.Is(err, ErrTooComplex) {
		t.Errorf("default element cap not applied: %v", err)
	}
}

func TestSizeCap(t *testing.T) {
	lim := Limits{MaxBytes: 64}
	in := "<r>" + strings.Repeat("y", 64-len("<r></r>")) + "</r>"
	if n := mustParse(t, in, lim); len(n.Text()) != 57 {
		t.Errorf("text %d bytes", len(n.Text()))
	}
	_, err := Parse([]byte(in+" "), lim)
	if !errors.Is(err, ErrTooLarge) {
		t.Errorf("65 bytes: got %v, want ErrTooLarge", err)
	}
	// Refused before decoding: a broken document over the cap is "too
	// large", not a syntax error.
	if _, err := Parse([]byte(strings.Repeat("<", DefaultMaxBytes+1)), Limits{}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("default size cap: got %v", err)
	}
}

func TestTextCap(t *testing.T) {
	lim := Limits{MaxText: 8}
	if got := mustParse(t, "<r>12345678</r>", lim).Text(); got != "12345678" {
		t.Errorf("at the cap: %q", got)
	}
	// Over the cap the chunk is dropped whole (never cut mid-value), and the
	// parse still succeeds.
	if got := mustParse(t, "<r>123456789</r>", lim).Text(); got != "" {
		t.Errorf("over the cap: %q", got)
	}
	// Text is per element: a child's text is its own.
	n := mustParse(t, "<r>abc<c>12345678</c>def</r>", lim)
	if n.Text() != "abcdef" || n.Child("c").Text() != "12345678" {
		t.Errorf("r=%q c=%q", n.Text(), n.Child("c").Text())
	}
	// Chunks that fit are kept after one that did not.
	if got := mustParse(t, "<r>abcdefghij<c/>xy</r>", lim).Text(); got != "xy" {
		t.Errorf("after a dropped chunk: %q", got)
	}
}

func TestErrors(t *testing.T) {
	for name, in := range map[string]string{
		"empty":        "",
		"only a decl":  `<?xml version="1.0"?>`,
		"only text":    "hello",
		"only comment": "<!-- x -->",
	} {
		if _, err := Parse([]byte(in), Limits{}); !errors.Is(err, ErrNoRoot) {
			t.Errorf("%s: got %v, want ErrNoRoot", name, err)
		}
	}
	for name, in := range map[string]string{
		"unclosed":   "<a><b></b>",
		"mismatched": "<a></b>",
		"bad entity": "<a>&nope;</a>",
	} {
		_, err := Parse([]byte(in), Limits{})
		var se *xml.SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("%s: got %v, want *xml.SyntaxError", name, err)
		}
	}
}

// The same message with SOAP 1.2 prefixes, SOAP 1.1 gSOAP prefixes, a
// default namespace and none at all reads the same by local name.
func TestNamespaceAgnostic(t *testing.T) {
	for _, in := range []string{
		`<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope" xmlns:tds="http://www.onvif.org/ver10/device/wsdl"><env:Body><tds:GetDeviceInformationResponse><tds:Model> DS-2CD2385G1-I </tds:Model></tds:GetDeviceInformationResponse></env:Body></env:Envelope>`,
		`<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/"><SOAP-ENV:Body><GetDeviceInformationResponse xmlns="http://www.onvif.org/ver10/device/wsdl"><Model>DS-2CD2385G1-I</Model></GetDeviceInformationResponse></SOAP-ENV:Body></SOAP-ENV:Envelope>`,
		`<Envelope><Body><GetDeviceInformationResponse><Model>DS-2CD2385G1-I</Model></GetDeviceInformationResponse></Body></Envelope>`,
		`<x:Envelope><x:Body><y:GetDeviceInformationResponse><y:Model>DS-2CD2385G1-I</y:Model></y:GetDeviceInformationResponse></x:Body></x:Envelope>`,
	} {
		root := mustParse(t, in, Limits{})
		if root.Name().Local != "Envelope" {
			t.Errorf("root %v", root.Name())
		}
		if got := root.Path("Body", "GetDeviceInformationResponse", "Model").Text(); got != "DS-2CD2385G1-I" {
			t.Errorf("Path: %q in %s", got, in)
		}
		if got := root.Find("Model").Text(); got != "DS-2CD2385G1-I" {
			t.Errorf("Find: %q in %s", got, in)
		}
		if body := root.Child("Body"); len(body.Kids()) != 1 || body.Kids()[0].Name().Local != "GetDeviceInformationResponse" {
			t.Errorf("Body kids %v", body.Kids())
		}
	}
	// The namespace is still reported for callers that want it.
	root := mustParse(t, `<e:Envelope xmlns:e="urn:e"/>`, Limits{})
	if root.Name() != (xml.Name{Space: "urn:e", Local: "Envelope"}) {
		t.Errorf("name %v", root.Name())
	}
}

func TestLookups(t *testing.T) {
	root := mustParse(t, `<r><s><v>1</v></s><s><v>2</v><deep><v>3</v></deep></s><t><u><w>find me</w></u></t><w>shallow but later</w></r>`, Limits{})
	if got := root.Children("s"); len(got) != 2 || got[1].Child("v").Text() != "2" {
		t.Errorf("Children: %v", got)
	}
	if root.Child("s") != root.Children("s")[0] {
		t.Error("Child is not the first of Children")
	}
	if got := root.Path("s", "v").Text(); got != "1" {
		t.Errorf("Path takes the first match: %q", got)
	}
	// Find is depth first in document order: the nested w under t comes
	// before the later shallow one.
	if got := root.Find("w").Text(); got != "find me" {
		t.Errorf("Find: %q", got)
	}
	// Child looks one level down only.
	if root.Child("v") != nil || root.Child("w").Text() != "shallow but later" {
		t.Error("Child searched below its children")
	}
	// Missing elements: every lookup is nil-safe.
	var none *Node
	if root.Path("s", "nope", "v") != nil || none.Child("x") != nil || none.Children("x") != nil ||
		none.Find("x") != nil || none.Text() != "" || none.Kids() != nil || none.Name() != (xml.Name{}) {
		t.Error("missing element is not empty")
	}
	if _, ok := none.Resolve("x"); ok {
		t.Error("nil node resolved a prefix")
	}
	if root.Path() != root {
		t.Error("empty Path is not n")
	}
}

func TestResolveAndQName(t *testing.T) {
	in := `<Envelope xmlns="urn:default" xmlns:dn="http://www.onvif.org/ver10/network/wsdl" xmlns:tds="urn:outer">` +
		`<Body><Match xmlns:tds="http://www.onvif.org/ver10/device/wsdl"><Types>dn:NetworkVideoTransmitter tds:Device Plain zz:Undeclared</Types></Match>` +
		`<Other xmlns=""><Types>Plain</Types></Other></Body></Envelope>`
	root := mustParse(t, in, Limits{})
	tn := root.Path("Body", "Match", "Types")
	want := []xml.Name{
		{Space: "http://www.onvif.org/ver10/network/wsdl", Local: "NetworkVideoTransmitter"}, // declared on the root
		{Space: "http://www.onvif.org/ver10/device/wsdl", Local: "Device"},                   // nearer declaration shadows the root's
		{Space: "urn:default", Local: "Plain"},                                               // unprefixed: default namespace
		{Space: "", Local: "Undeclared"},                                                     // undeclared prefix
	}
	for i, q := range strings.Fields(tn.Text()) {
		if got := tn.QName(q); got != want[i] {
			t.Errorf("QName(%q) = %v, want %v", q, got, want[i])
		}
	}
	if uri, ok := tn.Resolve("tds"); !ok || uri != "http://www.onvif.org/ver10/device/wsdl" {
		t.Errorf("Resolve(tds) = %q %v", uri, ok)
	}
	if uri, ok := root.Resolve("tds"); !ok || uri != "urn:outer" {
		t.Errorf("root Resolve(tds) = %q %v", uri, ok)
	}
	if _, ok := tn.Resolve("zz"); ok {
		t.Error("undeclared prefix resolved")
	}
	// xmlns="" undeclares the default namespace.
	if got := root.Path("Body", "Other", "Types").QName("Plain"); got != (xml.Name{Local: "Plain"}) {
		t.Errorf("under xmlns=\"\": %v", got)
	}
	// Only the first colon splits a QName.
	if got := tn.QName("dn:a:b"); got.Local != "a:b" || got.Space == "" {
		t.Errorf("QName(dn:a:b) = %v", got)
	}
}

// Cameras declare charsets encoding/xml has no table for (it refuses
// anything but UTF-8 without a CharsetReader); the bytes are read as they
// are instead of failing the whole message.
func TestUnknownCharset(t *testing.T) {
	for _, cs := range []string{"GB2312", "ISO-8859-1", "x-made-up"} {
		n := mustParse(t, `<?xml version="1.0" encoding="`+cs+`"?><r><name>IPC-HDW</name></r>`, Limits{})
		if got := n.Child("name").Text(); got != "IPC-HDW" {
			t.Errorf("%s: %q", cs, got)
		}
	}
}

func TestGoldens(t *testing.T) {
	b, err := os.ReadFile("testdata/hikvision_probematch.xml")
	if err != nil {
		t.Fatal(err)
	}
	root, err := Parse(b, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	pm := root.Path("Body", "ProbeMatches", "ProbeMatch")
	if got := pm.Path("EndpointReference", "Address").Text(); got != "urn:uuid:3fa1fe68-b915-4053-a3e1-686dbc5cb15d" {
		t.Errorf("Address %q", got)
	}
	if got := pm.Child("Types").QName("dn:NetworkVideoTransmitter"); got.Space != "http://www.onvif.org/ver10/network/wsdl" {
		t.Errorf("Types %v", got)
	}
	b, err = os.ReadFile("testdata/hikvision_getsystemdateandtime.xml")
	if err != nil {
		t.Fatal(err)
	}
	root, err = Parse(b, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if got := root.Find("UTCDateTime").Path("Date", "Year").Text(); got == "" {
		t.Error("no UTC year")
	}
}
