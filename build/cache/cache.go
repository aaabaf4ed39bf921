// Package cache is a local, content-addressed store for downloaded files
// (wheels), keyed by their sha256, plus small named records such as a
// resolved wheel set.
//
// A blob is trusted only by its content: Get re-hashes it on every read, so
// a file damaged on disk is noticed, removed and reported as a miss, and the
// caller simply downloads it again. Put writes to a temporary file beside
// the entry, hashes while writing and renames into place only when the hash
// is the one asked for, so a reader never sees a partial or wrong entry and
// two builders filling the same entry at once are safe: rename is atomic and
// both produce the same bytes.
//
// Layout under the cache folder:
//
//	sha256/ab/abcdef...     blobs, named by their full lowercase hex digest
//	records/NAME            records
//
// Blobs are written read-only (0444). Nothing ever rewrites a blob in place,
// and the mode keeps other tools (an editor, a script unzipping "in place")
// from quietly changing bytes the builder will trust by name; on Unix a
// read-only file can still be replaced or removed, which is all the cache
// itself needs.
package cache

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/galerly/galerly-lambda/build/internal/atomicfile"
	"github.com/galerly/galerly-lambda/build/internal/regular"
)

// Cache is a cache folder. Its methods are safe for concurrent use by
// goroutines and by separate processes sharing the folder.
type Cache struct {
	dir  string
	seal *sealKey
}

// Options tunes Open; the zero value is the default.
type Options struct {
	// SealKeyFile is the file holding the key that seals derived records
	// (see WriteSealed); DefaultSealKeyFile() if empty. It must not be in
	// the cache folder, which is what the seal protects against.
	SealKeyFile string
}

// MismatchError reports content whose sha256 is not the one it was
// expected to have.
type MismatchError struct {
	Want, Got string // lowercase hex
}

func (e *MismatchError) Error() string {
	return fmt.Sprintf("sha256 mismatch: want %s, got %s", e.Want, e.Got)
}

// DefaultDir returns the per-user cache folder, os.UserCacheDir()/lambdapack.
func DefaultDir() (string, error) {
	base, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("cache: no default folder: %w", err)
	}
	return filepath.Join(base, "lambdapack"), nil
}

// Open returns the cache in dir, creating its folders if needed.
func Open(dir string) (*Cache, error) { return OpenWith(dir, Options{}) }

// OpenWith is Open with options.
func OpenWith(dir string, o Options) (*Cache, error) {
	if dir == "" {
		return nil, errors.New("cache: empty folder name")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("cache %s: %w", dir, err)
	}
	for _, sub := range []string{"sha256", "records"} {
		if err := os.MkdirAll(filepath.Join(abs, sub), 0o755); err != nil {
			return nil, fmt.Errorf("cache %s: %w", abs, err)
		}
	}
	if o.SealKeyFile != "" {
		keyAbs, err := filepath.Abs(o.SealKeyFile)
		if err != nil {
			return nil, fmt.Errorf("cache: seal key %s: %w", o.SealKeyFile, err)
		}
		if rel, err := filepath.Rel(abs, keyAbs); err == nil && !strings.HasPrefix(rel, "..") {
			return nil, fmt.Errorf("cache: the seal key %s is inside the cache folder %s, which it protects: keep it elsewhere", o.SealKeyFile, abs)
		}
	}
	c := &Cache{dir: abs, seal: &sealKey{file: o.SealKeyFile}}
	c.sweep(time.Now().Add(-staleAfter))
	return c, nil
}

// staleAfter is how old a temporary file must be before Open removes it.
// A live build rewrites its temporary files far more often than this (a
// download that stalls for minutes is abandoned), so only the leftovers of
// a killed process are this old.
const staleAfter = time.Hour

// sweep removes temporary files last written before cutoff: those a build
// killed mid-write (SIGKILL, a lost machine) could not remove itself. It
// matches only the names this cache and its users write (".hash-*" at the
// top, ".*.tmp" in the shard and record folders), since --cache may name a
// folder that holds other files. Failures are ignored: a leftover costs
// disk space, not correctness.
func (c *Cache) sweep(cutoff time.Time) {
	temporary := func(name string) bool { return strings.HasPrefix(name, ".") && strings.HasSuffix(name, ".tmp") }
	dirs := map[string]func(string) bool{
		c.dir:                           func(name string) bool { return strings.HasPrefix(name, ".hash-") },
		filepath.Join(c.dir, "records"): temporary,
	}
	shards, _ := os.ReadDir(filepath.Join(c.dir, "sha256"))
	for _, d := range shards {
		if d.IsDir() {
			dirs[filepath.Join(c.dir, "sha256", d.Name())] = temporary
		}
	}
	for dir, match := range dirs {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if e.IsDir() || !match(e.Name()) {
				continue
			}
			if info, err := e.Info(); err == nil && info.ModTime().Before(cutoff) {
				os.Remove(filepath.Join(dir, e.Name()))
			}
		}
	}
}

// Dir returns the cache's folder (absolute).
func (c *Cache) Dir() string { return c.dir }

// checkSum refuses anything but a full lowercase hex sha256, so that a sum
// can never name a path outside the cache and every entry has one spelling.
func checkSum(sum string) error {
	if len(sum) != sha256.Size*2 {
		return fmt.Errorf("cache: bad sha256 %q: want %d lowercase hex digits", sum, sha256.Size*2)
	}
	for i := 0; i < len(sum); i++ {
		ch := sum[i]
		if !('0' <= ch && ch <= '9' || 'a' <= ch && ch <= 'f') {
			return fmt.Errorf("cache: bad sha256 %q: want %d lowercase hex digits", sum, sha256.Size*2)
		}
	}
	return nil
}

