package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/galerly/galerly-lambda/internal/testenv"
)

func digest(n int) string { return fmt.Sprintf("%064x", n) }

// `key` reads every lock shape pip-compile and uv write: a universal lock
// (a package per Python range), index lines (which do not change the key)
// and -r includes (which do, through what they pin). It refuses two lines
// that apply to one runtime, a marker left open by a patch release, and an
// include that leaves the project folder, each with exit 1 naming the file
// and line.
func TestKeyReadsEveryRequirementsShape(t *testing.T) {
	dir := testenv.WriteTree(t, t.TempDir(), map[string]string{
		"go.mod": "module x\n",
		"locks/universal.txt": "numpy==2.0.2 ; python_full_version < '3.12' \\\n    --hash=sha256:" + digest(1) + "\n" +
			"numpy==2.1.3 ; python_full_version >= '3.12' \\\n    --hash=sha256:" + digest(2) + "\n",
		"locks/py311.txt": "numpy==2.0.2 --hash=sha256:" + digest(1) + "\n",
		"locks/indexed.txt": "--index-url https://ci:s3cret@pypi.private.example/simple\n--extra-index-url https://pypi.org/simple\n" +
			"numpy==2.0.2 --hash=sha256:" + digest(1) + "\n",
		"locks/includes.txt": "-r universal.txt\n",
		"locks/overlap.txt": "numpy==2.0.2 ; python_version < '3.13' --hash=sha256:" + digest(1) + "\n" +
			"numpy==2.1.3 ; python_version >= '3.12' --hash=sha256:" + digest(2) + "\n",
		"locks/patch.txt": "redis==5.2.1 --hash=sha256:" + digest(4) + "\n" +
			"async-timeout==5.0.1 ; python_full_version < '3.11.3' --hash=sha256:" + digest(3) + "\n",
		"locks/escape.txt": "-r ../../elsewhere.txt\n",
	})
	lockPath := func(name string) string { return filepath.Join(dir, "locks", name) }
	key := func(name string, runtimes ...string) result {
		args := []string{"key", "--lock", lockPath(name), "--arch", "x86_64"}
		for _, r := range runtimes {
			args = append(args, "--runtime", r)
		}
		return lambdapack(args...)
	}
	ok := func(r result) string {
		t.Helper()
		if r.code != 0 || len(r.stdout) != 65 {
			t.Fatalf("exit %d, stdout %q, stderr %s", r.code, r.stdout, r.stderr)
		}
		return r.stdout
	}
	if ok(key("universal.txt", "python3.11")) != ok(key("py311.txt", "python3.11")) {
		t.Error("python3.11's key of the universal lock is not that of its python3.11 lines")
	}
	if ok(key("indexed.txt", "python3.11")) != ok(key("py311.txt", "python3.11")) {
		t.Error("index lines changed the key")
	}
	if ok(key("includes.txt", "python3.11", "python3.12")) != ok(key("universal.txt", "python3.11", "python3.12")) {
		t.Error("a lock that only includes another has another key")
	}
	ok(key("overlap.txt", "python3.11"))
	ok(key("patch.txt", "python3.12"))
	for _, c := range []struct {
		name    string
		runtime string
		want    string
	}{
		{"overlap.txt", "python3.12", "overlap.txt:2: numpy==2.1.3 here and numpy==2.0.2 on line 1 both apply to python3.12/x86_64"},
		{"patch.txt", "python3.11", `patch.txt:2: async-timeout==5.0.1: python_full_version < "3.11.3" is true on some python3.11 patch releases and false on others`},
		{"escape.txt", "python3.12", "escape.txt:1: -r ../../elsewhere.txt: "},
	} {
		r := key(c.name, c.runtime)
		if r.code != 1 || !strings.Contains(r.stderr, c.want) || r.stdout != "" {
			t.Errorf("%s on %s: exit %d, stderr %q; want exit 1 and %q", c.name, c.runtime, r.code, r.stderr, c.want)
		}
	}
	if r := key("escape.txt", "python3.12"); !strings.Contains(r.stderr, "is outside the project folder "+dir) {
		t.Errorf("escape: %s, want it to name the project folder %s (the one with go.mod)", r.stderr, dir)
	}
}

// `key` refuses a pylock.toml whose wheels cannot run on the target, with
// exit 1 and the words `layer` uses, before any download: here a
// manylinux_2_28 wheel for python3.11 (Amazon Linux 2 has glibc 2.26),
// and no aarch64 wheel for arm64. The same lock passes where it fits.
func TestKeyChecksPylockFit(t *testing.T) {
	dir := t.TempDir()
	pylock := filepath.Join(dir, "pylock.toml")
	text := "lock-version = \"1.0\"\ncreated-by = \"uv\"\nrequires-python = \">=3.11\"\n\n[[packages]]\nname = \"pillow\"\nversion = \"11.0.0\"\nwheels = [\n" +
		"  { url = \"https://files.pythonhosted.org/packages/pillow-11.0.0-cp311-cp311-manylinux_2_28_x86_64.whl\", hashes = { sha256 = \"" + digest(1) + "\" } },\n" +
		"  { url = \"https://files.pythonhosted.org/packages/pillow-11.0.0-cp312-cp312-manylinux_2_28_x86_64.whl\", hashes = { sha256 = \"" + digest(2) + "\" } },\n]\n"
	if err := os.WriteFile(pylock, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		runtime, arch, want string
	}{
		{"python3.12", "x86_64", ""},
		{"python3.11", "x86_64", pylock + ":5: pillow 11.0.0: no wheel fits python3.11/x86_64 (2 files considered):\n  pillow-11.0.0-cp311-cp311-manylinux_2_28_x86_64.whl: python3.11: manylinux_2_28 needs glibc 2.28; python3.11 runs on glibc 2.26 (Amazon Linux 2)"},
		{"python3.12", "arm64", "pillow 11.0.0: no wheel fits python3.12/arm64"},
	} {
		r := lambdapack("key", "--lock", pylock, "--runtime", c.runtime, "--arch", c.arch)
		switch {
		case c.want == "" && r.code != 0:
			t.Errorf("%s/%s: exit %d: %s", c.runtime, c.arch, r.code, r.stderr)
		case c.want != "" && (r.code != 1 || !strings.Contains(r.stderr, c.want)):
			t.Errorf("%s/%s: exit %d, stderr %q; want exit 1 and %q", c.runtime, c.arch, r.code, r.stderr, c.want)
		}
	}
	// `layer` refuses it with the same words, before writing anything.
	out := filepath.Join(dir, "layer.zip")
	r := lambdapack("layer", "--lock", pylock, "--runtime", "python3.11", "--arch", "x86_64", "--out", out, "--no-bytecode", "--cache", t.TempDir(), "--index-url", "http://127.0.0.1:9/simple/")
	if r.code != 1 || !strings.Contains(r.stderr, "pillow 11.0.0: no wheel fits python3.11/x86_64") {
		t.Errorf("layer: exit %d, stderr %q", r.code, r.stderr)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("layer wrote a zip for a lock it refused")
	}
}
