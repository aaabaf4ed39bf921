package cache

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/galerly/galerly-lambda/internal/testenv"
)

func openSealed(t *testing.T, dir, keyFile string) *Cache {
	t.Helper()
	c, err := OpenWith(dir, Options{SealKeyFile: keyFile})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// A sealed record reads back only under the key it was sealed with, under
// its own name, with its own content: a record planted or edited in the
// cache folder, or written on another machine, is ErrSeal.
func TestSealedRecords(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cache")
	key := filepath.Join(t.TempDir(), "seal.key")
	c := openSealed(t, dir, key)
	if err := c.WriteSealed("checked-x", []byte("wheel.CheckArchive v1\n")); err != nil {
		t.Fatal(err)
	}
	data, ok, err := c.ReadSealed("checked-x")
	if err != nil || !ok || string(data) != "wheel.CheckArchive v1\n" {
		t.Fatalf("ReadSealed = %q, %v, %v", data, ok, err)
	}
	if st, err := os.Stat(key); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("key file: %v, %v; want mode 0600", st, err)
	}
	if _, ok, err := c.ReadSealed("absent"); ok || err != nil {
		t.Errorf("absent record: ok %v, err %v", ok, err)
	}

	raw, _ := os.ReadFile(filepath.Join(dir, "records", "checked-x"))
	plant := func(name string, content []byte) {
		if err := os.WriteFile(filepath.Join(dir, "records", name), content, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, tt := range []struct {
		name    string
		content []byte
	}{
		{"edited", []byte(strings.Replace(string(raw), "v1", "v9", 1))},
		{"unsealed", []byte("wheel.CheckArchive v1\n")},
		{"seal of another record", raw},
		{"empty", nil},
		{"bad hex", []byte(sealPrefix + "zz\nwheel.CheckArchive v1\n")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			name := "checked-y"
			plant(name, tt.content)
			if data, ok, err := c.ReadSealed(name); ok || !errors.Is(err, ErrSeal) {
				t.Errorf("ReadSealed = %q, %v, %v; want ErrSeal", data, ok, err)
			}
		})
	}

	// Another machine's key does not verify this one's records.
	other := openSealed(t, dir, filepath.Join(t.TempDir(), "other.key"))
	if _, ok, err := other.ReadSealed("checked-x"); ok || !errors.Is(err, ErrSeal) {
		t.Errorf("a record sealed under another key: ok %v, err %v", ok, err)
	}
}

// Builders starting at once on a machine without a key agree on one.
func TestSealKeyCreatedOnce(t *testing.T) {
	key := filepath.Join(t.TempDir(), "cfg", "seal.key")
	dir := filepath.Join(t.TempDir(), "cache")
	var wg sync.WaitGroup
	caches := make([]*Cache, 8)
	for i := range caches {
		caches[i] = openSealed(t, dir, key)
	}
	for i, c := range caches {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c.WriteSealed("r"+string(rune('a'+i)), []byte("x")); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	for i := range caches {
		if _, ok, err := caches[0].ReadSealed("r" + string(rune('a'+i))); !ok || err != nil {
			t.Errorf("record %d: ok %v, err %v", i, ok, err)
		}
	}
}

// The seal key may not live in the folder it protects.
func TestSealKeyInsideCacheRefused(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cache")
	if _, err := OpenWith(dir, Options{SealKeyFile: filepath.Join(dir, "seal.key")}); err == nil || !strings.Contains(err.Error(), "inside the cache folder") {
		t.Fatalf("OpenWith = %v", err)
	}
}

// A seal key that is a FIFO, a link to /dev/zero or an oversized file is
// a bad key: refused by name without being read (a FIFO would block, a
// device never end), and sealing fails with the reason instead of
// hanging or filling memory. Callers note that and redo the work.
func TestSealKeyThatIsNotAKeyFile(t *testing.T) {
	dir := t.TempDir()
	fifo := testenv.FIFO(t, filepath.Join(dir, "fifo.key"))
	zero := testenv.DevZeroLink(t, filepath.Join(dir, "zero.key"))
	huge := filepath.Join(dir, "huge.key")
	if err := os.WriteFile(huge, []byte(strings.Repeat("ab", 1<<20)), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ file, want string }{
		{fifo, fifo + " is a named pipe (FIFO), not a regular file"},
		{zero, zero + " is a character device, not a regular file"},
		{huge, "seal key " + huge + " is not 32 hex-encoded bytes"},
	} {
		t.Run(filepath.Base(c.file), func(t *testing.T) {
			cache := openSealed(t, filepath.Join(t.TempDir(), "cache"), c.file)
			var werr, rerr error
			testenv.NoBlock(t, "sealing with the key", func() {
				werr = cache.WriteSealed("checked-x", []byte("x"))
				_, _, rerr = cache.ReadSealed("checked-x")
			})
			for _, err := range []error{werr, rerr} {
				if err == nil || !strings.Contains(err.Error(), c.want) || errors.Is(err, ErrSeal) {
					t.Errorf("err = %v, want one with %q", err, c.want)
				}
			}
		})
	}
}
