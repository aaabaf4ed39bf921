package build

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/galerly/galerly-lambda/build/bytecode"
	"github.com/galerly/galerly-lambda/build/index"
	"github.com/galerly/galerly-lambda/build/internal/wheeltest"
	"github.com/galerly/galerly-lambda/build/layertest"
	"github.com/galerly/galerly-lambda/build/target"
	"github.com/galerly/galerly-lambda/internal/testenv"
)

// bytecodeFixture is a find-links folder of pure wheels and a lock:
// shared (every runtime, so python/), oldonly (a marker keeps it to
// python < 3.12, so python3.11's site-packages), and newsyntax, whose
// typed.py uses Python 3.12's type statement and does not compile under
// 3.11.
func bytecodeFixture(t *testing.T) LayerOptions {
	t.Helper()
	links := t.TempDir()
	lockText := ""
	add := func(name, marker string, modules map[string]string) {
		_, sum, err := wheeltest.Pure(links, name, "1.0", modules)
		if err != nil {
			t.Fatal(err)
		}
		lockText += name + "==1.0" + marker + " --hash=sha256:" + sum + "\n"
	}
	add("shared", "", map[string]string{
		"shared/__init__.py": "from shared.util import double\n__version__ = '1.0'\n",
		"shared/util.py":     "def double(x):\n    return 2 * x\n",
	})
	add("oldonly", ` ; python_version < "3.12"`, map[string]string{"oldonly.py": "__version__ = '1.0'\n"})
	add("newsyntax", "", map[string]string{
		"newsyntax/__init__.py": "__version__ = '1.0'\n",
		"newsyntax/typed.py":    "type Pair = tuple[int, int]\n",
	})
	lockPath := filepath.Join(t.TempDir(), "lock.txt")
	if err := os.WriteFile(lockPath, []byte(lockText), 0o644); err != nil {
		t.Fatal(err)
	}
	tg, err := target.New([]string{"python3.11", "python3.12"}, "x86_64")
	if err != nil {
		t.Fatal(err)
	}
	return LayerOptions{
		Lock:     lockPath,
		Target:   tg,
		Out:      filepath.Join(t.TempDir(), "layer.zip"),
		Sources:  index.Sources{NoIndex: true, FindLinks: []string{links}},
		CacheDir: t.TempDir(),
	}
}

// zipFiles returns the zip's entries by name.
func zipFiles(t *testing.T, path string) (map[string][]byte, []string) {
	t.Helper()
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	files := map[string][]byte{}
	var names []string
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		files[f.Name] = data
		names = append(names, f.Name)
	}
	return files, names
}

// codeFilename asks the interpreter which filename the code object in a
// .pyc names: what a traceback from it prints.
func codeFilename(t *testing.T, python string, pyc []byte) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "x.pyc")
	os.WriteFile(f, pyc, 0o644)
	out, err := exec.Command(python, "-I", "-c", "import marshal, sys; print(marshal.loads(open(sys.argv[1], 'rb').read()[16:]).co_filename)", f).CombinedOutput()
	if err != nil {
		t.Fatalf("reading %s: %v\n%s", f, err, out)
	}
	return strings.TrimSpace(string(out))
}

