package mosquittotest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"crypto/pbkdf2"
)

// Binary is where Debian installs the broker.
const Binary = "/usr/sbin/mosquitto"

// AdminUser may read and write everything (central monitoring, wardenctl).
const AdminUser = "admin"

// DefaultACL gives each appliance user write access to its own tree and
// read access to its down-link topics; AdminUser reads and writes all.
const DefaultACL = `pattern write camwarden/v1/%u/#
pattern read camwarden/v1/%u/policy
pattern read camwarden/v1/%u/cmd/#
pattern read camwarden/v1/%u/ota/#

user admin
topic readwrite #
`

// Config describes the broker to start.
type Config struct {
	// Users maps user name to password. AdminUser is added with password
	// "admin-pw" when absent.
	Users map[string]string
	// ACL replaces DefaultACL when non-empty.
	ACL string
}

// Broker is a running mosquitto.
type Broker struct {
	Dir                     string
	Port, TLSPort, MTLSPort int
	CAFile                  string // signed the server and client certificates
	Users                   map[string]string
	t                       testing.TB
	conf                    string
	caCert                  *x509.Certificate
	caKey                   *ecdsa.PrivateKey
	mu                      sync.Mutex
	cmd                     *exec.Cmd
	waitErr                 chan error
	log                     *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.b.Len() > 1<<20 { // bounded: a chatty broker must not eat memory
		return len(p), nil
	}
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Require skips the test when mosquitto is not installed, or fails it when
// the CI environment variable is "true" (CI must run the broker tests).
func Require(t testing.TB) {
	t.Helper()
	if _, err := os.Stat(Binary); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("mosquitto is required in CI: %v (apt-get install mosquitto)", err)
		}
		t.Skipf("mosquitto not installed (%v): apt-get install mosquitto", err)
	}
}

// Start writes the configuration and certificates under t.TempDir(), starts
// the broker and waits until all listeners accept. It is stopped at cleanup.
func Start(t testing.TB, cfg Config) *Broker {
	t.Helper()
	Require(t)
	b := &Broker{Dir: t.TempDir(), t: t, Users: map[string]string{}, log: &syncBuffer{}}
	for u, p := range cfg.Users {
		b.Users[u] = p
	}
	if _, ok := b.Users[AdminUser]; !ok {
		b.Users[AdminUser] = "admin-pw"
	}
	if err := b.writeFiles(cfg); err != nil {
		t.Fatalf("mosquittotest: %v", err)
	}
	t.Cleanup(func() {
		b.Stop()
		if t.Failed() {
			t.Logf("mosquitto log:\n%s", b.log.String())
		}
	})
	b.Restart()
	return b
}

// URL is the plain listener's URL.
func (b *Broker) URL() string { return fmt.Sprintf("tcp://127.0.0.1:%d", b.Port) }

// TLSURL is the server-authenticated TLS listener.
func (b *Broker) TLSURL() string { return fmt.Sprintf("mqtts://127.0.0.1:%d", b.TLSPort) }

// MTLSURL is the mutual-TLS listener: a client certificate signed by CAFile
// is required and its CN is the user name (no password).
func (b *Broker) MTLSURL() string { return fmt.Sprintf("mqtts://127.0.0.1:%d", b.MTLSPort) }

// Log returns what the broker logged so far.
func (b *Broker) Log() string { return b.log.String() }

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// HashPassword returns a mosquitto 2.0 password-file hash
// ($7$ = PBKDF2-HMAC-SHA512, 101 iterations, 12-byte salt).
func HashPassword(password string) (string, error) {
	salt := make([]byte, 12)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key, err := pbkdf2.Key(sha512.New, password, salt, 101, sha512.Size)
	if err != nil {
		return "", err
	}
	return "$7$101$" + base64.StdEncoding.EncodeToString(salt) + "$" + base64.StdEncoding.EncodeToString(key), nil
}

func (b *Broker) writeFiles(cfg Config) error {
	var err error
	for _, p := range []*int{&b.Port, &b.TLSPort, &b.MTLSPort} {
		if *p, err = freePort(); err != nil {
			return fmt.Errorf("free port: %w", err)
		}
	}
	b.caCert, b.caKey, err = newCA("camwarden test CA")
	if err != nil {
		return err
	}
	b.CAFile = filepath.Join(b.Dir, "ca.pem")
	if err := writePEM(b.CAFile, "CERTIFICATE", b.caCert.Raw); err != nil {
		return err
	}
	srvCert, srvKey, err := b.issue("127.0.0.1", true)
	if err != nil {
		return err
	}
	var pw strings.Builder
	for u, p := range b.Users {
		h, err := HashPassword(p)
		if err != nil {
			return err
		}
		fmt.Fprintf(&pw, "%s:%s\n", u, h)
	}
	if err := os.WriteFile(filepath.Join(b.Dir, "passwd"), []byte(pw.String()), 0o600); err != nil {
		return err
	}
	acl := cfg.ACL
	if acl == "" {
		acl = DefaultACL
	}
	if err := os.WriteFile(filepath.Join(b.Dir, "acl"), []byte(acl), 0o600); err != nil {
		return err
	}
	persist := filepath.Join(b.Dir, "data") + "/"
	if err := os.MkdirAll(persist, 0o700); err != nil {
		return err
	}
	b.conf = filepath.Join(b.Dir, "mosquitto.conf")
	conf := fmt.Sprintf(`# generated by mosquittotest
user root
per_listener_settings false
allow_anonymous false
password_file %[1]s/passwd
acl_file %[1]s/acl
persistence true
persistence_location %[2]s
autosave_interval 1
max_queued_messages 100000
max_inflight_messages 100
log_dest stderr
log_type error
log_type warning
log_type notice
log_type information
connection_messages true

listener %[3]d 127.0.0.1

listener %[4]d 127.0.0.1
cafile %[5]s
certfile %[6]s
keyfile %[7]s

listener %[8]d 127.0.0.1
cafile %[5]s
certfile %[6]s
keyfile %[7]s
require_certificate true
use_identity_as_username true
`, b.Dir, persist, b.Port, b.TLSPort, b.CAFile, srvCert, srvKey, b.MTLSPort)
	return os.WriteFile(b.conf, []byte(conf), 0o600)
}

