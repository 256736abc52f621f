package app

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/camwarden/camwarden/firmware/enforce"
	"github.com/camwarden/camwarden/firmware/report/mqtt"
	"github.com/camwarden/camwarden/ota/command"
	"github.com/camwarden/camwarden/ota/policy"
	"github.com/camwarden/camwarden/ota/sign"
	"github.com/camwarden/camwarden/probes/classify"
)

// PolicyPublisher is the part of *mqtt.Client the policy glue publishes
// through.
type PolicyPublisher interface {
	Publish(topicSuffix string, payload []byte, retained bool) error
	NewHeader(schema string) mqtt.Header
}

// PolicySubscriber is the part of *mqtt.Client the policy glue subscribes
// through.
type PolicySubscriber interface {
	Subscribe(topicSuffix string, handler func(topic string, payload []byte)) error
	SubscribeFleet(topicSuffix string, handler func(topic string, payload []byte)) error
}

// PolicyOptions configure a PolicyManager.
type PolicyOptions struct {
	Dir         string // state directory for policy, key set, nonces (e.g. {state_dir}/policy)
	RootKey     string // config policy.root_key (base64 ed25519)
	ApplianceID string
	Site        string
	// Base is the built-in signature set extras merge over (default
	// classify.Default()). Fallback is enforced when a policy in force is
	// withdrawn by a key revocation (default enforce.DefaultPolicy(); the
	// app passes the configured local policy).
	Base        *classify.Set
	Fallback    *enforce.Policy
	Publisher   PolicyPublisher // nil: outcomes are only logged
	Now         func() time.Time
	ClockSynced func() bool
	Logger      *slog.Logger
	// OnApply receives every policy swapped in, as one snapshot: rules,
	// merged classifier signatures, probe settings and version (0 for the
	// fallback). It runs on the MQTT delivery goroutine: return quickly.
	OnApply func(Settings)
}

// PolicyManager receives signed key sets and policies from MQTT, applies
// them through ota/policy and reports each outcome retained on
// policy/reported.
type PolicyManager struct {
	opts   PolicyOptions
	engine *policy.Engine
	log    *slog.Logger

	mu      sync.Mutex // one message at a time, so callbacks run in order
	pending map[policy.Source][]byte
}

