package main

import (
	"archive/zip"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/galerly/galerly-lambda/build"
	"github.com/galerly/galerly-lambda/build/internal/wheeltest"
)

// buildLayer runs `lambdapack layer` in process and decodes its JSON.
func buildLayer(t *testing.T, args ...string) (build.Result, result) {
	t.Helper()
	r := lambdapack(append([]string{"layer"}, args...)...)
	var res build.Result
	if r.code == 0 {
		if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
			t.Fatalf("layer printed no JSON object: %v\n%s", err, r.stdout)
		}
	}
	return res, r
}

// zipNames lists the entries of a zip.
func zipNames(t *testing.T, path string) []string {
	t.Helper()
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
	}
	return names
}

// The layer for python3.11 + python3.12 keeps each runtime's compiled build
// where only that runtime looks, and both real interpreters import it.
func TestLayerImportsUnderBothRuntimes(t *testing.T) {
	w := newWheelhouse(t)
	ix := wheeltest.ServeIndex(t, w.wheels, wheeltest.JSON)
	out := filepath.Join(t.TempDir(), "layer.zip")
	res, r := buildLayer(t, "--lock", w.lock, "--runtime", "python3.12", "--runtime", "python3.11",
		"--arch", arch(t), "--index-url", ix.URL, "--cache", t.TempDir(), "--out", out)
	if r.code != 0 {
		t.Fatalf("layer failed (%d): %s", r.code, r.stderr)
	}

	names := zipNames(t, out)
	if !slices.IsSorted(names) {
		t.Errorf("entries are not sorted: %v", names)
	}
	has := func(prefix, suffix string) bool {
		return slices.ContainsFunc(names, func(n string) bool { return strings.HasPrefix(n, prefix) && strings.HasSuffix(n, suffix) })
	}
	for _, c := range []struct {
		prefix, suffix string
		want           bool
	}{
		{"python/lib/python3.11/site-packages/tinyext.cpython-311", ".so", true},
		{"python/lib/python3.12/site-packages/tinyext.cpython-312", ".so", true},
		{"python/lib/python3.12/site-packages/tinyext.cpython-311", ".so", false},
		{"python/tinyext", "", false},
		{"python/purepkg/", "util.py", true},
		{"python/purepkg-2.0.dist-info/", "METADATA", true},
		{"python/datapkg_purelib.py", "", true},
		{"python/datapkg_platlib.py", "", true},
		{"python/datapkg-0.1.data/", "", false},
		{"python/lib/python3.11/site-packages/oldonly.py", "", true},
		{"python/oldonly.py", "", false},
		{"python/lib/python3.12/site-packages/oldonly", "", false},
		{"python/purepkg-2.0.dist-info/", "INSTALLER", false},
	} {
		if got := has(c.prefix, c.suffix); got != c.want {
			t.Errorf("an entry %s*%s: got %v, want %v\nentries: %v", c.prefix, c.suffix, got, c.want, names)
		}
	}
	if !strings.Contains(r.stderr, "scripts") {
		t.Errorf("no note that datapkg's scripts were left out; stderr:\n%s", r.stderr)
	}

	// The JSON names every package once per folder it went to.
	var got []string
	for _, p := range res.Packages {
		got = append(got, p.Name+" "+p.Path)
		if p.SHA256 != w.sums[p.Wheel] {
			t.Errorf("package %s: sha256 %s, the wheel has %s", p.Wheel, p.SHA256, w.sums[p.Wheel])
		}
	}
	slices.Sort(got)
	want := []string{
		"datapkg python/",
		"oldonly python/lib/python3.11/site-packages/",
		"purepkg python/",
		"tinyext python/lib/python3.11/site-packages/",
		"tinyext python/lib/python3.12/site-packages/",
	}
	if !slices.Equal(got, want) {
		t.Errorf("packages:\n got %v\nwant %v", got, want)
	}
	st, err := os.Stat(out)
	if err != nil || st.Size() != res.ZipBytes || res.Files != len(names) || res.UnzippedBytes <= 0 {
		t.Errorf("JSON sizes do not describe the zip: %+v, %d entries", res, len(names))
	}
	key := lambdapack("key", "--lock", w.lock, "--runtime", "python3.11", "--runtime", "python3.12", "--arch", arch(t))
	if strings.TrimSpace(key.stdout) != res.Key {
		t.Errorf("layer key %s, `key` prints %q", res.Key, key.stdout)
	}

	for _, py := range []string{w.py311, w.py312} {
		r := lambdapack("test", "--zip", out, "--python", py, "--import", "tinyext", "--import", "purepkg.util", "--import", "datapkg_platlib")
		if r.code != 0 {
			t.Fatalf("%s could not import the layer: %s%s", py, r.stdout, r.stderr)
		}
		if !strings.Contains(r.stdout, "tinyext\tok\t1.0") {
			t.Errorf("%s: no version for tinyext:\n%s", py, r.stdout)
		}
	}
	// oldonly is for 3.11 only: 3.12 must not see it.
	if r := lambdapack("test", "--zip", out, "--python", w.py311, "--import", "oldonly"); r.code != 0 {
		t.Errorf("3.11 cannot import oldonly: %s", r.stderr)
	}
	if r := lambdapack("test", "--zip", out, "--python", w.py312, "--import", "oldonly"); r.code != 1 || !strings.Contains(r.stderr, "ModuleNotFoundError") {
		t.Errorf("3.12 imported oldonly, or failed without a traceback (%d): %s", r.code, r.stderr)
	}
}

