package realworld

import (
	"strings"
	"testing"
)

func TestLoadEmbeddedCorpus(t *testing.T) {
	entries, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) < 250 {
		t.Errorf("%d entries, want at least 250", len(entries))
	}
	for _, e := range entries {
		if e.File == "" || e.Source == "" || len(e.Facts) == 0 {
			t.Errorf("%s: incomplete entry %+v", e.ID, e)
		}
	}
}

// The decoder must refuse what the replay lab could not serve or a reviewer
// could not check, naming the file and the entry.
func TestParseRejects(t *testing.T) {
	for _, tc := range []struct{ name, doc, want string }{
		{"unknown key", "entries:\n- {id: a, facts: {http.server: x}, maker: '', source: s, colour: red}\n", "colour"},
		{"unknown fact", "entries:\n- {id: a, facts: {http.path: x}, maker: '', source: s}\n", "http.path"},
		{"no source", "entries:\n- {id: a, facts: {http.server: x}, maker: ''}\n", "source"},
		{"no maker", "entries:\n- {id: a, facts: {http.server: x}, source: s}\n", "maker"},
		{"bad id", "entries:\n- {id: A_B, facts: {http.server: x}, maker: '', source: s}\n", "id"},
		{"no facts", "entries:\n- {id: a, facts: {}, maker: '', source: s}\n", "facts"},
		{"empty value", "entries:\n- {id: a, facts: {http.server: ''}, maker: '', source: s}\n", "http.server"},
		{"brand without maker", "entries:\n- {id: a, facts: {http.server: x}, maker: '', brand: B, source: s}\n", "brand"},
		{"upper-case maker", "entries:\n- {id: a, facts: {http.server: x}, maker: Axis, source: s}\n", "maker"},
	} {
		_, err := parse("t.yaml", []byte(tc.doc))
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "t.yaml") {
			t.Errorf("%s: error %v, want one naming t.yaml and %q", tc.name, err, tc.want)
		}
	}
	if _, err := parse("t.yaml", []byte("entries:\n- {id: a, facts: {http.server: x}, maker: '', source: s}\n")); err != nil {
		t.Errorf("valid entry: %v", err)
	}
}
