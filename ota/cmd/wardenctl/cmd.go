package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/camwarden/camwarden/firmware/report/wire"
	"github.com/camwarden/camwarden/ota/command"
	"github.com/camwarden/camwarden/ota/sign"
)

func init() {
	register("cmd", "signed commands: send --appliance ID ack|rescan|forget [key=value ...]", runCmdSend)
}

// cmdResult mirrors firmware/app.CommandResultPayload.
type cmdResult struct {
	wire.Header
	command.Result
}

func runCmdSend(ctx context.Context, args []string, out io.Writer) error {
	if len(args) == 0 || args[0] != "send" {
		return errors.New("cmd: want send")
	}
	fs := flag.NewFlagSet("cmd send", flag.ContinueOnError)
	var b brokerFlags
	b.add(fs)
	dir := fs.String("dir", defaultKeyDir(), "key directory (env WARDENCTL_KEYS)")
	app := fs.String("appliance", "", "target appliance id")
	ttl := fs.Duration("ttl", 5*time.Minute, "command lifetime (expires_at = now + ttl; at most 24h)")
	wait := fs.Duration("timeout", 15*time.Second, "how long to wait for the appliance's answer")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	if *app == "" || *app == "fleet" || strings.ContainsAny(*app, "/+#") {
		return errors.New("cmd send: --appliance ID is required")
	}
	if fs.NArg() < 1 {
		return errors.New("cmd send: want a command name (ack, rescan, forget)")
	}
	name := fs.Arg(0)
	cargs := map[string]string{}
	for _, kv := range fs.Args()[1:] {
		if strings.HasPrefix(kv, "-") {
			return fmt.Errorf("cmd send: argument %q: want key=value (flags may stand anywhere before --)", kv)
		}
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return fmt.Errorf("cmd send: argument %q: want key=value", kv)
		}
		cargs[k] = v
	}
	if name == command.Forget && cargs["mac"] == "" && fs.NArg() == 2 && !strings.Contains(fs.Arg(1), "=") {
		cargs["mac"] = fs.Arg(1)
	}
	var nonce [16]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return err
	}
	now := nowFn().UTC().Truncate(time.Second)
	c := command.Command{Type: command.Type, Name: name, Appliance: *app, Nonce: hex.EncodeToString(nonce[:]),
		IssuedAt: now, ExpiresAt: now.Add(*ttl)}
	if len(cargs) > 0 {
		c.Args = cargs
	}
	payload, _ := json.Marshal(c)
	if _, err := command.Parse(payload); err != nil {
		return err
	}
	kd, err := loadKeyDir(*dir, false)
	if err != nil {
		return err
	}
	k, err := kd.signer(sign.RoleCommand)
	if err != nil {
		return err
	}
	env := sign.Sign(k, payload)

	topic := wire.TopicRoot + *app + "/cmd/" + name
	answer := make(chan cmdResult, 1)
	subErr := make(chan error, 1)
	pc, err := b.connect(ctx, func(pc paho.Client) {
		go func() {
			tok := pc.Subscribe(topic+"/res", 1, func(_ paho.Client, m paho.Message) {
				var r cmdResult
				if len(m.Payload()) > wire.MaxPayload || json.Unmarshal(m.Payload(), &r) != nil || r.Nonce != c.Nonce {
					return
				}
				select {
				case answer <- r:
				default:
				}
			})
			tok.WaitTimeout(10 * time.Second)
			subErr <- tok.Error()
		}()
	})
	if err != nil {
		return err
	}
	defer pc.Disconnect(100)
	if err := <-subErr; err != nil {
		return fmt.Errorf("subscribe %s/res: %w", topic, err)
	}
	tok := pc.Publish(topic, 1, false, env.Marshal())
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		return fmt.Errorf("publish %s: %v", topic, tok.Error())
	}
	select {
	case r := <-answer:
		if !r.OK {
			return fmt.Errorf("%s refused %s: %s: %s", *app, name, r.Error, r.Reason)
		}
		fmt.Fprintf(out, "%s: %s ok (nonce %s)\n", *app, name, c.Nonce)
		return nil
	case <-time.After(*wait):
		return fmt.Errorf("no answer from %s on %s/res within %s (is it online?)", *app, topic, *wait)
	case <-ctx.Done():
		return ctx.Err()
	}
}