// Two builds of one lock - from a JSON index, an HTML index and a
// find-links folder, in different folders, with different umasks and time
// zones, each with a cold cache - give the same bytes, and the zip passes
// both `unzip -t` and `python -m zipfile -t`.
func TestLayerIsByteReproducible(t *testing.T) {
	w := newWheelhouse(t)
	jsonIx := wheeltest.ServeIndex(t, w.wheels, wheeltest.JSON)
	htmlIx := wheeltest.ServeIndex(t, w.wheels, wheeltest.HTML)
	common := []string{"--runtime", "python3.11", "--runtime", "python3.12", "--arch", arch(t)}
	runs := []struct {
		umask, tz string
		source    []string
	}{
		{"022", "UTC", []string{"--index-url", jsonIx.URL}},
		{"077", "Pacific/Auckland", []string{"--index-url", htmlIx.URL}},
		{"002", "America/Los_Angeles", []string{"--no-index", "--find-links", w.dir}},
	}
	var sums []string
	var first string
	for i, run := range runs {
		dir := t.TempDir()
		lockCopy := filepath.Join(dir, "locks", "layer.txt")
		os.MkdirAll(filepath.Dir(lockCopy), 0o755)
		data, _ := os.ReadFile(w.lock)
		os.WriteFile(lockCopy, data, 0o644)
		args := append([]string{"layer", "--lock", "locks/layer.txt", "--out", "out.zip", "--cache", filepath.Join(dir, "cache")}, common...)
		r := lambdapackProcess(t, dir, run.umask, run.tz, append(args, run.source...)...)
		if r.code != 0 {
			t.Fatalf("build %d failed: %s", i, r.stderr)
		}
		var res build.Result
		if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(dir, "out.zip")
		data, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		sums = append(sums, res.SHA256)
		if i == 0 {
			first = out
		} else if other, _ := os.ReadFile(first); string(other) != string(data) {
			t.Errorf("build %d (umask %s, TZ %s, %v) differs from build 0", i, run.umask, run.tz, run.source)
		}
	}
	if sums[0] != sums[1] || sums[1] != sums[2] {
		t.Errorf("sha256 differ: %v", sums)
	}
	if out, err := exec.Command("unzip", "-t", first).CombinedOutput(); err != nil {
		t.Errorf("unzip -t: %v\n%s", err, out)
	}
	if out, err := exec.Command(w.py312, "-m", "zipfile", "-t", first).CombinedOutput(); err != nil {
		t.Errorf("python -m zipfile -t: %v\n%s", err, out)
	}
	zr, err := zip.OpenReader(first)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	for _, f := range zr.File {
		if f.Modified.Year() != 1980 || f.Modified.Month() != 1 || f.Modified.Day() != 1 {
			t.Errorf("%s: timestamp %v, want the fixed 1980-01-01", f.Name, f.Modified)
		}
		mode := f.Mode().Perm()
		if mode != 0o644 && mode != 0o755 {
			t.Errorf("%s: mode %v, want 0644 or 0755", f.Name, mode)
		}
		if strings.HasSuffix(f.Name, ".so") && mode != 0o755 {
			t.Errorf("%s: the wheel marks it executable, mode %v", f.Name, mode)
		}
	}
}

