package labdisc

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/camwarden/camwarden/probes/camsim"
	"github.com/camwarden/camwarden/scripts/lab"
)

// Environment of a camsim child: the profile, the sections it runs and
// the host's address.
const (
	envProfile  = "CWTUD_CAMSIM_PROFILE"
	envSections = "CWTUD_CAMSIM_SECTIONS"
	envIP       = "CWTUD_CAMSIM_IP"
)

// StartCamsim runs camsim's profile (only the discovery sections named:
// "sadp", "dhip", "dvrip") as a whole device in h's namespace until the
// test ends. camsim opens its sockets from its own goroutines, which a
// namespace switch of one thread would not reach, so the test binary runs
// again inside the namespace with only childTest selected; that test must
// call CamsimChild first.
func StartCamsim(t testing.TB, h *lab.Host, childTest, profile string, sections ...string) {
	t.Helper()
	cmd := h.Command(context.Background(), os.Args[0], "-test.run=^"+childTest+"$", "-test.count=1")
	cmd.Env = append(os.Environ(), envProfile+"="+profile, envSections+"="+strings.Join(sections, ","), envIP+"="+h.Addr.Addr().String())
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("camsim %s output:\n%s", profile, out.String())
		}
	})
}

// CamsimChild is the body of the child test StartCamsim runs: outside a
// child it skips the test; inside it runs the device until SIGTERM.
func CamsimChild(t *testing.T) {
	name := os.Getenv(envProfile)
	if name == "" {
		t.Skip("helper process for labdisc.StartCamsim")
	}
	full, err := camsim.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	p := camsim.Profile{Name: full.Name, Model: full.Model, Serial: full.Serial, Firmware: full.Firmware, OUI: full.OUI}
	for _, s := range strings.Split(os.Getenv(envSections), ",") {
		switch s {
		case "sadp":
			p.SADP = full.SADP
		case "dhip":
			p.DHIP = full.DHIP
		case "dvrip":
			p.DVRIP = full.DVRIP
		default:
			t.Fatalf("labdisc: no camsim section %q", s)
		}
	}
	ifi, err := net.InterfaceByName("eth0")
	if err != nil {
		t.Fatal(err)
	}
	h := camsim.Host{Iface: "eth0", MAC: ifi.HardwareAddr, IP: netip.MustParseAddr(os.Getenv(envIP))}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if err := camsim.Run(ctx, p, h, log); err != nil {
		t.Fatal(err)
	}
}
