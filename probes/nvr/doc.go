// Package nvr reads the channel list of a network video recorder, so the
// cameras on its private PoE ports — which no discovery protocol reaches —
// become devices the classifier can judge.
//
// # What the lead wires
//
// A Prober is aimed at one device (a probes.Target with the NVR's address)
// with the credentials configuration picked for it (config's
// Probing.CredentialsFor gives them in order; convert each to a Credential)
// and a Ledger the daemon holds for the whole run:
//
//	ledger := nvr.NewLedger(4096)         // once
//	ledger.BeginSweep()                   // at the start of every sweep
//	p := &nvr.Prober{Creds: creds, Ledger: ledger, Channels: func(nvrT probes.Target, r *nvr.Result) { ... }}
//	err := p.Probe(ctx, target, sink)
//
// LooksLikeRecorder(target) tells from earlier facts (SADP/DHIP/ONVIF
// models, device classes) whether a device is worth this prober; aim it
// at those, and at devices an installer names, rather than at every
// camera, which would spend credentials for nothing.
//
// Probe emits one Observation (probe "nvr") about the recorder itself —
// nvr.kind, nvr.model, nvr.serial, nvr.firmware, nvr.device_type,
// nvr.vendor, nvr.channels, nvr.channels_online, nvr.video_sources,
// nvr.auth — and hands the whole Result, channels included, to Channels.
// Channel facts are not packed into that observation: 16 cameras times
// eight fields would overflow probes.MaxFacts, and each channel is a
// device of its own. Channel.Facts returns a channel's facts as behind.*
// keys (see probes/FACTS.md) for the daemon to classify under the
// identity "{nvr mac}/ch{Number}", in an observation whose Probe is
// ChannelProbe ("behind"). Read returns the same Result
// without emitting anything.
//
// Channels are numbered as the recorder's own web interface numbers them:
// Hikvision by the InputProxyChannel id, Dahua from 1 with the first
// RemoteDevice entry as channel 1. A channel slot without a camera (no
// address, switched off) is counted in Result.Empty and not listed.
//
// Read's error, when the Result is not nil, says what could not be read:
// errors.Is it against ErrRefused, ErrLocked, ErrNoCredentials,
// ErrNotTried, ErrLastAttempt or ErrTooLarge.
//
// An NVR that refuses every credential (or has none configured) still
// yields what its unauthenticated answers and its ONVIF video-source count
// say: Result.Auth is then "refused", "locked" or "no-credentials" and
// Result.ChannelCount may be non-zero with Result.Channels empty, which the
// lead shows as "N cameras behind, not identified: credentials needed".
//
// # Credentials and lock-outs
//
// Recorders lock accounts after a few failed logins, and a locked NVR
// stops recording for nobody but also stops the installer logging in. So
// every login attempt goes through the Ledger: a credential is sent to a
// device at most once per sweep unless the device accepted it, a device
// that says it is locked (Hikvision userCheck lockStatus/unlockTime,
// Dahua "locked" answers and remainLockSecond, a 401/403 with
// Retry-After) gets no attempt at all until its unlock time, and a device
// that says only one try is left gets none. The ONVIF count is asked with
// the credential the web API accepted, or — when no web API asked for
// one — with the first credential the ledger allows, only: the onvif
// client may answer one device with HTTP Digest and then WS-UsernameToken,
// two logins for one credential. Basic credentials are sent
// only to a device that asked for Basic; Digest (MD5 or SHA-256, RFC 7616)
// is computed by probes/internal/digest, which onvif shares, because the
// module proxy's digest clients would be a new module for two hash calls.
//
// What it must not do: put a password in a log line, an error, a fact or a
// Result (Credential hides it from fmt, slog and encoders); follow a
// redirect; read more than MaxBody bytes of one answer or list more than
// MaxChannels channels; talk to any host but the target's address; decide
// what a camera is (probes/classify does).
package nvr