// A warm build makes no request at all, and gives the same zip.
func TestLayerWarmCacheMakesNoRequest(t *testing.T) {
	w := newWheelhouse(t)
	ix := wheeltest.ServeIndex(t, w.wheels, wheeltest.JSON)
	cacheDir := t.TempDir()
	args := []string{"--lock", w.lock, "--runtime", "python3.11", "--runtime", "python3.12", "--arch", arch(t), "--index-url", ix.URL, "--cache", cacheDir}
	cold, r := buildLayer(t, append(args, "--out", filepath.Join(t.TempDir(), "a.zip"))...)
	if r.code != 0 {
		t.Fatal(r.stderr)
	}
	before := ix.Requests()
	if before == 0 {
		t.Fatal("the cold build asked the index nothing")
	}
	warm, r := buildLayer(t, append(args, "--out", filepath.Join(t.TempDir(), "b.zip"))...)
	if r.code != 0 {
		t.Fatal(r.stderr)
	}
	if n := ix.Requests() - before; n != 0 {
		t.Errorf("the warm build made %d requests: %v", n, ix.Paths())
	}
	if warm.SHA256 != cold.SHA256 {
		t.Errorf("warm build sha256 %s, cold %s", warm.SHA256, cold.SHA256)
	}
}

// A download whose bytes do not match the lock fails the build, names the
// wheel and both hashes, and leaves no output and no cache entry.
func TestLayerRefusesTamperedWheel(t *testing.T) {
	w := newWheelhouse(t)
	ix := wheeltest.ServeIndex(t, w.wheels, wheeltest.JSON)
	victim := "purepkg-2.0-py3-none-any.whl"
	evil, _, err := wheeltest.Pure(t.TempDir(), "purepkg", "2.0", map[string]string{"purepkg/__init__.py": "import os; os.system('curl evil')\n"})
	if err != nil {
		t.Fatal(err)
	}
	evilBytes, _ := os.ReadFile(evil)
	ix.Tamper(victim, evilBytes)
	cacheDir := t.TempDir()
	out := filepath.Join(t.TempDir(), "layer.zip")
	_, r := buildLayer(t, "--lock", w.lock, "--runtime", "python3.12", "--arch", arch(t), "--index-url", ix.URL, "--cache", cacheDir, "--out", out)
	if r.code != 1 {
		t.Fatalf("exit %d, want 1; stderr: %s", r.code, r.stderr)
	}
	for _, want := range []string{victim, w.sums[victim], sha256hex(evilBytes)} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("error does not name %s:\n%s", want, r.stderr)
		}
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("a failed build left %s", out)
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(out), "*")); len(left) != 0 {
		t.Errorf("a failed build left files beside the output: %v", left)
	}
	filepath.WalkDir(cacheDir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && (strings.Contains(p, sha256hex(evilBytes)) || strings.Contains(p, w.sums[victim])) {
			t.Errorf("the tampered download is in the cache: %s", p)
		}
		return nil
	})
}

