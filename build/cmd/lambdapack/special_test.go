package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/galerly/galerly-lambda/internal/testenv"
)

// noFile fails the test if anything exists at path.
func noFile(t *testing.T, path string) {
	t.Helper()
	if _, err := os.Lstat(path); !os.IsNotExist(err) {
		t.Errorf("%s exists after a failed build (%v)", path, err)
	}
}

// A lock, or a pylock.toml wheel's path, that names a FIFO or a device is
// refused by name at once, unread, and nothing is written at --out; the
// build does not block on the FIFO or read /dev/zero until memory runs
// out.
func TestLocksThatAreNotFiles(t *testing.T) {
	wheel, sum, _ := pureLock(t)
	dir := t.TempDir()
	fifoLock := testenv.FIFO(t, filepath.Join(dir, "requirements.txt"))
	zeroPylock := testenv.DevZeroLink(t, filepath.Join(t.TempDir(), "pylock.toml"))
	// A pylock.toml whose wheel path names a FIFO with the wheel's name.
	pdir := t.TempDir()
	fifoWheel := testenv.FIFO(t, filepath.Join(pdir, filepath.Base(wheel)))
	pylock := filepath.Join(pdir, "pylock.toml")
	text := "lock-version = \"1.0\"\ncreated-by = \"test\"\n\n[[packages]]\nname = \"tiny\"\nversion = \"1.0\"\n" +
		"wheels = [{ path = \"./" + filepath.Base(wheel) + "\", hashes = { sha256 = \"" + sum + "\" } }]\n"
	if err := os.WriteFile(pylock, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, lock, want string
	}{
		{"a FIFO lock", fifoLock, "read lock: " + fifoLock + " is a named pipe (FIFO), not a regular file"},
		{"a pylock.toml linked to /dev/zero", zeroPylock, "read lock: " + zeroPylock + " is a character device, not a regular file"},
		{"a pylock.toml wheel path that is a FIFO", pylock, fifoWheel + " is a named pipe (FIFO), not a regular file"},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "layer.zip")
			start := time.Now()
			r := lambdapackWithin(t, 30*time.Second, "layer", "--lock", c.lock, "--runtime", "python3.12", "--arch", "x86_64",
				"--no-index", "--find-links", t.TempDir(), "--cache", t.TempDir(), "--no-bytecode", "--out", out, "--timeout", "20s")
			if took := time.Since(start); took > 10*time.Second {
				t.Errorf("took %v", took)
			}
			if r.code != exitFail || !strings.Contains(r.stderr, c.want) {
				t.Errorf("exit %d, stderr %q; want %d and %q", r.code, r.stderr, exitFail, c.want)
			}
			noFile(t, out)
		})
	}
	r := lambdapackWithin(t, 30*time.Second, "key", "--lock", fifoLock, "--runtime", "python3.12", "--arch", "x86_64")
	if want := fifoLock + " is a named pipe (FIFO)"; r.code != exitFail || !strings.Contains(r.stderr, want) {
		t.Errorf("key: exit %d, stderr %q; want %d and %q", r.code, r.stderr, exitFail, want)
	}
}

// A seal key (in the user's config folder) that is a FIFO or a link to
// /dev/zero is a bad key: the build names it in a note, seals nothing,
// and succeeds, as with any other bad key, instead of blocking or
// growing without bound.
func TestSealKeyThatIsNotAFile(t *testing.T) {
	wheel, _, lockPath := pureLock(t)
	for _, c := range []struct {
		name string
		make func(t testing.TB, path string) string
		want string
	}{
		{"FIFO", testenv.FIFO, "is a named pipe (FIFO), not a regular file"},
		{"/dev/zero", testenv.DevZeroLink, "is a character device, not a regular file"},
	} {
		t.Run(c.name, func(t *testing.T) {
			config := t.TempDir()
			t.Setenv("XDG_CONFIG_HOME", config)
			if err := os.Mkdir(filepath.Join(config, "lambdapack"), 0o700); err != nil {
				t.Fatal(err)
			}
			key := c.make(t, filepath.Join(config, "lambdapack", "seal.key"))
			out := filepath.Join(t.TempDir(), "layer.zip")
			r := lambdapackWithin(t, 30*time.Second, "layer", "--lock", lockPath, "--runtime", "python3.12", "--arch", "x86_64",
				"--no-index", "--find-links", filepath.Dir(wheel), "--cache", t.TempDir(), "--no-bytecode", "--out", out, "--timeout", "20s")
			if want := "note: cache: seal key: " + key + " " + c.want; r.code != exitOK || !strings.Contains(r.stderr, want) {
				t.Errorf("exit %d, stderr %q; want %d and %q", r.code, r.stderr, exitOK, want)
			}
			if _, err := os.Stat(out); err != nil {
				t.Errorf("no layer: %v", err)
			}
		})
	}
}

// A cache inside the function's source folder is refused as --out there
// is (exit 2): the next build would pack the cache's records and wheels,
// and the code key would change for the same code. A link that leads
// into the folder is caught too.
func TestFunctionCacheInsideSrc(t *testing.T) {
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "app.py"), []byte("def handler(e, c):\n    return 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(t.TempDir(), "cache-link")
	if err := os.Symlink(src, link); err != nil {
		t.Fatal(err)
	}
	for _, cache := range []string{filepath.Join(src, ".cache"), src, filepath.Join(link, "c")} {
		out := filepath.Join(t.TempDir(), "function.zip")
		r := lambdapack("function", "--src", src, "--runtime", "python3.12", "--arch", "x86_64", "--no-bytecode",
			"--cache", cache, "--out", out)
		want := "--cache: the cache folder " + cache + " is inside the source folder " + src + ": the next build would pack"
		if r.code != exitUsage || !strings.Contains(r.stderr, want) {
			t.Errorf("--cache %s: exit %d, stderr %q; want %d and %q", cache, r.code, r.stderr, exitUsage, want)
		}
		noFile(t, out)
		if _, err := os.Stat(cache); cache != src && !os.IsNotExist(err) {
			t.Errorf("the refused build made %s", cache)
		}
	}
	// The default cache folder counts too.
	t.Setenv("XDG_CACHE_HOME", filepath.Join(src, "xdg"))
	r := lambdapack("function", "--src", src, "--runtime", "python3.12", "--arch", "x86_64", "--no-bytecode", "--out", filepath.Join(t.TempDir(), "f.zip"))
	if want := "the default cache folder " + filepath.Join(src, "xdg", "lambdapack") + " is inside the source folder"; r.code != exitUsage || !strings.Contains(r.stderr, want) {
		t.Errorf("default cache in --src: exit %d, stderr %q; want %d and %q", r.code, r.stderr, exitUsage, want)
	}
}
