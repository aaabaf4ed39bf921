package layertest

import (
	"archive/zip"
	"bytes"
	"context"
	"hash/crc32"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/galerly/galerly-lambda/build/internal/wheeltest"
	"github.com/galerly/galerly-lambda/internal/testenv"
)

type file struct {
	name, body string
	mode       fs.FileMode // 0 means 0644
	declare    uint64      // when set, the uncompressed size the zip claims
}

// layer writes a layer zip the way build/pack will: python/... at the root.
func layer(t *testing.T, files ...file) string {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range files {
		h := &zip.FileHeader{Name: f.name, Method: zip.Deflate}
		mode := f.mode
		if mode == 0 {
			mode = 0o644
		}
		h.SetMode(mode)
		create := zw.CreateHeader
		if f.declare != 0 {
			h.Method, h.CRC32 = zip.Store, crc32.ChecksumIEEE([]byte(f.body))
			h.CompressedSize64, h.UncompressedSize64 = uint64(len(f.body)), f.declare
			create = zw.CreateRaw
		}
		w, err := create(h)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(f.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "layer.zip")
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// run runs Run and returns what it printed, each import time replaced by
// "MS" after checking its form, since it varies from run to run.
func run(t *testing.T, zipPath, python string, modules ...string) (stdout, stderr string, err error) {
	t.Helper()
	return runWith(t, Options{Zip: zipPath, Python: python, Modules: modules})
}

func runWith(t *testing.T, opts Options) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	opts.Stdout, opts.Stderr = &out, &errOut
	err = Run(context.Background(), opts)
	return maskTimes(t, out.String()), errOut.String(), err
}

// importTime is the fifth field of an ok line: milliseconds with one
// decimal and the unit, which time.ParseDuration reads.
var importTime = regexp.MustCompile(`^[0-9]+\.[0-9]ms$`)

func maskTimes(t *testing.T, stdout string) string {
	t.Helper()
	ls := strings.SplitAfter(stdout, "\n")
	for i, l := range ls {
		f := strings.Split(l, "\t")
		if len(f) < 6 || f[1] != "ok" {
			continue
		}
		if !importTime.MatchString(f[4]) {
			t.Errorf("line %q: import time %q, want e.g. 12.3ms", l, f[4])
		} else if _, err := time.ParseDuration(f[4]); err != nil {
			t.Errorf("line %q: import time %q: %v", l, f[4], err)
		}
		f[4] = "MS"
		ls[i] = strings.Join(f, "\t")
	}
	return strings.Join(ls, "")
}

func lines(s ...string) string { return strings.Join(s, "\n") + "\n" }

func TestPureModulesImportOnEveryRuntime(t *testing.T) {
	zipPath := layer(t,
		file{name: "python/tinypkg/__init__.py", body: "__version__ = '1.0'\n"},
		file{name: "python/tinypkg/core.py", body: "VALUE = 1\n"},
		file{name: "python/metapkg/__init__.py", body: ""},
		file{name: "python/meta_pkg-2.5.dist-info/METADATA", body: "Metadata-Version: 2.1\nName: meta-pkg\nVersion: 2.5\n"},
		file{name: "python/meta_pkg-2.5.dist-info/RECORD", body: "metapkg/__init__.py,,\nmeta_pkg-2.5.dist-info/METADATA,,\n"},
		file{name: "python/plainmod.py", body: "X = 1\n"},
	)
	// 3.9 has no importlib.metadata.packages_distributions: the bootstrap
	// builds the same map itself. CI installs 3.11 to 3.13 only, so 3.9
	// is checked where the machine has it (pyenv here) and skipped
	// elsewhere, even under CI.
	for _, minor := range []string{"3.9", "3.11", "3.12", "3.13"} {
		t.Run(minor, func(t *testing.T) {
			t.Parallel()
			var python string
			if minor == "3.9" {
				p, err := testenv.LocatePython(minor)
				if err != nil {
					t.Skipf("the fallback for Python 3.9 is not checked: %v", err)
				}
				python = p
			} else {
				python = testenv.FindPython(t, minor)
			}
			stdout, stderr, err := run(t, zipPath, python, "tinypkg", "tinypkg.core", "metapkg", "plainmod")
			if err != nil {
				t.Fatalf("Run: %v\n%s", err, stderr)
			}
			// tinypkg.core has no __version__ and no distribution: it
			// takes its package's. metapkg has no __version__: its version
			// comes from the distribution whose RECORD lists it.
			want := lines("tinypkg\tok\t1.0\t-\tMS\t1 compiled", "tinypkg.core\tok\t1.0\t-\tMS\t1 compiled",
				"metapkg\tok\t2.5\tmeta-pkg==2.5\tMS\t1 compiled", "plainmod\tok\t-\t-\tMS\t1 compiled")
			if stdout != want {
				t.Errorf("stdout:\n%s\nwant:\n%s", stdout, want)
			}
		})
	}
}

func TestVersionSpecificSitePackages(t *testing.T) {
	t.Parallel()
	zipPath := layer(t,
		file{name: "python/lib/python3.11/site-packages/only311.py", body: "__version__ = '3.11-only'\n"},
		// Lambda puts python/lib/python3.X/site-packages ahead of python/.
		file{name: "python/lib/python3.12/site-packages/dup.py", body: "__version__ = 'site-packages'\n"},
		file{name: "python/dup.py", body: "__version__ = 'python'\n"},
	)
	py311, py312 := testenv.FindPython(t, "3.11"), testenv.FindPython(t, "3.12")

	stdout, stderr, err := run(t, zipPath, py311, "only311")
	if err != nil || stdout != lines("only311\tok\t3.11-only\t-\tMS\t1 compiled") {
		t.Errorf("python3.11: stdout %q, err %v\n%s", stdout, err, stderr)
	}

	stdout, stderr, err = run(t, zipPath, py312, "dup", "only311")
	if err == nil {
		t.Fatal("python3.12 imported a module that is only in python/lib/python3.11/site-packages")
	}
	if want := lines("dup\tok\tsite-packages\t-\tMS\t1 compiled", "only311\tFAILED"); stdout != want {
		t.Errorf("python3.12 stdout:\n%s\nwant:\n%s", stdout, want)
	}
	if !strings.Contains(stderr, "Traceback (most recent call last)") || !strings.Contains(stderr, "ModuleNotFoundError: No module named 'only311'") {
		t.Errorf("stderr lacks the traceback:\n%s", stderr)
	}
	for _, want := range []string{zipPath, "only311", "python3.12", "ModuleNotFoundError"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}

func TestCompiledExtension(t *testing.T) {
	t.Parallel()
	py312 := testenv.FindPython(t, "3.12")
	so := wheeltest.CompileExtension(t, py312, "fastmath", "0.9")
	sp := "python/lib/python3.12/site-packages/"
	zipPath := layer(t,
		file{name: sp + "fastmath" + wheeltest.ExtSuffix(t, py312), body: string(so), mode: 0o755},
		file{name: sp + "usesfast.py", body: "import fastmath\nif fastmath.add(2, 3) != 5:\n    raise AssertionError('add(2, 3) != 5')\n__version__ = 'add=%d' % fastmath.add(2, 3)\n"},
	)
	stdout, stderr, err := run(t, zipPath, py312, "fastmath", "usesfast")
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, stderr)
	}
	if want := lines("fastmath\tok\t0.9\t-\tMS\t0 compiled", "usesfast\tok\tadd=5\t-\tMS\t1 compiled"); stdout != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", stdout, want)
	}

	// The cp312 build is in python3.12's folder only: 3.13 must not see it.
	_, stderr, err = run(t, zipPath, testenv.FindPython(t, "3.13"), "fastmath")
	if err == nil || !strings.Contains(stderr, "No module named 'fastmath'") {
		t.Errorf("python3.13 with a cp312-only layer: err %v\n%s", err, stderr)
	}
}

