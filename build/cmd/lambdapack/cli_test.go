package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// check prints one tab-separated verdict per file, in the order given, and
// exits 1 when any does not fit.
func TestCheck(t *testing.T) {
	cases := []struct {
		name     string
		runtimes []string
		arch     string
		file     string
		verdict  string // "ok" or a substring of the reason after "no\t"
	}{
		{"prod numpy on 3.11", []string{"python3.11"}, "x86_64", "numpy-2.1.3-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", "ok"},
		{"cp311 on 3.12", []string{"python3.12"}, "x86_64", "numpy-2.1.3-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", "cp311 wheel, runtime python3.12 needs cp312 or abi3"},
		{"glibc 2.28 on 3.11", []string{"python3.11"}, "x86_64", "rawpy-0.26.1-cp311-cp311-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl", "needs glibc 2.27; python3.11 runs on glibc 2.26"},
		{"glibc 2.28 on 3.12", []string{"python3.12"}, "x86_64", "rawpy-0.26.1-cp312-cp312-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl", "ok"},
		{"pure on both", []string{"python3.11", "python3.12"}, "arm64", "stripe-11.6.0-py2.py3-none-any.whl", "ok"},
		{"wrong arch", []string{"python3.12"}, "arm64", "pillow-11.0.0-cp312-cp312-manylinux_2_28_x86_64.whl", "x86_64 wheel"},
		{"musllinux", []string{"python3.12"}, "x86_64", "pillow-11.0.0-cp312-cp312-musllinux_1_2_x86_64.whl", "musl"},
		{"macOS", []string{"python3.12"}, "x86_64", "pillow-11.0.0-cp312-cp312-macosx_11_0_arm64.whl", "macOS"},
		{"one of two runtimes", []string{"python3.11", "python3.12"}, "x86_64", "numpy-2.1.3-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", "python3.11: cp312 wheel"},
		{"sdist", []string{"python3.12"}, "x86_64", "numpy-2.1.3.tar.gz", "source distribution"},
		{"not a wheel name", []string{"python3.12"}, "x86_64", "numpy-cp312.whl", "numpy-cp312.whl"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := []string{"check", "--arch", c.arch}
			for _, r := range c.runtimes {
				args = append(args, "--runtime", r)
			}
			r := lambdapack(append(args, c.file)...)
			line := strings.TrimSuffix(r.stdout, "\n")
			fields := strings.SplitN(line, "\t", 3)
			if fields[0] != c.file {
				t.Fatalf("line %q does not start with the filename", line)
			}
			if c.verdict == "ok" {
				if line != c.file+"\tok" || r.code != 0 {
					t.Errorf("got %q exit %d, want ok exit 0", line, r.code)
				}
				return
			}
			if len(fields) != 3 || fields[1] != "no" || !strings.Contains(fields[2], c.verdict) || r.code != 1 {
				t.Errorf("got %q exit %d, want no with a reason containing %q, exit 1", line, r.code, c.verdict)
			}
		})
	}

	r := lambdapack("check", "--runtime", "python3.12", "--arch", "x86_64",
		"a-1.0-py3-none-any.whl", "b-1.0-cp311-cp311-manylinux2014_x86_64.whl", "c-1.0-py3-none-any.whl")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "a-") || !strings.HasPrefix(lines[1], "b-1.0-cp311-cp311-manylinux2014_x86_64.whl\tno\t") || !strings.HasPrefix(lines[2], "c-") || r.code != 1 {
		t.Errorf("several files: exit %d, lines %q", r.code, lines)
	}
}

