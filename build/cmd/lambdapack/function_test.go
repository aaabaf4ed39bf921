package main

import (
	"archive/zip"
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/galerly/galerly-lambda/build"
	"github.com/galerly/galerly-lambda/build/bytecode"
	"github.com/galerly/galerly-lambda/build/internal/wheeltest"
	"github.com/galerly/galerly-lambda/build/lock"
	"github.com/galerly/galerly-lambda/build/source"
	"github.com/galerly/galerly-lambda/build/target"
)

// apiSource is a handler that uses every kind of dependency of the
// wheelhouse and its own package.
const apiSource = `import datapkg_platlib
import oldonly
import purepkg.util
import tinyext
from handlers import photos


def handler(event, context):
    return {
        "sum": tinyext.add(2, 3),
        "double": purepkg.util.double(21),
        "oldonly": oldonly.__version__,
        "platlib": datapkg_platlib.VALUE,
        "photos": photos.list_photos(event),
    }
`

// sourceFile is one file of a test source folder.
type sourceFile struct {
	data string
	exec bool
}

// appSource is a function's source folder: the code, a script, and the
// litter a developer's checkout collects.
var appSource = map[string]sourceFile{
	"api.py":                          {data: apiSource},
	"handlers/__init__.py":            {},
	"handlers/photos.py":              {data: "def list_photos(event):\n    return event.get('photos', [])\n"},
	"handlers/test_photos.py":         {data: "def test(): pass\n"},
	"handlers/__pycache__/photos.pyc": {data: "bytecode"},
	"utils/__init__.py":               {},
	"utils/resize.py":                 {data: "SIZES = (256, 1024)\n"},
	"bin/warm.sh":                     {data: "#!/bin/sh\necho warm\n", exec: true},
	"__pycache__/api.cpython-311.pyc": {data: "bytecode"},
	"tests/test_api.py":               {data: "def test(): pass\n"},
	"conftest.py":                     {},
	".env":                            {data: "STRIPE_KEY=sk_live_x\n"},
	".DS_Store":                       {data: "mac"},
	".git/HEAD":                       {data: "ref: refs/heads/main\n"},
	".venv/pyvenv.cfg":                {data: "home = /usr/bin\n"},
	".pytest_cache/README.md":         {data: "cache"},
	".vscode/settings.json":           {data: "{}"},
	"api.py~":                         {data: "backup"},
}

