package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/galerly/galerly-lambda/internal/testenv"
)

// `lambdapack test` prints one tab-separated line per module, the first
// three fields as before (module, ok, version) and then the distribution,
// the import time and how many modules were compiled from source.
// --expect-bytecode turns a module compiled at import into exit 1, naming
// it; =false never does.
func TestTestCommandBytecode(t *testing.T) {
	python := testenv.FindPython(t, "3.12")
	zipPath := filepath.Join(t.TempDir(), "layer.zip")
	if err := os.WriteFile(zipPath, zipOf(t, "python/srconly.py", "__version__ = '0.1'\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	line := regexp.MustCompile(`^srconly\tok\t0\.1\t-\t[0-9]+\.[0-9]ms\t1 compiled\n$`)
	for _, tc := range []struct {
		flags  []string
		code   int
		stderr string
	}{
		{nil, 0, ""},
		{[]string{"--expect-bytecode=false"}, 0, ""},
		{[]string{"--expect-bytecode"}, 1, "lambdapack test: layer " + zipPath + ": python3.12 compiled 1 module from source at import (on Lambda, at every cold start), although bytecode was required (--expect-bytecode) and the layer holds none for cpython-312 (build it without --no-bytecode): srconly (/opt/python/srconly.py: no .pyc for cpython-312)\n"},
		{[]string{"--expect-bytecode=true"}, 1, "srconly (/opt/python/srconly.py"},
	} {
		args := append([]string{"test", "--zip", zipPath, "--python", python, "--import", "srconly"}, tc.flags...)
		r := lambdapack(args...)
		if r.code != tc.code || !line.MatchString(r.stdout) || !strings.Contains(r.stderr, tc.stderr) {
			t.Errorf("lambdapack %q: exit %d, stdout %q, stderr %q; want exit %d, stdout %s, stderr with %q", args[5:], r.code, r.stdout, r.stderr, tc.code, line, tc.stderr)
		}
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--import", "srconly", "--expect-bytecode=maybe"}, `invalid boolean value "maybe" for -expect-bytecode: want true or false`},
		{[]string{"--import", "srconly", "json"}, `unexpected argument "json" (give each module with its own --import)`},
	} {
		r := lambdapack(append([]string{"test", "--zip", zipPath, "--python", python}, tc.args...)...)
		if r.code != 2 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("lambdapack test %q: exit %d, stderr %q; want exit 2 and %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
}

// --timeout bounds the interpreter's start and the imports: a module that
// sleeps at import fails the test at the deadline (exit 1), named, with
// the modules before it reported. A name that is not a module is a usage
// error (exit 2), clipped when it is huge.
func TestTestCommandTimeoutAndUsage(t *testing.T) {
	python := testenv.FindPython(t, "3.12")
	zipPath := filepath.Join(t.TempDir(), "layer.zip")
	if err := os.WriteFile(zipPath, zipOf(t, "python/sleepy.py", "import time\ntime.sleep(600)\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	r := lambdapackWithin(t, 30*time.Second, "test", "--zip", zipPath, "--python", python, "--import", "json", "--import", "sleepy", "--timeout", "2s")
	if took := time.Since(start); took > 8*time.Second {
		t.Errorf("took %v with --timeout 2s", took)
	}
	want := "lambdapack test: layer " + zipPath + ": test with python3.12 stopped while importing sleepy: the --timeout of 2s ran out; the interpreter was killed with the processes it started\n"
	if r.code != exitFail || r.stderr != want || !strings.HasPrefix(r.stdout, "json\tok\t") || !strings.HasSuffix(r.stdout, "\nsleepy\tFAILED\n") {
		t.Errorf("exit %d, stdout %q, stderr %q; want exit 1 and %q", r.code, r.stdout, r.stderr, want)
	}

	huge := strings.Repeat("x-", 1<<20)
	for _, c := range []struct{ module, want string }{
		{"-c", `lambdapack test: --import "-c" is not a module name (want dotted identifiers, e.g. PIL.Image)`},
		{"a..b", `--import "a..b" is not a module name`},
		{huge, `--import "` + huge[:200] + `"... (2097152 bytes) is not a module name`},
	} {
		r := lambdapack("test", "--zip", zipPath, "--python", python, "--import", c.module)
		if r.code != exitUsage || !strings.Contains(r.stderr, c.want) || len(r.stderr) > 1000 {
			t.Errorf("--import %.20q: exit %d, stderr %.300q; want exit 2 and %.300q", c.module, r.code, r.stderr, c.want)
		}
	}
	if r := lambdapack("test", "--zip", zipPath, "--python", python, "--import", "json", "--timeout", "0s"); r.code != exitUsage {
		t.Errorf("--timeout 0s: exit %d, want 2", r.code)
	}
}
