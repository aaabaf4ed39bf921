package main

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/galerly/galerly-lambda/build/internal/wheeltest"
)

// writeWheelhousePylock writes a pylock.toml for the wheelhouse, shaped as
// `uv export --format pylock.toml` writes it: one wheels array per package
// whose urls point at files (a wheeltest server), oldonly limited by a
// marker to python < 3.12, plus an sdist beside purepkg, and a docs group
// with a package of its own.
func writeWheelhousePylock(t *testing.T, w *wheelhouse, files *wheeltest.Index, path string) {
	t.Helper()
	base := strings.TrimSuffix(files.URL, "/simple/") + "/files/"
	wheelsOf := func(project string) string {
		var lines []string
		for _, p := range w.wheels {
			name := filepath.Base(p)
			if strings.HasPrefix(strings.ToLower(name), project+"-") {
				lines = append(lines, fmt.Sprintf("    { url = %q, hashes = { sha256 = %q } },", base+url.PathEscape(name), w.sums[name]))
			}
		}
		slices.Sort(lines)
		return "wheels = [\n" + strings.Join(lines, "\n") + "\n]\n"
	}
	text := "lock-version = \"1.0\"\ncreated-by = \"uv\"\nrequires-python = \">=3.11\"\ndependency-groups = [\"docs\"]\n" +
		"\n[[packages]]\nname = \"datapkg\"\nversion = \"0.1\"\nindex = \"https://pypi.org/simple\"\n" + wheelsOf("datapkg") +
		"\n[[packages]]\nname = \"docsonly\"\nversion = \"1.0\"\nmarker = \"'docs' in dependency_groups\"\n" + wheelsOf("docsonly") +
		"\n[[packages]]\nname = \"oldonly\"\nversion = \"1.0\"\nmarker = \"python_full_version < '3.12'\"\n" + wheelsOf("oldonly") +
		"\n[[packages]]\nname = \"purepkg\"\nversion = \"2.0\"\nsdist = { url = \"" + base + "purepkg-2.0.tar.gz\", hashes = { sha256 = \"" + strings.Repeat("5", 64) + "\" } }\n" + wheelsOf("purepkg") +
		"\n[[packages]]\nname = \"tinyext\"\nversion = \"1.0\"\n" + wheelsOf("tinyext")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// `lambdapack layer --lock pylock.toml` on a cold cache downloads the
// wheels from the lock's urls and asks the index (--index-url) nothing; it
// gives the same zip, under the same key, as the requirements lock of the
// same pins through the index, which the real interpreters import (see
// TestLayerImportsUnderBothRuntimes).
func TestLayerFromPylock(t *testing.T) {
	w := newWheelhouse(t)
	docs, sum, err := wheeltest.Pure(w.dir, "docsonly", "1.0", map[string]string{"docsonly.py": ""})
	if err != nil {
		t.Fatal(err)
	}
	w.wheels, w.sums[filepath.Base(docs)] = append(w.wheels, docs), sum
	files := wheeltest.ServeIndex(t, w.wheels, wheeltest.JSON)
	ix := wheeltest.ServeIndex(t, w.wheels, wheeltest.JSON)
	pylock := filepath.Join(t.TempDir(), "pylock.toml")
	writeWheelhousePylock(t, w, files, pylock)
	// The sdist's digest is in the key: the requirements lock lists it too.
	w.writeLock(t, w.lock, func(s string) string {
		return strings.Replace(s, "PurePkg==2.0", "PurePkg==2.0 \\\n    --hash=sha256:"+strings.Repeat("5", 64), 1)
	})
	target := []string{"--runtime", "python3.11", "--runtime", "python3.12", "--arch", arch(t)}

	fromPylock, r := buildLayer(t, append(target, "--lock", pylock, "--index-url", ix.URL, "--cache", t.TempDir(), "--out", filepath.Join(t.TempDir(), "a.zip"))...)
	if r.code != 0 {
		t.Fatalf("layer from pylock.toml failed (%d): %s", r.code, r.stderr)
	}
	if n := ix.Requests(); n != 0 {
		t.Errorf("the cold pylock build asked the index %d times: %v", n, ix.Paths())
	}
	for path, n := range files.Paths() {
		if !strings.HasPrefix(path, "/files/") || n != 1 {
			t.Errorf("the lock's file host got %d requests for %s", n, path)
		}
	}
	fromReqs, r := buildLayer(t, append(target, "--lock", w.lock, "--index-url", ix.URL, "--cache", t.TempDir(), "--out", filepath.Join(t.TempDir(), "b.zip"))...)
	if r.code != 0 {
		t.Fatalf("layer from requirements failed (%d): %s", r.code, r.stderr)
	}
	if fromPylock.Key != fromReqs.Key || fromPylock.SHA256 != fromReqs.SHA256 || len(fromPylock.Packages) != 5 {
		t.Errorf("pylock: key %s sha256 %s %d packages; requirements: key %s sha256 %s", fromPylock.Key, fromPylock.SHA256, len(fromPylock.Packages), fromReqs.Key, fromReqs.SHA256)
	}
	key := lambdapack(append([]string{"key", "--lock", pylock}, target...)...)
	if key.code != 0 || strings.TrimSpace(key.stdout) != fromPylock.Key {
		t.Errorf("key --lock pylock.toml printed %q (%d %s), the build's key is %s", key.stdout, key.code, key.stderr, fromPylock.Key)
	}
	withDocs := lambdapack(append([]string{"key", "--lock", pylock, "--group", "docs"}, target...)...)
	if withDocs.code != 0 || strings.TrimSpace(withDocs.stdout) == fromPylock.Key {
		t.Errorf("key --group docs printed %q (%d %s): want a key other than the default install's", withDocs.stdout, withDocs.code, withDocs.stderr)
	}
}

// The selection flags are refused where they cannot mean anything, and a
// name the lock does not declare is a failed build naming the lock's line.
func TestSelectionFlags(t *testing.T) {
	dir := t.TempDir()
	reqs := filepath.Join(dir, "requirements.txt")
	os.WriteFile(reqs, []byte("a==1 --hash=sha256:"+strings.Repeat("a", 64)+"\n"), 0o644)
	pylock := filepath.Join(dir, "pylock.toml")
	os.WriteFile(pylock, []byte("lock-version = \"1.0\"\nextras = [\"fast\"]\n[[packages]]\nname = \"a\"\nversion = \"1\"\nwheels = [{ url = \"http://127.0.0.1:9/a-1-py3-none-any.whl\", hashes = { sha256 = \""+strings.Repeat("a", 64)+"\" } }]\n"), 0o644)
	badName := filepath.Join(dir, "uv.toml")
	os.WriteFile(badName, []byte("x = 1\n"), 0o644)
	target := []string{"--runtime", "python3.12", "--arch", "x86_64"}
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"key", "--lock", reqs, "--extra", "fast"}, 2, "--extra fast: extras and dependency groups are chosen in a pylock.toml lock"},
		{[]string{"layer", "--lock", reqs, "--group", "dev", "--out", filepath.Join(dir, "x.zip")}, 2, "--group dev: extras and dependency groups"},
		{[]string{"function", "--src", dir, "--no-default-groups", "--out", filepath.Join(t.TempDir(), "x.zip")}, 2, "--no-default-groups: needs --lock"},
		{[]string{"key", "--lock", pylock, "--extra", "slow"}, 1, "pylock.toml:2: extras: \"slow\" is not an extra this lock declares (it declares fast)"},
		{[]string{"key", "--lock", badName}, 1, "must be named pylock.toml or pylock.NAME.toml"},
	}
	for _, c := range cases {
		r := lambdapack(append(c.args, target...)...)
		if r.code != c.code || !strings.Contains(r.stderr, c.want) {
			t.Errorf("lambdapack %q: exit %d, stderr %q; want exit %d and %q", c.args, r.code, r.stderr, c.code, c.want)
		}
	}
	if r := lambdapack(append([]string{"key", "--lock", pylock, "--extra", "FAST"}, target...)...); r.code != 0 {
		t.Errorf("a declared extra, spelled otherwise: exit %d: %s", r.code, r.stderr)
	}
}
