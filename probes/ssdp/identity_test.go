package ssdp_test

import (
	"net"
	"net/netip"
	"testing"

	"github.com/camwarden/camwarden/probes"
	"github.com/camwarden/camwarden/probes/internal/udpdisc/udpdisctest"
	"github.com/camwarden/camwarden/probes/ssdp"
)

// An M-SEARCH is a control point's question: what it searches for (ST) and
// whatever agent it names are not what it is. Searches to the group and to
// one device, from 1900 or an ephemeral port, make no observation and no
// maker; an answer or NOTIFY from the same host would.
func TestDecoderSearchNamesNoMaker(t *testing.T) {
	search := "M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: \"ssdp:discover\"\r\nMX: 1\r\n" +
		"ST: urn:schemas-upnp-org:device:Basic:1\r\nUSER-AGENT: Linux/3.10 UPnP/1.0 App-webs/\r\nSERVER: Linux/3.10 UPnP/1.0 App-webs/\r\n\r\n"
	emit, got := udpdisctest.Sink()
	for _, f := range []probes.Frame{
		{SrcPort: 50000, DstPort: ssdp.Port, DstIP: netip.MustParseAddr("239.255.255.250"), Payload: []byte(search)},
		{SrcPort: ssdp.Port, DstPort: ssdp.Port, DstIP: netip.MustParseAddr("239.255.255.250"), Payload: ssdp.BuildMSearch("239.255.255.250:1900", ssdp.STAll, true)},
		{SrcPort: 50001, DstPort: ssdp.Port, DstIP: netip.MustParseAddr("198.18.1.10"), Payload: ssdp.BuildMSearch("198.18.1.10:1900", ssdp.STRoot, false)},
	} {
		f.Src, f.SrcIP, f.IPProto = net.HardwareAddr{2, 0, 0, 0, 0, 0x42}, netip.MustParseAddr("198.18.1.2"), probes.ProtoUDP
		if err := (ssdp.Decoder{}).Decode(&f, emit); err != nil {
			t.Fatal(err)
		}
	}
	if len(got()) != 0 {
		t.Errorf("a search became observations: %+v", got())
	}
	udpdisctest.NoMaker(t, got())

	// The same host answering is described by its answer.
	f := probes.Frame{Src: net.HardwareAddr{2, 0, 0, 0, 0, 0x42}, SrcIP: netip.MustParseAddr("198.18.1.2"), IPProto: probes.ProtoUDP,
		SrcPort: ssdp.Port, DstPort: 50000, Payload: ssdp.BuildResponse(ssdp.STRoot, "uuid:x::upnp:rootdevice", "http://198.18.1.2/d.xml", "Linux UPnP/1.0 App-webs/")}
	if err := (ssdp.Decoder{}).Decode(&f, emit); err != nil {
		t.Fatal(err)
	}
	if obs := got(); len(obs) != 1 || udpdisctest.FactMap(obs[0].Facts)["ssdp.server"] != "Linux UPnP/1.0 App-webs/" {
		t.Errorf("answer: %+v", obs)
	}
}