// Failures a user meets name what is at fault and leave no output.
func TestLayerFailures(t *testing.T) {
	w := newWheelhouse(t)
	evilDir := t.TempDir()
	evilPath, evilSum, err := wheeltest.Write(evilDir, "evil-1.0-py3-none-any.whl", []wheeltest.Entry{{Name: "../../etc/cron.d/evil", Data: []byte("x")}})
	if err != nil {
		t.Fatal(err)
	}
	only312Path, only312Sum := wheeltest.CompiledWheel(t, t.TempDir(), w.py312, "newonly", "newonly", "1.0")
	ix := wheeltest.ServeIndex(t, append(slices.Clone(w.wheels), evilPath, only312Path), wheeltest.JSON)
	cases := []struct {
		name     string
		edit     func(string) string
		runtimes []string
		extra    []string
		code     int
		want     []string
	}{
		{
			name: "path traversal in a wheel",
			edit: func(s string) string { return s + "evil==1.0 --hash=sha256:" + evilSum + "\n" },
			code: 1, want: []string{"evil-1.0-py3-none-any.whl", "../../etc/cron.d/evil"},
		},
		{
			name:     "a compiled package with a wheel for one runtime only",
			edit:     func(s string) string { return s + "newonly==1.0 --hash=sha256:" + only312Sum + "\n" },
			runtimes: []string{"python3.11", "python3.12"},
			code:     1, want: []string{"newonly", "python3.11", "python3.12"},
		},
		{
			name: "an unpinned requirement",
			edit: func(s string) string { return s + "numpy>=2\n" },
			code: 1, want: []string{"layer.txt:", "numpy"},
		},
		{
			name: "a hash no file has",
			edit: func(s string) string { return s + "other==1.0 --hash=sha256:" + strings.Repeat("ab", 32) + "\n" },
			code: 1, want: []string{"layer.txt:12: other==1.0"},
		},
		{
			name:  "over the size limit",
			extra: []string{"--max-unzipped", "100"},
			code:  1, want: []string{"over the limit of 100 bytes", "largest: tinyext 1.0", "purepkg 2.0"},
		},
		{
			name:  "an index that is not a URL",
			extra: []string{"--index-url", "not a url"},
			code:  2, want: []string{"not a url"},
		},
		{
			name:  "no-index without find-links",
			extra: []string{"--no-index"},
			code:  2, want: []string{"--find-links"},
		},
		{
			name:     "an unknown runtime",
			runtimes: []string{"python3.8"},
			code:     2, want: []string{"python3.8", "python3.9"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			lockPath := filepath.Join(dir, "layer.txt")
			w.writeLock(t, lockPath, c.edit)
			out := filepath.Join(dir, "out", "layer.zip")
			os.Mkdir(filepath.Dir(out), 0o755)
			runtimes := c.runtimes
			if runtimes == nil {
				runtimes = []string{"python3.12"}
			}
			args := []string{"--lock", lockPath, "--arch", arch(t), "--index-url", ix.URL, "--cache", filepath.Join(dir, "cache"), "--out", out}
			for _, rt := range runtimes {
				args = append(args, "--runtime", rt)
			}
			_, r := buildLayer(t, append(args, c.extra...)...)
			if r.code != c.code {
				t.Fatalf("exit %d, want %d; stderr:\n%s", r.code, c.code, r.stderr)
			}
			for _, want := range c.want {
				if !strings.Contains(r.stderr, want) {
					t.Errorf("stderr does not name %q:\n%s", want, r.stderr)
				}
			}
			t.Logf("stderr: %s", r.stderr)
			if r.stdout != "" {
				t.Errorf("a failed build printed on stdout: %s", r.stdout)
			}
			if left, _ := os.ReadDir(filepath.Dir(out)); len(left) != 0 {
				t.Errorf("a failed build left %v", left)
			}
		})
	}
}

// Two builds at once sharing one cold cache both succeed with the same
// bytes: the cache is written atomically by whichever finishes first.
func TestLayerConcurrentBuildsShareCache(t *testing.T) {
	w := newWheelhouse(t)
	ix := wheeltest.ServeIndex(t, w.wheels, wheeltest.JSON)
	cacheDir := t.TempDir()
	results := make([]result, 2)
	dirs := []string{t.TempDir(), t.TempDir()}
	var wg sync.WaitGroup
	for i := range results {
		wg.Go(func() {
			results[i] = lambdapackProcess(t, dirs[i], "022", "UTC", "layer", "--lock", w.lock, "--runtime", "python3.11", "--runtime", "python3.12",
				"--arch", arch(t), "--index-url", ix.URL, "--cache", cacheDir, "--out", "layer.zip")
		})
	}
	wg.Wait()
	var sums []string
	for i, r := range results {
		if r.code != 0 {
			t.Fatalf("build %d failed: %s", i, r.stderr)
		}
		var res build.Result
		if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
			t.Fatal(err)
		}
		sums = append(sums, res.SHA256)
	}
	if sums[0] != sums[1] {
		t.Errorf("concurrent builds differ: %v", sums)
	}
	a, _ := os.ReadFile(filepath.Join(dirs[0], "layer.zip"))
	b, _ := os.ReadFile(filepath.Join(dirs[1], "layer.zip"))
	if len(a) == 0 || string(a) != string(b) {
		t.Error("the two zips are not identical")
	}
}
