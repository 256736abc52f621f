package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/camwarden/camwarden/firmware/report/mqtt"
	"github.com/camwarden/camwarden/firmware/report/mqtt/mosquittotest"
	"github.com/camwarden/camwarden/ota/sign"
	"github.com/camwarden/camwarden/ota/update"
)

// selfSigned writes a certificate for 127.0.0.1 and its key.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "repo"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, BasicConstraintsValid: true, IsCA: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kd, _ := x509.MarshalECPrivateKey(k)
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd}), 0o600)
	c, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(c)
	return certFile, keyFile, pool
}

type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *lockedBuf) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

type keyTrust struct{ ks *sign.KeySet }

func (k keyTrust) KeySet() *sign.KeySet { return k.ks }
func (k keyTrust) Now() time.Time       { return time.Now() }

// TestReleaseServeInstall: keys init -> release -> serve over HTTPS ->
// an appliance-side updater installs it.
func TestReleaseServeInstall(t *testing.T) {
	keys := filepath.Join(t.TempDir(), "keys")
	runCmd(t, "keys", "init", "--dir", keys)
	bin := filepath.Join(t.TempDir(), "camwarden")
	os.WriteFile(bin, bytes.Repeat([]byte("firmware"), 10000), 0o755)
	repo := filepath.Join(t.TempDir(), "repo")
	out := runCmd(t, "release", "--keys", keys, "--version", "1.5.0", "--epoch", "2", "--expires", "240h",
		"--out", repo, "--bin", "amd64="+bin, "--bin", "arm64="+bin)
	if !strings.Contains(out, "release 1.5.0 (security epoch 2)") {
		t.Fatalf("release output %q", out)
	}
	// Bad invocations.
	for _, args := range [][]string{
		{"release", "--keys", keys, "--version", "1.6", "--out", repo},
		{"release", "--keys", keys, "--version", "1.6", "--out", repo, "--bin", "mips=" + bin},
		{"release", "--keys", keys, "--version", "1.6", "--out", repo, "--bin", "arm64=" + bin, "--expires", "-1h"},
		{"release", "--keys", keys, "--version", "../x", "--out", repo, "--bin", "arm64=" + bin},
	} {
		if code := run(context.Background(), args, io.Discard, io.Discard); code == 0 {
			t.Errorf("%v: accepted", args)
		}
	}

	cert, key, pool := selfSigned(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var sout lockedBuf
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--dir", repo, "--addr", "127.0.0.1:0", "--cert", cert, "--key", key}, &sout, os.Stderr)
	}()
	var url string
	for i := 0; i < 100 && url == ""; i++ {
		if _, rest, ok := strings.Cut(sout.String(), " on "); ok {
			url = strings.TrimSpace(rest)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if url == "" {
		t.Fatal("serve did not start")
	}

	kd, err := loadKeyDir(keys, false)
	if err != nil {
		t.Fatal(err)
	}
	var got []update.Status
	u, err := update.New(update.Options{Dir: t.TempDir(), Arch: "amd64", Trust: keyTrust{kd.keySet},
		Fetcher: &update.Fetcher{Client: update.NewHTTPClient(pool), Attempts: 2},
		Report:  func(s update.Status) { got = append(got, s) }})
	if err != nil {
		t.Fatal(err)
	}
	if err := u.Install(ctx, update.Job{Version: "1.5.0", Repository: url}); err != nil {
		t.Fatalf("install from wardenctl serve: %v", err)
	}
	if s := got[len(got)-1]; s.State != update.StateInstalled || s.Version != "1.5.0" {
		t.Fatalf("last status %+v", s)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("serve exit %d", code)
	}
}

func TestOTAPushAndStatus(t *testing.T) {
	mosquittotest.Require(t)
	b := mosquittotest.Start(t, mosquittotest.Config{Users: map[string]string{"app1": "pw1"}})
	pwf := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(pwf, []byte(b.Users[mosquittotest.AdminUser]+"\n"), 0o600)
	conn := []string{"--broker", b.URL(), "--user", mosquittotest.AdminUser, "--password-file", pwf}
	runCmd(t, append([]string{"ota", "push", "--appliance", "app1", "--version", "1.5.0", "--repository", "https://127.0.0.1:8443/"}, conn...)...)
	if code := run(context.Background(), append([]string{"ota", "push", "--fleet", "--version", "1.5.0", "--repository", "http://127.0.0.1/"}, conn...), io.Discard, io.Discard); code == 0 {
		t.Fatal("http repository accepted")
	}

	// The appliance's view: the retained job parses.
	c, err := mqtt.Dial(mqtt.Options{Broker: b.URL(), ApplianceID: "app1", Username: "app1", Password: "pw1",
		OutboxPath: filepath.Join(t.TempDir(), "o.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	jobs := make(chan []byte, 1)
	if err := c.Subscribe(update.TopicJob, func(_ string, p []byte) {
		select {
		case jobs <- p:
		default:
		}
	}); err != nil {
		t.Fatal(err)
	}
	select {
	case p := <-jobs:
		j, err := update.ParseJob(p)
		if err != nil || j.Version != "1.5.0" {
			t.Fatalf("job %s: %v", p, err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no retained job")
	}
	// Its status, retained, shows up in ota status.
	st, _ := json.Marshal(otaStatus{Header: c.NewHeader(update.SchemaStatus),
		Status: update.Status{State: update.StateRolledBack, Version: "1.5.0", Running: "1.4.0", Code: update.CodeGate, Reason: "gate: board: not answering"}})
	if err := c.Publish(update.TopicStatus, st, true); err != nil {
		t.Fatal(err)
	}
	var out string
	for i := 0; i < 20; i++ {
		out = runCmd(t, append([]string{"ota", "status", "--timeout", "3s"}, conn...)...)
		if strings.Contains(out, "rolled_back") {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !strings.Contains(out, "app1") || !strings.Contains(out, "1.4.0") || !strings.Contains(out, "board: not answering") {
		t.Fatalf("ota status:\n%s", out)
	}
}
