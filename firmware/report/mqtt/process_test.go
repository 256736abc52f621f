package mqtt

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/camwarden/camwarden/firmware/report"
	"github.com/camwarden/camwarden/firmware/report/mqtt/mosquittotest"
)

// The test binary re-executes itself as an appliance process (so it can be
// SIGKILLed) when CWT_MQ_HELPER names a mode.
func TestMain(m *testing.M) {
	if mode := os.Getenv("CWT_MQ_HELPER"); mode != "" {
		os.Exit(helperMain(mode))
	}
	os.Exit(m.Run())
}

func helperMain(mode string) int {
	if mode == "writers" {
		return writersHelper()
	}
	o := Options{
		Broker: os.Getenv("CWT_MQ_BROKER"), ApplianceID: os.Getenv("CWT_MQ_ID"), Username: os.Getenv("CWT_MQ_ID"),
		Password: os.Getenv("CWT_MQ_PW"), OutboxPath: os.Getenv("CWT_MQ_OUTBOX"),
		ReconnectMin: 50 * time.Millisecond, ReconnectMax: 300 * time.Millisecond, KeepAlive: 5 * time.Second,
	}
	c, err := Dial(o)
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	ctx := context.Background()
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := c.WaitConnected(wctx); err != nil {
		fmt.Println("error", err)
		return 1
	}
	switch mode {
	case "will":
		if err := c.Status(ctx, report.Status{Firmware: "helper"}); err != nil {
			fmt.Println("error", err)
			return 1
		}
		fmt.Printf("ready %d\n", c.Session())
	case "burst":
		n, _ := strconv.Atoi(os.Getenv("CWT_MQ_N"))
		for i := range n {
			if err := c.Event(ctx, report.Event{Type: "burst", Data: map[string]any{"i": i}}); err != nil {
				fmt.Println("error", err)
				return 1
			}
			fmt.Printf("ok %d\n", i)
		}
		fmt.Println("done")
	case "drain":
		for {
			if q, _ := c.QueueLen(); q == 0 {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		c.Close()
		fmt.Println("drained")
		return 0
	}
	time.Sleep(time.Minute) // the parent kills us
	return 0
}

type helperProc struct {
	cmd   *exec.Cmd
	lines chan string
}

func startHelper(t *testing.T, b *mosquittotest.Broker, mode, id, outbox string, env ...string) *helperProc {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "CWT_MQ_HELPER="+mode, "CWT_MQ_ID="+id, "CWT_MQ_OUTBOX="+outbox)
	if b != nil { // nil: a helper that never reaches a broker
		cmd.Env = append(cmd.Env, "CWT_MQ_BROKER="+b.URL(), "CWT_MQ_PW="+b.Users[id])
	}
	cmd.Env = append(cmd.Env, env...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	h := &helperProc{cmd: cmd, lines: make(chan string, 4096)}
	go func() {
		sc := bufio.NewScanner(io.LimitReader(out, 1<<20))
		for sc.Scan() {
			h.lines <- sc.Text()
		}
		close(h.lines)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return h
}

// next returns the next line or fails after d.
func (h *helperProc) next(t *testing.T, d time.Duration) string {
	t.Helper()
	select {
	case l, ok := <-h.lines:
		if !ok {
			t.Fatal("helper exited")
		}
		if strings.HasPrefix(l, "error") {
			t.Fatalf("helper: %s", l)
		}
		return l
	case <-time.After(d):
		t.Fatalf("helper silent for %s", d)
	}
	return ""
}

func (h *helperProc) kill(t *testing.T) {
	t.Helper()
	if err := h.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = h.cmd.Wait()
}

func TestWillOnSIGKILL(t *testing.T) {
	t.Parallel()
	b := mosquittotest.Start(t, mosquittotest.Config{Users: map[string]string{"app-k": "pwk"}})
	col := newCollector(t, b, "camwarden/v1/app-k/status", "colk", true)
	h := startHelper(t, b, "will", "app-k", filepath.Join(t.TempDir(), "o.db"))
	line := h.next(t, 15*time.Second)
	session, err := strconv.ParseUint(strings.TrimPrefix(line, "ready "), 10, 64)
	if err != nil {
		t.Fatalf("helper said %q", line)
	}
	col.waitFor(5*time.Second, "online", func(ms []msg) bool {
		m, ok := lastOn(ms, "camwarden/v1/app-k/status")
		return ok && mustStatus(t, m).Online
	})
	h.kill(t)
	ms := col.waitFor(5*time.Second, "will", func(ms []msg) bool {
		m, ok := lastOn(ms, "camwarden/v1/app-k/status")
		return ok && !mustStatus(t, m).Online
	})
	m, _ := lastOn(ms, "camwarden/v1/app-k/status")
	will := mustStatus(t, m)
	if will.Session != session || will.Appliance != "app-k" {
		t.Fatalf("will %s, want session %d", pretty(will), session)
	}
	// The will is retained: a newcomer sees offline.
	late := newCollector(t, b, "camwarden/v1/app-k/status", "latek", true)
	ms = late.waitFor(5*time.Second, "retained will", func(ms []msg) bool { return len(ms) > 0 })
	if st := mustStatus(t, ms[0]); st.Online || !ms[0].Retained {
		t.Fatalf("retained status after kill: %s", ms[0].Payload)
	}
}

// burstIndexes checks the received burst events: every index in want
// arrived, first deliveries are in order, and duplicates carry the same
// msg_id as the original.
func checkBurst(t *testing.T, ms []msg, topic string, want int) (dups int, historical int) {
	t.Helper()
	seen := map[int]string{}
	last := -1
	var lastSeq uint64
	for _, m := range ms {
		if m.Topic != topic {
			continue
		}
		ev, err := DecodeEvent(m.Payload)
		if err != nil {
			t.Fatal(err)
		}
		i := int(ev.Data["i"].(float64))
		if id, ok := seen[i]; ok {
			if id != ev.MsgID {
				t.Fatalf("event %d delivered twice with different msg_id", i)
			}
			dups++
			continue
		}
		if i != last+1 || ev.Seq <= lastSeq {
			t.Fatalf("order broken: event %d (seq %d) after %d (seq %d)", i, ev.Seq, last, lastSeq)
		}
		if ev.Historical {
			historical++
		}
		seen[i], last, lastSeq = ev.MsgID, i, ev.Seq
	}
	if len(seen) < want {
		t.Fatalf("received %d distinct events, want %d", len(seen), want)
	}
	return dups, historical
}

func distinct(ms []msg, topic string) int {
	seen := map[string]bool{}
	for _, m := range ms {
		if m.Topic == topic {
			if ev, err := DecodeEvent(m.Payload); err == nil {
				seen[ev.MsgID] = true
			}
		}
	}
	return len(seen)
}

func TestNothingLostAcrossPublisherSIGKILL(t *testing.T) {
	t.Parallel()
	b := mosquittotest.Start(t, mosquittotest.Config{Users: map[string]string{"app-s": "pws"}})
	topic := "camwarden/v1/app-s/evt/burst"
	col := newCollector(t, b, topic, "cols", true)
	outbox := filepath.Join(t.TempDir(), "o.db")
	const n = 1000
	h := startHelper(t, b, "burst", "app-s", outbox, "CWT_MQ_N="+strconv.Itoa(n))
	committed := -1
	for committed < 300 {
		l := h.next(t, 15*time.Second)
		if i, err := strconv.Atoi(strings.TrimPrefix(l, "ok ")); err == nil {
			committed = i
		}
	}
	h.kill(t)
	// Anything the helper printed after Event returned nil is on disk.
	for l := range h.lines {
		if i, err := strconv.Atoi(strings.TrimPrefix(l, "ok ")); err == nil {
			committed = i
		}
	}
	t.Logf("killed after %d committed events; subscriber had %d", committed+1, distinct(col.snapshot(), topic))
	d := startHelper(t, b, "drain", "app-s", outbox)
	if l := d.next(t, 20*time.Second); l != "drained" {
		t.Fatalf("drain helper: %q", l)
	}
	ms := col.waitFor(10*time.Second, "all committed events", func(ms []msg) bool { return distinct(ms, topic) >= committed+1 })
	dups, hist := checkBurst(t, ms, topic, committed+1)
	t.Logf("%d duplicates (same msg_id), %d delivered as historical", dups, hist)
}
