package report

import (
	"context"
	"time"
)

// EvidenceItem is one line of evidence as published.
type EvidenceItem struct {
	Probe  string `json:"probe"`
	Detail string `json:"detail"`
	// Added fields: who the evidence points at, how strong it is, and the
	// signature that matched, so a file alone can be explained.
	Maker    string `json:"maker,omitempty"`
	Brand    string `json:"brand,omitempty"`
	Strength string `json:"strength,omitempty"`
	Rule     string `json:"rule,omitempty"`
}

// Device is one device's state as the outside world sees it. Its JSON is the
// public survey shape of DESIGN.md (mac, ip, maker, brand, model, serial,
// firmware, flagged, confidence, evidence[probe, detail]); further fields are
// only ever added.
type Device struct {
	MAC        string         `json:"mac"`
	IP         string         `json:"ip"`
	Maker      string         `json:"maker"`
	Brand      string         `json:"brand"`
	Model      string         `json:"model"`
	Serial     string         `json:"serial"`
	Firmware   string         `json:"firmware"`
	Flagged    bool           `json:"flagged"`
	Confidence string         `json:"confidence"`
	Evidence   []EvidenceItem `json:"evidence"`
	// Added fields.
	VLAN       uint16    `json:"vlan,omitempty"`
	Action     string    `json:"action,omitempty"` // "alert" | "isolate" | "allowed" when flagged
	Conflicts  []string  `json:"conflicts,omitempty"`
	Components []string  `json:"components,omitempty"`
	Notes      []string  `json:"notes,omitempty"` // plain-words remarks (corroboration, OUI-only, local MAC)
	FirstSeen  time.Time `json:"first_seen,omitzero"`
	LastSeen   time.Time `json:"last_seen,omitzero"`
	// ProbedAt is when active probing of the device last finished; zero
	// when it was never asked (passive only, or not reached yet).
	ProbedAt time.Time `json:"probed_at,omitzero"`
	// Status is the one-word outcome: flagged, clean (maker named, not
	// flagged), review (maker undetermined: Review says why, Candidates
	// names the makers the evidence points at) or unknown (no maker).
	Status     string   `json:"status"`
	Review     []string `json:"review,omitempty"`
	Candidates []string `json:"candidates,omitempty"`
	// ID is set for a device that has no MAC on this link, a camera behind
	// a recorder: "{recorder mac}/ch{n}". MAC is then the camera's own MAC
	// when the recorder reports it, else "". Key returns whichever names
	// the device.
	ID     string  `json:"id,omitempty"`
	Behind *Behind `json:"behind,omitempty"`
	// CamerasBehind is, for a recorder, how many cameras its API or ONVIF
	// video sources say it records.
	CamerasBehind int `json:"cameras_behind,omitempty"`
}

// Behind says where a camera behind a recorder sits.
type Behind struct {
	NVR      string `json:"nvr"` // the recorder's MAC
	NVRIP    string `json:"nvr_ip,omitempty"`
	Channel  int    `json:"channel"`
	IP       string `json:"ip,omitempty"` // on the recorder's camera network
	Protocol string `json:"protocol,omitempty"`
	Name     string `json:"name,omitempty"`
	Online   string `json:"online,omitempty"` // "true" / "false" when the recorder says
}

// Key is the device's identity: ID when set, else MAC.
func (d Device) Key() string {
	if d.ID != "" {
		return d.ID
	}
	return d.MAC
}

// Device statuses.
const (
	StatusFlagged = "flagged"
	StatusClean   = "clean"
	StatusReview  = "review"
	StatusUnknown = "unknown"
)

// Event types published under evt/{type}.
const (
	EvtDeviceNew      = "device_new"
	EvtDeviceFlagged  = "device_flagged"
	EvtDeviceReview   = "device_review" // maker undetermined: a person must settle it
	EvtDeviceGone     = "device_gone"
	EvtRelayCut       = "relay_cut"
	EvtRelayRestored  = "relay_restored"
	EvtPolicyApplied  = "policy_applied"
	EvtPolicyRejected = "policy_rejected"
	EvtAcknowledged   = "acknowledged"
)

// Event is something that happened, delivered at least once and in order.
type Event struct {
	Type string         `json:"type"`
	Time time.Time      `json:"ts"`
	MAC  string         `json:"mac,omitempty"`
	Data map[string]any `json:"data,omitempty"`
}

// Status is the appliance's state for the retained status/info topics.
type Status struct {
	Online         bool     `json:"online"`
	Firmware       string   `json:"firmware"`
	PolicyVersion  uint64   `json:"policy_version"`
	Interfaces     []string `json:"interfaces"`
	Devices        int      `json:"devices"`
	Flagged        int      `json:"flagged"`
	UplinkCut      bool     `json:"uplink_cut"`
	Unconfigured   bool     `json:"unconfigured,omitempty"`
	CaptureDropped uint64   `json:"capture_dropped,omitempty"` // frames the kernel dropped (socket buffer full)
	// PipelineDropped counts observations lost to a full pipeline queue.
	PipelineDropped uint64 `json:"pipeline_dropped,omitempty"`
}

// Reporter publishes the appliance's state and events. Implementations must
// be safe for concurrent use; Event must not lose an event it returned nil
// for (a durable reporter queues it).
type Reporter interface {
	Device(ctx context.Context, d Device) error   // retained state of one device
	Forget(ctx context.Context, mac string) error // device removed from inventory
	Event(ctx context.Context, e Event) error     // at-least-once, ordered
	Status(ctx context.Context, s Status) error   // retained appliance state
	Close() error
}

// Pending is an event a Queuer accepted whose commit may still be in
// flight: it is durable only once Wait returns nil.
type Pending interface {
	Wait(ctx context.Context) error
}

// Queuer is a Reporter that takes a burst without a round trip per item:
// the pipeline reporting 500 devices after a PoE switch powers up must not
// wait one broker acknowledgement and one fsync per device while a
// restricted camera further down its queue waits to be classified.
//
// QueueDevice publishes retained state without waiting for the broker (the
// reporter remembers the latest state per device and republishes it after a
// lost publish, so nothing waits on the acknowledgement). QueueEvent hands
// the event to the durable queue and returns at once; events one goroutine
// queues keep their order, and one Wait on the last of a burst usually
// covers the whole burst's fsync. Nothing is durable, and a caller must not
// treat it as sent, before its Pending's Wait returns nil.
type Queuer interface {
	QueueDevice(d Device) error
	QueueEvent(e Event) Pending
}
