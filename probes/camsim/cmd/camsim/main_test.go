package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/camwarden/camwarden/probes/camsim"
)

func TestList(t *testing.T) {
	var out bytes.Buffer
	if err := run([]string{"list"}, &out, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"PROFILE", "hikvision-lts", "LTS", "printer"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("list output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{nil, {"nope"}, {"run"}, {"run", "--profile", "pc"}, {"run", "--profile", "pc", "--iface", "lo", "extra"}} {
		if err := run(args, &bytes.Buffer{}, &bytes.Buffer{}); err == nil {
			t.Errorf("%q: no error", args)
		}
	}
	err := run([]string{"run", "--profile", "nope", "--iface", "lo"}, &bytes.Buffer{}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), `no profile "nope"`) {
		t.Errorf("unknown profile: %v", err)
	}
	err = run([]string{"run", "--profile", "pc", "--iface", "lo", "--ip", "::1"}, &bytes.Buffer{}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "--ip") {
		t.Errorf("IPv6 --ip: %v", err)
	}
}

func TestHostFromInterface(t *testing.T) {
	h, err := hostFor("lo", "", "")
	if err != nil {
		t.Fatal(err)
	}
	if h.IP.String() != "127.0.0.1" {
		t.Errorf("lo address %s", h.IP)
	}
	h, err = hostFor("lo", "127.0.0.2", "02:c4:7e:00:00:01")
	if err != nil || h.IP.String() != "127.0.0.2" || h.MAC.String() != "02:c4:7e:00:00:01" {
		t.Errorf("explicit host = %+v, %v", h, err)
	}
	if _, err := hostFor("no-such-if0", "", ""); err == nil {
		t.Error("missing interface accepted")
	}
}

// The real binary on loopback: the pidfile appears once it is ready, its
// TCP services answer, and SIGTERM ends it cleanly and removes the pidfile.
func TestRunBinaryOnLoopback(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "camsim")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	pidfile := filepath.Join(dir, "camsim.pid")
	offset, err := camsim.FreeOffset(80, 554, 34567)
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	cmd := exec.Command(bin, "run", "--profile", "xiongmai", "--iface", "lo", "--pidfile", pidfile,
		"--port-offset", fmt.Sprint(offset))
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
		}
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := os.ReadFile(pidfile)
		if err == nil && strings.TrimSpace(string(b)) == fmt.Sprint(cmd.Process.Pid) {
			break
		}
		select {
		case err := <-exited:
			t.Fatalf("camsim exited before ready: %v\n%s", err, logs.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no pidfile after 10s\n%s", logs.String())
		}
	}
	// Whatever HTTP responder is registered must be listening by now.
	out, _ := exec.Command(bin, "list").Output()
	if strings.Contains(string(out), "http") {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", 80+offset), 2*time.Second)
		if err != nil {
			t.Errorf("http service not listening once ready: %v", err)
		} else {
			c.Close()
		}
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, logs.String())
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("camsim ignored SIGTERM\n%s", logs.String())
	}
	if _, err := os.Stat(pidfile); !os.IsNotExist(err) {
		t.Errorf("pidfile left after exit: %v", err)
	}
	if !strings.Contains(logs.String(), "ready") {
		t.Errorf("no ready log line:\n%s", logs.String())
	}
}

// serve returns the service error when a responder cannot listen, and
// never writes the pidfile then: the lab must not count it ready.
func TestServeFailsWithoutPidfile(t *testing.T) {
	p, err := camsim.Lookup("xiongmai")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(p.Services(), "http") {
		t.Skip("no http responder registered in this build")
	}
	// Hold the port the device's web server wants.
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	h, err := hostFor("lo", "127.0.0.1", "")
	if err != nil {
		t.Fatal(err)
	}
	h.PortOffset = ln.Addr().(*net.TCPAddr).Port - 80
	pidfile := filepath.Join(t.TempDir(), "pid")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = serve(ctx, p, h, pidfile, 2*time.Second, slog.New(slog.DiscardHandler))
	if err == nil || ctx.Err() != nil {
		t.Fatalf("serve with its port taken: %v (ctx %v)", err, ctx.Err())
	}
	if _, serr := os.Stat(pidfile); !os.IsNotExist(serr) {
		t.Errorf("pidfile written although serving failed: %v", serr)
	}
	t.Logf("refused as expected: %v", err)
}