// Restart starts the broker (again) with the same config, ports and
// persistence, and waits for its listeners.
func (b *Broker) Restart() {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cmd != nil {
		b.t.Fatalf("mosquittotest: Restart while running")
	}
	cmd := exec.Command(Binary, "-c", b.conf)
	cmd.Stdout, cmd.Stderr = b.log, b.log
	if err := cmd.Start(); err != nil {
		b.t.Fatalf("mosquittotest: start: %v", err)
	}
	b.cmd = cmd
	b.waitErr = make(chan error, 1)
	go func() { b.waitErr <- cmd.Wait() }()
	deadline := time.Now().Add(10 * time.Second)
	for _, port := range []int{b.Port, b.TLSPort, b.MTLSPort} {
		for {
			c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 200*time.Millisecond)
			if err == nil {
				c.Close()
				break
			}
			select {
			case err := <-b.waitErr:
				b.cmd = nil
				b.t.Fatalf("mosquittotest: broker exited: %v\n%s", err, b.log.String())
			default:
			}
			if time.Now().After(deadline) {
				b.t.Fatalf("mosquittotest: port %d not listening after 10s\n%s", port, b.log.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// Stop ends the broker with SIGTERM (it saves its persistence file) and
// waits; it is a no-op when stopped.
func (b *Broker) Stop() { b.signal(syscall.SIGTERM) }

// Pause freezes the broker (SIGSTOP): connections stay open but nothing is
// acknowledged, as with a broker stalled behind a slow link. Resume undoes it.
func (b *Broker) Pause() { b.hold(syscall.SIGSTOP) }

// Resume lets a paused broker run again (SIGCONT).
func (b *Broker) Resume() { b.hold(syscall.SIGCONT) }

func (b *Broker) hold(sig syscall.Signal) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cmd != nil {
		_ = b.cmd.Process.Signal(sig)
	}
}

// Kill ends the broker with SIGKILL.
func (b *Broker) Kill() { b.signal(syscall.SIGKILL) }

func (b *Broker) signal(sig syscall.Signal) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cmd == nil {
		return
	}
	_ = b.cmd.Process.Signal(sig)
	select {
	case <-b.waitErr:
	case <-time.After(10 * time.Second):
		_ = b.cmd.Process.Kill()
		<-b.waitErr
	}
	b.cmd = nil
}

// ClientCert issues a client certificate with CommonName cn (the user name
// on the mutual-TLS listener) and returns the PEM file paths.
func (b *Broker) ClientCert(cn string) (certFile, keyFile string) {
	b.t.Helper()
	c, k, err := b.issue(cn, false)
	if err != nil {
		b.t.Fatalf("mosquittotest: client cert: %v", err)
	}
	return c, k
}

// UntrustedCA writes a CA that signed nothing this broker presents.
func (b *Broker) UntrustedCA() string {
	b.t.Helper()
	ca, _, err := newCA("some other CA")
	if err != nil {
		b.t.Fatalf("mosquittotest: %v", err)
	}
	p := filepath.Join(b.Dir, "other-ca.pem")
	if err := writePEM(p, "CERTIFICATE", ca.Raw); err != nil {
		b.t.Fatalf("mosquittotest: %v", err)
	}
	return p
}

var serial = struct {
	sync.Mutex
	n int64
}{n: 1}

func nextSerial() *big.Int {
	serial.Lock()
	defer serial.Unlock()
	serial.n++
	return big.NewInt(time.Now().UnixNano() + serial.n)
}

func newCA(cn string) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: nextSerial(), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("create CA: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	return cert, key, err
}

func (b *Broker) issue(cn string, server bool) (certFile, keyFile string, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", err
	}
	tmpl := &x509.Certificate{
		SerialNumber: nextSerial(), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature,
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
		tmpl.DNSNames = []string{"localhost"}
	} else {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, b.caCert, &key.PublicKey, b.caKey)
	if err != nil {
		return "", "", fmt.Errorf("issue %s: %w", cn, err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return "", "", err
	}
	base := filepath.Join(b.Dir, fmt.Sprintf("%s-%d", strings.NewReplacer("/", "_", ".", "_").Replace(cn), tmpl.SerialNumber.Int64()))
	if err := writePEM(base+".crt", "CERTIFICATE", der); err != nil {
		return "", "", err
	}
	if err := writePEM(base+".key", "EC PRIVATE KEY", kder); err != nil {
		return "", "", err
	}
	return base + ".crt", base + ".key", nil
}

func writePEM(path, typ string, der []byte) error {
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600)
}