// writeSource writes appSource under dir: regular files with mode
// 0666&^umask, scripts with 0777&^umask, every mtime set to mtime.
func writeSource(t *testing.T, dir string, umask fs.FileMode, mtime time.Time) {
	t.Helper()
	for p, f := range appSource {
		abs := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(abs), 0o755); err != nil {
			t.Fatal(err)
		}
		mode := 0o666 &^ umask
		if f.exec {
			mode = 0o777 &^ umask
		}
		if err := os.WriteFile(abs, []byte(f.data), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(abs, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(abs, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
}

// buildFunction runs `lambdapack function` in process and decodes its JSON.
func buildFunction(t *testing.T, args ...string) (build.Result, result) {
	t.Helper()
	r := lambdapack(append([]string{"function"}, args...)...)
	var res build.Result
	if r.code == 0 {
		if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
			t.Fatalf("function printed no JSON object: %v\n%s", err, r.stdout)
		}
	}
	return res, r
}

// The package holds exactly the code that ships and the lock's
// dependencies for the one runtime at its root; the zip tests clean, and
// the real Python 3.11 runs the handler from nothing but its unzipped
// folder and the stdlib.
func TestFunctionPackage(t *testing.T) {
	w := newWheelhouse(t)
	ix := wheeltest.ServeIndex(t, w.wheels, wheeltest.JSON)
	src := filepath.Join(t.TempDir(), "app")
	writeSource(t, src, 0o022, time.Now())
	out := filepath.Join(t.TempDir(), "function.zip")
	res, r := buildFunction(t, "--src", src, "--lock", w.lock, "--runtime", "python3.11", "--arch", arch(t),
		"--index-url", ix.URL, "--cache", t.TempDir(), "--out", out)
	if r.code != 0 {
		t.Fatalf("function failed (%d): %s", r.code, r.stderr)
	}

	zr, err := zip.OpenReader(out)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	var names, execs []string
	for _, f := range zr.File {
		names = append(names, f.Name)
		if f.Mode() == 0o755 {
			execs = append(execs, f.Name)
		} else if f.Mode() != 0o644 {
			t.Errorf("%s: mode %v", f.Name, f.Mode())
		}
		if f.Modified.Year() != 1980 || strings.HasSuffix(f.Name, "/") {
			t.Errorf("%s: timestamp %v", f.Name, f.Modified)
		}
	}
	ext := wheeltest.ExtSuffix(t, w.py311)
	want := []string{
		"api.py", "bin/warm.sh",
		"datapkg-0.1.dist-info/METADATA", "datapkg-0.1.dist-info/RECORD", "datapkg-0.1.dist-info/WHEEL",
		"datapkg/__init__.py", "datapkg_platlib.py", "datapkg_purelib.py",
		"handlers/__init__.py", "handlers/photos.py",
		"oldonly-1.0.dist-info/METADATA", "oldonly-1.0.dist-info/RECORD", "oldonly-1.0.dist-info/WHEEL", "oldonly.py",
		"purepkg-2.0.dist-info/METADATA", "purepkg-2.0.dist-info/RECORD", "purepkg-2.0.dist-info/WHEEL",
		"purepkg/__init__.py", "purepkg/util.py",
		"tinyext-1.0.dist-info/METADATA", "tinyext-1.0.dist-info/RECORD", "tinyext-1.0.dist-info/WHEEL",
		"tinyext" + ext,
		"utils/__init__.py", "utils/resize.py",
	}
	// Every module, the code's and the dependencies', has python3.11's
	// bytecode beside it.
	for _, name := range slices.Clone(want) {
		if pyc := bytecode.PycName(name, target.Runtime{Minor: 11}); pyc != "" {
			want = append(want, pyc)
		}
	}
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Errorf("entries:\n got %v\nwant %v", names, want)
	}
	// The script by its exec bit, the extension by its wheel's mode.
	if !slices.Equal(execs, []string{"bin/warm.sh", "tinyext" + ext}) {
		t.Errorf("executable entries %v, want bin/warm.sh and the extension", execs)
	}

	tg, _ := target.New([]string{"python3.11"}, arch(t))
	key, err := build.CodeKey(src, w.lock, tg, source.Filter{}, lock.Options{})
	if err != nil || res.Key != key {
		t.Errorf("key %s, build.CodeKey %s (%v)", res.Key, key, err)
	}
	var pkgs []string
	for _, p := range res.Packages {
		pkgs = append(pkgs, p.Name+" '"+p.Path+"'")
		if p.SHA256 != w.sums[p.Wheel] {
			t.Errorf("%s: sha256 %s, the wheel has %s", p.Wheel, p.SHA256, w.sums[p.Wheel])
		}
	}
	if !slices.Equal(pkgs, []string{"datapkg ''", "oldonly ''", "purepkg ''", "tinyext ''"}) {
		t.Errorf("packages %v", pkgs)
	}
	st, _ := os.Stat(out)
	if st.Size() != res.ZipBytes || res.Files != len(names) || res.UnzippedBytes <= 0 {
		t.Errorf("JSON %+v does not describe the zip (%d bytes, %d entries)", res, st.Size(), len(names))
	}
	if !strings.Contains(r.stderr, "warning: "+filepath.Join(src, ".env")+": an environment file") {
		t.Errorf("no warning about .env on stderr:\n%s", r.stderr)
	}

	if out, err := exec.Command("unzip", "-t", out).CombinedOutput(); err != nil {
		t.Errorf("unzip -t: %v\n%s", err, out)
	}
	if out, err := exec.Command(w.py311, "-m", "zipfile", "-t", out).CombinedOutput(); err != nil {
		t.Errorf("python -m zipfile -t: %v\n%s", err, out)
	}
	dir := t.TempDir()
	if b, err := exec.Command("unzip", "-q", out, "-d", dir).CombinedOutput(); err != nil {
		t.Fatalf("unzip: %v\n%s", err, b)
	}
	// -I -S: no environment, user site or site-packages; the stdlib and the
	// unzipped package only, as Lambda's /var/task without layers.
	prog := "import sys, json; sys.path.insert(0, sys.argv[1]); import api; print(json.dumps(api.handler({'photos': ['a.cr2']}, None), sort_keys=True))"
	got, err := exec.Command(w.py311, "-I", "-S", "-c", prog, dir).CombinedOutput()
	if err != nil {
		t.Fatalf("the handler did not run: %v\n%s", err, got)
	}
	if s := strings.TrimSpace(string(got)); s != `{"double": 42, "oldonly": "1.0", "photos": ["a.cr2"], "platlib": "platlib", "sum": 5}` {
		t.Errorf("handler returned %s", s)
	}
}

// The same source, copied to another folder with other mtimes and modes
// from another umask, built by another process with another umask, time
// zone, working folder and cold cache, gives the same key and the same
// bytes; a changed byte or exec bit changes the key.
func TestFunctionIsByteReproducible(t *testing.T) {
	w := newWheelhouse(t)
	ix := wheeltest.ServeIndex(t, w.wheels, wheeltest.HTML)
	runs := []struct {
		umask, tz string
		mtime     time.Time
		source    []string
	}{
		{"022", "UTC", time.Now(), []string{"--index-url", ix.URL}},
		{"077", "Pacific/Auckland", time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC), []string{"--no-index", "--find-links", w.dir}},
		{"002", "America/Los_Angeles", time.Now().Add(-time.Hour), []string{"--index-url", ix.URL}},
	}
	var keys []string
	var zips [][]byte
	for i, run := range runs {
		dir := t.TempDir()
		umask, err := strconv.ParseUint(run.umask, 8, 32)
		if err != nil {
			t.Fatal(err)
		}
		writeSource(t, filepath.Join(dir, "project", "app"), fs.FileMode(umask), run.mtime)
		data, _ := os.ReadFile(w.lock)
		os.MkdirAll(filepath.Join(dir, "project", "locks"), 0o755)
		os.WriteFile(filepath.Join(dir, "project", "locks", "function.txt"), data, 0o644)
		args := append([]string{"function", "--src", "app", "--lock", "locks/function.txt", "--runtime", "python3.11",
			"--arch", arch(t), "--out", "../function.zip", "--cache", filepath.Join(dir, "cache")}, run.source...)
		r := lambdapackProcess(t, filepath.Join(dir, "project"), run.umask, run.tz, args...)
		if r.code != 0 {
			t.Fatalf("build %d failed: %s", i, r.stderr)
		}
		var res build.Result
		if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
			t.Fatal(err)
		}
		zip, err := os.ReadFile(filepath.Join(dir, "function.zip"))
		if err != nil {
			t.Fatal(err)
		}
		if sha256hex(zip) != res.SHA256 {
			t.Errorf("build %d: the JSON sha256 %s is not the zip's", i, res.SHA256)
		}
		keys = append(keys, res.Key)
		zips = append(zips, zip)
	}
	for i := 1; i < len(runs); i++ {
		if keys[i] != keys[0] || string(zips[i]) != string(zips[0]) {
			t.Errorf("build %d (umask %s, TZ %s) differs from build 0: key %s vs %s", i, runs[i].umask, runs[i].tz, keys[i], keys[0])
		}
	}

	for _, change := range []struct {
		name string
		do   func(src string) error
	}{
		{"one byte", func(src string) error {
			return os.WriteFile(filepath.Join(src, "utils", "resize.py"), []byte("SIZES = (256, 2048)\n"), 0o644)
		}},
		{"an exec bit", func(src string) error { return os.Chmod(filepath.Join(src, "utils", "resize.py"), 0o755) }},
	} {
		src := filepath.Join(t.TempDir(), "app")
		writeSource(t, src, 0o022, time.Now())
		if err := change.do(src); err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(t.TempDir(), "f.zip")
		res, r := buildFunction(t, "--src", src, "--lock", w.lock, "--runtime", "python3.11", "--arch", arch(t),
			"--no-index", "--find-links", w.dir, "--cache", t.TempDir(), "--out", out)
		if r.code != 0 {
			t.Fatalf("%s: %s", change.name, r.stderr)
		}
		if res.Key == keys[0] {
			t.Errorf("%s: the key did not change", change.name)
		}
	}
}

