package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// DeviceCredential is one installer account for recorders' management
// APIs. It applies to a device when the device's address is in Addresses
// (or Addresses is empty) and its maker or brand is in Makers (or Makers
// is empty). String hides the password.
type DeviceCredential struct {
	User     string `yaml:"user"`
	Password Secret `yaml:"password"`
	// Makers are maker ids or brand labels, lower case: hikvision,
	// dahua, lorex, hiwatch, ...
	Makers []string `yaml:"makers"`
	// Addresses are IPs or CIDR prefixes: 192.0.2.10, 192.0.2.0/24.
	Addresses []string `yaml:"addresses"`
}

func (c DeviceCredential) String() string {
	return fmt.Sprintf("%s:<hidden> makers=%v addresses=%v", c.User, c.Makers, c.Addresses)
}

// GoString hides the password from %#v.
func (c DeviceCredential) GoString() string { return c.String() }

// Secret is a password. String, GoString and the text and JSON encodings
// print "<hidden>", so printing or encoding a Config does not reveal it;
// code that needs the value converts it: string(s).
type Secret string

func (Secret) String() string                  { return "<hidden>" }
func (Secret) GoString() string                { return "<hidden>" }
func (Secret) MarshalText() ([]byte, error)    { return []byte("<hidden>"), nil }
func (s *Secret) UnmarshalText(b []byte) error { *s = Secret(b); return nil }

// Limits on credentials: each one that matches a device is one more
// possible failed login on it per sweep.
const (
	MaxCredentials          = 64
	MaxCredentialsPerDevice = 4
	maxCredentialFile       = 64 << 10
)

// DefaultCredentialName is the file LoadCredentials reads from
// $CREDENTIALS_DIRECTORY when credentials_file is empty, so a unit with
// LoadCredential=camwarden-credentials:/etc/camwarden/credentials.yaml
// needs no configuration key.
const DefaultCredentialName = "camwarden-credentials"

func validateCredentials(field string, cs []DeviceCredential) []error {
	var errs []error
	bad := func(f string, v any, why string, args ...any) {
		errs = append(errs, &FieldError{Field: f, Value: fmt.Sprintf("%q", fmt.Sprint(v)), Why: fmt.Sprintf(why, args...)})
	}
	if len(cs) > MaxCredentials {
		bad(field, len(cs), "at most %d credentials", MaxCredentials)
	}
	for i, c := range cs {
		f := fmt.Sprintf("%s[%d]", field, i)
		if c.User == "" {
			bad(f+".user", "", "must be set")
		}
		if c.Password == "" {
			bad(f+".password", "", "must be set")
		}
		for j, m := range c.Makers {
			if m == "" || m != strings.ToLower(m) {
				bad(fmt.Sprintf("%s.makers[%d]", f, j), m, "maker ids and brands are lower case, e.g. hikvision or lorex")
			}
		}
		for j, a := range c.Addresses {
			if _, err := parseAddrOrPrefix(a); err != nil {
				bad(fmt.Sprintf("%s.addresses[%d]", f, j), a, "not an IP address or CIDR prefix like 192.0.2.0/24")
			}
		}
	}
	return errs
}

func parseAddrOrPrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), nil
}

// CredentialsFor returns the credentials to try on a device, best match
// first and at most MaxCredentialsPerDevice: entries naming its address,
// then entries naming its maker or brand, then entries naming neither.
// maker and brand are the classifier's (lower-cased here); either may be
// empty when unknown, and then only entries without makers match.
func (p Probing) CredentialsFor(maker, brand string, ip netip.Addr) []DeviceCredential {
	maker, brand = strings.ToLower(maker), strings.ToLower(brand)
	var byAddr, byMaker, any []DeviceCredential
	for _, c := range p.Credentials {
		addrOK, named := len(c.Addresses) == 0, false
		for _, a := range c.Addresses {
			if pr, err := parseAddrOrPrefix(a); err == nil && ip.IsValid() && pr.Contains(ip.Unmap()) {
				addrOK, named = true, true
			}
		}
		makerOK := len(c.Makers) == 0
		for _, m := range c.Makers {
			if m != "" && (m == maker || m == brand) {
				makerOK = true
			}
		}
		switch {
		case !addrOK || !makerOK:
		case named:
			byAddr = append(byAddr, c)
		case len(c.Makers) > 0:
			byMaker = append(byMaker, c)
		default:
			any = append(any, c)
		}
	}
	out := append(append(byAddr, byMaker...), any...)
	if len(out) > MaxCredentialsPerDevice {
		out = out[:MaxCredentialsPerDevice]
	}
	return out
}

// LoadCredentials appends the entries of c.Probing.CredentialsFile to
// c.Probing.Credentials. A bare name is a systemd credential: the file of
// that name in $CREDENTIALS_DIRECTORY. With no credentials_file, a
// systemd credential named DefaultCredentialName is read when present. The
// file must not be readable or writable by group or others. Errors name
// the file, never its content.
func LoadCredentials(c *Config, getenv func(string) string) error {
	path := c.Probing.CredentialsFile
	dir := getenv("CREDENTIALS_DIRECTORY")
	switch {
	case path == "" && dir != "":
		path = filepath.Join(dir, DefaultCredentialName)
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			return nil
		}
	case path == "":
		return nil
	case !strings.Contains(path, "/"):
		if dir == "" {
			return fmt.Errorf("probing.credentials_file: %q is a systemd credential name, but $CREDENTIALS_DIRECTORY is not set (add LoadCredential=%s:/path/to/file to the unit, or give a path)", path, path)
		}
		path = filepath.Join(dir, path)
	}
	cs, err := readCredentialFile(path)
	if err != nil {
		return fmt.Errorf("probing.credentials_file: %w", err)
	}
	if errs := validateCredentials("credentials_file "+path, cs); len(errs) > 0 {
		return errors.Join(errs...)
	}
	all := append(append([]DeviceCredential(nil), c.Probing.Credentials...), cs...)
	if len(all) > MaxCredentials {
		return fmt.Errorf("probing.credentials_file: %s: with probing.credentials that makes %d credentials, at most %d", path, len(all), MaxCredentials)
	}
	c.Probing.Credentials = all
	return nil
}

// backquoted finds the values yaml.v3 quotes in its errors.
var backquoted = regexp.MustCompile("`[^`]*`")

func readCredentialFile(path string) ([]DeviceCredential, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	switch {
	case !st.Mode().IsRegular():
		return nil, fmt.Errorf("%s is not a regular file", path)
	case st.Mode().Perm()&0o077 != 0:
		return nil, fmt.Errorf("%s has mode %04o: group or others may read or change the passwords in it; chmod 600 it (or use systemd LoadCredential=)", path, st.Mode().Perm())
	case st.Size() > maxCredentialFile:
		return nil, fmt.Errorf("%s is %d bytes, more than %d", path, st.Size(), maxCredentialFile)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxCredentialFile+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxCredentialFile {
		return nil, fmt.Errorf("%s is more than %d bytes", path, maxCredentialFile)
	}
	var cs []DeviceCredential
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&cs); err != nil && len(bytes.TrimSpace(b)) > 0 {
		// yaml.v3 quotes the offending value, which may be a password.
		return nil, fmt.Errorf("%s: want a YAML list of {user, password, makers, addresses}: %s", path, backquoted.ReplaceAllString(err.Error(), "<value>"))
	}
	return cs, nil
}
