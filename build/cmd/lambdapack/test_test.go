package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

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
