package app

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/camwarden/camwarden/firmware/config"
	"github.com/camwarden/camwarden/firmware/enforce"
	"github.com/camwarden/camwarden/firmware/inventory"
	"github.com/camwarden/camwarden/firmware/report"
	"github.com/camwarden/camwarden/probes"
	"github.com/camwarden/camwarden/probes/classify"
	"github.com/camwarden/camwarden/probes/nvr"
)

// Cameras on a recorder's own PoE ports sit on a network only the
// recorder reaches; its management API lists them. recorderProber asks
// that API of devices that look like recorders, with the installer's
// credentials for that device, and turns each channel into a device of its
// own, keyed "{recorder mac}/ch{n}" (probes.ChannelKey), which the
// classifier judges from what the recorder says about it (behind.* facts).

// recorderTimeout bounds one recorder read: a login and five or six
// requests, each bounded by the nvr package's per-request timeout.
const recorderTimeout = 15 * time.Second

// maxLedgerDevices bounds the login-attempt ledger.
const maxLedgerDevices = 4096

type recorderProber struct {
	probing config.Probing
	ledger  *nvr.Ledger
	log     *slog.Logger
}

func newRecorderProber(p config.Probing, log *slog.Logger) *recorderProber {
	return &recorderProber{probing: p, ledger: nvr.NewLedger(maxLedgerDevices), log: log}
}

func (*recorderProber) Name() string { return "nvr" }

// Applies says whether Probe would ask t anything: the scheduler spends
// no share of the rate cap on a device that is not a recorder.
func (r *recorderProber) Applies(t probes.Target) bool {
	_, ok := r.credsFor(t)
	return ok
}

// credsFor returns the accounts to try on t, and whether t is to be asked
// at all: a device the installer gave credentials for by address is asked
// whatever it looks like; others only when they look like a recorder.
func (r *recorderProber) credsFor(t probes.Target) ([]nvr.Credential, bool) {
	if len(t.MAC) != 6 {
		return nil, false
	}
	v := classify.Classify(nil, classify.Input{MAC: t.MAC, Facts: t.Facts})
	var creds []nvr.Credential
	named := false
	for _, c := range r.probing.CredentialsFor(v.Maker, v.Brand, t.IP) {
		creds = append(creds, nvr.Credential{User: c.User, Password: string(c.Password)})
		named = named || len(c.Addresses) > 0 // only entries naming t's address match with addresses
	}
	return creds, named || nvr.LooksLikeRecorder(t)
}

// ProbeTimeout overrides the scheduler's per-probe timeout.
func (*recorderProber) ProbeTimeout() time.Duration { return recorderTimeout }

// BeginSweep lets every credential be tried once more against each device.
func (r *recorderProber) BeginSweep() { r.ledger.BeginSweep() }

// Probe reads t's channels when t looks like a recorder; it does nothing
// (and spends no credential) for other devices.
func (r *recorderProber) Probe(ctx context.Context, t probes.Target, emit probes.Sink) error {
	creds, ok := r.credsFor(t)
	if !ok {
		return nil
	}
	p := &nvr.Prober{Creds: creds, Ledger: r.ledger, Log: r.log,
		Channels: func(rec probes.Target, res *nvr.Result) {
			now := time.Now()
			for _, ch := range res.Channels {
				emit(probes.Observation{Time: now, Key: probes.ChannelKey(rec.MAC, ch.Number), Probe: nvr.ChannelProbe,
					Facts: ch.Facts(rec.IP.String())})
			}
		}}
	return p.Probe(ctx, t, emit)
}

// recorderFollowup reads a recorder's channels in the same turn when the
// round just showed the device is one (its SADP, DHIP or ONVIF answer named
// a recorder model), instead of at the next sweep.
func recorderFollowup(before, after probes.Target) []string {
	// (A device named by address was asked in the round itself.)
	if !nvr.LooksLikeRecorder(before) && nvr.LooksLikeRecorder(after) {
		return []string{"nvr"}
	}
	return nil
}

// behindView fills the recorder-related parts of a device's view: where a
// channel camera sits, and for a recorder how many cameras it records. A
// recorder whose channels could not be read is never shown as one clean
// device: unless it is flagged anyway, it is left for review, saying how many
// cameras it hides and that credentials are needed.
func behindView(out *report.Device, d inventory.Device, dec enforce.Decision) {
	if nvrMAC, n, ok := probes.ParseChannelKey(d.MAC); ok {
		out.ID, out.MAC, out.IP = d.MAC, "", ""
		if m, ok := d.Value("behind.mac"); ok {
			if hw, err := net.ParseMAC(m); err == nil && len(hw) == 6 {
				out.MAC = hw.String()
			}
		}
		b := &report.Behind{NVR: nvrMAC, Channel: n}
		b.IP, _ = d.Value("behind.ip")
		b.Protocol, _ = d.Value("behind.protocol")
		b.Name, _ = d.Value("behind.name")
		b.Online, _ = d.Value("behind.online")
		if at, ok := d.Value("behind.nvr"); ok {
			b.NVRIP, _, _ = strings.Cut(at, " ")
		}
		out.Behind = b
		return
	}
	count := 0
	for _, k := range []string{"nvr.channels", "nvr.video_sources"} {
		if v, ok := d.Value(k); ok {
			if n, err := strconv.Atoi(v); err == nil && n > count {
				count = min(n, nvr.DefaultMaxChannels)
			}
		}
	}
	if count == 0 {
		return
	}
	out.CamerasBehind = count
	auth, _ := d.Value("nvr.auth")
	kind, _ := d.Value("nvr.kind")
	var why string
	switch {
	case auth == nvr.AuthRefused || auth == nvr.AuthLocked || auth == nvr.AuthNoCredentials ||
		auth == nvr.AuthNotTried || auth == nvr.AuthLastTry || auth == "":
		why = fmt.Sprintf("%d cameras behind this recorder, not identified: credentials needed (its API answered %q; "+
			"add the recorder's credentials under probing.credentials)", count, auth)
	case kind == string(nvr.KindONVIF):
		why = fmt.Sprintf("%d cameras behind this recorder, not identified: it lists them to no API camwarden reads "+
			"(ONVIF only counts its video sources); check them at the recorder", count)
	default:
		return // its channels were read
	}
	if dec.Flagged {
		out.Notes = append(out.Notes, why)
		return
	}
	out.Status = report.StatusReview
	out.Review = append(out.Review, why)
}