func TestImportErrorStopsWithTraceback(t *testing.T) {
	t.Parallel()
	zipPath := layer(t,
		file{name: "python/okmod.py", body: ""},
		file{name: "python/broken.py", body: "import okmod\n\ndef load():\n    raise RuntimeError('boom at import')\n\nload()\n"},
		file{name: "python/never.py", body: ""},
	)
	stdout, stderr, err := run(t, zipPath, testenv.FindPython(t, "3.12"), "okmod", "broken", "never")
	if err == nil {
		t.Fatal("Run succeeded although broken raises at import")
	}
	// The first failure stops the run: "never" is not tried.
	if want := lines("okmod\tok\t-\t-\tMS\t1 compiled", "broken\tFAILED"); stdout != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", stdout, want)
	}
	for _, want := range []string{"Traceback (most recent call last)", "broken.py\", line 6", "in load", "RuntimeError: boom at import"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("traceback lacks %q:\n%s", want, stderr)
		}
	}
	if !strings.Contains(err.Error(), "import broken") || !strings.Contains(err.Error(), "RuntimeError: boom at import") {
		t.Errorf("error %q does not name the module and the exception", err)
	}
}

func TestUnsafeZipRefusedBeforeAnythingRuns(t *testing.T) {
	// A stand-in interpreter that leaves a mark if it is ever started.
	dir := t.TempDir()
	mark := filepath.Join(dir, "ran")
	fake := filepath.Join(dir, "python")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\ntouch "+mark+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	tmpdir := t.TempDir()
	t.Setenv("TMPDIR", tmpdir)
	for _, tc := range []struct {
		name   string
		entry  file
		reason string
	}{
		{"duplicate", file{name: "python/good.py", body: "x"}, "appears twice"},
		{"fifo", file{name: "python/pipe", mode: fs.ModeNamedPipe | 0o644}, "not a regular file"},
		{"zip bomb", file{name: "python/big.bin", body: "x", declare: maxUnzipped + 1}, "more than Lambda's limit"},
		{"dotdot", file{name: "../evil", body: "x"}, `".." would escape`},
		{"nested dotdot", file{name: "python/../../evil.py", body: "x"}, `".." would escape`},
		{"absolute", file{name: "/tmp/evil.py", body: "x"}, "absolute path"},
		{"backslash", file{name: `python\..\..\evil.py`, body: "x"}, "backslash"},
		{"symlink", file{name: "python/passwd", body: "/etc/passwd", mode: fs.ModeSymlink | 0o777}, "symlink"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			zipPath := layer(t, file{name: "python/good.py", body: ""}, tc.entry)
			_, _, err := run(t, zipPath, fake, "good")
			if err == nil {
				t.Fatal("Run accepted the zip")
			}
			if !strings.Contains(err.Error(), tc.reason) || !strings.Contains(err.Error(), strconv.Quote(tc.entry.name)) {
				t.Errorf("error %q does not name entry %q and reason %q", err, tc.entry.name, tc.reason)
			}
			if _, err := os.Stat(mark); err == nil {
				t.Error("the interpreter ran although the zip was refused")
			}
		})
	}
	if left, _ := os.ReadDir(tmpdir); len(left) != 0 {
		t.Errorf("temporary files left behind: %v", left)
	}
}

