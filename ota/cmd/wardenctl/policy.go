package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/camwarden/camwarden/firmware/report/wire"
	"github.com/camwarden/camwarden/ota/policy"
	"github.com/camwarden/camwarden/ota/sign"
)

func init() {
	register("policy", "policies: sign --in F --out F | push (--fleet | --appliance ID) | status", runPolicy)
}

func runPolicy(ctx context.Context, args []string, out io.Writer) error {
	if len(args) == 0 {
		return errors.New("policy: want sign, push or status")
	}
	sub, args := args[0], args[1:]
	fs := flag.NewFlagSet("policy "+sub, flag.ContinueOnError)
	switch sub {
	case "sign":
		dir := fs.String("dir", defaultKeyDir(), "key directory (env WARDENCTL_KEYS)")
		in := fs.String("in", "", "policy (YAML or JSON)")
		outFile := fs.String("out", "", "signed policy to write (default: stdout)")
		valid := fs.Duration("valid", 30*24*time.Hour, "expires_at = issued_at + this, when the policy has no expires_at")
		if err := parseFlags(fs, args); err != nil {
			return err
		}
		if *in == "" {
			return errors.New("policy sign: --in is required")
		}
		return policySign(*dir, *in, *outFile, *valid, out)
	case "push":
		var b brokerFlags
		b.add(fs)
		dir := fs.String("dir", defaultKeyDir(), "key directory: the policy is checked against its key set before pushing")
		in := fs.String("in", "", "signed policy (from policy sign)")
		fleet := fs.Bool("fleet", false, "push to camwarden/v1/fleet/policy (every appliance in the policy's scope)")
		app := fs.String("appliance", "", "push to camwarden/v1/ID/policy")
		if err := parseFlags(fs, args); err != nil {
			return err
		}
		if *fleet == (*app != "") {
			return errors.New("policy push: want exactly one of --fleet or --appliance ID")
		}
		if *in == "" {
			return errors.New("policy push: --in is required")
		}
		raw, err := os.ReadFile(*in)
		if err != nil {
			return err
		}
		doc, err := checkSigned(*dir, raw)
		if err != nil {
			return err
		}
		topic := wire.FleetTopic + "policy"
		if *app != "" {
			if *app == "fleet" || strings.ContainsAny(*app, "/+#") {
				return fmt.Errorf("policy push: --appliance %q is not an appliance id", *app)
			}
			topic = wire.TopicRoot + *app + "/policy"
		}
		if err := publishRetained(ctx, &b, topic, raw); err != nil {
			return err
		}
		fmt.Fprintf(out, "pushed policy v%d to %s\n", doc.Version, topic)
		return nil
	case "status":
		var b brokerFlags
		b.add(fs)
		timeout := fs.Duration("timeout", 10*time.Second, "longest wait for the retained reports")
		quiet := fs.Duration("quiet", 500*time.Millisecond, "stop this long after the last report")
		if err := parseFlags(fs, args); err != nil {
			return err
		}
		reps, err := collectReports(ctx, &b, *timeout, *quiet)
		if err != nil {
			return err
		}
		return writeReports(out, reps, nowFn())
	}
	return fmt.Errorf("policy: unknown subcommand %q", sub)
}

