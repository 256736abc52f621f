//go:build linux

package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/camwarden/camwarden/firmware/report"
	"github.com/camwarden/camwarden/firmware/report/mqtt"
)

func init() { extraBench["outbox"] = extra{run: benchOutbox} }

// benchOutbox measures the durable event outbox (issue 15): fsynced events
// per second with one and 32 writers, and the publish latency from the
// Event call to a subscriber through a real mosquitto on loopback. The
// outbox file lives under /var/tmp (a disk, not tmpfs), so fsync is real.
func benchOutbox(ctx context.Context, cfg config) error {
	dir, err := os.MkdirTemp("/var/tmp", "cwbench-outbox-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	dur := 5 * time.Second
	if cfg.quick {
		dur = time.Second
	}
	w := cfg.out
	fmt.Fprintf(w, "## outbox (issue 15): durable events, fsync on, %s per row\n\n", dur)
	fmt.Fprintf(w, "| writers | how | events | events/s |\n|---|---|---|---|\n")
	for i, m := range []struct {
		writers   int
		pipelined bool
		how       string
	}{
		{1, false, "Event, waiting for each fsync"},
		{1, true, "Enqueue, up to 256 in flight, each counted after its Wait"},
		{32, false, "Event, each goroutine waiting for each fsync"},
	} {
		n, wall, err := outboxRate(ctx, filepath.Join(dir, strconv.Itoa(i)+".db"), m.writers, m.pipelined, dur)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "| %d | %s | %d | %.0f |\n", m.writers, m.how, n, float64(n)/wall.Seconds())
	}
	fmt.Fprintf(w, "\nTarget: one writer >= 2,000 events/s (issue 15).\n\n")
	return outboxLatency(ctx, cfg, dir)
}

// offline dials a client whose broker never answers, so only the outbox
// works.
func offline(path string) (*mqtt.Client, error) {
	return mqtt.Dial(mqtt.Options{Broker: "tcp://127.0.0.1:1", ApplianceID: "cwbench", OutboxPath: path,
		OutboxMaxEvents: 10_000_000, ReconnectMin: time.Minute, ReconnectMax: time.Minute})
}

func benchEvent(i int) report.Event {
	return report.Event{Type: "device_new", MAC: "02:00:00:00:00:01", Time: time.Now(),
		Data: map[string]any{"maker": "hikvision", "ip": "198.18.1.10", "i": i}}
}