func TestHostPythonEnvironmentInvisible(t *testing.T) {
	py311 := testenv.FindPython(t, "3.11")
	// A module the caller's PYTHONPATH offers: -E and the clean
	// environment must both keep it out.
	leak := t.TempDir()
	if err := os.WriteFile(filepath.Join(leak, "leaky.py"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PYTHONPATH", leak)
	zipPath := layer(t, file{name: "python/present.py", body: ""})

	cases := []string{"leaky", "opt"} // "opt": the working directory is not on sys.path
	// boto3 is in this interpreter's own site-packages on the test
	// machines; a layer lacking it must fail as it would on Lambda.
	if exec.Command(py311, "-c", "import boto3").Run() == nil {
		cases = append(cases, "boto3")
	} else {
		t.Log("boto3 is not installed in the host's site-packages; not checking it")
	}
	for _, mod := range cases {
		stdout, stderr, err := run(t, zipPath, py311, "present", mod)
		if err == nil {
			t.Errorf("import %s succeeded from outside the layer:\n%s", mod, stdout)
			continue
		}
		if want := lines("present\tok\t-\t-\tMS\t1 compiled", mod+"\tFAILED"); stdout != want {
			t.Errorf("import %s: stdout:\n%s\nwant:\n%s", mod, stdout, want)
		}
		if !strings.Contains(stderr, "No module named '"+mod+"'") {
			t.Errorf("import %s: stderr lacks the ModuleNotFoundError:\n%s", mod, stderr)
		}
	}
}

func TestStandardLibraryIsNoted(t *testing.T) {
	t.Parallel()
	zipPath := layer(t, file{name: "python/present.py", body: ""})
	stdout, stderr, err := run(t, zipPath, testenv.FindPython(t, "3.12"), "json", "sys")
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, stderr)
	}
	got := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	if len(got) != 2 {
		t.Fatalf("stdout:\n%s\nwant two lines", stdout)
	}
	for i, mod := range []string{"json", "sys"} {
		// The standard library's modules are not the layer's: nothing of
		// theirs counts as compiled, and the note comes last.
		f := strings.Split(got[i], "\t")
		if len(f) != 7 || f[0] != mod || f[1] != "ok" || f[3] != "-" || f[4] != "MS" || f[5] != "0 compiled" || f[6] != fromInterpreter {
			t.Errorf("line %q, want %s\\tok\\t<version>\\t-\\tMS\\t0 compiled\\t%s", got[i], mod, fromInterpreter)
		}
	}
}

