package app

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/camwarden/camwarden/firmware/buildinfo"
	"github.com/camwarden/camwarden/firmware/config"
	"github.com/camwarden/camwarden/firmware/enforce"
	"github.com/camwarden/camwarden/firmware/report"
	"github.com/camwarden/camwarden/firmware/report/mqtt"
	"github.com/camwarden/camwarden/firmware/report/wire"
)

// Uplink is the broker link: reporting up, signed policies, commands and
// OTA jobs down. *mqtt.Client implements it; tests fake it, so everything
// that rides on the broker can be exercised through Run.
type Uplink interface {
	report.Reporter
	// Publish sends on camwarden/v1/{appliance}/{topicSuffix}.
	Publish(topicSuffix string, payload []byte, retained bool) error
	// Subscribe and SubscribeFleet register handlers for the appliance's
	// and the fleet's down-link topics; handlers must return quickly.
	Subscribe(topicSuffix string, handler func(topic string, payload []byte)) error
	SubscribeFleet(topicSuffix string, handler func(topic string, payload []byte)) error
	// NewHeader stamps a payload header (seq, msg_id) for schema.
	NewHeader(schema string) wire.Header
	Connected() bool
	// Telemetry publishes on tele at QoS 0; nothing is queued offline.
	Telemetry(ctx context.Context, data any) error
}

var _ Uplink = (*mqtt.Client)(nil)

// OpenReporter connects to the configured broker (the returned reporter is
// then also an Uplink), or logs when none is set.
func OpenReporter(ctx context.Context, cfg config.Config, id string, log *slog.Logger) (report.Reporter, error) {
	m := cfg.MQTT
	if m.Broker == "" {
		return report.NewLog(log), nil
	}
	pw := ""
	if m.PasswordFile != "" {
		b, err := os.ReadFile(m.PasswordFile)
		if err != nil {
			return nil, fmt.Errorf("mqtt.password_file: %w", err)
		}
		pw = strings.TrimSpace(string(b))
	}
	c, err := mqtt.Dial(mqtt.Options{Broker: m.Broker, ApplianceID: id, Username: m.Username, Password: pw,
		CAFile: m.CAFile, CertFile: m.CertFile, KeyFile: m.KeyFile,
		OutboxPath: filepath.Join(cfg.StateDir, "outbox.db"), OutboxMaxEvents: m.OutboxMax, OutboxMaxAge: m.OutboxMaxAge,
		Logger: log})
	if err != nil {
		return nil, fmt.Errorf("mqtt: %w", err)
	}
	return c, nil
}

// startReporting opens the broker link (or the log reporter). Events are
// accepted from here on; the loops that publish state start with the
// components they read (startEnforcer, run).
func (d *daemon) startReporting() error {
	switch {
	case d.opts.Uplink != nil:
		d.link, d.rep = d.opts.Uplink, d.opts.Uplink
	case d.opts.Reporter != nil:
		d.rep = d.opts.Reporter
	default:
		r, err := OpenReporter(d.ctx, d.cfg, d.id, d.log)
		if err != nil {
			return err
		}
		d.rep = r
		if l, ok := r.(Uplink); ok {
			d.link = l
		}
	}
	rep := d.rep
	d.onClose(func() { rep.Close() })
	return nil
}

// startUplinkLoops runs the broker LED and telemetry; called by the
// enforcer stage, whose LEDs and counters they read.
func (d *daemon) startUplinkLoops() {
	if d.link == nil {
		return
	}
	d.goRun(func(ctx context.Context) error { return brokerLED(ctx, d.link, d.enf) })
	if iv := d.cfg.MQTT.TeleInterval; iv > 0 {
		d.goRun(func(ctx context.Context) error { return teleLoop(ctx, d.link, iv, d.telemetry, d.log) })
	}
}

// brokerLED keeps the broker LED on while connected, slow while trying.
func brokerLED(ctx context.Context, c interface{ Connected() bool }, enf *enforce.Enforcer) error {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		if c.Connected() {
			enf.SetBroker(enforce.BrokerConnected)
		} else {
			enf.SetBroker(enforce.BrokerConnecting)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Telemetry is the tele payload's data: counters for dashboards, not state
// (state is on status and devices/{mac}).
type Telemetry struct {
	UptimeS         int64  `json:"uptime_s"`
	Devices         int    `json:"devices"`
	Flagged         int    `json:"flagged"`
	Review          int    `json:"review"`
	CapturePackets  uint64 `json:"capture_packets"`
	CaptureDropped  uint64 `json:"capture_dropped"`
	PipelineDropped uint64 `json:"pipeline_dropped"`
	ProbeQueue      int    `json:"probe_queue"`
	HostsProbed     uint64 `json:"hosts_probed"`
	HeapBytes       uint64 `json:"heap_bytes"`
	Goroutines      int    `json:"goroutines"`
}

func (d *daemon) telemetry() Telemetry {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	t := Telemetry{UptimeS: int64(d.now().Sub(d.started) / time.Second), Devices: d.inv.Len(),
		PipelineDropped: d.pipe.Dropped(), HeapBytes: ms.HeapAlloc, Goroutines: runtime.NumGoroutine()}
	for _, v := range d.pipe.Views() {
		switch {
		case v.Flagged:
			t.Flagged++
		case v.Status == report.StatusReview:
			t.Review++
		}
	}
	for _, c := range d.captures {
		p, dr := c.counts()
		t.CapturePackets += p
		t.CaptureDropped += dr
	}
	if s := d.sched.Load(); s != nil {
		t.ProbeQueue = s.Queued()
		t.HostsProbed = s.Probed()
	}
	return t
}

// teleLoop publishes telemetry every interval while the link is up.
func teleLoop(ctx context.Context, l Uplink, every time.Duration, data func() Telemetry, log *slog.Logger) error {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if !l.Connected() {
			continue
		}
		if err := l.Telemetry(ctx, data()); err != nil {
			log.Debug("telemetry not published", "err", err)
		}
	}
}

// status is the appliance's state for the retained status topic and
// `camwarden status`. Devices and Flagged count the same list state.json
// holds, so the two never disagree (they did after a restart, when the
// inventory still held devices the pipeline had not re-reported).
func (d *daemon) status() report.Status {
	st := d.enf.Status()
	views := d.pipe.Views()
	flagged := 0
	for _, v := range views {
		if v.Flagged {
			flagged++
		}
	}
	var names []string
	for _, i := range d.cfg.Interfaces {
		names = append(names, i.Name)
	}
	var dropped uint64
	for _, c := range d.captures {
		_, dr := c.counts()
		dropped += dr
	}
	return report.Status{Online: true, Firmware: buildinfo.Version, PolicyVersion: st.Policy,
		Interfaces: names, Devices: len(views), Flagged: flagged, UplinkCut: st.Cut,
		Unconfigured: len(d.cfg.Interfaces) == 0, CaptureDropped: dropped, PipelineDropped: d.pipe.Dropped()}
}

// snapshotExtras fills the parts of state.json only the daemon knows.
func (d *daemon) snapshotExtras(s *Snapshot) {
	s.Site = d.cfg.Site
	b := BrokerState{Configured: d.link != nil}
	if d.link != nil {
		b.Connected = d.link.Connected()
	}
	s.Broker = b
}