// A layer for python3.11 and python3.12 holds, for every module, the
// bytecode of each runtime that imports it: side by side in the shared
// python/ tree, only python3.11's in python3.11's site-packages. Each .pyc
// is PEP 552 unchecked-hash with the runtime's magic number and names the
// module's path under /opt. A module that does not compile under a runtime
// ships without that runtime's bytecode, with a note. Imported by the real
// interpreters from a read-only copy, nothing is compiled.
func TestLayerBytecode(t *testing.T) {
	py := map[int]string{11: testenv.FindPython(t, "3.11"), 12: testenv.FindPython(t, "3.12")}
	opts := bytecodeFixture(t)
	var log bytes.Buffer
	opts.Log = &log
	res, err := Layer(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	files, names := zipFiles(t, opts.Out)
	var pycs []string
	var pycBytes int64
	for _, n := range names {
		if strings.HasSuffix(n, ".pyc") {
			pycs = append(pycs, n)
			pycBytes += int64(len(files[n]))
		}
	}
	want := []string{
		"python/lib/python3.11/site-packages/__pycache__/oldonly.cpython-311.pyc",
		"python/newsyntax/__pycache__/__init__.cpython-311.pyc",
		"python/newsyntax/__pycache__/__init__.cpython-312.pyc",
		"python/newsyntax/__pycache__/typed.cpython-312.pyc", // not 311: it does not compile there
		"python/shared/__pycache__/__init__.cpython-311.pyc",
		"python/shared/__pycache__/__init__.cpython-312.pyc",
		"python/shared/__pycache__/util.cpython-311.pyc",
		"python/shared/__pycache__/util.cpython-312.pyc",
	}
	if !slices.Equal(pycs, want) {
		t.Fatalf("bytecode:\n got %v\nwant %v", pycs, want)
	}
	for _, n := range pycs {
		minor := 11
		if strings.Contains(n, "cpython-312") {
			minor = 12
		}
		pyc := files[n]
		want, _ := bytecode.FinalMagic(target.Runtime{Minor: minor})
		if magic := binary.LittleEndian.Uint16(pyc); magic != want || string(pyc[2:4]) != "\r\n" {
			t.Errorf("%s: magic %d, want %d", n, magic, want)
		}
		if flags := binary.LittleEndian.Uint32(pyc[4:]); flags != 1 {
			t.Errorf("%s: flags %#x, want 0x1 (unchecked hash)", n, flags)
		}
		dir, _ := filepath.Split(strings.TrimSuffix(n, "/"))
		src := strings.TrimSuffix(dir, "__pycache__/") + strings.SplitN(filepath.Base(n), ".", 2)[0] + ".py"
		if got := codeFilename(t, py[minor], pyc); got != "/opt/"+src {
			t.Errorf("%s: code names %s, want /opt/%s", n, got, src)
		}
	}
	if res.BytecodeBytes != pycBytes || res.UnzippedBytes <= pycBytes {
		t.Errorf("report: bytecodeBytes %d, unzippedBytes %d; the .pyc files hold %d", res.BytecodeBytes, res.UnzippedBytes, pycBytes)
	}
	if len(res.Bytecode) != 2 || res.Bytecode[0].Runtime != "python3.11" || res.Bytecode[0].Compiled != 4 || res.Bytecode[0].Skipped != 1 ||
		res.Bytecode[1].Runtime != "python3.12" || res.Bytecode[1].Compiled != 4 || res.Bytecode[1].Skipped != 0 ||
		!strings.HasPrefix(res.Bytecode[0].Interpreter, "3.11.") || !strings.HasPrefix(res.Bytecode[1].Interpreter, "3.12.") {
		t.Errorf("report: bytecode %+v", res.Bytecode)
	}
	if !strings.Contains(log.String(), "newsyntax 1.0: 1 file gets no python3.11 bytecode and ships as source") ||
		!strings.Contains(log.String(), "newsyntax/typed.py: ") {
		t.Errorf("no note about the file that does not compile:\n%s", log.String())
	}

	for minor, mods := range map[int][]string{11: {"shared", "oldonly", "newsyntax"}, 12: {"shared", "newsyntax", "newsyntax.typed"}} {
		var out, errb bytes.Buffer
		err := layertest.Run(context.Background(), layertest.Options{Zip: opts.Out, Python: py[minor], Modules: mods, Bytecode: layertest.BytecodeRequired, Stdout: &out, Stderr: &errb})
		if err != nil {
			t.Errorf("python3.%d: %v\n%s%s", minor, err, out.String(), errb.String())
		}
		if strings.Count(out.String(), "\t0 compiled") != len(mods) {
			t.Errorf("python3.%d compiled modules at import:\n%s", minor, out.String())
		}
	}
}

// pipWheels returns the real pip and setuptools wheels an interpreter
// bundles for ensurepip: hundreds of modules each.
func pipWheels(t *testing.T, python string) []string {
	t.Helper()
	lib, _ := filepath.Glob(filepath.Join(filepath.Dir(filepath.Dir(python)), "lib", "python3.*", "ensurepip", "_bundled", "*.whl"))
	if len(lib) == 0 {
		testenv.SkipOrFail(t, "no ensurepip wheels beside %s", python)
	}
	return lib
}

// lockFor writes a lock pinning the wheels at paths.
func lockFor(t *testing.T, paths ...string) string {
	t.Helper()
	var text string
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		name, rest, _ := strings.Cut(filepath.Base(p), "-")
		version, _, _ := strings.Cut(rest, "-")
		text += name + "==" + version + " --hash=sha256:" + sha256Hex(data) + "\n"
	}
	path := filepath.Join(t.TempDir(), "lock.txt")
	os.WriteFile(path, []byte(text), 0o644)
	return path
}

