package build

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/galerly/galerly-lambda/build/cache"
	"github.com/galerly/galerly-lambda/build/index"
	"github.com/galerly/galerly-lambda/build/internal/wheeltest"
	"github.com/galerly/galerly-lambda/build/lock"
	"github.com/galerly/galerly-lambda/build/target"
)

// pylockWheel is one wheel a pylock test writes into its lock.
type pylockWheel struct {
	name, version, path, sum string
	size                     int64
}

// pylockWheels writes pure wheels alpha 1.0, bravo 2.0 and charlie 3.0
// into dir.
func pylockWheels(t *testing.T, dir string) []pylockWheel {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var out []pylockWheel
	for _, p := range [][2]string{{"alpha", "1.0"}, {"bravo", "2.0"}, {"charlie", "3.0"}} {
		path, sum, err := wheeltest.Pure(dir, p[0], p[1], map[string]string{p[0] + ".py": "NAME = '" + p[0] + "'\n"})
		if err != nil {
			t.Fatal(err)
		}
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, pylockWheel{p[0], p[1], path, sum, st.Size()})
	}
	return out
}

// writePylock writes a uv-shaped pylock.toml for wheels, with each wheel's
// location given by where (a url = or path = line's value part).
func writePylock(t *testing.T, path string, wheels []pylockWheel, where func(w pylockWheel) string) {
	t.Helper()
	var b strings.Builder
	b.WriteString("lock-version = \"1.0\"\ncreated-by = \"test\"\nrequires-python = \">=3.11\"\n")
	for _, w := range wheels {
		fmt.Fprintf(&b, "\n[[packages]]\nname = %q\nversion = %q\nwheels = [{ %s, size = %d, hashes = { sha256 = %q } }]\n",
			w.name, w.version, where(w), w.size, w.sum)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// fileURL is where a wheeltest index serves the file at path.
func fileURL(ix *wheeltest.Index, path string) string {
	return strings.TrimSuffix(ix.URL, "/simple/") + "/files/" + url.PathEscape(filepath.Base(path))
}

func py312(t *testing.T) target.Target {
	t.Helper()
	tg, err := target.New([]string{"python3.12"}, "x86_64")
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

// A cold build from a pylock.toml downloads exactly the files its urls
// name and asks no index anything, even with an index configured; the
// layer is byte for byte the one a requirements file with the same pins
// and digests builds through that index, under the same key.
func TestLayerFromPylockAsksNoIndex(t *testing.T) {
	wheels := pylockWheels(t, t.TempDir())
	var paths []string
	for _, w := range wheels {
		paths = append(paths, w.path)
	}
	files := wheeltest.ServeIndex(t, paths, wheeltest.JSON) // where the lock's urls point
	ix := wheeltest.ServeIndex(t, paths, wheeltest.JSON)    // the --index-url
	pylock := filepath.Join(t.TempDir(), "pylock.toml")
	writePylock(t, pylock, wheels, func(w pylockWheel) string { return fmt.Sprintf("url = %q", fileURL(files, w.path)) })

	var log bytes.Buffer
	opts := LayerOptions{
		Lock:     pylock,
		Target:   py312(t),
		Out:      filepath.Join(t.TempDir(), "layer.zip"),
		Sources:  index.Sources{IndexURL: ix.URL},
		CacheDir: t.TempDir(),
		Log:      &log,
	}
	res, err := Layer(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if n := ix.Requests(); n != 0 {
		t.Errorf("the index got %d requests: %v", n, ix.Paths())
	}
	want := map[string]int{}
	for _, w := range wheels {
		want["/files/"+filepath.Base(w.path)] = 1
	}
	if got := files.Paths(); !mapsEqual(got, want) {
		t.Errorf("requests to the lock's urls: %v, want each wheel once: %v", got, want)
	}
	var names []string
	for _, p := range res.Packages {
		names = append(names, p.Name+"=="+p.Version+" "+p.Wheel)
	}
	if !slices.Equal(names, []string{"alpha==1.0 alpha-1.0-py3-none-any.whl", "bravo==2.0 bravo-2.0-py3-none-any.whl", "charlie==3.0 charlie-3.0-py3-none-any.whl"}) {
		t.Errorf("packages %q", names)
	}
	key, err := LayerKeyOf(opts)
	if err != nil || res.Key != key {
		t.Errorf("report key %s, LayerKeyOf %s (%v)", res.Key, key, err)
	}

	// The same pins as a requirements file, built through the index.
	var reqText strings.Builder
	for _, w := range wheels {
		fmt.Fprintf(&reqText, "%s==%s --hash=sha256:%s\n", w.name, w.version, w.sum)
	}
	reqs := filepath.Join(t.TempDir(), "requirements.txt")
	if err := os.WriteFile(reqs, []byte(reqText.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	opts.Lock, opts.Out, opts.CacheDir = reqs, filepath.Join(t.TempDir(), "layer.zip"), t.TempDir()
	fromReqs, err := Layer(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if ix.Count("/simple/alpha/") != 1 {
		t.Errorf("the requirements build did not use the index: %v", ix.Paths())
	}
	if fromReqs.Key != res.Key || fromReqs.SHA256 != res.SHA256 {
		t.Errorf("requirements build: key %s sha256 %s; pylock build: key %s sha256 %s", fromReqs.Key, fromReqs.SHA256, res.Key, res.SHA256)
	}
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// path entries are files relative to the lock's folder: the build reads
// them from disk and makes no request at all.
func TestLayerFromPylockPaths(t *testing.T) {
	project := t.TempDir()
	wheels := pylockWheels(t, filepath.Join(project, "wheels"))
	lockPath := filepath.Join(project, "locks", "pylock.layer.toml")
	writePylock(t, lockPath, wheels, func(w pylockWheel) string {
		return fmt.Sprintf("path = %q", "../wheels/"+filepath.Base(w.path))
	})
	ix := wheeltest.ServeIndex(t, nil, wheeltest.JSON)
	// Run from another folder: the paths are the lock's, not the caller's.
	t.Chdir(t.TempDir())
	res, err := Layer(context.Background(), LayerOptions{
		Lock:     lockPath,
		Target:   py312(t),
		Out:      filepath.Join(t.TempDir(), "layer.zip"),
		Sources:  index.Sources{IndexURL: ix.URL},
		CacheDir: t.TempDir(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Packages) != 3 || ix.Requests() != 0 {
		t.Errorf("packages %+v, index requests %v", res.Packages, ix.Paths())
	}
}

// A wheel with neither url nor path, in a package that names an index, is
// found on --index-url by its digest; a wheel in a --find-links folder is
// copied from there rather than downloaded.
func TestLayerFromPylockIndexAndFindLinks(t *testing.T) {
	wheels := pylockWheels(t, t.TempDir())
	alpha, bravo, charlie := wheels[0], wheels[1], wheels[2]
	ix := wheeltest.ServeIndex(t, []string{alpha.path}, wheeltest.HTML)
	files := wheeltest.ServeIndex(t, []string{bravo.path, charlie.path}, wheeltest.JSON)
	links := t.TempDir()
	data, err := os.ReadFile(charlie.path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(links, filepath.Base(charlie.path)), data, 0o644); err != nil {
		t.Fatal(err)
	}
	pylock := filepath.Join(t.TempDir(), "pylock.toml")
	writePylock(t, pylock, wheels, func(w pylockWheel) string {
		if w.name == "alpha" {
			return fmt.Sprintf("name = %q", filepath.Base(w.path))
		}
		return fmt.Sprintf("url = %q", fileURL(files, w.path))
	})
	text, _ := os.ReadFile(pylock)
	text = bytes.Replace(text, []byte("name = \"alpha\"\n"), []byte("name = \"alpha\"\nindex = \"https://pypi.org/simple\"\n"), 1)
	os.WriteFile(pylock, text, 0o644)

	res, err := Layer(context.Background(), LayerOptions{
		Lock:     pylock,
		Target:   py312(t),
		Out:      filepath.Join(t.TempDir(), "layer.zip"),
		Sources:  index.Sources{IndexURL: ix.URL, FindLinks: []string{links}},
		CacheDir: t.TempDir(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Packages) != 3 {
		t.Fatalf("packages %+v", res.Packages)
	}
	if ix.Count("/simple/alpha/") != 1 || ix.Count("/simple/bravo/") != 0 || ix.Count("/simple/charlie/") != 0 {
		t.Errorf("index requests %v: want alpha's page only", ix.Paths())
	}
	if got := files.Paths(); !mapsEqual(got, map[string]int{"/files/" + filepath.Base(bravo.path): 1}) {
		t.Errorf("downloads %v: want bravo only (charlie is in --find-links)", got)
	}
}

// The lock's declared size is held to: a file that is larger is cut off
// and not kept, one that is smaller is refused (it has the lock's sha256,
// so the lock contradicts itself); no zip is written.
func TestLayerFromPylockChecksSize(t *testing.T) {
	wheels := pylockWheels(t, t.TempDir())[:1]
	files := wheeltest.ServeIndex(t, []string{wheels[0].path}, wheeltest.JSON)
	for _, tt := range []struct {
		delta int64
		want  string
	}{
		{-1, "brings more than the 983 bytes"},
		{+1, "declares size 985 for alpha-1.0-py3-none-any.whl, but the file with the sha256 it names has 984 bytes"},
	} {
		w := wheels[0]
		w.size += tt.delta
		pylock := filepath.Join(t.TempDir(), "pylock.toml")
		writePylock(t, pylock, []pylockWheel{w}, func(w pylockWheel) string { return fmt.Sprintf("url = %q", fileURL(files, w.path)) })
		opts := LayerOptions{Lock: pylock, Target: py312(t), Out: filepath.Join(t.TempDir(), "layer.zip"), Sources: index.Sources{NoIndex: true}, CacheDir: t.TempDir()}
		_, err := Layer(context.Background(), opts)
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "pylock.toml:8 (packages[0].wheels[0])") {
			t.Errorf("size %+d: %v, want %q naming the lock's entry", tt.delta, err, tt.want)
		}
		// A larger file is stopped; a smaller one has the lock's sha256,
		// so it is the locked file, kept, and refused for the lock's size.
		c, _ := cache.Open(opts.CacheDir)
		if _, ok, _ := c.Get(w.sum); ok && tt.delta < 0 {
			t.Errorf("size %+d: the file was cached", tt.delta)
		}
		if _, err := os.Stat(opts.Out); err == nil {
			t.Errorf("size %+d: the zip was written", tt.delta)
		}
	}
}

// The extras and groups a build selects decide what is installed, and the
// key follows; a package that cannot be installed is refused by the key
// as by the build, naming the lock's line and key path.
func TestLayerFromPylockSelectionAndRefusal(t *testing.T) {
	wheels := pylockWheels(t, t.TempDir())
	dir := t.TempDir()
	pylock := filepath.Join(dir, "pylock.toml")
	writePylock(t, pylock, wheels, func(w pylockWheel) string { return fmt.Sprintf("path = %q", w.path) })
	text, _ := os.ReadFile(pylock)
	text = bytes.Replace(text, []byte("requires-python"), []byte("dependency-groups = [\"tools\"]\nrequires-python"), 1)
	text = bytes.Replace(text, []byte("name = \"charlie\"\n"), []byte("name = \"charlie\"\nmarker = \"'tools' in dependency_groups\"\n"), 1)
	os.WriteFile(pylock, text, 0o644)

	base := LayerOptions{Lock: pylock, Target: py312(t), Sources: index.Sources{NoIndex: true}, CacheDir: t.TempDir()}
	build := func(sel lock.Selection) *Result {
		opts := base
		opts.Select, opts.Out = sel, filepath.Join(t.TempDir(), "layer.zip")
		res, err := Layer(context.Background(), opts)
		if err != nil {
			t.Fatal(err)
		}
		key, err := LayerKeyOf(opts)
		if err != nil || key != res.Key {
			t.Fatalf("LayerKeyOf %s (%v), report %s", key, err, res.Key)
		}
		return res
	}
	def, tools := build(lock.Selection{}), build(lock.Selection{Groups: []string{"tools"}})
	if len(def.Packages) != 2 || len(tools.Packages) != 3 || def.Key == tools.Key {
		t.Errorf("default: %d packages, key %s; --group tools: %d packages, key %s", len(def.Packages), def.Key, len(tools.Packages), tools.Key)
	}
	opts := base
	opts.Select = lock.Selection{Groups: []string{"docs"}}
	if _, err := LayerKeyOf(opts); err == nil || !strings.Contains(err.Error(), `dependency-groups: "docs" is not a dependency group this lock declares`) {
		t.Errorf("an unknown group: %v", err)
	}

	text = bytes.Replace(text, []byte("[[packages]]\nname = \"alpha\""), []byte("[[packages]]\nname = \"delta\"\nversion = \"1\"\nsdist = { path = \"delta-1.tar.gz\", hashes = { sha256 = \""+strings.Repeat("d", 64)+"\" } }\n\n[[packages]]\nname = \"alpha\""), 1)
	os.WriteFile(pylock, text, 0o644)
	want := pylock + ":6: packages[0]: delta has only a source distribution (sdist)"
	if _, err := LayerKey(pylock, base.Target, lock.Options{}); err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("LayerKey: %v\nwant %s", err, want)
	}
	opts = base
	opts.Out = filepath.Join(t.TempDir(), "layer.zip")
	if _, err := Layer(context.Background(), opts); err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("Layer: %v\nwant %s", err, want)
	}
}

// A function's dependencies may come from a pylock.toml, with the same
// selection flags; the code key follows the lock key.
func TestFunctionFromPylock(t *testing.T) {
	wheels := pylockWheels(t, t.TempDir())
	pylock := filepath.Join(t.TempDir(), "pylock.function.toml")
	writePylock(t, pylock, wheels, func(w pylockWheel) string { return fmt.Sprintf("path = %q", w.path) })
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "app.py"), []byte("def handler(e, c):\n    return 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	opts := FunctionOptions{Src: src, Lock: pylock, Target: py312(t), Out: filepath.Join(t.TempDir(), "fn.zip"), Sources: index.Sources{NoIndex: true}, CacheDir: t.TempDir()}
	res, err := Function(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	key, _, err := FunctionKey(opts)
	if err != nil || key != res.Key || len(res.Packages) != 3 {
		t.Errorf("key %s, FunctionKey %s (%v), packages %+v", res.Key, key, err, res.Packages)
	}
}
