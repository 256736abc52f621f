package realworld

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io"
	"path"
	"regexp"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

//go:embed testdata/*.yaml
var corpusFS embed.FS

// Entry is one real-world reply and the verdict it must get.
type Entry struct {
	ID        string
	Facts     map[string]string
	Maker     string // "" when the strings name no maker
	Brand     string
	Component string
	Source    string
	File      string // corpus file name, e.g. "hikvision.yaml": the family
}

// AllowedKeys are the fact keys an entry may carry: those the replay lab can
// serve from an emulated device.
var AllowedKeys = []string{
	"http.server", "http.realm", "http.auth_scheme", "http.title",
	"https.server", "https.title", "tls.subject_o", "tls.subject_cn",
	"rtsp.server", "rtsp.realm",
	"onvif.manufacturer", "onvif.model", "onvif.firmware",
	"upnp.manufacturer", "upnp.model_name", "upnp.model_number", "upnp.friendly_name",
	"mdns.instance", "dhcp.vendor_class", "dhcp.hostname",
	"telnet.banner", "ftp.banner", "snmp.sys_descr", "snmp.sys_object_id",
}

const (
	maxFacts    = 4
	maxValueLen = 512
)

var (
	idRE    = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,79}$`)
	makerRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,31}$`)
)

type fileDoc struct {
	Entries []struct {
		ID        string            `yaml:"id"`
		Facts     map[string]string `yaml:"facts"`
		Maker     *string           `yaml:"maker"`
		Brand     string            `yaml:"brand"`
		Component string            `yaml:"component"`
		Source    string            `yaml:"source"`
	} `yaml:"entries"`
}

// Load returns every entry of the embedded corpus, files in name order and
// entries in file order. An error names the file and the entry.
func Load() ([]Entry, error) {
	ents, err := corpusFS.ReadDir("testdata")
	if err != nil {
		return nil, err
	}
	var out []Entry
	where := map[string]string{}
	for _, e := range ents {
		if e.IsDir() || path.Ext(e.Name()) != ".yaml" {
			continue
		}
		b, err := corpusFS.ReadFile("testdata/" + e.Name())
		if err != nil {
			return nil, err
		}
		got, err := parse(e.Name(), b)
		if err != nil {
			return nil, err
		}
		for _, g := range got {
			if f, dup := where[g.ID]; dup {
				return nil, fmt.Errorf("realworld: %s: entry %q: id already used in %s", e.Name(), g.ID, f)
			}
			where[g.ID] = e.Name()
		}
		out = append(out, got...)
	}
	if len(out) == 0 {
		return nil, errors.New("realworld: no entries")
	}
	return out, nil
}

func parse(name string, b []byte) ([]Entry, error) {
	var d fileDoc
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&d); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("realworld: %s: empty file", name)
		}
		return nil, fmt.Errorf("realworld: %s: %w", name, err)
	}
	var out []Entry
	for i, r := range d.Entries {
		bad := func(format string, a ...any) error {
			who := fmt.Sprintf("#%d", i+1)
			if r.ID != "" {
				who = fmt.Sprintf("%q", r.ID)
			}
			return fmt.Errorf("realworld: %s: entry %s: %s", name, who, fmt.Sprintf(format, a...))
		}
		if !idRE.MatchString(r.ID) {
			return nil, bad("id must match %s", idRE)
		}
		if r.Maker == nil {
			return nil, bad("maker: missing (write \"\" for strings that name no maker)")
		}
		if *r.Maker != "" && !makerRE.MatchString(*r.Maker) {
			return nil, bad("maker %q is not a lower-case id", *r.Maker)
		}
		if r.Component != "" && !makerRE.MatchString(r.Component) {
			return nil, bad("component %q is not a lower-case id", r.Component)
		}
		if r.Brand != "" && *r.Maker == "" {
			return nil, bad("a brand needs a maker")
		}
		if strings.TrimSpace(r.Source) == "" {
			return nil, bad("source: missing")
		}
		if len(r.Facts) == 0 || len(r.Facts) > maxFacts {
			return nil, bad("facts: want 1 to %d, have %d", maxFacts, len(r.Facts))
		}
		for k, v := range r.Facts {
			if !slices.Contains(AllowedKeys, k) {
				return nil, bad("facts: key %q is not one the replay lab serves", k)
			}
			if v == "" || len(v) > maxValueLen {
				return nil, bad("facts: %s: value must be 1 to %d bytes", k, maxValueLen)
			}
		}
		out = append(out, Entry{
			ID: r.ID, Facts: r.Facts, Maker: *r.Maker, Brand: r.Brand,
			Component: r.Component, Source: strings.TrimSpace(r.Source), File: name,
		})
	}
	return out, nil
}