// Excludes, includes and warnings from the command line: the patterns
// reach the walk, and the secrets it finds are named on stderr.
func TestFunctionFiltersAndWarnings(t *testing.T) {
	src := filepath.Join(t.TempDir(), "app")
	writeSource(t, src, 0o022, time.Now())
	os.WriteFile(filepath.Join(src, "utils", "signing.py"), []byte("KEY = '''-----BEGIN EC PRIVATE KEY-----\nMHc...\n-----END EC PRIVATE KEY-----'''\n"), 0o644)
	out := filepath.Join(t.TempDir(), "f.zip")
	_, r := buildFunction(t, "--src", src, "--runtime", "python3.11", "--arch", "x86_64", "--out", out, "--no-bytecode",
		"--exclude", "bin/", "--exclude", "utils/*.py", "--include", "utils/signing.py", "--include", "tests/**")
	if r.code != 0 {
		t.Fatalf("function failed: %s", r.stderr)
	}
	names := zipNames(t, out)
	want := []string{"api.py", "handlers/__init__.py", "handlers/photos.py", "tests/test_api.py", "utils/signing.py"}
	if !slices.Equal(names, want) {
		t.Errorf("entries:\n got %v\nwant %v", names, want)
	}
	for _, w := range []string{
		"warning: " + filepath.Join(src, ".env") + ": an environment file, which usually holds secrets; excluded, so it does not ship",
		"warning: " + filepath.Join(src, "utils", "signing.py") + ": holds a private key (-----BEGIN EC PRIVATE KEY-----); it SHIPS in the function package",
	} {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("stderr lacks %q:\n%s", w, r.stderr)
		}
	}
}

