package atomicfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

func TestWriteFileReplaces(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	if err := WriteFile(path, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(path, []byte("new"), 0o640); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil || string(b) != "new" {
		t.Fatalf("read %q, %v", b, err)
	}
	if runtime.GOOS != "windows" {
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o640 {
			t.Errorf("mode %v, want 0640 whatever the umask", st.Mode().Perm())
		}
	}
	onlyFile(t, dir, "state.json")
}

// A failed fill leaves the old file whole and no temporary file behind.
func TestWriteFailedFillKeepsOld(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "pkg.deb")
	if err := WriteFile(path, []byte("good package"), 0o644); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("packager failed")
	err := Write(path, 0o644, func(w io.Writer) error {
		if _, err := w.Write([]byte("half a pack")); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err %v, want the fill's error", err)
	}
	b, _ := os.ReadFile(path)
	if string(b) != "good package" {
		t.Errorf("target now %q", b)
	}
	onlyFile(t, dir, "pkg.deb")
}

func TestWriteMissingDir(t *testing.T) {
	if err := WriteFile(filepath.Join(t.TempDir(), "nope", "f"), nil, 0o644); err == nil {
		t.Fatal("wrote into a directory that does not exist")
	}
}

func onlyFile(t *testing.T, dir, name string) {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 1 || es[0].Name() != name {
		var names []string
		for _, e := range es {
			names = append(names, e.Name())
		}
		t.Errorf("directory holds %v, want only %s", names, name)
	}
}