func outboxRate(ctx context.Context, path string, writers int, pipelined bool, dur time.Duration) (int, time.Duration, error) {
	c, err := offline(path)
	if err != nil {
		return 0, 0, err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctx, dur)
	defer cancel()
	var mu sync.Mutex
	total := 0
	var firstErr error
	start := time.Now()
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			n, err := emitUntil(ctx, c, pipelined)
			mu.Lock()
			total += n
			if err != nil && firstErr == nil {
				firstErr = err
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	return total, time.Since(start), firstErr
}

// emitUntil emits events until ctx ends and returns how many were
// acknowledged durable.
func emitUntil(ctx context.Context, c *mqtt.Client, pipelined bool) (int, error) {
	done := 0
	bg := context.Background() // a Wait in flight is finished, not abandoned
	if !pipelined {
		for ctx.Err() == nil {
			if err := c.Event(bg, benchEvent(done)); err != nil {
				return done, err
			}
			done++
		}
		return done, nil
	}
	var inflight []*mqtt.Pending
	for i := 0; ctx.Err() == nil; i++ {
		inflight = append(inflight, c.Enqueue(benchEvent(i)))
		if len(inflight) == 256 {
			if err := inflight[0].Wait(bg); err != nil {
				return done, err
			}
			done++
			inflight = inflight[1:]
		}
	}
	for _, p := range inflight {
		if err := p.Wait(bg); err != nil {
			return done, err
		}
		done++
	}
	return done, nil
}

// startBroker runs mosquitto on a free loopback port, anonymous, no
// persistence; stop kills it by PID.
func startBroker(dir string) (url string, stop func(), err error) {
	bin, err := exec.LookPath("mosquitto")
	if err != nil {
		bin = "/usr/sbin/mosquitto"
		if _, err := os.Stat(bin); err != nil {
			return "", nil, fmt.Errorf("mosquitto not installed (apt-get install mosquitto)")
		}
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	conf := filepath.Join(dir, "mosquitto.conf")
	body := fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 100000\n", port)
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		return "", nil, err
	}
	cmd := exec.Command(bin, "-c", conf)
	p, err := startProc(cmd)
	if err != nil {
		return "", nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if c, err := net.DialTimeout("tcp4", addr, 200*time.Millisecond); err == nil {
			c.Close()
			return "tcp://" + addr, func() { p.stop(2 * time.Second) }, nil
		}
	}
	p.stop(time.Second)
	return "", nil, fmt.Errorf("mosquitto did not listen on %s", addr)
}

// outboxLatency measures Event call to subscriber delivery: paced single
// events (a device appearing now and then), and a burst of 500 events at
// once (a PoE switch powering 500 devices), sent through Events.
func outboxLatency(ctx context.Context, cfg config, dir string) error {
	url, stop, err := startBroker(dir)
	if err != nil {
		fmt.Fprintf(cfg.out, "publish latency: skipped: %v\n\n", err)
		return nil
	}
	defer stop()
	var mu sync.Mutex
	sent := map[int]time.Time{}
	var lat []time.Duration
	got := make(chan struct{}, 1<<16)
	sub := paho.NewClient(paho.NewClientOptions().AddBroker(url).SetClientID("cwbench-sub").SetProtocolVersion(4))
	if tok := sub.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		return fmt.Errorf("subscriber: %v", tok.Error())
	}
	defer sub.Disconnect(100)
	tok := sub.Subscribe("camwarden/v1/cwbench/evt/#", 1, func(_ paho.Client, m paho.Message) {
		now := time.Now()
		ev, err := mqtt.DecodeEvent(m.Payload())
		if err != nil {
			return
		}
		i, ok := ev.Data["i"].(float64)
		if !ok {
			return
		}
		mu.Lock()
		if t, ok := sent[int(i)]; ok {
			lat = append(lat, now.Sub(t))
			delete(sent, int(i))
		}
		mu.Unlock()
		got <- struct{}{}
	})
	if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		return fmt.Errorf("subscribe: %v", tok.Error())
	}
	c, err := mqtt.Dial(mqtt.Options{Broker: url, ApplianceID: "cwbench", OutboxPath: filepath.Join(dir, "lat.db")})
	if err != nil {
		return err
	}
	defer c.Close()
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	err = c.WaitConnected(wctx)
	cancel()
	if err != nil {
		return err
	}
	wait := func(n int) error {
		for range n {
			select {
			case <-got:
			case <-time.After(10 * time.Second):
				return fmt.Errorf("event not delivered within 10 s")
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	}
	pct := func(q int) time.Duration {
		mu.Lock()
		defer mu.Unlock()
		if len(lat) == 0 {
			return 0
		}
		s := slices.Clone(lat)
		slices.Sort(s)
		return s[min(len(s)-1, len(s)*q/100)]
	}
	paced := 500
	if cfg.quick {
		paced = 100
	}
	for i := range paced {
		mu.Lock()
		sent[i] = time.Now()
		mu.Unlock()
		if err := c.Event(ctx, benchEvent(i)); err != nil {
			return err
		}
		if err := wait(1); err != nil {
			return err
		}
		time.Sleep(5 * time.Millisecond)
	}
	p50, p99, pmax := pct(50), pct(99), pct(100)
	mu.Lock()
	lat = lat[:0]
	mu.Unlock()
	const burst = 500
	es := make([]report.Event, burst)
	start := time.Now()
	mu.Lock()
	for i := range es {
		es[i] = benchEvent(100_000 + i)
		sent[100_000+i] = start
	}
	mu.Unlock()
	if err := c.Events(ctx, es); err != nil {
		return err
	}
	durable := time.Since(start)
	if err := wait(burst); err != nil {
		return err
	}
	all := time.Since(start)
	w := cfg.out
	fmt.Fprintf(w, "### publish latency through mosquitto (loopback), Event call to subscriber\n\n")
	fmt.Fprintf(w, "| load | events | p50 ms | p99 ms | max ms |\n|---|---|---|---|---|\n")
	ms := func(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d.Microseconds())/1000) }
	fmt.Fprintf(w, "| one at a time (5 ms apart) | %d | %s | %s | %s |\n", paced, ms(p50), ms(p99), ms(pmax))
	fmt.Fprintf(w, "| burst through Events | %d | %s | %s | %s |\n\n", burst, ms(pct(50)), ms(pct(99)), ms(pct(100)))
	fmt.Fprintf(w, "Burst: all %d durable after %s, all delivered after %s. Target: p99 publish <= 50 ms (issue 15).\n\n", burst, ms(durable)+" ms", ms(all)+" ms")
	return nil
}