// key prints 64 hex digits that follow the lock's meaning, not its text.
func TestKey(t *testing.T) {
	dir := t.TempDir()
	h1, h2 := strings.Repeat("a", 64), strings.Repeat("b", 64)
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	base := write("base.txt", "numpy==2.1.3 --hash=sha256:"+h1+" --hash=sha256:"+h2+"\nPillow==11.0.0 --hash=sha256:"+h1+"\n")
	same := write("same.txt", "# comment\npillow==11.0.0 \\\n    --hash=sha256:"+h1+"\n    # via -r x.in\nNumPy==2.1.3 \\\n  --hash=sha256:"+h2+" \\\n  --hash=sha256:"+h1+"\n")
	other := write("other.txt", "numpy==2.1.2 --hash=sha256:"+h1+" --hash=sha256:"+h2+"\nPillow==11.0.0 --hash=sha256:"+h1+"\n")
	key := func(lock string, extra ...string) string {
		t.Helper()
		r := lambdapack(append([]string{"key", "--lock", lock, "--arch", "x86_64", "--runtime", "python3.12"}, extra...)...)
		if r.code != 0 {
			t.Fatalf("key failed (%d): %s", r.code, r.stderr)
		}
		if !regexp.MustCompile(`^[0-9a-f]{64}\n$`).MatchString(r.stdout) {
			t.Fatalf("key printed %q, want 64 hex digits and a newline", r.stdout)
		}
		return r.stdout
	}
	k := key(base)
	if key(same) != k {
		t.Error("comments, order, spelling, continuations or hash order changed the key")
	}
	if key(other) == k {
		t.Error("a changed version left the key alone")
	}
	if key(base, "--runtime", "python3.11") == k {
		t.Error("an added runtime left the key alone")
	}
}

// Bad usage exits 2 with a message naming what is wrong; a bad lock is a
// failed build (exit 1) naming the file and line.
func TestUsageAndLockErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.txt")
	os.WriteFile(bad, []byte("# ok\nnumpy==2.1.3\n"), 0o644)
	cases := []struct {
		args []string
		code int
		want string
	}{
		{nil, 2, "usage: lambdapack"},
		{[]string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{[]string{"key", "--runtime", "python3.12", "--arch", "x86_64"}, 2, "--lock is required"},
		{[]string{"key", "--lock", bad, "--arch", "x86_64"}, 2, "--runtime is required"},
		{[]string{"key", "--lock", bad, "--runtime", "python3.12"}, 2, "--arch is required"},
		{[]string{"key", "--lock", bad, "--runtime", "python3.12", "--arch", "amd64"}, 2, "x86_64 or arm64"},
		{[]string{"key", "--bogus"}, 2, "bogus"},
		{[]string{"check", "--runtime", "python3.12", "--arch", "x86_64"}, 2, "no wheel filename"},
		{[]string{"layer", "--lock", bad, "--runtime", "python3.12", "--arch", "x86_64"}, 2, "--out is required"},
		{[]string{"test", "--zip", "x.zip", "--python", "python3"}, 2, "--import"},
		{[]string{"layer", "--lock", bad, "--runtime", "python3.12", "--arch", "x86_64", "--out", filepath.Join(dir, "l.zip"), "--python", "3.13=/usr/bin/python3"}, 2, "the build is for python3.12/x86_64, not python3.13"},
		{[]string{"layer", "--lock", bad, "--runtime", "python3.12", "--arch", "x86_64", "--out", filepath.Join(dir, "l.zip"), "--python", "3.12=/usr/bin/python3", "--no-bytecode"}, 2, "no interpreter is used"},
		{[]string{"function", "--src", dir, "--runtime", "python3.12", "--arch", "x86_64", "--out", filepath.Join(t.TempDir(), "f.zip"), "--python", "python3"}, 2, "--python"},
		{[]string{"key", "--lock", bad, "--runtime", "python3.12", "--arch", "x86_64"}, 1, "bad.txt:2"},
		{[]string{"key", "--lock", filepath.Join(dir, "missing.txt"), "--runtime", "python3.12", "--arch", "x86_64"}, 1, "missing.txt"},
	}
	for _, c := range cases {
		r := lambdapack(c.args...)
		if r.code != c.code || !strings.Contains(r.stderr, c.want) {
			t.Errorf("lambdapack %q: exit %d, stderr %q; want exit %d and %q", c.args, r.code, r.stderr, c.code, c.want)
		}
		if r.code != 0 && r.stdout != "" {
			t.Errorf("lambdapack %q printed on stdout on failure: %q", c.args, r.stdout)
		}
	}
}
