package camsim

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"gopkg.in/yaml.v3"
)

// A profiles file has the shape of profiles.yaml ({profiles: [...]}). Labs
// of generated devices (the real-world corpus replay) write one and hand its
// path to camsim, so a device need not be one of the built-in profiles.

// maxProfilesFile bounds what LoadProfiles reads: a few hundred generated
// profiles are well under a megabyte.
const maxProfilesFile = 16 << 20

// ParseProfiles decodes a profiles document strictly (an unknown key is an
// error) and checks that every profile has a unique name and a well-formed
// OUI. source names the document in errors.
func ParseProfiles(data []byte, source string) ([]Profile, error) {
	var doc struct {
		Profiles []Profile `yaml:"profiles"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("camsim: %s: empty", source)
		}
		return nil, fmt.Errorf("camsim: %s: %w", source, err)
	}
	seen := map[string]bool{}
	for i, p := range doc.Profiles {
		if p.Name == "" || seen[p.Name] {
			return nil, fmt.Errorf("camsim: %s: profile %d: missing or duplicate name %q", source, i, p.Name)
		}
		seen[p.Name] = true
		if err := p.Check(); err != nil {
			return nil, fmt.Errorf("camsim: %s: %w", source, err)
		}
	}
	return doc.Profiles, nil
}

// Check verifies what decoding cannot: a name, and an OUI that parses.
func (p Profile) Check() error {
	if p.Name == "" {
		return errors.New("profile without a name")
	}
	if p.OUI != "" {
		if _, err := parseOUI(p.OUI); err != nil {
			return fmt.Errorf("profile %s: oui: %w", p.Name, err)
		}
	}
	return nil
}

// LoadProfiles reads a profiles file.
func LoadProfiles(path string) ([]Profile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("camsim: profiles file: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxProfilesFile+1))
	if err != nil {
		return nil, fmt.Errorf("camsim: profiles file %s: %w", path, err)
	}
	if len(data) > maxProfilesFile {
		return nil, fmt.Errorf("camsim: profiles file %s: larger than %d bytes", path, maxProfilesFile)
	}
	return ParseProfiles(data, path)
}

// MarshalProfiles writes profiles in the shape ParseProfiles reads.
func MarshalProfiles(ps []Profile) ([]byte, error) {
	doc := struct {
		Profiles []Profile `yaml:"profiles"`
	}{ps}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("camsim: marshal profiles: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// Find returns the profile of that name from ps.
func Find(ps []Profile, name string) (Profile, error) {
	names := make([]string, len(ps))
	for i, p := range ps {
		if p.Name == name {
			return p, nil
		}
		names[i] = p.Name
	}
	if len(names) > 20 {
		names = append(names[:20], "...")
	}
	return Profile{}, fmt.Errorf("camsim: no profile %q (have %s)", name, strings.Join(names, ", "))
}
