package config

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

const credYAML = `probing:
  credentials:
    - {user: admin, password: "Hik-Site-Pass1", makers: [hikvision]}
    - {user: admin, password: "Lorex-Pass2", makers: [lorex, dahua]}
    - {user: installer, password: "Nvr7-Pass3", addresses: [198.18.7.10]}
    - {user: admin, password: "Any-Pass4"}
    - {user: admin, password: "Lan-Pass5", addresses: [198.18.8.0/24], makers: [hikvision]}
`

var credSecrets = []string{"Hik-Site-Pass1", "Lorex-Pass2", "Nvr7-Pass3", "Any-Pass4", "Lan-Pass5", "File-Pass6", "File-Pass7"}

func users(cs []DeviceCredential) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.User+"/"+string(c.Password))
	}
	return out
}

func TestCredentialsFor(t *testing.T) {
	c, err := Parse([]byte(credYAML))
	if err != nil {
		t.Fatal(err)
	}
	p := c.Probing
	for _, tc := range []struct {
		maker, brand, ip string
		want             string
	}{
		{"hikvision", "", "198.18.1.5", "admin/Hik-Site-Pass1 admin/Any-Pass4"},
		{"dahua", "Lorex", "198.18.1.5", "admin/Lorex-Pass2 admin/Any-Pass4"},
		{"hikvision", "", "198.18.7.10", "installer/Nvr7-Pass3 admin/Hik-Site-Pass1 admin/Any-Pass4"},
		{"hikvision", "", "198.18.8.9", "admin/Lan-Pass5 admin/Hik-Site-Pass1 admin/Any-Pass4"},
		{"axis", "", "198.18.8.9", "admin/Any-Pass4"},
		{"", "", "198.18.1.1", "admin/Any-Pass4"},
	} {
		got := strings.Join(users(p.CredentialsFor(tc.maker, tc.brand, netip.MustParseAddr(tc.ip))), " ")
		if got != tc.want {
			t.Errorf("%s/%s/%s: got %q, want %q", tc.maker, tc.brand, tc.ip, got, tc.want)
		}
	}
	many := Probing{}
	for i := range 10 {
		many.Credentials = append(many.Credentials, DeviceCredential{User: fmt.Sprint("u", i), Password: "p"})
	}
	if n := len(many.CredentialsFor("", "", netip.MustParseAddr("198.18.0.1"))); n != MaxCredentialsPerDevice {
		t.Errorf("%d credentials for one device, cap %d", n, MaxCredentialsPerDevice)
	}
}

func writeFile(t *testing.T, dir, name, body string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCredentialsFile(t *testing.T) {
	dir := t.TempDir()
	body := "- {user: admin, password: File-Pass6, makers: [hikvision]}\n"
	path := writeFile(t, dir, "creds.yaml", body, 0o600)
	c, err := Parse([]byte("probing: {credentials_file: " + path + "}"))
	if err != nil {
		t.Fatal(err)
	}
	if err := LoadCredentials(&c, func(string) string { return "" }); err != nil {
		t.Fatal(err)
	}
	if got := users(c.Probing.Credentials); len(got) != 1 || got[0] != "admin/File-Pass6" {
		t.Fatalf("credentials %v", got)
	}

	// Readable by others: refused, and the error says how to fix it.
	loose := writeFile(t, dir, "loose.yaml", body, 0o644)
	c, _ = Parse([]byte("probing: {credentials_file: " + loose + "}"))
	err = LoadCredentials(&c, func(string) string { return "" })
	if err == nil || !strings.Contains(err.Error(), "chmod 600") || strings.Contains(err.Error(), "File-Pass6") {
		t.Fatalf("group/world-readable file: %v", err)
	}
	groupOnly := writeFile(t, dir, "group.yaml", body, 0o640)
	c, _ = Parse([]byte("probing: {credentials_file: " + groupOnly + "}"))
	if err := LoadCredentials(&c, func(string) string { return "" }); err == nil {
		t.Fatal("group-readable file accepted")
	}

	// systemd LoadCredential=: a bare name, or the default name.
	sd := t.TempDir()
	writeFile(t, sd, "nvr", "- {user: admin, password: File-Pass7}\n", 0o400)
	env := func(k string) string {
		if k == "CREDENTIALS_DIRECTORY" {
			return sd
		}
		return ""
	}
	c, _ = Parse([]byte("probing: {credentials_file: nvr}"))
	if err := LoadCredentials(&c, env); err != nil || len(c.Probing.Credentials) != 1 {
		t.Fatalf("systemd credential: %v %v", err, c.Probing.Credentials)
	}
	c, _ = Parse([]byte("probing: {credentials_file: nvr}"))
	if err := LoadCredentials(&c, func(string) string { return "" }); err == nil || !strings.Contains(err.Error(), "LoadCredential=") {
		t.Fatalf("bare name without systemd: %v", err)
	}
	writeFile(t, sd, DefaultCredentialName, "- {user: admin, password: File-Pass7}\n", 0o400)
	c, _ = Parse(nil)
	if err := LoadCredentials(&c, env); err != nil || len(c.Probing.Credentials) != 1 {
		t.Fatalf("default systemd credential: %v %v", err, c.Probing.Credentials)
	}

	// A broken file's error names the file, not the value yaml.v3 quotes.
	broken := writeFile(t, dir, "broken.yaml", "- {user: admin, password: File-Pass6, makers: File-Pass6}\n", 0o600)
	c, _ = Parse([]byte("probing: {credentials_file: " + broken + "}"))
	err = LoadCredentials(&c, func(string) string { return "" })
	if err == nil || strings.Contains(err.Error(), "File-Pass6") {
		t.Fatalf("broken file: %v", err)
	}
}

// Passwords never show in validation errors, printing, logging or
// encoding a configuration.
func TestCredentialsNeverPrinted(t *testing.T) {
	c, err := Parse([]byte(credYAML))
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	fmt.Fprintf(&out, "%v %+v %#v %s", c, c, c, c.Probing.Credentials)
	b, _ := json.Marshal(c)
	out.Write(b)
	y, _ := yaml.Marshal(c)
	out.Write(y)
	slog.New(slog.NewTextHandler(&out, nil)).Info("cfg", "probing", c.Probing, "creds", c.Probing.Credentials)
	slog.New(slog.NewJSONHandler(&out, nil)).Info("cfg", "probing", c.Probing)
	_, err = Parse([]byte(`probing: {credentials: [{user: "", password: "Nvr7-Pass3", makers: [HIK], addresses: [nope]}]}`))
	if err == nil {
		t.Fatal("bad credential validated")
	}
	out.WriteString(err.Error())
	for _, s := range credSecrets {
		if strings.Contains(out.String(), s) {
			t.Fatalf("password %q printed:\n%s", s, out.String())
		}
	}
	for _, f := range []string{"probing.credentials[0].user", "probing.credentials[0].makers[0]", "probing.credentials[0].addresses[0]"} {
		if !strings.Contains(err.Error(), f) {
			t.Errorf("error does not name %s: %v", f, err)
		}
	}
}
