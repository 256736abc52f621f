package ssdp

import (
	"bytes"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/camwarden/camwarden/probes"
	"github.com/camwarden/camwarden/probes/internal/udpdisc/udpdisctest"
	"github.com/camwarden/camwarden/probes/probetest"
)

var (
	golden  = probetest.Golden
	factMap = udpdisctest.FactMap
)

func TestParseGolden(t *testing.T) {
	m, err := Parse(golden(t, "miniupnpd-response.txt"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"ssdp.server":   "Debian/6.18.44-fc-v769 UPnP/1.1 MiniUPnPd/2.3.1",
		"ssdp.location": "http://198.18.1.30:5555/rootDesc.xml",
		"ssdp.usn":      "uuid:00000000-0000-1000-8000-00c0ffee0001::upnp:rootdevice",
		"ssdp.st":       "upnp:rootdevice",
	}
	if got := factMap(m.Facts()); len(got) != len(want) || m.Kind != KindResponse || m.Status != 200 {
		t.Errorf("%+v %v", m, got)
	} else {
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s = %q want %q", k, got[k], v)
			}
		}
	}
	n, err := Parse(golden(t, "notify-axis-profile.txt"))
	if err != nil || n.Kind != KindNotify || n.NTS != "ssdp:alive" || n.ST != STRoot {
		t.Errorf("notify %+v %v", n, err)
	}
	s, err := Parse(BuildMSearch("239.255.255.250:1900", STAll, true))
	if err != nil || s.Kind != KindMSearch || s.ST != STAll || s.MAN != `"ssdp:discover"` || s.MX != "1" {
		t.Errorf("search %+v %v", s, err)
	}
	// Without the final blank line, as some devices send it.
	b := bytes.TrimRight(golden(t, "miniupnpd-response.txt"), "\r\n")
	if m2, err := Parse(b); err != nil || m2.Location != m.Location {
		t.Errorf("no blank line: %+v %v", m2, err)
	}
	// Our builders round-trip.
	r, err := Parse(BuildResponse("st", "usn", "http://x/", "srv"))
	if err != nil || r.ST != "st" || r.USN != "usn" || r.Server != "srv" {
		t.Errorf("%+v %v", r, err)
	}
}

func TestParseRejects(t *testing.T) {
	for name, b := range map[string][]byte{
		"garbage":   []byte("\x00\x01\x02\x03"),
		"get":       []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
		"oversized": append([]byte("NOTIFY * HTTP/1.1\r\nX: "), bytes.Repeat([]byte("a"), MaxMessage)...),
		"badstatus": []byte("HTTP/1.1 abc\r\n\r\n"),
	} {
		if _, err := Parse(b); err == nil {
			t.Errorf("%s parsed", name)
		}
	}
}

func TestDescription(t *testing.T) {
	d, err := ParseDescription(golden(t, "miniupnpd-rootDesc.xml"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"upnp.manufacturer":  "CamwardenTest",
		"upnp.model_name":    "MiniUPnP Lab",
		"upnp.model_number":  "2.3.1",
		"upnp.serial":        "SN-LAB-00",
		"upnp.friendly_name": "CW Test Router",
		"upnp.device_type":   "urn:schemas-upnp-org:device:InternetGatewayDevice:2",
	}
	got := factMap(d.Facts())
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q want %q", k, got[k], v)
		}
	}
	d2, err := ParseDescription(d.Marshal())
	if err != nil || d2.Device != d.Device {
		t.Errorf("round trip %+v %v", d2, err)
	}
	if _, err := ParseDescription([]byte("<html><device/></html>")); err == nil {
		t.Error("non-root document accepted")
	}
	if _, err := ParseDescription(append([]byte("<root>"), bytes.Repeat([]byte(" "), MaxDescription)...)); err == nil {
		t.Error("oversized description accepted")
	}
}