func TestLayoutLikeOpt(t *testing.T) {
	tmpdir := t.TempDir()
	t.Setenv("TMPDIR", tmpdir)
	zipPath := layer(t,
		file{name: "bin/tool", body: "#!/bin/sh\necho tool\n", mode: 0o755},
		file{name: "python/data.txt", body: "data", mode: 0o644},
		file{name: "python/checkopt.py", body: `import os, shutil, sys
opt = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
assert os.access(os.path.join(opt, "bin", "tool"), os.X_OK), "bin/tool lost its executable bit"
assert not os.access(os.path.join(opt, "python", "data.txt"), os.X_OK), "data.txt became executable"
assert shutil.which("tool") == os.path.join(opt, "bin", "tool"), "bin/ is not on PATH"
assert os.path.basename(opt) == "opt" and os.getcwd() == os.path.dirname(opt), "not laid out under <tmp>/opt"
assert sys.dont_write_bytecode and sys.flags.no_site, "not run with -B -S"
# Read-only, as Lambda mounts /opt.
for p in (__file__, os.path.dirname(__file__), opt):
    assert os.stat(p).st_mode & 0o222 == 0, p + " is writable"
print("noisy\tok\t9")
__version__ = "checked"
`},
	)
	stdout, stderr, err := run(t, zipPath, testenv.FindPython(t, "3.12"), "checkopt")
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, stderr)
	}
	// What the module prints goes to Stderr: Stdout carries results only.
	if stdout != lines("checkopt\tok\tchecked\t-\tMS\t1 compiled") {
		t.Errorf("stdout:\n%s", stdout)
	}
	if !strings.Contains(stderr, "noisy\tok\t9") {
		t.Errorf("the module's own output is lost; stderr:\n%s", stderr)
	}
	if left, _ := os.ReadDir(tmpdir); len(left) != 0 {
		t.Errorf("temporary directory not removed: %v", left)
	}
}

func TestInterpreterCrashBlamesModule(t *testing.T) {
	t.Parallel()
	zipPath := layer(t,
		file{name: "python/fine.py", body: ""},
		file{name: "python/crasher.py", body: "import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)\n"},
	)
	stdout, stderr, err := run(t, zipPath, testenv.FindPython(t, "3.12"), "fine", "crasher")
	if err == nil {
		t.Fatal("Run succeeded although the interpreter died")
	}
	if want := lines("fine\tok\t-\t-\tMS\t1 compiled", "crasher\tFAILED"); stdout != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", stdout, want)
	}
	if !strings.Contains(err.Error(), "crasher") || !strings.Contains(err.Error(), "segmentation fault") {
		t.Errorf("error %q does not name the module and the signal", err)
	}
	if !strings.Contains(stderr, "Fatal Python error") || !strings.Contains(stderr, "crasher.py") {
		t.Errorf("stderr lacks the faulthandler traceback:\n%s", stderr)
	}
}

func TestBadOptions(t *testing.T) {
	t.Parallel()
	good := layer(t, file{name: "python/m.py", body: ""})
	notZip := filepath.Join(t.TempDir(), "layer.zip")
	if err := os.WriteFile(notZip, []byte("not a zip"), 0o644); err != nil {
		t.Fatal(err)
	}
	python := testenv.FindPython(t, "3.12")
	for _, tc := range []struct {
		name string
		opts Options
		want string
	}{
		{"no zip", Options{Python: python, Modules: []string{"m"}}, "no layer zip"},
		{"no python", Options{Zip: good, Modules: []string{"m"}}, "no interpreter"},
		{"no modules", Options{Zip: good, Python: python}, "no module"},
		{"option-like module", Options{Zip: good, Python: python, Modules: []string{"-c"}}, `"-c" is not a module name`},
		{"relative module", Options{Zip: good, Python: python, Modules: []string{".m"}}, "not a module name"},
		{"empty part", Options{Zip: good, Python: python, Modules: []string{"a..b"}}, "not a module name"},
		{"digit first", Options{Zip: good, Python: python, Modules: []string{"1m"}}, "not a module name"},
		{"missing zip", Options{Zip: notZip + ".missing", Python: python, Modules: []string{"m"}}, notZip + ".missing"},
		{"not a zip", Options{Zip: notZip, Python: python, Modules: []string{"m"}}, notZip},
		{"missing interpreter", Options{Zip: good, Python: "/nonexistent/python3.12", Modules: []string{"m"}}, "/nonexistent/python3.12"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Run(context.Background(), tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Run = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}