// Each way a function build can be refused: exit 2 for bad usage, 1 for a
// failed build, with a message naming what is wrong, and no zip.
func TestFunctionRefusals(t *testing.T) {
	src := filepath.Join(t.TempDir(), "app")
	writeSource(t, src, 0o022, time.Now())
	litter := t.TempDir()
	os.WriteFile(filepath.Join(litter, ".env"), []byte("A=1\n"), 0o644)
	os.MkdirAll(filepath.Join(litter, "__pycache__"), 0o755)
	os.WriteFile(filepath.Join(litter, "__pycache__", "x.pyc"), nil, 0o644)
	clash := filepath.Join(t.TempDir(), "clash")
	links := t.TempDir()
	_, sum, err := wheeltest.Pure(links, "handlers", "1.0", map[string]string{"handlers/photos.py": "X = 1\n"})
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(clash, []byte("handlers==1.0 --hash=sha256:"+sum+"\n"), 0o644)
	layers := func(sizes ...string) []string {
		var out []string
		for _, s := range sizes {
			out = append(out, "--with-layer-unzipped", s)
		}
		return out
	}
	outDir := t.TempDir()
	out := filepath.Join(outDir, "f.zip")
	common := []string{"--runtime", "python3.11", "--arch", "x86_64", "--out", out}
	for _, c := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no --src", common, 2, "--src is required"},
		{"missing --src", append([]string{"--src", src + "-nope"}, common...), 2, "no such folder"},
		{"--src is a file", append([]string{"--src", filepath.Join(src, "api.py")}, common...), 2, "api.py is a file, not a folder"},
		{"no --out", []string{"--src", src, "--runtime", "python3.11", "--arch", "x86_64"}, 2, "--out is required"},
		{"two runtimes", append([]string{"--src", src, "--runtime", "python3.12"}, common...), 2, "a function runs on one runtime, got python3.12, python3.11"},
		{"bad pattern", append([]string{"--src", src, "--exclude", "../x"}, common...), 2, `exclude pattern "../x"`},
		{"bad layer size", append(append([]string{"--src", src}, layers("12MB")...), common...), 2, `want a size in bytes`},
		{"six layers", append(append([]string{"--src", src}, layers("1", "1", "1", "1", "1", "1")...), common...), 1,
			"6 layers given: Lambda allows at most 5 layers per function"},
		{"over the limit", append(append([]string{"--src", src}, layers("131072000", "131072000")...), common...), 1,
			"= 262144" /* then the code's bytes */},
		{"packs nothing", append([]string{"--src", litter}, common...), 1, "packs nothing: everything in it is excluded (.env, __pycache__/)"},
		{"output inside the source", []string{"--src", src, "--runtime", "python3.11", "--arch", "x86_64", "--out", filepath.Join(src, "f.zip")}, 2, "is inside the source folder"},
		{"code and dependency collide", append([]string{"--src", src, "--lock", clash, "--no-index", "--find-links", links, "--cache", t.TempDir()}, common...), 1,
			`handlers/photos.py is written by source file "handlers/photos.py" and handlers-1.0-py3-none-any.whl (handlers/photos.py) with different content`},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := lambdapack(append([]string{"function"}, c.args...)...)
			if r.code != c.code || !strings.Contains(r.stderr, c.want) {
				t.Errorf("exit %d, want %d; stderr lacks %q:\n%s", r.code, c.code, c.want, r.stderr)
			}
			if r.stdout != "" {
				t.Errorf("stdout: %s", r.stdout)
			}
			if left, _ := os.ReadDir(outDir); len(left) != 0 {
				t.Errorf("left %v behind", left)
			}
			if _, err := os.Stat(filepath.Join(src, "f.zip")); err == nil {
				t.Errorf("wrote into the source folder")
			}
		})
	}
}
