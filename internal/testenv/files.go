package testenv

import (
	"os"
	"path/filepath"
	"testing"
)

// WriteTree writes files, slash-separated paths relative to dir mapped to
// their text, making the folders they need, and returns dir: a project
// tree in one literal.
func WriteTree(t testing.TB, dir string, files map[string]string) string {
	t.Helper()
	for name, text := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}
