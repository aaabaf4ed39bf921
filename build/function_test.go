package build

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/galerly/galerly-lambda/build/bytecode"
	"github.com/galerly/galerly-lambda/build/index"
	"github.com/galerly/galerly-lambda/build/internal/wheeltest"
	"github.com/galerly/galerly-lambda/build/lock"
	"github.com/galerly/galerly-lambda/build/source"
	"github.com/galerly/galerly-lambda/build/target"
	"github.com/galerly/galerly-lambda/internal/testenv"
)

// handlerSource is a function that imports its dependencies and its own
// package, and reports what it found.
const handlerSource = `import alpha
import bravo
from handlers import photos


def handler(event, context):
    return {"alpha": alpha.V, "bravo": bravo.V, "photos": photos.NAME, "event": event}
`

// functionFixture writes a source folder (with litter), two pure wheels in
// a find-links folder and their lock, and returns the options of a build.
func functionFixture(t *testing.T) FunctionOptions {
	t.Helper()
	links := t.TempDir()
	var lockText strings.Builder
	for _, name := range []string{"bravo", "alpha"} {
		_, sum, err := wheeltest.Pure(links, name, "1.0", map[string]string{name + ".py": "V = '" + name + "'\n"})
		if err != nil {
			t.Fatal(err)
		}
		lockText.WriteString(name + "==1.0 --hash=sha256:" + sum + "\n")
	}
	lockPath := filepath.Join(t.TempDir(), "function.txt")
	writeText(t, lockPath, lockText.String(), 0o644)
	src := t.TempDir()
	writeTree(t, src, map[string]string{
		"api.py":                          handlerSource,
		"handlers/__init__.py":            "",
		"handlers/photos.py":              "NAME = 'photos'\n",
		"__pycache__/api.cpython-311.pyc": "stale bytecode",
		"tests/test_api.py":               "def test(): pass\n",
		".env":                            "STRIPE_KEY=sk_test\n",
	})
	return FunctionOptions{
		Src:      src,
		Lock:     lockPath,
		Target:   mustTarget(t, "python3.11"),
		Out:      filepath.Join(t.TempDir(), "function.zip"),
		Sources:  index.Sources{NoIndex: true, FindLinks: []string{links}},
		CacheDir: t.TempDir(),
	}
}