// policySign reads a YAML (or JSON) policy, fills type, issued_at and
// expires_at when absent, checks it with the appliance's own parser and
// signs the exact JSON bytes with the active policy key.
func policySign(dir, in, outFile string, valid time.Duration, out io.Writer) error {
	src, err := os.ReadFile(in)
	if err != nil {
		return err
	}
	var m map[string]any
	dec := yaml.NewDecoder(strings.NewReader(string(src)))
	if err := dec.Decode(&m); err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	if m == nil {
		return fmt.Errorf("%s: empty", in)
	}
	if _, ok := m["version"]; !ok {
		return fmt.Errorf("%s: version: missing (it must be higher than the version in force)", in)
	}
	if _, ok := m["type"]; !ok {
		m["type"] = policy.DocumentType
	}
	now := nowFn().UTC().Truncate(time.Second)
	if _, ok := m["issued_at"]; !ok {
		m["issued_at"] = now
	}
	if _, ok := m["expires_at"]; !ok {
		it, ok := m["issued_at"].(time.Time)
		if !ok {
			return fmt.Errorf("%s: expires_at: missing and issued_at is not a timestamp", in)
		}
		m["expires_at"] = it.Add(valid)
	}
	// Signatures may be written inline as YAML; they travel as text.
	if s, ok := m["signatures"]; ok {
		if _, isText := s.(string); !isText {
			b, err := yaml.Marshal(s)
			if err != nil {
				return fmt.Errorf("%s: signatures: %w", in, err)
			}
			m["signatures"] = string(b)
		}
	}
	payload, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	doc, err := policy.Parse(payload)
	if err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	kd, err := loadKeyDir(dir, false)
	if err != nil {
		return err
	}
	k, err := kd.signer(sign.RolePolicy)
	if err != nil {
		return err
	}
	env := sign.Sign(k, payload)
	if _, err := sign.Verify(env, kd.keySet, sign.RolePolicy, nowFn()); err != nil {
		return fmt.Errorf("self-check: %w", err)
	}
	raw := append(env.Marshal(), '\n')
	if outFile == "" {
		_, err = out.Write(raw)
		return err
	}
	if err := writeFile(outFile, raw, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(out, "signed policy v%d (expires %s, scope appliances=%v sites=%v) with key %s -> %s\n",
		doc.Version, doc.ExpiresAt.Format(time.RFC3339), doc.Scope.Appliances, doc.Scope.Sites, k.ID, outFile)
	return nil
}

// checkSigned verifies a signed policy against the key directory's key set
// (when there is one) so that a typo never reaches the fleet.
func checkSigned(dir string, raw []byte) (*policy.Document, error) {
	env, err := sign.ParseEnvelope(raw)
	if err != nil {
		return nil, err
	}
	payload := env.Payload
	if kd, err := loadKeyDir(dir, false); err == nil {
		if payload, err = sign.Verify(env, kd.keySet, sign.RolePolicy, nowFn()); err != nil {
			return nil, fmt.Errorf("signed policy does not verify against key set v%d: %w", kd.keySet.Version, err)
		}
	}
	doc, err := policy.Parse(payload)
	if err != nil {
		return nil, err
	}
	if !nowFn().Before(doc.ExpiresAt) {
		return nil, fmt.Errorf("policy v%d expired at %s", doc.Version, doc.ExpiresAt.Format(time.RFC3339))
	}
	return doc, nil
}

// publishRetained sends payload retained at QoS 1 and waits for the PUBACK.
func publishRetained(ctx context.Context, b *brokerFlags, topic string, payload []byte) error {
	pc, err := b.connect(ctx, nil)
	if err != nil {
		return err
	}
	defer pc.Disconnect(250)
	tok := pc.Publish(topic, 1, true, payload)
	select {
	case <-tok.Done():
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(10 * time.Second):
		return fmt.Errorf("publish %s: no PUBACK in 10s", topic)
	}
	if err := tok.Error(); err != nil {
		return fmt.Errorf("publish %s: %w", topic, err)
	}
	return nil
}

// reportedPayload mirrors firmware/app.ReportedPayload (wardenctl must not
// import the firmware's wiring).
type reportedPayload struct {
	wire.Header
	policy.Report
}

// collectReports gathers the retained policy/reported of every appliance.
func collectReports(ctx context.Context, b *brokerFlags, timeout, quiet time.Duration) (map[string]reportedPayload, error) {
	return collectLatest(ctx, b, wire.TopicRoot+"+/policy/reported", timeout, quiet, func(rest string, raw []byte) (reportedPayload, uint64, bool) {
		var p reportedPayload
		if rest != "reported" {
			return p, 0, false
		}
		if err := json.Unmarshal(raw, &p); err != nil || p.Schema != policy.SchemaReported {
			return p, 0, false
		}
		return p, p.Seq, true
	})
}

func writeReports(out io.Writer, reps map[string]reportedPayload, now time.Time) error {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "APPLIANCE\tAPPLIED\tSHA256\tLAST\tRECEIVED\tKEYS\tAGE\tREASON")
	for _, id := range slices.Sorted(maps.Keys(reps)) {
		p := reps[id]
		sha := p.SHA256
		if len(sha) > 12 {
			sha = sha[:12]
		}
		if sha == "" {
			sha = "-"
		}
		reason := p.Reason
		if len(reason) > 100 {
			reason = reason[:97] + "..."
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%d\t%d\t%s\t%s\n", id, p.AppliedVersion, sha, p.Status, p.ReceivedVersion,
			p.KeySetVersion, now.Sub(p.TS).Round(time.Second), reason)
	}
	if len(reps) == 0 {
		fmt.Fprintln(tw, "(no appliance has reported a policy)")
	}
	return tw.Flush()
}
