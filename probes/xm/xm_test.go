package xm

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/camwarden/camwarden/probes"
	"github.com/camwarden/camwarden/probes/probetest"
)

func TestGoldenWire(t *testing.T) {
	if !bytes.Equal(ProbeRequest().Marshal(), probetest.Golden(t, "login-request.bin")) {
		t.Errorf("probe request differs:\n%x\n%x", ProbeRequest().Marshal(), probetest.Golden(t, "login-request.bin"))
	}
	m, err := Parse(probetest.Golden(t, "login-reply-205.bin"))
	if err != nil || m.MsgID != MsgLoginRsp || m.Ret() != RetNoSuchUser {
		t.Errorf("%+v %v", m, err)
	}
	if !strings.Contains(string(ProbeRequest().Body), `"PassWord":""`) || !strings.Contains(string(ProbeRequest().Body), `"UserName":""`) {
		t.Error("the probe must carry no credentials")
	}
	m2, err := Read(bytes.NewReader(m.Marshal()))
	if err != nil || m2.Ret() != m.Ret() || m2.Header != m.Header {
		t.Errorf("round trip %+v %v", m2, err)
	}
}

func TestParseRejects(t *testing.T) {
	good := probetest.Golden(t, "login-reply-205.bin")
	big := append([]byte(nil), good...)
	big[16], big[17], big[18] = 0, 0, 0x10 // 1 MiB declared
	reserved := append([]byte(nil), good...)
	reserved[2] = 1
	for name, c := range map[string]struct {
		b    []byte
		want error
	}{
		"http":      {[]byte("HTTP/1.1 400 Bad Request\r\n\r\n"), ErrNotXM},
		"short":     {good[:10], ErrTruncated},
		"truncated": {good[:30], ErrTruncated},
		"huge":      {big, ErrTooLarge},
		"reserved":  {reserved, ErrNotXM},
	} {
		if _, err := Parse(c.b); !errors.Is(err, c.want) {
			t.Errorf("%s: Parse %v, want %v", name, err, c.want)
		}
		if _, err := Read(bytes.NewReader(c.b)); !errors.Is(err, c.want) {
			t.Errorf("%s: Read %v, want %v", name, err, c.want)
		}
	}
}

// serve runs handler for each connection to a loopback listener.
func serve(t *testing.T, handler func(net.Conn)) int {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() { defer wg.Done(); defer c.Close(); handler(c) }()
		}
	}()
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return ln.Addr().(*net.TCPAddr).Port
}

var loopback = netip.MustParseAddr("127.0.0.1")

func TestProberResponder(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- (&Responder{}).Serve(ctx, ln) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	var got []probes.Observation
	p := &Prober{Port: ln.Addr().(*net.TCPAddr).Port, Timeout: 2 * time.Second}
	if err := p.Probe(context.Background(), probes.Target{IP: loopback}, func(o probes.Observation) { got = append(got, o) }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Probe != "xm" || len(got[0].Facts) != 1 || got[0].Facts[0] != (probes.Fact{Key: "xm.netsurveillance", Value: "open"}) || got[0].IP != loopback {
		t.Errorf("%+v", got)
	}
}

func TestProberNegative(t *testing.T) {
	header := probetest.Golden(t, "login-reply-205.bin")[:HeaderSize]
	cases := map[string]func(net.Conn){
		"http":      func(c net.Conn) { c.Write([]byte("HTTP/1.1 400 Bad Request\r\nServer: uc-httpd\r\n\r\n")) },
		"truncated": func(c net.Conn) { c.Write(header) },
		"oversized": func(c net.Conn) {
			b := append([]byte(nil), header...)
			b[16], b[17], b[18], b[19] = 0xff, 0xff, 0xff, 0x7f
			c.Write(b)
			c.Write(bytes.Repeat([]byte{0}, 70000))
		},
		"garbage": func(c net.Conn) { c.Write([]byte{0xff, 0x01, 0xde, 0xad, 0xbe, 0xef}) },
		"silent": func(c net.Conn) {
			c.SetReadDeadline(time.Now().Add(2 * time.Second))
			c.Read(make([]byte, 100))
			time.Sleep(time.Second)
		},
	}
	for name, h := range cases {
		t.Run(name, func(t *testing.T) {
			port := serve(t, h)
			var got []probes.Observation
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			start := time.Now()
			err := (&Prober{Port: port}).Probe(ctx, probes.Target{IP: loopback}, func(o probes.Observation) { got = append(got, o) })
			if err == nil || len(got) != 0 {
				t.Errorf("err %v, observations %v", err, got)
			}
			if d := time.Since(start); d > time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
	// Closed port.
	ln, _ := net.Listen("tcp4", "127.0.0.1:0")
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	if err := (&Prober{Port: port}).Probe(context.Background(), probes.Target{IP: loopback}, func(probes.Observation) { t.Error("emitted") }); err == nil {
		t.Error("closed port probed fine")
	}
}

func TestDecoder(t *testing.T) {
	var got []probes.Observation
	sink := func(o probes.Observation) { got = append(got, o) }
	f := &probes.Frame{IPProto: probes.ProtoTCP, SrcIP: loopback, SrcPort: Port, DstPort: 40000, Payload: probetest.Golden(t, "login-reply-205.bin")}
	for _, fr := range []*probes.Frame{
		f,
		{IPProto: probes.ProtoTCP, SrcPort: 40000, DstPort: Port, Payload: probetest.Golden(t, "login-request.bin")}, // the asker, not the device
		{IPProto: probes.ProtoTCP, SrcPort: Port, Payload: []byte{0xff, 0xd8, 0xff, 0xe0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}},
	} {
		if err := (Decoder{}).Decode(fr, sink); err != nil {
			t.Fatal(err)
		}
	}
	if len(got) != 1 || got[0].IP != loopback {
		t.Errorf("%+v", got)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(probetest.Golden(f, "login-request.bin"))
	f.Add(probetest.Golden(f, "login-reply-205.bin"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Parse(b)
		m2, err2 := Read(bytes.NewReader(b))
		if (err == nil) != (err2 == nil) {
			t.Fatalf("Parse %v, Read %v", err, err2)
		}
		if err == nil {
			if m.Header != m2.Header || !bytes.Equal(m.Body, m2.Body) || len(m.Body) > MaxBody {
				t.Fatalf("Parse and Read disagree")
			}
			_ = m.Ret()
		}
		_ = (Decoder{}).Decode(&probes.Frame{IPProto: probes.ProtoTCP, SrcPort: Port, Payload: b}, func(probes.Observation) {})
	})
}