// NewPolicyManager opens the policy state (loading and re-verifying the
// stored key set and policy).
func NewPolicyManager(opts PolicyOptions) (*PolicyManager, error) {
	root, err := sign.ParsePublicKey(opts.RootKey)
	if err != nil {
		return nil, fmt.Errorf("app: policy.root_key: %w", err)
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Base == nil {
		opts.Base = classify.Default()
	}
	if opts.Fallback == nil {
		fb := enforce.DefaultPolicy()
		opts.Fallback = &fb
	}
	e, err := policy.Open(policy.Options{Dir: opts.Dir, Root: root, ApplianceID: opts.ApplianceID, Site: opts.Site,
		Now: opts.Now, ClockSynced: opts.ClockSynced, Base: opts.Base, Logger: opts.Logger})
	if err != nil {
		return nil, err
	}
	return &PolicyManager{opts: opts, engine: e, log: opts.Logger.With("component", "policy"),
		pending: map[policy.Source][]byte{}}, nil
}

// Engine is the underlying policy engine (its Trust and Store are shared
// with the CommandHandler).
func (m *PolicyManager) Engine() *policy.Engine { return m.engine }

// Current returns the policy in force (from the store at start, or the last
// applied), or ok=false when none is and the local policy applies.
func (m *PolicyManager) Current() (Settings, bool) {
	a := m.engine.Current()
	if a == nil {
		return Settings{}, false
	}
	s, err := m.settings(a)
	if err != nil {
		m.log.Error("policy: stored policy not applicable", "err", err)
		return Settings{}, false
	}
	return s, true
}

// settings is the snapshot of an applied policy.
func (m *PolicyManager) settings(a *policy.Applied) (Settings, error) {
	ep, err := policyFromDocument(a.Doc)
	if err != nil {
		return Settings{}, err
	}
	return Settings{Version: a.Doc.Version, Enforce: ep, Signatures: a.Signatures, Probes: a.Doc.Probes}, nil
}

// Subscribe registers Handle for the key set and both policy topics.
func (m *PolicyManager) Subscribe(c PolicySubscriber) error {
	return errors.Join(
		c.SubscribeFleet("keys", m.Handle),
		c.SubscribeFleet("policy", m.Handle),
		c.Subscribe("policy", m.Handle),
	)
}

// Handle takes one message from camwarden/v1/fleet/keys,
// camwarden/v1/fleet/policy or camwarden/v1/{id}/policy. Empty payloads
// (a cleared retained message) are ignored.
func (m *PolicyManager) Handle(topic string, payload []byte) {
	if len(payload) == 0 {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	switch topic {
	case mqtt.FleetTopic + "keys":
		m.handleKeys(payload)
	case mqtt.FleetTopic + "policy":
		m.handlePolicy(policy.SourceFleet, payload)
	case mqtt.TopicRoot + m.opts.ApplianceID + "/policy":
		m.handlePolicy(policy.SourceAppliance, payload)
	default:
		m.log.Warn("policy: message on an unexpected topic", "topic", topic)
	}
}

func (m *PolicyManager) handleKeys(payload []byte) {
	before := m.engine.Current()
	ks, err := m.engine.HandleKeySet(payload)
	if errors.Is(err, sign.ErrOldKeySet) {
		return // the retained key set again after a reconnect
	}
	if err != nil {
		m.log.Error("policy: key set refused", "err", err)
		return
	}
	m.log.Info("policy: key set installed", "version", ks.Version, "keys", len(ks.Keys), "revoked", len(ks.Revoked))
	if before != nil && m.engine.Current() == nil {
		m.apply(nil)
		m.report(policy.SourceFleet, policy.Result{Status: policy.StatusRejected, Version: before.Doc.Version, SHA256: before.SHA256,
			Reason: fmt.Sprintf("%s: key set v%d withdrew the key of policy v%d; local policy in force", policy.CodeRevokedKey, ks.Version, before.Doc.Version)})
	}
	// Policies that arrived before the key set that can verify them (the
	// broker's retained messages on different topics come in any order).
	for _, src := range []policy.Source{policy.SourceFleet, policy.SourceAppliance} {
		if raw := m.pending[src]; raw != nil {
			m.handlePolicy(src, raw)
		}
	}
}

func (m *PolicyManager) handlePolicy(src policy.Source, payload []byte) {
	r := m.engine.HandlePolicy(src, payload)
	if r.Status == policy.StatusRejected {
		m.log.Warn("policy: rejected", "source", src, "version", r.Version, "reason", r.Reason)
		// Keep the latest message per topic for a later key set; only
		// reasons a key set can cure are worth keeping.
		switch r.Code() {
		case policy.CodeNoKeySet, policy.CodeUnknownKey:
			m.pending[src] = append([]byte(nil), payload...)
		default:
			delete(m.pending, src)
		}
	} else {
		delete(m.pending, src)
	}
	if r.Changed {
		m.apply(r.Applied)
	}
	m.report(src, r)
}

func (m *PolicyManager) apply(a *policy.Applied) {
	if m.opts.OnApply == nil {
		return
	}
	if a == nil {
		m.opts.OnApply(Settings{Enforce: *m.opts.Fallback, Signatures: m.opts.Base})
		return
	}
	s, err := m.settings(a)
	if err != nil {
		// Parse validated the document, so this is a bug, not input.
		m.log.Error("policy: verified policy not applicable", "version", a.Doc.Version, "err", err)
		return
	}
	m.opts.OnApply(s)
}

// ReportedPayload is published retained on policy/reported.
type ReportedPayload struct {
	mqtt.Header
	policy.Report
}

func (m *PolicyManager) report(src policy.Source, r policy.Result) {
	if r.Applied == nil {
		r.Applied = m.engine.Current()
	}
	var ksv uint64
	if ks := m.engine.Trust().KeySet(); ks != nil {
		ksv = ks.Version
	}
	if m.opts.Publisher == nil {
		return
	}
	b, err := json.Marshal(ReportedPayload{Header: m.opts.Publisher.NewHeader(policy.SchemaReported), Report: r.Report(src, ksv)})
	if err != nil {
		m.log.Error("policy: encode report", "err", err)
		return
	}
	if err := m.opts.Publisher.Publish("policy/reported", b, true); err != nil {
		m.log.Warn("policy: report not published", "err", err)
	}
}

// CommandOptions configure a CommandHandler. The callbacks run on the MQTT
// delivery goroutine after the command verified: return quickly.
type CommandOptions struct {
	ApplianceID string
	Engine      *policy.Engine // PolicyManager.Engine(): key set, trusted time, store
	Publisher   PolicyPublisher
	Logger      *slog.Logger
	Ack         func(source string) error // acknowledge a relay cut
	Rescan      func() error
	Forget      func(mac string) error
}

// CommandHandler verifies signed commands on cmd/{name} and answers each on
// cmd/{name}/res.
type CommandHandler struct {
	opts CommandOptions
	v    *command.Verifier
	log  *slog.Logger
}

// NewCommandHandler loads the persisted nonces.
func NewCommandHandler(opts CommandOptions) (*CommandHandler, error) {
	if opts.Engine == nil {
		return nil, errors.New("app: command handler needs the policy engine")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	v, err := command.NewVerifier(opts.ApplianceID, opts.Engine.Trust(), opts.Engine.Store())
	if err != nil {
		return nil, err
	}
	return &CommandHandler{opts: opts, v: v, log: opts.Logger.With("component", "command")}, nil
}

// Subscribe registers Handle for cmd/+.
func (h *CommandHandler) Subscribe(c PolicySubscriber) error { return c.Subscribe("cmd/+", h.Handle) }

// CommandResultPayload is published on cmd/{name}/res.
type CommandResultPayload struct {
	mqtt.Header
	command.Result
}

// Handle takes one message from camwarden/v1/{id}/cmd/{name}.
func (h *CommandHandler) Handle(topic string, payload []byte) {
	if len(payload) == 0 {
		return
	}
	name := topic[strings.LastIndexByte(topic, '/')+1:]
	if !validCommandName(name) {
		h.log.Warn("command: unknown command", "topic", topic)
		name = "unknown"
	}
	res := command.Result{Name: name}
	c, err := h.v.Verify(name, payload)
	if c != nil {
		res.Nonce = c.Nonce
	}
	if err == nil {
		err = h.run(c)
	}
	if err != nil {
		res.Error, res.Reason = command.Code(err), err.Error()
		h.log.Warn("command: refused or failed", "name", name, "err", err)
	} else {
		res.OK = true
		h.log.Info("command: done", "name", name, "nonce", c.Nonce)
	}
	if h.opts.Publisher == nil {
		return
	}
	b, err := json.Marshal(CommandResultPayload{Header: h.opts.Publisher.NewHeader(command.SchemaResult), Result: res})
	if err == nil {
		err = h.opts.Publisher.Publish("cmd/"+name+"/res", b, false)
	}
	if err != nil {
		h.log.Warn("command: result not published", "name", name, "err", err)
	}
}

func validCommandName(n string) bool {
	for _, c := range command.Names {
		if c == n {
			return true
		}
	}
	return false
}

func (h *CommandHandler) run(c *command.Command) error {
	var f func() error
	switch c.Name {
	case command.Ack:
		if h.opts.Ack != nil {
			src := c.Args["source"]
			if src == "" {
				src = "central"
			}
			f = func() error { return h.opts.Ack(src) }
		}
	case command.Rescan:
		f = h.opts.Rescan
	case command.Forget:
		if h.opts.Forget != nil {
			mac := strings.ToLower(c.Args["mac"])
			f = func() error { return h.opts.Forget(mac) }
		}
	}
	if f == nil {
		return &command.Error{Code: command.CodeFailed, Err: fmt.Errorf("%s: not supported by this appliance", c.Name)}
	}
	if err := f(); err != nil {
		return &command.Error{Code: command.CodeFailed, Err: err}
	}
	return nil
}