func TestDescriptionURL(t *testing.T) {
	from := netip.MustParseAddr("198.18.1.30")
	for loc, ok := range map[string]bool{
		"http://198.18.1.30:5555/rootDesc.xml": true,
		"http://198.18.1.30/d.xml":             true,
		"http://198.18.1.31:5555/rootDesc.xml": false, // another host
		"http://camera.local/d.xml":            false, // would need DNS
		"https://198.18.1.30/d.xml":            false,
		"file:///etc/passwd":                   false,
		"http://198.18.1.30:99999/":            false,
	} {
		if _, err := descriptionURL(loc, from); (err == nil) != ok {
			t.Errorf("%s: err %v", loc, err)
		}
	}
}

func TestDecoder(t *testing.T) {
	var got []probes.Observation
	sink := func(o probes.Observation) { got = append(got, o) }
	mac := net.HardwareAddr{0xac, 0xcc, 0x8e, 0xc4, 0, 1}
	frames := []*probes.Frame{
		{Src: mac, SrcIP: netip.MustParseAddr("198.18.1.40"), IPProto: probes.ProtoUDP, SrcPort: 1900, DstPort: 1900, Payload: golden(t, "notify-axis-profile.txt")},
		{SrcIP: netip.MustParseAddr("198.18.1.30"), IPProto: probes.ProtoUDP, SrcPort: 1900, DstPort: 40000, Payload: golden(t, "miniupnpd-response.txt")},
		{SrcIP: netip.MustParseAddr("198.18.1.2"), IPProto: probes.ProtoUDP, SrcPort: 40000, DstPort: 1900, Payload: BuildMSearch("239.255.255.250:1900", STAll, true)},
		{IPProto: probes.ProtoUDP, SrcPort: 53, DstPort: 53, Payload: golden(t, "notify-axis-profile.txt")},
	}
	for _, f := range frames {
		if err := (Decoder{}).Decode(f, sink); err != nil {
			t.Fatal(err)
		}
	}
	bad := &probes.Frame{SrcIP: netip.MustParseAddr("198.18.1.9"), IPProto: probes.ProtoUDP, SrcPort: 1900, Payload: []byte("\x01\x02")}
	if err := (Decoder{}).Decode(bad, sink); err == nil || !strings.Contains(err.Error(), "198.18.1.9") {
		t.Errorf("garbage: %v", err)
	}
	if len(got) != 2 || got[0].MAC.String() != mac.String() || factMap(got[0].Facts)["ssdp.server"] == "" || got[1].IP != frames[1].SrcIP {
		t.Errorf("%+v", got)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(golden(f, "miniupnpd-response.txt"))
	f.Add(golden(f, "notify-axis-profile.txt"))
	f.Add(BuildMSearch("239.255.255.250:1900", STAll, true))
	f.Add([]byte("M-SEARCH * HTTP/1.1\r\nHOST: 198.18.1.10:1900\r\nMAN: \"ssdp:discover\"\r\nST: upnp:rootdevice\r\nSERVER: Linux UPnP/1.0 App-webs/\r\n\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		fr := udpdisctest.FuzzSender(b, 50000, Port)
		emit, got := udpdisctest.Sink()
		_ = Decoder{}.Decode(fr, emit)
		udpdisctest.CheckDecoded(t, fr, got())
		m, err := Parse(b)
		if err == nil && m.Kind == KindMSearch && len(got()) != 0 {
			t.Fatalf("a search became observations: %+v", got())
		}
		if err == nil {
			for _, fa := range m.Facts() {
				if fa.Value == "" || len(fa.Value) > probes.MaxFactValue {
					t.Fatalf("bad fact %q", fa)
				}
			}
		}
		_ = (Decoder{}).Decode(&probes.Frame{IPProto: probes.ProtoUDP, SrcPort: Port, Payload: b}, func(probes.Observation) {})
	})
}

func FuzzParseDescription(f *testing.F) {
	f.Add(golden(f, "miniupnpd-rootDesc.xml"))
	f.Add(Description{Device: Device{Manufacturer: "AXIS", ModelName: "AXIS P3245-LVE"}}.Marshal())
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := ParseDescription(b)
		if err != nil {
			return
		}
		for _, fa := range d.Facts() {
			if fa.Value == "" || len(fa.Value) > probes.MaxFactValue {
				t.Fatalf("bad fact %q", fa)
			}
		}
	})
}