func mustTarget(t *testing.T, runtimes ...string) target.Target {
	t.Helper()
	tg, err := target.New(runtimes, "x86_64")
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

func writeText(t *testing.T, path, data string, mode fs.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

func writeTree(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for p, data := range files {
		writeText(t, filepath.Join(root, filepath.FromSlash(p)), data, 0o644)
	}
}

// copyTree copies a folder, every file with a new mtime.
func copyTree(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		st, err := os.Stat(p)
		if err != nil {
			return err
		}
		dst := filepath.Join(to, rel)
		writeText(t, dst, string(data), st.Mode().Perm())
		later := time.Now().Add(time.Hour)
		return os.Chtimes(dst, later, later)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// The code key changes with what ships and what would be installed, and
// with nothing else.
func TestCodeKey(t *testing.T) {
	opts := functionFixture(t)
	base, err := CodeKey(opts.Src, opts.Lock, opts.Target, source.Filter{}, lock.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(base) != 64 {
		t.Fatalf("key %q is not 64 hex digits", base)
	}
	for _, c := range []struct {
		name    string
		change  func(t *testing.T, src, lockPath string) (string, string, target.Target, source.Filter)
		changes bool
	}{
		{"same inputs", func(t *testing.T, src, lp string) (string, string, target.Target, source.Filter) {
			return src, lp, opts.Target, source.Filter{}
		}, false},
		{"another folder, new mtimes", func(t *testing.T, src, lp string) (string, string, target.Target, source.Filter) {
			other := filepath.Join(t.TempDir(), "elsewhere", "app")
			copyTree(t, src, other)
			return other, lp, opts.Target, source.Filter{}
		}, false},
		{"mode without x bits", func(t *testing.T, src, lp string) (string, string, target.Target, source.Filter) {
			os.Chmod(filepath.Join(src, "api.py"), 0o600)
			return src, lp, opts.Target, source.Filter{}
		}, false},
		{"an excluded file added", func(t *testing.T, src, lp string) (string, string, target.Target, source.Filter) {
			writeText(t, filepath.Join(src, "handlers", "__pycache__", "photos.cpython-311.pyc"), "x", 0o644)
			return src, lp, opts.Target, source.Filter{}
		}, false},
		{"the lock rewritten with comments, same pins", func(t *testing.T, src, lp string) (string, string, target.Target, source.Filter) {
			data, _ := os.ReadFile(lp)
			other := filepath.Join(t.TempDir(), "other.txt")
			writeText(t, other, "# compiled by uv\n"+string(data), 0o644)
			return src, other, opts.Target, source.Filter{}
		}, false},
		{"one byte of content", func(t *testing.T, src, lp string) (string, string, target.Target, source.Filter) {
			writeText(t, filepath.Join(src, "handlers", "photos.py"), "NAME = 'photoz'\n", 0o644)
			return src, lp, opts.Target, source.Filter{}
		}, true},
		{"the exec bit", func(t *testing.T, src, lp string) (string, string, target.Target, source.Filter) {
			os.Chmod(filepath.Join(src, "api.py"), 0o755)
			return src, lp, opts.Target, source.Filter{}
		}, true},
		{"a file renamed", func(t *testing.T, src, lp string) (string, string, target.Target, source.Filter) {
			os.Rename(filepath.Join(src, "handlers", "photos.py"), filepath.Join(src, "handlers", "photo.py"))
			return src, lp, opts.Target, source.Filter{}
		}, true},
		{"a file added", func(t *testing.T, src, lp string) (string, string, target.Target, source.Filter) {
			writeText(t, filepath.Join(src, "utils.py"), "", 0o644)
			return src, lp, opts.Target, source.Filter{}
		}, true},
		{"a file re-included", func(t *testing.T, src, lp string) (string, string, target.Target, source.Filter) {
			return src, lp, opts.Target, source.Filter{Include: []string{"tests/**"}}
		}, true},
		{"no lock", func(t *testing.T, src, lp string) (string, string, target.Target, source.Filter) {
			return src, "", opts.Target, source.Filter{}
		}, true},
		{"a pin changed", func(t *testing.T, src, lp string) (string, string, target.Target, source.Filter) {
			data, _ := os.ReadFile(lp)
			other := filepath.Join(t.TempDir(), "other.txt")
			writeText(t, other, strings.Replace(string(data), "alpha==1.0", "alpha==1.1", 1), 0o644)
			return src, other, opts.Target, source.Filter{}
		}, true},
		{"the runtime", func(t *testing.T, src, lp string) (string, string, target.Target, source.Filter) {
			return src, lp, mustTarget(t, "python3.12"), source.Filter{}
		}, true},
		{"the architecture", func(t *testing.T, src, lp string) (string, string, target.Target, source.Filter) {
			tg := opts.Target
			tg.Arch = target.ARM64
			return src, lp, tg, source.Filter{}
		}, true},
		{"no bytecode", nil, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			src := filepath.Join(t.TempDir(), "app")
			copyTree(t, opts.Src, src)
			var got string
			var err error
			if c.change == nil {
				got, err = CodeKey(src, opts.Lock, opts.Target, source.Filter{}, lock.Options{NoBytecode: true})
			} else {
				s, lp, tg, f := c.change(t, src, opts.Lock)
				got, err = CodeKey(s, lp, tg, f, lock.Options{})
			}
			if err != nil {
				t.Fatal(err)
			}
			if changed := got != base; changed != c.changes {
				t.Errorf("key changed: %v, want %v (%s vs %s)", changed, c.changes, got, base)
			}
		})
	}
}

// CodeKey refuses what the build refuses: a target of several runtimes, a
// source folder that packs nothing, a bad lock.
func TestCodeKeyRefuses(t *testing.T) {
	opts := functionFixture(t)
	badLock := filepath.Join(t.TempDir(), "bad.txt")
	writeText(t, badLock, "alpha>=1.0\n", 0o644)
	for _, c := range []struct {
		name, src, lock string
		tg              target.Target
		want            string
	}{
		{"two runtimes", opts.Src, "", mustTarget(t, "python3.11", "python3.12"), "exactly one runtime"},
		{"no runtime", opts.Src, "", target.Target{Arch: target.X86_64}, "exactly one runtime"},
		{"missing folder", filepath.Join(opts.Src, "nope"), "", opts.Target, "does not exist"},
		{"bad lock", opts.Src, badLock, opts.Target, "bad.txt:1"},
		{"missing lock", opts.Src, badLock + ".missing", opts.Target, "bad.txt.missing"},
	} {
		if _, err := CodeKey(c.src, c.lock, c.tg, source.Filter{}, lock.Options{}); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error with %q", c.name, err, c.want)
		}
	}
}

// readZip returns every entry's name and content.
func readZip(t *testing.T, path string) ([]string, map[string]*zip.File) {
	t.Helper()
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { zr.Close() })
	var names []string
	files := map[string]*zip.File{}
	for _, f := range zr.File {
		names = append(names, f.Name)
		files[f.Name] = f
	}
	return names, files
}

// Function packs the code that ships and the lock's dependencies at the
// root, reports what CodeKey computes, and the real Python 3.11 imports the
// package from nothing but its unzipped folder and calls the handler.
func TestFunctionPacksCodeAndDependencies(t *testing.T) {
	opts := functionFixture(t)
	var log bytes.Buffer
	opts.Log = &log
	res, err := Function(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	key, err := CodeKey(opts.Src, opts.Lock, opts.Target, source.Filter{}, lock.Options{})
	if err != nil || res.Key != key {
		t.Errorf("result key %s, CodeKey %s (%v)", res.Key, key, err)
	}
	names, files := readZip(t, opts.Out)
	// The code and the dependencies, each module with python3.11's
	// bytecode beside it (PEP 3147).
	want := []string{
		"__pycache__/alpha.cpython-311.pyc", "__pycache__/api.cpython-311.pyc", "__pycache__/bravo.cpython-311.pyc",
		"alpha-1.0.dist-info/METADATA", "alpha-1.0.dist-info/RECORD", "alpha-1.0.dist-info/WHEEL", "alpha.py",
		"api.py",
		"bravo-1.0.dist-info/METADATA", "bravo-1.0.dist-info/RECORD", "bravo-1.0.dist-info/WHEEL", "bravo.py",
		"handlers/__init__.py", "handlers/__pycache__/__init__.cpython-311.pyc", "handlers/__pycache__/photos.cpython-311.pyc", "handlers/photos.py",
	}
	if !slices.Equal(names, want) {
		t.Errorf("entries:\n got %v\nwant %v", names, want)
	}
	for _, name := range names {
		f := files[name]
		if f.Mode() != 0o644 || f.ModTime().Year() != 1980 || len(f.Extra) != 0 {
			t.Errorf("%s: mode %v, time %v, %d extra bytes", name, f.Mode(), f.ModTime(), len(f.Extra))
		}
	}
	var pkgs []string
	for _, p := range res.Packages {
		pkgs = append(pkgs, p.Name+"=="+p.Version+" at '"+p.Path+"'")
	}
	if !slices.Equal(pkgs, []string{"alpha==1.0 at ''", "bravo==1.0 at ''"}) {
		t.Errorf("packages %v", pkgs)
	}
	st, err := os.Stat(opts.Out)
	if err != nil || st.Size() != res.ZipBytes || res.Files != len(names) {
		t.Errorf("report %+v does not describe the zip (%d entries)", res, len(names))
	}
	if !strings.Contains(log.String(), "warning: "+filepath.Join(opts.Src, ".env")+": an environment file") {
		t.Errorf("no warning about .env in the log:\n%s", log.String())
	}

	py := testenv.FindPython(t, "3.11")
	dir := t.TempDir()
	if out, err := exec.Command("unzip", "-q", opts.Out, "-d", dir).CombinedOutput(); err != nil {
		t.Fatalf("unzip: %v\n%s", err, out)
	}
	// -I -S: no user site, no site-packages, no environment; only the
	// stdlib and the package, as on Lambda without layers.
	prog := "import sys, json; sys.path.insert(0, sys.argv[1]); import api; print(json.dumps(api.handler({'ping': 1}, None), sort_keys=True))"
	out, err := exec.Command(py, "-I", "-S", "-c", prog, dir).CombinedOutput()
	if err != nil {
		t.Fatalf("the handler did not run: %v\n%s", err, out)
	}
	if got := strings.TrimSpace(string(out)); got != `{"alpha": "alpha", "bravo": "bravo", "event": {"ping": 1}, "photos": "photos"}` {
		t.Errorf("handler returned %s", got)
	}
}

// Without a lock the package is the code alone; the key is CodeKey's with
// no lock.
func TestFunctionWithoutLock(t *testing.T) {
	opts := functionFixture(t)
	opts.Lock = ""
	res, err := Function(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := CodeKey(opts.Src, "", opts.Target, source.Filter{}, lock.Options{})
	names, _ := readZip(t, opts.Out)
	want := []string{"__pycache__/api.cpython-311.pyc", "api.py", "handlers/__init__.py", "handlers/__pycache__/__init__.cpython-311.pyc", "handlers/__pycache__/photos.cpython-311.pyc", "handlers/photos.py"}
	if res.Key != key || len(res.Packages) != 0 || !slices.Equal(names, want) {
		t.Errorf("key %s (CodeKey %s), packages %v, entries %v", res.Key, key, res.Packages, names)
	}
}

// A source over bytecode.MaxSourceBytes ships without bytecode, with a
// note saying why, as one that does not compile does: the compiler's
// memory grows with the source, far past the builder's bound. The others
// are compiled as ever.
func TestFunctionHugeSourceShipsWithoutBytecode(t *testing.T) {
	opts := functionFixture(t)
	opts.Lock = ""
	big := strings.Repeat("# generated data\n", bytecode.MaxSourceBytes/17+1)
	writeText(t, filepath.Join(opts.Src, "table.py"), big, 0o644)
	var log strings.Builder
	opts.Log = &log
	res, err := Function(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	names, _ := readZip(t, opts.Out)
	if !slices.Contains(names, "table.py") || slices.Contains(names, "__pycache__/table.cpython-311.pyc") || !slices.Contains(names, "__pycache__/api.cpython-311.pyc") {
		t.Errorf("entries %v: want table.py without its .pyc, api.py with its", names)
	}
	if len(res.Bytecode) != 1 || res.Bytecode[0].Compiled != 3 || res.Bytecode[0].Skipped != 1 {
		t.Errorf("report %+v, want 3 compiled and 1 skipped", res.Bytecode)
	}
	want := fmt.Sprintf("note: the function's code: 1 file gets no python3.11 bytecode and ships as source, as pip leaves what it cannot compile: table.py: %d bytes, over the 2 MiB a source may have to be compiled", len(big))
	if !strings.Contains(log.String(), want) {
		t.Errorf("log lacks %q:\n%s", want, log.String())
	}
}

// A path the code and a dependency both write is refused naming both,
// even with identical bytes, and nothing is written.
func TestFunctionCodeAndDependencyCollide(t *testing.T) {
	for _, c := range []struct {
		name, data, want string
	}{
		{"different bytes", "V = 'mine'\n", `alpha.py is written by source file "alpha.py" and alpha-1.0-py3-none-any.whl (alpha.py) with different content`},
		{"identical bytes", "V = 'alpha'\n", `alpha.py is written by both the function's code and a dependency: alpha-1.0-py3-none-any.whl (alpha.py) and source file "alpha.py"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			opts := functionFixture(t)
			writeText(t, filepath.Join(opts.Src, "alpha.py"), c.data, 0o644)
			_, err := Function(context.Background(), opts)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v, want an error with %q", err, c.want)
			}
			assertNothingWritten(t, opts.Out)
		})
	}
}

func assertNothingWritten(t *testing.T, out string) {
	t.Helper()
	if left, _ := os.ReadDir(filepath.Dir(out)); len(left) != 0 {
		t.Errorf("a failed build left %v", left)
	}
}

// The package and its layers must fit Lambda's unzipped limit together,
// with at most 5 layers; a refusal names every size and the largest parts,
// and writes nothing.
func TestFunctionLimits(t *testing.T) {
	const mb = 1_000_000
	for _, c := range []struct {
		name   string
		layers []int64
		big    int64 // a source file of this size
		want   []string
	}{
		{"six layers", []int64{1, 2, 3, 4, 5, 6}, 0, []string{"6 layers given: Lambda allows at most 5 layers per function"}},
		{"a negative size", []int64{-1}, 0, []string{"layer 1: unzipped size -1"}},
		{"layers over the limit with the code", []int64{200 * mb, 62_144_000}, 0, []string{
			"function package ", " + layer 1 200000000 bytes (200.0 MB) + layer 2 62144000 bytes (62.1 MB) = ",
			"over Lambda's limit of 262144000 bytes (262.1 MB) for a function and all its layers",
			"largest in the package: file api.py ",
		}},
		{"code over the limit with a layer, before downloading", []int64{100 * mb}, 170 * mb, []string{
			"function package 170000", " + layer 1 100000000 bytes (100.0 MB) = 270000",
			"largest in the package: file model.bin 170000000 bytes (170.0 MB), file api.py",
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			opts := functionFixture(t)
			if c.big > 0 {
				f, err := os.Create(filepath.Join(opts.Src, "model.bin"))
				if err != nil {
					t.Fatal(err)
				}
				if err := f.Truncate(c.big); err != nil {
					t.Fatal(err)
				}
				f.Close()
				opts.Sources = index.Sources{IndexURL: "http://127.0.0.1:1/simple/"} // unreachable: the limit is checked first
			}
			opts.LayerUnzipped = c.layers
			_, err := Function(context.Background(), opts)
			if err == nil {
				t.Fatal("built")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\nlacks %q", err, w)
				}
			}
			assertNothingWritten(t, opts.Out)
		})
	}
	// Just at the limit is allowed. (Bytecode counts against the limit
	// too; it is off here so the code's size is the package's.)
	opts := functionFixture(t)
	opts.Lock = ""
	opts.NoBytecode = true
	tree, err := source.Walk(opts.Src, source.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	opts.LayerUnzipped = []int64{MaxUnzipped - tree.Size()}
	if _, err := Function(context.Background(), opts); err != nil {
		t.Errorf("a function exactly at the limit: %v", err)
	}
}

// Function refuses bad options before reading anything.
func TestFunctionRefusesBadOptions(t *testing.T) {
	for _, c := range []struct {
		name string
		edit func(o *FunctionOptions)
		want string
	}{
		{"two runtimes", func(o *FunctionOptions) { o.Target = mustTarget(t, "python3.11", "python3.12") }, "exactly one runtime"},
		{"output inside the source", func(o *FunctionOptions) { o.Out = filepath.Join(o.Src, "function.zip") }, "is inside the source folder"},
		{"output inside the source through a symlink", func(o *FunctionOptions) {
			// --src names the folder through a link, --out its real path
			// (or the other way round): still the same folder.
			link := filepath.Join(t.TempDir(), "app")
			if err := os.Symlink(o.Src, link); err != nil {
				t.Fatal(err)
			}
			o.Src, o.Out = link, filepath.Join(o.Src, "function.zip")
		}, "is inside the source folder"},
		{"output inside the source, folder given through a symlink", func(o *FunctionOptions) {
			link := filepath.Join(t.TempDir(), "app")
			if err := os.Symlink(o.Src, link); err != nil {
				t.Fatal(err)
			}
			o.Out = filepath.Join(link, "function.zip")
		}, "is inside the source folder"},
		{"output is a folder", func(o *FunctionOptions) { o.Out = t.TempDir() }, "is a folder"},
		{"source is a file", func(o *FunctionOptions) { o.Src = filepath.Join(o.Src, "api.py") }, "is not a folder"},
		{"bad pattern", func(o *FunctionOptions) { o.Filter.Exclude = []string{"a//b"} }, `exclude pattern "a//b"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			opts := functionFixture(t)
			c.edit(&opts)
			_, err := Function(context.Background(), opts)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v, want an error with %q", err, c.want)
			}
			if _, err := os.Stat(opts.Out); err == nil && !strings.HasSuffix(c.name, "folder") {
				t.Errorf("%s was written", opts.Out)
			}
		})
	}
}

// A lock from which nothing applies to the runtime packs the code alone,
// with a note; its key still names the lock.
func TestFunctionLockWithNothingForTheRuntime(t *testing.T) {
	opts := functionFixture(t)
	writeText(t, opts.Lock, "alpha==1.0 ; python_version >= \"3.12\" --hash=sha256:"+strings.Repeat("a", 64)+"\n", 0o644)
	var log bytes.Buffer
	opts.Log = &log
	res, err := Function(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	l, _ := lock.ReadFile(opts.Lock)
	tree, _ := source.Walk(opts.Src, source.Filter{})
	if res.Key != CodeKeyOf(tree, lock.Key(l, opts.Target, lock.Options{}), opts.Target, lock.Options{}) || len(res.Packages) != 0 {
		t.Errorf("report %+v", res)
	}
	if !strings.Contains(log.String(), "no requirement applies to python3.11/x86_64") {
		t.Errorf("no note in the log:\n%s", log.String())
	}
}

// A file edited between the walk and the write fails the build: the zip
// never holds bytes other than those the key was computed from.
func TestFunctionFileChangedWhilePacking(t *testing.T) {
	opts := functionFixture(t)
	opts.Lock = ""
	tree, err := source.Walk(opts.Src, source.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	a, closeWheels, err := planFunction(tree, nil, nil)
	defer closeWheels()
	if err != nil {
		t.Fatal(err)
	}
	writeText(t, filepath.Join(opts.Src, "api.py"), strings.Replace(handlerSource, "alpha", "ALPHA", -1), 0o644)
	_, _, err = writeAtomic(context.Background(), opts.Out, a)
	if err == nil || !strings.Contains(err.Error(), "api.py changed while packing") {
		t.Errorf("got %v", err)
	}
	assertNothingWritten(t, opts.Out)
}

// FunctionFits applies Function's limits to a size alone.
func TestFunctionFits(t *testing.T) {
	for _, c := range []struct {
		unzipped int64
		layers   []int64
		want     string
	}{
		{100, nil, ""},
		{MaxUnzipped, nil, ""},
		{MaxUnzipped - 10, []int64{4, 6}, ""},
		{MaxUnzipped - 10, []int64{4, 7}, "function package 262143990 bytes (262.1 MB) + layer 1 4 bytes (0.0 MB) + layer 2 7 bytes (0.0 MB) = 262144001 bytes (262.1 MB) unzipped, over Lambda's limit"},
		{MaxUnzipped + 1, nil, "function package 262144001 bytes (262.1 MB) = 262144001 bytes (262.1 MB) unzipped"},
		{1, []int64{1, 1, 1, 1, 1}, ""},
		{1, []int64{1, 1, 1, 1, 1, 1}, "6 layers given"},
	} {
		err := FunctionFits(c.unzipped, c.layers)
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("FunctionFits(%d, %v) = %v, want %q", c.unzipped, c.layers, err, c.want)
		}
	}
}