// Bytecode is reproducible: the real pip wheel (about 500 modules)
// builds the same zip from a cold cache every time, and
// the same zip again from a cache warmed by another lock, whose build
// compiled pip's modules in an interpreter process that had compiled
// other wheels first (marshal's reference flags would otherwise depend on
// that history).
func TestBytecodeReproducible(t *testing.T) {
	py := testenv.FindPython(t, "3.11")
	wheels := pipWheels(t, py) // pip and setuptools
	links := filepath.Dir(wheels[0])
	var pip string
	for _, w := range wheels {
		if strings.HasPrefix(filepath.Base(w), "pip-") {
			pip = w
		}
	}
	history := t.TempDir()
	mods := map[string]string{}
	for i := range 200 {
		mods["aaahistory/m"+string(rune('a'+i%26))+strings.Repeat("x", i/26)+".py"] = "import os\nNAME = 'install'\nVALUES = ('x', 'y', 1, 2.5, b'z')\ndef f(a, *, b=None):\n    return {'a': a, 'b': b, 'name': NAME}\n"
	}
	histWheel, _, err := wheeltest.Pure(history, "aaahistory", "1.0", mods)
	if err != nil {
		t.Fatal(err)
	}
	tg, _ := target.New([]string{"python3.11"}, "x86_64")
	build := func(lockPath, cacheDir string) *Result {
		t.Helper()
		res, err := Layer(context.Background(), LayerOptions{
			Lock: lockPath, Target: tg, Out: filepath.Join(t.TempDir(), "layer.zip"),
			Sources: index.Sources{NoIndex: true, FindLinks: []string{links, history}}, CacheDir: cacheDir,
		})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	pipOnly := lockFor(t, pip)
	cold := build(pipOnly, t.TempDir())
	if cold.Bytecode[0].Compiled < 400 {
		t.Fatalf("pip compiled %d modules; want the whole wheel", cold.Bytecode[0].Compiled)
	}
	if again := build(pipOnly, t.TempDir()); again.SHA256 != cold.SHA256 {
		t.Fatalf("two cold builds differ: %s and %s", cold.SHA256, again.SHA256)
	}
	shared := t.TempDir()
	build(lockFor(t, append([]string{histWheel}, wheels...)...), shared)
	if warm := build(pipOnly, shared); warm.SHA256 != cold.SHA256 {
		t.Fatalf("a build from a cache warmed by another lock differs: %s, cold %s", warm.SHA256, cold.SHA256)
	}
}

// A warm build takes every bundle from the cache: it starts no
// interpreter (the one found here cannot run), and writes the same zip.
func TestBytecodeWarmBuildCompilesNothing(t *testing.T) {
	opts := bytecodeFixture(t)
	first, err := Layer(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	opts.Out = filepath.Join(t.TempDir(), "again.zip")
	opts.findInterpreter = func(_ context.Context, rt target.Runtime, _ map[target.Runtime]string) (*bytecode.Interpreter, error) {
		for _, b := range first.Bytecode {
			if b.Runtime == rt.String() {
				return &bytecode.Interpreter{Runtime: rt, Path: "/nonexistent/python", Version: b.Interpreter, Magic: b.Magic, CacheTag: bytecode.CacheTag(rt)}, nil
			}
		}
		return nil, errors.New("no such runtime in the first build")
	}
	second, err := Layer(context.Background(), opts)
	if err != nil {
		t.Fatalf("a warm build ran an interpreter: %v", err)
	}
	if second.SHA256 != first.SHA256 {
		t.Errorf("warm build %s, cold %s", second.SHA256, first.SHA256)
	}

	// A bundle record planted in the cache without this machine's seal is
	// not used: the build compiles again (and, here, cannot).
	records, _ := filepath.Glob(filepath.Join(opts.CacheDir, "records", "bytecode-*"))
	for _, r := range records {
		data, _ := os.ReadFile(r)
		_, body, _ := bytes.Cut(data, []byte("\n"))
		os.WriteFile(r, append([]byte("lambdapack-seal v1 "+strings.Repeat("0", 64)+"\n"), body...), 0o644)
	}
	opts.Out = filepath.Join(t.TempDir(), "third.zip")
	if _, err := Layer(context.Background(), opts); err == nil || !strings.Contains(err.Error(), "/nonexistent/python") {
		t.Errorf("planted records were used: %v", err)
	}
}

// Without an interpreter for a runtime the build stops before writing
// anything, and says how to get one or how to build without bytecode; with
// --no-bytecode it needs none and ships no .pyc.
func TestBytecodeMissingInterpreter(t *testing.T) {
	opts := bytecodeFixture(t)
	nothing := bytecode.Finder{
		LookPath: func(string) (string, error) { return "", exec.ErrNotFound },
	}
	opts.findInterpreter = nothing.Find
	_, err := Layer(context.Background(), opts)
	for _, want := range []string{"python3.11", "python3.12", "pyenv install 3.12", "uv python install 3.12", "actions/setup-python", "--no-bytecode"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
	assertNothingWritten(t, opts.Out)

	opts.NoBytecode = true
	res, err := Layer(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	_, names := zipFiles(t, opts.Out)
	for _, n := range names {
		if strings.HasSuffix(n, ".pyc") {
			t.Errorf("--no-bytecode shipped %s", n)
		}
	}
	if res.BytecodeBytes != 0 || res.Bytecode != nil {
		t.Errorf("report %+v", res)
	}
}

func sha256Hex(data []byte) string {
	s := sha256.Sum256(data)
	return hex.EncodeToString(s[:])
}

// The report lists runtimes oldest first by version, not by name
// ("python3.10" sorts before "python3.9" as text).
func TestBytecodeReportOrder(t *testing.T) {
	cp := &compiler{stats: map[target.Runtime]*BytecodeReport{}}
	for _, minor := range []int{12, 9, 10} {
		rt := target.Runtime{Minor: minor}
		cp.stats[rt] = &BytecodeReport{Runtime: rt.String()}
	}
	var got []string
	for _, r := range cp.reports() {
		got = append(got, r.Runtime)
	}
	if want := []string{"python3.9", "python3.10", "python3.12"}; !slices.Equal(got, want) {
		t.Errorf("reports in order %v, want %v", got, want)
	}
}

// A wheel holding a file named __pycache__ installs as pip installs it:
// the file ships, and the sources beside it, whose bytecode would go under
// it, ship without bytecode (pip cannot write theirs either), with a note;
// the rest of the wheel is compiled, and the layer imports. It used to
// fail the build, the .pyc files making a folder of the file's path.
func TestBytecodePycacheFileInAWheel(t *testing.T) {
	python := testenv.FindPython(t, "3.12")
	links := t.TempDir()
	w, _, err := wheeltest.Pure(links, "oddpkg", "1.0", map[string]string{
		"oddpkg/__init__.py":     "from oddpkg import sub\n",
		"oddpkg/__pycache__":     "not a folder\n",
		"oddpkg/sub/__init__.py": "X = 1\n",
	})
	if err != nil {
		t.Fatal(err)
	}
	tg, err := target.New([]string{"python3.12"}, "x86_64")
	if err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	opts := LayerOptions{Lock: lockFor(t, w), Target: tg, Out: filepath.Join(t.TempDir(), "layer.zip"),
		Sources: index.Sources{NoIndex: true, FindLinks: []string{links}}, CacheDir: t.TempDir(), Log: &log}
	res, err := Layer(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	files, _ := zipFiles(t, opts.Out)
	if string(files["python/oddpkg/__pycache__"]) != "not a folder\n" || files["python/oddpkg/sub/__pycache__/__init__.cpython-312.pyc"] == nil {
		t.Errorf("entries %v: want the __pycache__ file and sub's bytecode", slices.Sorted(maps.Keys(files)))
	}
	if len(res.Bytecode) != 1 || res.Bytecode[0].Compiled != 1 || res.Bytecode[0].Skipped != 1 {
		t.Errorf("report %+v, want 1 compiled, 1 skipped", res.Bytecode)
	}
	if want := "oddpkg/__init__.py: its folder holds a file named __pycache__"; !strings.Contains(log.String(), want) {
		t.Errorf("log lacks %q:\n%s", want, log.String())
	}
	// oddpkg/__init__.py is compiled at import, as after pip install.
	var out, errb bytes.Buffer
	err = layertest.Run(context.Background(), layertest.Options{Zip: opts.Out, Python: python, Modules: []string{"oddpkg"},
		Bytecode: layertest.BytecodeOptional, Stdout: &out, Stderr: &errb})
	if err != nil || !strings.HasSuffix(out.String(), "\t1 compiled\n") {
		t.Errorf("import: %v\n%s%s", err, out.String(), errb.String())
	}
}