func (c *Cache) blobPath(sum string) string {
	return filepath.Join(c.dir, "sha256", sum[:2], sum)
}

// Get returns the path of the blob with the given sha256 if the cache holds
// it and its content still hashes to sum. A damaged blob is removed and
// reported as a miss (ok false, err nil), so the caller fetches it again.
// The returned file must be treated as read-only.
func (c *Cache) Get(sum string) (path string, ok bool, err error) {
	if err := checkSum(sum); err != nil {
		return "", false, err
	}
	path = c.blobPath(sum)
	f, opened, err := regular.Open(path)
	var special *regular.NotRegularError
	if errors.As(err, &special) {
		// Not written by a cache (a FIFO planted in a restored cache would
		// block the reader): damaged, so removed and reported as a miss.
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", false, fmt.Errorf("cache: remove damaged %s: %w", path, err)
		}
		return "", false, nil
	}
	if errors.Is(err, fs.ErrNotExist) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("cache: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", false, fmt.Errorf("cache: read %s: %w", path, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != sum {
		// Remove only the file we hashed: another process may have just
		// renamed a good copy into place, and that one must survive.
		if current, err := os.Stat(path); err == nil && os.SameFile(opened, current) {
			if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return "", false, fmt.Errorf("cache: remove damaged %s: %w", path, err)
			}
		}
		return "", false, nil
	}
	return path, true, nil
}

// Put stores the content that fill writes under sum and returns the blob's
// path. If a verified blob is already present fill is not called. The
// content is hashed as it is written and the blob appears, whole, only if
// its sha256 equals sum; otherwise Put returns a *MismatchError and leaves
// nothing behind. An error from fill is returned (wrapped) and likewise
// leaves nothing behind.
func (c *Cache) Put(sum string, fill func(w io.Writer) error) (path string, err error) {
	if path, ok, err := c.Get(sum); err != nil || ok {
		return path, err
	}
	path = c.blobPath(sum)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", fmt.Errorf("cache: %w", err)
	}
	var fillErr error
	// Blobs are read-only: the builder trusts a blob by its name, so no
	// other tool should change its bytes in place.
	err = atomicfile.Write(path, 0o444, func(w io.Writer) error {
		h := sha256.New()
		if fillErr = fill(io.MultiWriter(w, h)); fillErr != nil {
			return fillErr
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != sum {
			return &MismatchError{Want: sum, Got: got}
		}
		return nil
	})
	var mm *MismatchError
	switch {
	case errors.As(err, &mm):
		return "", err
	case fillErr != nil:
		return "", fmt.Errorf("cache: fill %s: %w", sum, fillErr)
	case err != nil:
		return "", fmt.Errorf("cache: %w", err)
	}
	return path, nil
}

// Store stores the content that fill writes, whatever it is, and returns
// its sha256 and the blob's path: for content the builder makes itself
// (a bundle of compiled bytecode), whose hash is known only once written.
// The content is written to a temporary file, then renamed into place
// under its hash; an error from fill leaves nothing behind.
func (c *Cache) Store(fill func(w io.Writer) error) (sum, path string, err error) {
	tmp, err := os.CreateTemp(c.dir, ".hash-*")
	if err != nil {
		return "", "", fmt.Errorf("cache: %w", err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	h := sha256.New()
	if err := fill(io.MultiWriter(tmp, h)); err != nil {
		return "", "", fmt.Errorf("cache: fill: %w", err)
	}
	sum = hex.EncodeToString(h.Sum(nil))
	path, err = c.Put(sum, func(w io.Writer) error {
		if _, err := tmp.Seek(0, io.SeekStart); err != nil {
			return err
		}
		_, err := io.Copy(w, tmp)
		return err
	})
	return sum, path, err
}

// checkRecordName allows plain file names only, so a record name can never
// reach outside DIR/records or collide with a temporary file.
func checkRecordName(name string) error {
	if name == "" || len(name) > 200 || name[0] == '.' {
		return fmt.Errorf("cache: bad record name %q: want letters, digits, '.', '-', '_', not starting with '.'", name)
	}
	for _, r := range name {
		if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || strings.ContainsRune("._-", r)) {
			return fmt.Errorf("cache: bad record name %q: want letters, digits, '.', '-', '_', not starting with '.'", name)
		}
	}
	return nil
}

// maxRecordBytes bounds a record read: records are small JSON documents
// (a resolved wheel set, a bundle's list of skipped sources).
const maxRecordBytes = 16 << 20

// ReadRecord returns the record called name; ok is false if there is none.
func (c *Cache) ReadRecord(name string) (data []byte, ok bool, err error) {
	if err := checkRecordName(name); err != nil {
		return nil, false, err
	}
	data, err = regular.ReadFile(filepath.Join(c.dir, "records", name), maxRecordBytes)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("cache: record %s: %w", name, err)
	}
	return data, true, nil
}

// WriteRecord replaces the record called name with data, atomically: a
// concurrent reader sees the old record or the new one, never a mix.
func (c *Cache) WriteRecord(name string, data []byte) error {
	if err := checkRecordName(name); err != nil {
		return err
	}
	dir := filepath.Join(c.dir, "records")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("cache: %w", err)
	}
	err := atomicfile.Write(filepath.Join(dir, name), 0o644, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
	if err != nil {
		return fmt.Errorf("cache: record %s: %w", name, err)
	}
	return nil
}
