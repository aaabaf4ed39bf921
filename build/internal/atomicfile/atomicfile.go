// Package atomicfile writes a file so that readers see either nothing (or
// the previous file) or the complete new one, never a part: the content
// goes to a temporary file in the same folder, which is synced and renamed
// over the target only once it is whole. A failed write leaves nothing.
package atomicfile

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Write creates or replaces path with what fill writes, with mode. When fill
// returns an error, Write returns it unchanged and leaves no file behind, so
// fill may also reject content it has written (a hash that does not match).
func Write(path string, mode fs.FileMode, fill func(w io.Writer) error) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, tempPattern(path))
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	committed := false
	defer func() {
		if !committed {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := fill(tmp); err != nil {
		return err
	}
	// CreateTemp makes 0600 files whatever the umask; the mode is explicit
	// so the result does not depend on who built it.
	if err := tmp.Chmod(mode); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("write %s: sync: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	committed = true
	syncDir(dir)
	return nil
}

// syncDir makes a rename in dir durable. Not every system can sync a
// folder, and a lost rename only costs a rebuild, so failure is ignored.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// tempPattern is the name Write's temporary files for path have: a leading
// dot keeps them apart from finished files.
func tempPattern(path string) string { return "." + filepath.Base(path) + ".*.tmp" }

// Sweep removes the temporary files that Write calls for path left behind
// when their process was killed mid-write, if last written before cutoff:
// a live writer rewrites its file far more often. Other files are never
// touched. Errors are ignored: a leftover costs disk space only.
func Sweep(path string, cutoff time.Time) {
	matches, _ := filepath.Glob(filepath.Join(filepath.Dir(path), globEscape(tempPattern(path))))
	for _, m := range matches {
		if st, err := os.Lstat(m); err == nil && st.Mode().IsRegular() && st.ModTime().Before(cutoff) {
			os.Remove(m)
		}
	}
}

// globEscape escapes the glob metacharacters of a file name, keeping the
// one '*' of the pattern that stands for CreateTemp's random part.
func globEscape(pattern string) string {
	prefix, suffix, _ := strings.Cut(pattern, "*")
	esc := strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`, `[`, `\[`)
	return esc.Replace(prefix) + "*" + esc.Replace(suffix)
}
