package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/galerly/galerly-lambda/build/internal/wheeltest"
	"github.com/galerly/galerly-lambda/internal/testenv"
)

// A find-links folder gives no hashes, so lambdapack hashes what could be
// chosen; the errors must still say why a file was not used.
func TestFindLinksErrorsExplainThemselves(t *testing.T) {
	py311 := testenv.FindPython(t, "3.11")
	dir := t.TempDir()

	// A wheel for a newer glibc than python3.11's: refused with the reason.
	glibcDir := filepath.Join(dir, "glibc")
	os.Mkdir(glibcDir, 0o755)
	machine := map[string]string{"x86_64": "x86_64", "arm64": "aarch64"}[arch(t)]
	_, newSum := wheeltest.CompiledWheel(t, glibcDir, py311, "newglibc", "newglibc", "1.0", wheeltest.PlatformTag("manylinux_2_28_"+machine))

	// A pure wheel whose bytes are not the ones the lock names.
	tamperDir := filepath.Join(dir, "tamper")
	os.Mkdir(tamperDir, 0o755)
	_, goodSum, err := wheeltest.Pure(t.TempDir(), "swapped", "1.0", map[string]string{"swapped.py": "OK = True\n"})
	if err != nil {
		t.Fatal(err)
	}
	_, badSum, err := wheeltest.Pure(tamperDir, "swapped", "1.0", map[string]string{"swapped.py": "OK = False\n"})
	if err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name, lock, folder string
		want               []string
	}{
		{"glibc too new", "newglibc==1.0 --hash=sha256:" + newSum + "\n", glibcDir,
			[]string{"lock.txt:1: newglibc 1.0", "needs glibc 2.28; python3.11 runs on glibc 2.26"}},
		{"bytes not in the lock", "swapped==1.0 --hash=sha256:" + goodSum + "\n", tamperDir,
			[]string{"lock.txt:1: swapped==1.0", "swapped-1.0-py3-none-any.whl", badSum, goodSum}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			work := t.TempDir()
			lockPath := filepath.Join(work, "lock.txt")
			os.WriteFile(lockPath, []byte(c.lock), 0o644)
			cacheDir := filepath.Join(work, "cache")
			out := filepath.Join(work, "layer.zip")
			_, r := buildLayer(t, "--lock", lockPath, "--runtime", "python3.11", "--arch", arch(t),
				"--no-index", "--find-links", c.folder, "--cache", cacheDir, "--out", out)
			if r.code != 1 {
				t.Fatalf("exit %d, want 1: %s", r.code, r.stderr)
			}
			for _, w := range c.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr does not name %q:\n%s", w, r.stderr)
				}
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Error("a failed build left its output")
			}
			filepath.WalkDir(cacheDir, func(p string, d os.DirEntry, err error) error {
				if err == nil && !d.IsDir() && strings.Contains(p, badSum) {
					t.Errorf("bytes the lock does not name are in the cache: %s", p)
				}
				return nil
			})
		})
	}
}

// An output path that cannot take the zip is refused before any request.
func TestLayerChecksOutputFirst(t *testing.T) {
	w := newWheelhouse(t)
	ix := wheeltest.ServeIndex(t, w.wheels, wheeltest.JSON)
	folder := t.TempDir()
	for _, c := range []struct{ out, want string }{
		{folder, "is a folder"},
		{filepath.Join(folder, "missing", "layer.zip"), "does not exist"},
	} {
		_, r := buildLayer(t, "--lock", w.lock, "--runtime", "python3.12", "--arch", arch(t),
			"--index-url", ix.URL, "--cache", t.TempDir(), "--out", c.out)
		if r.code != 1 || !strings.Contains(r.stderr, c.want) || !strings.Contains(r.stderr, c.out) {
			t.Errorf("--out %s: exit %d, stderr %q; want 1 naming the path and %q", c.out, r.code, r.stderr, c.want)
		}
	}
	if n := ix.Requests(); n != 0 {
		t.Errorf("a build with a bad --out made %d requests first", n)
	}
}

// A pure wheel a marker limits to two of three runtimes goes to both of
// their site-packages and nowhere else.
func TestMarkerLimitedWheelInSeveralRuntimes(t *testing.T) {
	dir := t.TempDir()
	_, oldSum, err := wheeltest.Pure(dir, "backport", "1.0", map[string]string{"backport.py": "X = 1\n"})
	if err != nil {
		t.Fatal(err)
	}
	_, pureSum, err := wheeltest.Pure(dir, "everywhere", "2.0", map[string]string{"everywhere.py": "Y = 2\n"})
	if err != nil {
		t.Fatal(err)
	}
	lockPath := filepath.Join(t.TempDir(), "lock.txt")
	os.WriteFile(lockPath, []byte("backport==1.0 ; python_version < \"3.12\" --hash=sha256:"+oldSum+"\neverywhere==2.0 --hash=sha256:"+pureSum+"\n"), 0o644)
	out := filepath.Join(t.TempDir(), "layer.zip")
	_, r := buildLayer(t, "--lock", lockPath, "--runtime", "python3.10", "--runtime", "python3.11", "--runtime", "python3.12",
		"--arch", arch(t), "--no-index", "--find-links", dir, "--cache", t.TempDir(), "--out", out)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	names := zipNames(t, out)
	for _, c := range []struct {
		name string
		want bool
	}{
		{"python/lib/python3.10/site-packages/backport.py", true},
		{"python/lib/python3.11/site-packages/backport.py", true},
		{"python/lib/python3.12/site-packages/backport.py", false},
		{"python/backport.py", false},
		{"python/everywhere.py", true},
	} {
		if got := slices.Contains(names, c.name); got != c.want {
			t.Errorf("%s in the zip: %v, want %v (entries %v)", c.name, got, c.want, names)
		}
	}
}

// key refuses what layer would refuse, so a preview never accepts a lock
// an update will reject.
func TestKeyRefusesAnEmptyLayer(t *testing.T) {
	lockPath := filepath.Join(t.TempDir(), "lock.txt")
	os.WriteFile(lockPath, []byte("newer==1.0 ; python_version >= \"3.13\" --hash=sha256:"+strings.Repeat("c", 64)+"\n"), 0o644)
	r := lambdapack("key", "--lock", lockPath, "--runtime", "python3.12", "--arch", "x86_64")
	if r.code != 1 || !strings.Contains(r.stderr, "no requirement applies") || r.stdout != "" {
		t.Errorf("exit %d, stdout %q, stderr %q; want exit 1 and no key", r.code, r.stdout, r.stderr)
	}
}
