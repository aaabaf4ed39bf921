package cache

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/galerly/galerly-lambda/build/internal/regular"
)

// Sealed records hold what the builder derived from content it verified (a
// wheel's archive checks passed, the bytecode compiled from a wheel's
// sources). Blobs prove themselves by their sha256, but derived data cannot
// be checked without redoing the work, and the cache folder is not trusted:
// CI restores it from a store that other branches' jobs write. So each
// sealed record carries an HMAC-SHA256, under a key kept outside the cache
// folder, over its name and content. A record whose seal does not verify
// (written by another machine, another user, or planted) is a miss, and the
// work is done again.
//
// The key lives in the user's config folder, not the cache folder, so
// restoring a cache never restores it: a fresh CI runner makes a new key and
// recomputes derived data once, while its wheels (checked against the lock's
// hashes) still come from the restored cache.

// sealPrefix starts every sealed record: "lambdapack-seal v1 <hex mac>\n".
const sealPrefix = "lambdapack-seal v1 "

// sealKeyBytes is the size of the HMAC key.
const sealKeyBytes = 32

// ErrSeal reports a sealed record whose seal does not verify.
var ErrSeal = errors.New("seal does not verify (the record was not written by this user's lambdapack)")

// DefaultSealKeyFile returns where the seal key is kept by default:
// os.UserConfigDir()/lambdapack/seal.key.
func DefaultSealKeyFile() (string, error) {
	base, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("cache: no config folder for the seal key: %w", err)
	}
	return filepath.Join(base, "lambdapack", "seal.key"), nil
}

// sealKey loads the key once, creating it when there is none.
type sealKey struct {
	file string // "" for DefaultSealKeyFile
	once sync.Once
	key  []byte
	err  error
}

func (k *sealKey) get() ([]byte, error) {
	k.once.Do(func() {
		file := k.file
		if file == "" {
			if file, k.err = DefaultSealKeyFile(); k.err != nil {
				return
			}
		}
		k.key, k.err = loadOrCreateKey(file)
	})
	return k.key, k.err
}

// loadOrCreateKey reads the key at file, or creates it (0600, in a 0700
// folder). The new key is written whole to a temporary file and linked
// into place, which never replaces an existing file: of two builders
// creating it at once, one link wins and both use the winner's key, and
// no reader ever sees a partly written key.
func loadOrCreateKey(file string) ([]byte, error) {
	if key, err := readKey(file); err == nil || !errors.Is(err, fs.ErrNotExist) {
		return key, err
	}
	dir := filepath.Dir(file)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("cache: seal key: %w", err)
	}
	key := make([]byte, sealKeyBytes)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("cache: seal key: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".seal-*.tmp") // 0600
	if err != nil {
		return nil, fmt.Errorf("cache: seal key: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, werr := tmp.Write([]byte(hex.EncodeToString(key) + "\n"))
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return nil, fmt.Errorf("cache: seal key %s: %w", file, werr)
	}
	if err := os.Link(tmp.Name(), file); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return readKey(file)
		}
		return nil, fmt.Errorf("cache: seal key %s: %w", file, err)
	}
	return key, nil
}

// sealKeyFileMax is the most bytes of a seal key file read: the key's hex
// digits, a newline, and room for whitespace an editor may add. Anything
// longer is not a key (a link to /dev/zero would otherwise be read until
// memory runs out).
const sealKeyFileMax = 2*sealKeyBytes + 64

func readKey(file string) ([]byte, error) {
	data, err := regular.ReadFile(file, sealKeyFileMax)
	var tooLarge *regular.TooLargeError
	switch {
	case errors.As(err, &tooLarge):
		return nil, fmt.Errorf("cache: seal key %s is not %d hex-encoded bytes (it is larger); delete it and a new one is made", file, sealKeyBytes)
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("cache: seal key: %w", err)
	case err != nil:
		// A FIFO, a device or a folder is named and never read.
		return nil, fmt.Errorf("cache: seal key: %w; delete it and a new one is made", err)
	}
	key, err := hex.DecodeString(string(bytes.TrimSpace(data)))
	if err != nil || len(key) != sealKeyBytes {
		return nil, fmt.Errorf("cache: seal key %s is not %d hex-encoded bytes; delete it and a new one is made", file, sealKeyBytes)
	}
	return key, nil
}

// mac is the seal of a record: HMAC-SHA256 over its name, a NUL, and its
// content, so a sealed record cannot be moved to another name.
func mac(key []byte, name string, data []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(name))
	m.Write([]byte{0})
	m.Write(data)
	return m.Sum(nil)
}

// WriteSealed replaces the sealed record called name with data (see
// WriteRecord for atomicity).
func (c *Cache) WriteSealed(name string, data []byte) error {
	key, err := c.seal.get()
	if err != nil {
		return err
	}
	if err := checkRecordName(name); err != nil {
		return err
	}
	sealed := make([]byte, 0, len(sealPrefix)+2*sha256.Size+1+len(data))
	sealed = append(sealed, sealPrefix...)
	sealed = hex.AppendEncode(sealed, mac(key, name, data))
	sealed = append(sealed, '\n')
	sealed = append(sealed, data...)
	return c.WriteRecord(name, sealed)
}

// ReadSealed returns the content of the sealed record called name; ok is
// false if there is none. A record whose seal does not verify is not
// returned: err is then ErrSeal (wrapped), so the caller can say why it
// does the work again.
func (c *Cache) ReadSealed(name string) (data []byte, ok bool, err error) {
	key, err := c.seal.get()
	if err != nil {
		return nil, false, err
	}
	raw, ok, err := c.ReadRecord(name)
	if err != nil || !ok {
		return nil, false, err
	}
	head, body, found := bytes.Cut(raw, []byte{'\n'})
	hexMAC, isSealed := bytes.CutPrefix(head, []byte(sealPrefix))
	got, decodeErr := hex.DecodeString(string(hexMAC))
	if !found || !isSealed || decodeErr != nil || !hmac.Equal(got, mac(key, name, body)) {
		return nil, false, fmt.Errorf("cache: record %s: %w", name, ErrSeal)
	}
	return body, true, nil
}
