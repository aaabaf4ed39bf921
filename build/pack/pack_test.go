package pack

import (
	"archive/zip"
	"bytes"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// source is one Add call of a determinism test.
type source struct {
	wheel  string
	files  []wfile // for a wheel: its entries (dist-info included)
	prefix string
	file   *wfile // for AddFile
}

func (s source) add(t *testing.T, a *Archive) {
	t.Helper()
	if s.file != nil {
		if err := a.AddFile(s.file.name, s.file.mode, int64(len(s.file.body)), stringFile(s.file.body)); err != nil {
			t.Fatal(err)
		}
		return
	}
	if err := a.AddWheel(s.wheel, openZip(t, wheelBytes(t, s.files)), s.prefix); err != nil {
		t.Fatal(err)
	}
}

func reversed[T any](s []T) []T {
	s = slices.Clone(s)
	slices.Reverse(s)
	return s
}

func TestWriteToDeterministic(t *testing.T) {
	fat := func(fh *zip.FileHeader) { fh.CreatorVersion = 20; fh.ExternalAttrs = 0 } // made on Windows
	alpha := append([]wfile{
		{name: "alpha/"},
		{name: "alpha/__init__.py", body: "from ._native import f\n"},
		{name: "alpha/_native.so", body: "\x7fELF native code", stored: true, mode: 0o755},
		{name: "alpha/bin/tool", body: "#!/bin/sh\necho tool\n", mode: 0o700},
		{name: "alpha/windows.txt", body: "made on FAT", edit: fat},
		{name: "alpha-1.0.data/purelib/alpha_extra.py", body: "X = 1\n"},
		{name: "alpha-1.0.data/scripts/alpha", body: "#!python\n", mode: 0o755},
	}, distInfo("alpha", "1.0")...)
	beta := append([]wfile{
		{name: "beta/__init__.py", body: strings.Repeat("beta = 'b'\n", 100)},
		{name: "beta/data.bin", body: "\x00\x01\x02\x03", stored: true},
		{name: "beta/ünïcode.txt", body: "utf-8 name"},
		{name: "beta/~tilde.txt", body: "tilde"},
	}, distInfo("beta", "2.0")...)
	sources := []source{
		{wheel: "alpha-1.0-py3-none-any.whl", files: alpha, prefix: "python/"},
		{wheel: "beta-2.0-py3-none-any.whl", files: beta, prefix: "python/lib/python3.12/site-packages/"},
		{file: &wfile{name: "handler.py", body: "def handler(event, context):\n    return {}\n", mode: 0o644}},
		{file: &wfile{name: "bin/run.sh", body: "#!/bin/sh\nexec python3 handler.py\n", mode: 0o751}},
	}
	// Modes expected; every other entry is 0644.
	modes := map[string]fs.FileMode{
		"bin/run.sh":               0o755,
		"handler.py":               0o644,
		"python/alpha/__init__.py": 0o644,
		"python/alpha/_native.so":  0o755,
		"python/alpha/bin/tool":    0o755,
		"python/alpha/windows.txt": 0o644,
		"python/alpha_extra.py":    0o644,
	}

	build := func(srcs []source) []byte {
		a := New()
		for _, s := range srcs {
			s.add(t, a)
		}
		var buf bytes.Buffer
		n, err := a.WriteTo(&buf)
		if err != nil {
			t.Fatal(err)
		}
		if n != int64(buf.Len()) {
			t.Fatalf("WriteTo returned %d, wrote %d bytes", n, buf.Len())
		}
		// The same Archive writes the same bytes again.
		var again bytes.Buffer
		if _, err := a.WriteTo(&again); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf.Bytes(), again.Bytes()) {
			t.Fatal("a second WriteTo of one Archive wrote different bytes")
		}
		return buf.Bytes()
	}
	first := build(sources)

	// Other Add orders, and wheels listing their entries in another order.
	shuffled := reversed(sources)
	for i, s := range shuffled {
		if s.files != nil {
			shuffled[i].files = reversed(s.files)
		}
	}
	orders := map[string][]source{
		"reversed calls":              reversed(sources),
		"reversed calls and entries":  shuffled,
		"files first, wheels swapped": {sources[2], sources[3], sources[1], sources[0]},
	}
	for name, srcs := range orders {
		if got := build(srcs); !bytes.Equal(got, first) {
			t.Errorf("%s: archive differs from the first build (%d vs %d bytes)", name, len(got), len(first))
		}
	}

	// Expected content: every source file except .data/scripts, at its
	// mapped path.
	want := map[string]string{}
	for _, s := range sources {
		if s.file != nil {
			want[s.file.name] = s.file.body
			continue
		}
		for _, f := range s.files {
			if strings.HasSuffix(f.name, "/") || strings.Contains(f.name, ".data/scripts/") {
				continue
			}
			name := f.name
			if _, rest, ok := strings.Cut(name, ".data/purelib/"); ok {
				name = rest
			}
			want[s.prefix+name] = f.body
		}
	}

	r := openZip(t, first)
	if r.Comment != "" {
		t.Errorf("archive comment %q, want none", r.Comment)
	}
	var names []string
	for _, f := range r.File {
		names = append(names, f.Name)
		if strings.HasSuffix(f.Name, "/") {
			t.Errorf("directory entry %q", f.Name)
		}
		if f.ModifiedDate != 1<<5|1 || f.ModifiedTime != 0 {
			t.Errorf("%s: MS-DOS date/time %#x %#x, want 1980-01-01 00:00:00", f.Name, f.ModifiedDate, f.ModifiedTime)
		}
		if !f.Modified.Equal(time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)) {
			t.Errorf("%s: modified %v, want 1980-01-01 00:00:00 UTC", f.Name, f.Modified)
		}
		if len(f.Extra) != 0 || f.Comment != "" {
			t.Errorf("%s: extra %x, comment %q; want neither", f.Name, f.Extra, f.Comment)
		}
		if f.CreatorVersion>>8 != creatorUnix {
			t.Errorf("%s: creator %d, want Unix", f.Name, f.CreatorVersion>>8)
		}
		wantPerm := modes[f.Name]
		if wantPerm == 0 {
			wantPerm = 0o644
		}
		if f.Mode() != wantPerm {
			t.Errorf("%s: mode %v, want %v", f.Name, f.Mode(), wantPerm)
		}
		body, ok := want[f.Name]
		if !ok {
			t.Errorf("unexpected entry %q", f.Name)
			continue
		}
		if got := readEntry(t, f); got != body {
			t.Errorf("%s: content %q, want %q", f.Name, got, body)
		}
		delete(want, f.Name)
	}
	if len(want) != 0 {
		t.Errorf("missing entries: %v", slices.Sorted(maps.Keys(want)))
	}
	if !slices.IsSorted(names) {
		t.Errorf("entries not sorted: %q", names)
	}

	// Other zip readers accept it.
	file := filepath.Join(t.TempDir(), "layer.zip")
	if err := os.WriteFile(file, first, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Run("python zipfile", func(t *testing.T) {
		py := needTool(t, "python3")
		out, err := exec.Command(py, "-m", "zipfile", "-t", file).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "Done testing") || strings.Contains(string(out), "corrupt") {
			t.Fatalf("python3 -m zipfile -t: %v\n%s", err, out)
		}
	})
	t.Run("unzip", func(t *testing.T) {
		uz := needTool(t, "unzip")
		out, err := exec.Command(uz, "-t", file).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "No errors detected") {
			t.Fatalf("unzip -t: %v\n%s", err, out)
		}
	})
}

func readEntry(t testing.TB, f *zip.File) string {
	t.Helper()
	rc, err := f.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("%s: %v", f.Name, err)
	}
	return string(b)
}

func readRaw(t testing.TB, f *zip.File) []byte {
	t.Helper()
	r, err := f.OpenRaw()
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestWriteToCopiesRaw(t *testing.T) {
	descriptor := func(fh *zip.FileHeader) { fh.Flags |= 0x8 }
	text := strings.Repeat("import numpy as np\n", 500)
	name, src := testWheel(t, "raw", "1.0",
		wfile{name: "raw/stored.bin", body: text, stored: true},
		wfile{name: "raw/deflated.py", body: text},
		wfile{name: "raw/descriptor.py", body: text + "#", edit: descriptor},
	)
	a := New()
	if err := a.AddWheel(name, src, "python/"); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := a.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	out := map[string]*zip.File{}
	for _, f := range openZip(t, buf.Bytes()).File {
		out[f.Name] = f
	}
	for _, s := range src.File {
		o := out["python/"+s.Name]
		if o == nil {
			t.Errorf("%s missing from the archive", s.Name)
			continue
		}
		if o.Method != s.Method || o.CRC32 != s.CRC32 || o.CompressedSize64 != s.CompressedSize64 || o.UncompressedSize64 != s.UncompressedSize64 {
			t.Errorf("%s: method/crc/sizes %d/%08x/%d/%d, want the wheel's %d/%08x/%d/%d", s.Name,
				o.Method, o.CRC32, o.CompressedSize64, o.UncompressedSize64,
				s.Method, s.CRC32, s.CompressedSize64, s.UncompressedSize64)
		}
		if !bytes.Equal(readRaw(t, o), readRaw(t, s)) {
			t.Errorf("%s: compressed bytes differ from the wheel's", s.Name)
		}
		if o.Flags&0x8 != 0 {
			t.Errorf("%s: has a data descriptor; a raw copy knows its sizes up front", s.Name)
		}
		if got, want := readEntry(t, o), readEntry(t, s); got != want {
			t.Errorf("%s: content differs", s.Name)
		}
	}
	if m := out["python/raw/stored.bin"].Method; m != zip.Store {
		t.Errorf("stored entry written with method %d", m)
	}
	if m := out["python/raw/deflated.py"].Method; m != zip.Deflate {
		t.Errorf("deflated entry written with method %d", m)
	}
}

func TestAddWheelLayout(t *testing.T) {
	const wheel = "pillow-11.0.0-cp312-cp312-manylinux_2_28_x86_64.whl"
	di := "pillow-11.0.0.dist-info/"
	files := []wfile{
		{name: "PIL/__init__.py", body: "__version__ = '11.0.0'\n"},
		{name: "PIL/_imaging.cpython-312-x86_64-linux-gnu.so", body: "\x7fELF", mode: 0o755},
		{name: "pillow-11.0.0.data/purelib/pure_mod.py", body: "pure"},
		{name: "pillow-11.0.0.data/platlib/plat_mod.so", body: "plat", mode: 0o755},
		{name: "pillow-11.0.0.data/platlib/pillow.libs/libjpeg.so.62", body: "jpeg"},
		{name: "pillow-11.0.0.data/scripts/pilconvert", body: "#!python\n", mode: 0o755},
		{name: "pillow-11.0.0.data/headers/Imaging.h", body: "/* header */"},
		{name: "pillow-11.0.0.data/data/share/man/pil.1", body: ".TH"},
		{name: di + "METADATA", body: "Metadata-Version: 2.1\nName: pillow\nVersion: 11.0.0\n"},
		{name: di + "WHEEL", body: "Wheel-Version: 1.0\n"},
		{name: di + "RECORD", body: "PIL/__init__.py,,\n"},
		{name: di + "entry_points.txt", body: "[console_scripts]\n"},
		{name: di + "licenses/LICENSE", body: "MIT-CMU"},
		{name: di + "INSTALLER", body: "pip\n"},
		{name: di + "direct_url.json", body: "{}"},
	}
	a := New()
	prefix := "python/lib/python3.12/site-packages/"
	if err := a.AddWheel(wheel, openZip(t, wheelBytes(t, files)), prefix); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := a.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range openZip(t, buf.Bytes()).File {
		got = append(got, strings.TrimPrefix(f.Name, prefix))
		if !strings.HasPrefix(f.Name, prefix) {
			t.Errorf("%s is outside the prefix %s", f.Name, prefix)
		}
	}
	want := []string{
		"PIL/__init__.py",
		"PIL/_imaging.cpython-312-x86_64-linux-gnu.so",
		di + "METADATA",
		di + "RECORD",
		di + "WHEEL",
		di + "entry_points.txt",
		di + "licenses/LICENSE",
		"pillow.libs/libjpeg.so.62",
		"plat_mod.so",
		"pure_mod.py",
	}
	if !slices.Equal(got, want) {
		t.Errorf("entries:\n got %q\nwant %q", got, want)
	}
	wantNotes := []string{ // sorted: ".data" before ".dist-info"
		wheel + ": left out pillow-11.0.0.data/data/share/man/pil.1 (data files install outside site-packages, where Lambda does not look)",
		wheel + ": left out pillow-11.0.0.data/headers/Imaging.h (C headers are not used at run time)",
		wheel + ": left out pillow-11.0.0.data/scripts/pilconvert (scripts are not used in Lambda)",
		wheel + ": left out " + di + "INSTALLER (installer metadata does not belong in a wheel)",
		wheel + ": left out " + di + "direct_url.json (installer metadata does not belong in a wheel)",
	}
	if got := a.Notes(); !slices.Equal(got, wantNotes) {
		t.Errorf("notes:\n got %q\nwant %q", got, wantNotes)
	}
}

func TestAddWheelRefuses(t *testing.T) {
	symlink := wfile{name: "pkg/link", body: "../../etc/passwd", mode: fs.ModeSymlink | 0o777}
	tests := []struct {
		name   string
		files  []wfile // besides a minimal dist-info, unless bare
		bare   bool
		entry  string // the entry the error must name; "" for wheel-level errors
		reason string
	}{
		{name: "dotdot", files: []wfile{{name: "../x"}}, entry: "../x", reason: `".." element`},
		{name: "inner dotdot", files: []wfile{{name: "a/../../x"}}, entry: "a/../../x", reason: `".." element`},
		{name: "absolute", files: []wfile{{name: "/abs"}}, entry: "/abs", reason: "absolute"},
		{name: "backslash", files: []wfile{{name: `a\b`}}, entry: `a\b`, reason: "backslash"},
		{name: "drive letter", files: []wfile{{name: "C:/x"}}, entry: "C:/x", reason: "drive letter"},
		{name: "symlink", files: []wfile{symlink}, entry: "pkg/link", reason: "symlink"},
		{name: "NUL", files: []wfile{{name: "pkg/a\x00.py"}}, entry: "pkg/a\x00.py", reason: "NUL"},
		{name: "control character", files: []wfile{{name: "pkg/a\nb"}}, entry: "pkg/a\nb", reason: "control character"},
		{name: "invalid UTF-8", files: []wfile{{name: "pkg/\xff"}}, entry: "pkg/\xff", reason: "UTF-8"},
		{name: "empty element", files: []wfile{{name: "pkg//x"}}, entry: "pkg//x", reason: "empty element"},
		{name: "dot element", files: []wfile{{name: "./x"}}, entry: "./x", reason: `"." element`},
		{name: "dot directory", files: []wfile{{name: "pkg/./"}}, entry: "pkg/./", reason: `"." element`},
		{name: "fifo", files: []wfile{{name: "pkg/fifo", mode: fs.ModeNamedPipe | 0o644}}, entry: "pkg/fifo", reason: "not a regular file"},
		{name: "device", files: []wfile{{name: "pkg/dev", mode: fs.ModeDevice | 0o644}}, entry: "pkg/dev", reason: "not a regular file"},
		{name: "unix directory without slash", files: []wfile{{name: "pkg/d", mode: fs.ModeDir | 0o755}}, entry: "pkg/d", reason: "directory"},
		{name: "msdos directory without slash", files: []wfile{{name: "pkg/d", edit: func(fh *zip.FileHeader) {
			fh.CreatorVersion = 20
			fh.ExternalAttrs = 0x10
		}}}, entry: "pkg/d", reason: "directory"},
		{name: "encrypted", files: []wfile{{name: "pkg/e", edit: func(fh *zip.FileHeader) { fh.Flags |= 1 }}}, entry: "pkg/e", reason: "encrypted"},
		{name: "bzip2", files: []wfile{{name: "pkg/b", stored: true, edit: func(fh *zip.FileHeader) { fh.Method = 12 }}}, entry: "pkg/b", reason: "compression method 12"},
		{name: "stored size mismatch", files: []wfile{{name: "pkg/s", body: "abc", stored: true, edit: func(fh *zip.FileHeader) { fh.UncompressedSize64 = 4 }}}, entry: "pkg/s", reason: "stored"},
		{name: "unknown scheme", files: []wfile{{name: "bad-1.0.data/lib/x"}}, entry: "bad-1.0.data/lib/x", reason: `unknown install scheme "lib"`},
		{name: "scheme as a file", files: []wfile{{name: "bad-1.0.data/purelib"}}, entry: "bad-1.0.data/purelib", reason: "scheme directory"},
		{name: "file named like .data", files: []wfile{{name: "bad-1.0.data"}}, entry: "bad-1.0.data", reason: ".data directory"},
		{name: "no dist-info", bare: true, files: []wfile{{name: "pkg/x.py"}}, reason: "0 .dist-info directories"},
		{name: "two dist-infos", files: distInfo("other", "2.0"), reason: "2 .dist-info directories [bad-1.0.dist-info other-2.0.dist-info]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// A good wheel first: a refused wheel must leave it as it was.
			a := New()
			goodName, good := testWheel(t, "good", "1.0", wfile{name: "good.py", body: "ok"})
			if err := a.AddWheel(goodName, good, "python/"); err != nil {
				t.Fatal(err)
			}
			files, sizes, notes := a.Files(), a.Sizes(), a.Notes()

			const wheel = "bad-1.0-py3-none-any.whl"
			entries := tc.files
			if !tc.bare {
				entries = append(slices.Clone(tc.files), distInfo("bad", "1.0")...)
			}
			err := a.AddWheel(wheel, openZip(t, wheelBytes(t, entries)), "python/")
			if err == nil {
				t.Fatal("AddWheel accepted the wheel")
			}
			msg := err.Error()
			if !strings.Contains(msg, wheel) || !strings.Contains(msg, tc.reason) {
				t.Errorf("error %q does not name the wheel %s and the reason %q", msg, wheel, tc.reason)
			}
			if tc.entry != "" && !strings.Contains(msg, strconv.Quote(tc.entry)) {
				t.Errorf("error %q does not name the entry %q", msg, tc.entry)
			}
			if a.Files() != files || !maps.Equal(a.Sizes(), sizes) || !slices.Equal(a.Notes(), notes) {
				t.Errorf("refused wheel changed the archive: files %d->%d, sizes %v->%v", files, a.Files(), sizes, a.Sizes())
			}
		})
	}
}

func TestAddWheelRefusesBadCalls(t *testing.T) {
	name, r := testWheel(t, "ok", "1.0", wfile{name: "ok.py"})
	tests := []struct {
		wheel, prefix, reason string
	}{
		{"ok-1.0-py3-none-any.whl", "python", `end in "/"`},
		{"ok-1.0-py3-none-any.whl", "/python/", "absolute"},
		{"ok-1.0-py3-none-any.whl", "../", `".."`},
		{"ok-1.0-py3-none-any.whl", "python//", "empty element"},
		{"", "python/", "invalid wheel name"},
		{FilesSource, "python/", "invalid wheel name"},
		{"dir/ok-1.0-py3-none-any.whl", "python/", "invalid wheel name"},
	}
	for _, tc := range tests {
		err := New().AddWheel(tc.wheel, r, tc.prefix)
		if err == nil || !strings.Contains(err.Error(), tc.reason) {
			t.Errorf("AddWheel(%q, prefix %q) = %v, want an error with %q", tc.wheel, tc.prefix, err, tc.reason)
		}
	}
	a := New()
	if err := a.AddWheel(name, r, "python/"); err != nil {
		t.Fatal(err)
	}
	if err := a.AddWheel(name, r, "python/"); err == nil || !strings.Contains(err.Error(), "added twice") || !strings.Contains(err.Error(), `"python/"`) {
		t.Errorf("adding %s twice under python/: %v, want an error naming the prefix", name, err)
	}
}

// TestSameWheelUnderTwoPrefixes: a wheel that suits several runtimes goes
// into each runtime's site-packages folder, complete in each; it is
// counted, in Sizes, as the sum of its copies, and its left-out entries
// are noted once.
func TestSameWheelUnderTwoPrefixes(t *testing.T) {
	const (
		py39  = "python/lib/python3.9/site-packages/"
		py310 = "python/lib/python3.10/site-packages/"
	)
	files := []wfile{
		{name: "twin/__init__.py", body: "VERSION = 1\n"},
		{name: "twin-1.0.data/scripts/twin", body: "#!python\n", mode: 0o755},
	}
	single := New()
	name, r := testWheel(t, "twin", "1.0", files...)
	if err := single.AddWheel(name, r, py39); err != nil {
		t.Fatal(err)
	}
	var single39 bytes.Buffer
	if _, err := single.WriteTo(&single39); err != nil {
		t.Fatal(err)
	}

	var outs [][]byte
	for _, prefixes := range [][]string{{py39, py310}, {py310, py39}} {
		a := New()
		for _, p := range prefixes {
			if err := a.AddWheel(name, r, p); err != nil {
				t.Fatalf("AddWheel(%s, %q) after %q: %v", name, p, prefixes[0], err)
			}
		}
		if want := 2 * single.Files(); a.Files() != want {
			t.Errorf("Files() = %d, want %d (a full copy under each prefix)", a.Files(), want)
		}
		wantSizes := map[string]int64{name: 2 * single.UnzippedSize()}
		if got := a.Sizes(); !maps.Equal(got, wantSizes) {
			t.Errorf("Sizes() = %v, want %v (both copies, under the wheel's name)", got, wantSizes)
		}
		if !slices.Equal(a.Notes(), single.Notes()) || len(a.Notes()) != 1 {
			t.Errorf("Notes() = %q, want the one note of a single copy %q", a.Notes(), single.Notes())
		}

		// Still refused twice under one prefix, and the archive unchanged.
		err := a.AddWheel(name, r, py310)
		if err == nil || !strings.Contains(err.Error(), "added twice") || !strings.Contains(err.Error(), py310) {
			t.Errorf("third AddWheel under %s: %v, want an error naming the prefix", py310, err)
		}
		if want := 2 * single.Files(); a.Files() != want {
			t.Errorf("refused AddWheel changed the archive: Files() = %d, want %d", a.Files(), want)
		}

		var buf bytes.Buffer
		if _, err := a.WriteTo(&buf); err != nil {
			t.Fatal(err)
		}
		outs = append(outs, buf.Bytes())
		got := map[string]string{}
		for _, f := range openZip(t, buf.Bytes()).File {
			rc, err := f.Open()
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				t.Fatal(err)
			}
			got[f.Name] = string(b)
		}
		for _, f := range openZip(t, single39.Bytes()).File {
			rest := strings.TrimPrefix(f.Name, py39)
			rc, err := f.Open()
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(rc)
			rc.Close()
			for _, p := range []string{py39, py310} {
				if got[p+rest] != string(b) {
					t.Errorf("%s%s = %q, want %q", p, rest, got[p+rest], b)
				}
			}
		}
	}
	if !bytes.Equal(outs[0], outs[1]) {
		t.Error("the archive depends on the order of the prefixes")
	}
}

func TestAddFileRefuses(t *testing.T) {
	tests := []struct {
		name   string
		mode   fs.FileMode
		size   int64
		reason string
	}{
		{"../handler.py", 0o644, 1, `".." element`},
		{"/var/task/handler.py", 0o644, 1, "absolute"},
		{`app\handler.py`, 0o644, 1, "backslash"},
		{"C:/handler.py", 0o644, 1, "drive letter"},
		{"", 0o644, 1, "empty path"},
		{"app/", 0o644, 1, "empty element"},
		{"a\x00b", 0o644, 1, "NUL"},
		{"link.py", fs.ModeSymlink | 0o777, 1, "not a regular file"},
		{"app", fs.ModeDir | 0o755, 1, "not a regular file"},
		{"handler.py", 0o644, -1, "negative size"},
	}
	for _, tc := range tests {
		a := New()
		err := a.AddFile(tc.name, tc.mode, tc.size, stringFile("x"))
		if err == nil || !strings.Contains(err.Error(), tc.reason) || !strings.Contains(err.Error(), strconv.Quote(tc.name)) {
			t.Errorf("AddFile(%q, %v, %d) = %v, want an error naming the file and %q", tc.name, tc.mode, tc.size, err, tc.reason)
		}
		if a.Files() != 0 || len(a.Sizes()) != 0 {
			t.Errorf("AddFile(%q) failed but changed the archive", tc.name)
		}
	}
}

// crcTwin returns a message as long as m, differing from it in its first
// five bytes, with the same CRC-32. CRC-32 is affine over GF(2), so the
// images of any 33 single-bit flips are linearly dependent, and the sum of
// the dependent flips changes the bytes but not the checksum.
func crcTwin(t *testing.T, m []byte) []byte {
	t.Helper()
	zero := make([]byte, len(m))
	base := crc32.ChecksumIEEE(zero)
	type row struct {
		v    uint32 // image of the flips in mask
		mask uint64
	}
	var basis [32]row
	for bit := 0; bit < 40; bit++ {
		z := make([]byte, len(m))
		z[bit/8] = 1 << (bit % 8)
		r := row{crc32.ChecksumIEEE(z) ^ base, 1 << bit}
		for p := 31; p >= 0 && r.v != 0; p-- {
			if r.v>>p&1 == 0 {
				continue
			}
			if basis[p].mask == 0 {
				basis[p] = r
				r = row{}
				break
			}
			r.v ^= basis[p].v
			r.mask ^= basis[p].mask
		}
		if r.mask != 0 && r.v == 0 {
			twin := slices.Clone(m)
			for b := 0; b < 40; b++ {
				if r.mask>>b&1 != 0 {
					twin[b/8] ^= 1 << (b % 8)
				}
			}
			return twin
		}
	}
	t.Fatal("no CRC-32 twin found")
	return nil
}

func TestCollisions(t *testing.T) {
	const path = "python/shared/util.py"
	body := "def util():\n    return 42\n" + strings.Repeat("# pad\n", 20)
	twin := string(crcTwin(t, []byte(body)))
	if twin == body || crc32.ChecksumIEEE([]byte(twin)) != crc32.ChecksumIEEE([]byte(body)) {
		t.Fatal("crcTwin did not make a same-CRC different message")
	}

	t.Run("different bytes", func(t *testing.T) {
		for name, other := range map[string]string{
			"other size":        "def util():\n    return 43 # changed\n",
			"same size and CRC": twin,
		} {
			t.Run(name, func(t *testing.T) {
				a := New()
				an, ar := testWheel(t, "aaa", "1.0", wfile{name: "shared/util.py", body: body})
				bn, br := testWheel(t, "bbb", "1.0", wfile{name: "shared/util.py", body: other}, wfile{name: "bbb.py"})
				if err := a.AddWheel(an, ar, "python/"); err != nil {
					t.Fatal(err)
				}
				err := a.AddWheel(bn, br, "python/")
				if err == nil {
					t.Fatal("two wheels wrote different bytes at one path")
				}
				for _, s := range []string{an, bn, path, "different content"} {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not name %q", err, s)
					}
				}
				if _, ok := a.Sizes()[bn]; ok || a.Files() != 4 {
					t.Errorf("refused wheel %s was added: %v, %d files", bn, a.Sizes(), a.Files())
				}
			})
		}
	})

	t.Run("identical bytes", func(t *testing.T) {
		// The same content, stored in one wheel and deflated in the other,
		// with different modes: one copy is kept, the same whatever the order.
		mk := func() (string, *zip.Reader, string, *zip.Reader) {
			an, ar := testWheel(t, "aaa", "1.0", wfile{name: "shared/util.py", body: body, stored: true})
			bn, br := testWheel(t, "bbb", "1.0", wfile{name: "shared/util.py", body: body, mode: 0o755})
			return an, ar, bn, br
		}
		var outs [][]byte
		for _, bFirst := range []bool{false, true} {
			an, ar, bn, br := mk()
			a := New()
			order := []func() error{
				func() error { return a.AddWheel(an, ar, "python/") },
				func() error { return a.AddWheel(bn, br, "python/") },
			}
			if bFirst {
				slices.Reverse(order)
			}
			for _, add := range order {
				if err := add(); err != nil {
					t.Fatal(err)
				}
			}
			if a.Files() != 7 { // util.py once, and two dist-infos of three files
				t.Errorf("Files() = %d, want 7", a.Files())
			}
			distSize := func(dist string) (n int64) {
				for _, f := range distInfo(dist, "1.0") {
					n += int64(len(f.body))
				}
				return n
			}
			wantSizes := map[string]int64{an: distSize("aaa") + int64(len(body)), bn: distSize("bbb")}
			if s := a.Sizes(); !maps.Equal(s, wantSizes) {
				t.Errorf("Sizes() = %v, want %v: util.py counts once, for %s", s, wantSizes, an)
			}
			notes := a.Notes()
			wantNote := fmt.Sprintf("%s: identical in %s (shared/util.py), %s (shared/util.py); kept the copy from %s (shared/util.py)", path, an, bn, an)
			if !slices.Equal(notes, []string{wantNote}) {
				t.Errorf("notes %q, want %q", notes, wantNote)
			}
			var buf bytes.Buffer
			if _, err := a.WriteTo(&buf); err != nil {
				t.Fatal(err)
			}
			outs = append(outs, buf.Bytes())
			n := 0
			for _, f := range openZip(t, buf.Bytes()).File {
				if f.Name == path {
					n++
					if f.Method != zip.Store || f.Mode() != 0o644 {
						t.Errorf("kept method %d mode %v, want the copy from %s (stored, 0644)", f.Method, f.Mode(), an)
					}
				}
			}
			if n != 1 {
				t.Errorf("%d entries for %s, want 1", n, path)
			}
		}
		if !bytes.Equal(outs[0], outs[1]) {
			t.Error("identical copies: the archive depends on the order of AddWheel calls")
		}
	})

	t.Run("file and directory", func(t *testing.T) {
		for _, swap := range []bool{false, true} {
			an, ar := testWheel(t, "aaa", "1.0", wfile{name: "shared", body: "a file"})
			bn, br := testWheel(t, "bbb", "1.0", wfile{name: "shared/util.py", body: body})
			if swap {
				an, ar, bn, br = bn, br, an, ar
			}
			a := New()
			if err := a.AddWheel(an, ar, "python/"); err != nil {
				t.Fatal(err)
			}
			err := a.AddWheel(bn, br, "python/")
			if err == nil || !strings.Contains(err.Error(), "python/shared is a file in") ||
				!strings.Contains(err.Error(), an) || !strings.Contains(err.Error(), bn) {
				t.Errorf("file python/shared and directory python/shared/: %v, want an error naming both wheels", err)
			}
		}
	})

	t.Run("within one wheel", func(t *testing.T) {
		an, ar := testWheel(t, "aaa", "1.0",
			wfile{name: "shared/util.py", body: body},
			wfile{name: "aaa-1.0.data/purelib/shared/util.py", body: "other"})
		err := New().AddWheel(an, ar, "python/")
		if err == nil || !strings.Contains(err.Error(), "aaa-1.0.data/purelib/shared/util.py") {
			t.Errorf("one wheel writing %s twice: %v, want an error naming both entries", path, err)
		}
	})

	t.Run("plain files", func(t *testing.T) {
		a := New()
		an, ar := testWheel(t, "aaa", "1.0", wfile{name: "shared/util.py", body: body})
		if err := a.AddWheel(an, ar, "python/"); err != nil {
			t.Fatal(err)
		}
		if err := a.AddFile(path, 0o644, int64(len(body)), stringFile(body)); err != nil {
			t.Errorf("identical plain file: %v", err)
		}
		if err := a.AddFile(path, 0o644, int64(len(twin)), stringFile(twin)); err == nil || !strings.Contains(err.Error(), "different content") {
			t.Errorf("plain file with the same size and CRC but other bytes: %v, want an error", err)
		}
		if err := a.AddFile("handler.py", 0o644, 2, stringFile("ok")); err != nil {
			t.Fatal(err)
		}
		if err := a.AddFile("handler.py", 0o644, 2, stringFile("ok")); err == nil || !strings.Contains(err.Error(), "added twice") {
			t.Errorf("the same plain file twice: %v, want an error", err)
		}
	})
}

func TestSizes(t *testing.T) {
	alpha := []wfile{
		{name: "alpha/a.py", body: strings.Repeat("a", 1000)},
		{name: "alpha/b.so", body: strings.Repeat("b", 5000), stored: true},
		{name: "alpha-1.0.data/platlib/alpha.libs/c.so", body: strings.Repeat("c", 300)},
		{name: "alpha-1.0.data/scripts/alpha", body: strings.Repeat("s", 700)}, // left out
	}
	beta := []wfile{{name: "beta/x.py", body: strings.Repeat("x", 123)}}
	plain := map[string]string{"handler.py": "print('hi')\n", "lib/util.py": strings.Repeat("u", 77)}

	want := map[string]int64{}
	wantFiles := 0
	count := func(source string, files []wfile) {
		for _, f := range files {
			if strings.Contains(f.name, ".data/scripts/") {
				continue
			}
			want[source] += int64(len(f.body))
			wantFiles++
		}
	}
	a := New()
	for _, w := range []struct {
		dist  string
		files []wfile
	}{{"alpha", alpha}, {"beta", beta}} {
		name, r := testWheel(t, w.dist, "1.0", w.files...)
		count(name, append(slices.Clone(w.files), distInfo(w.dist, "1.0")...))
		if err := a.AddWheel(name, r, "python/"); err != nil {
			t.Fatal(err)
		}
	}
	for name, body := range plain {
		if err := a.AddFile(name, 0o644, int64(len(body)), stringFile(body)); err != nil {
			t.Fatal(err)
		}
		want[FilesSource] += int64(len(body))
		wantFiles++
	}
	var wantTotal int64
	for _, n := range want {
		wantTotal += n
	}

	if got := a.Sizes(); !maps.Equal(got, want) {
		t.Errorf("Sizes() = %v, want %v", got, want)
	}
	if got := a.Files(); got != wantFiles {
		t.Errorf("Files() = %d, want %d", got, wantFiles)
	}
	if got := a.UnzippedSize(); got != wantTotal {
		t.Errorf("UnzippedSize() = %d, want %d", got, wantTotal)
	}

	// The plan matches what is written.
	var buf bytes.Buffer
	if _, err := a.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	r := openZip(t, buf.Bytes())
	var total int64
	for _, f := range r.File {
		total += int64(f.UncompressedSize64)
	}
	if len(r.File) != wantFiles || total != wantTotal {
		t.Errorf("wrote %d files of %d bytes, planned %d of %d", len(r.File), total, wantFiles, wantTotal)
	}
}

func TestWriteToChangedFile(t *testing.T) {
	for name, body := range map[string]string{"grew": "print('hello')\n", "shrank": "p"} {
		a := New()
		if err := a.AddFile("handler.py", 0o644, 5, stringFile(body)); err != nil {
			t.Fatal(err)
		}
		_, err := a.WriteTo(io.Discard)
		if err == nil || !strings.Contains(err.Error(), `"handler.py"`) || !strings.Contains(err.Error(), "changed") {
			t.Errorf("%s: WriteTo = %v, want an error naming handler.py", name, err)
		}
	}
	a := New()
	failing := func() (io.ReadCloser, error) { return nil, fs.ErrNotExist }
	if err := a.AddFile("gone.py", 0o644, 1, failing); err != nil {
		t.Fatal(err)
	}
	if _, err := a.WriteTo(io.Discard); err == nil || !strings.Contains(err.Error(), "gone.py") {
		t.Errorf("WriteTo with a vanished file = %v, want an error naming it", err)
	}
}

// shrinkable is a ReaderAt whose data can be cut short after a zip.Reader
// has read the directory, like a wheel file truncated by another process.
type shrinkable struct {
	data []byte
	end  int
}

func (s *shrinkable) ReadAt(p []byte, off int64) (int, error) {
	if off >= int64(s.end) {
		return 0, io.EOF
	}
	n := copy(p, s.data[off:s.end])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func TestWriteToErrors(t *testing.T) {
	t.Run("wheel truncated after planning", func(t *testing.T) {
		b := wheelBytes(t, append([]wfile{{name: "aaa/big.bin", body: strings.Repeat("z", 4096), stored: true}}, distInfo("cut", "1.0")...))
		src := &shrinkable{data: b, end: len(b)}
		r, err := zip.NewReader(src, int64(len(b)))
		if err != nil {
			t.Fatal(err)
		}
		a := New()
		const wheel = "cut-1.0-py3-none-any.whl"
		if err := a.AddWheel(wheel, r, ""); err != nil {
			t.Fatal(err)
		}
		src.end = 1000 // inside the data of aaa/big.bin, the first entry written
		_, err = a.WriteTo(io.Discard)
		if err == nil || !strings.Contains(err.Error(), wheel) || !strings.Contains(err.Error(), "aaa/big.bin") {
			t.Errorf("WriteTo from a truncated wheel = %v, want an error naming the wheel and entry", err)
		} else {
			t.Log(err)
		}
	})
	t.Run("writer fails", func(t *testing.T) {
		a := New()
		name, r := testWheel(t, "w", "1.0", wfile{name: "w.py", body: "x"})
		if err := a.AddWheel(name, r, ""); err != nil {
			t.Fatal(err)
		}
		for _, limit := range []int64{0, 10, 100, 400} {
			_, err := a.WriteTo(&limitedWriter{left: limit})
			if err == nil || !strings.Contains(err.Error(), "disk full") {
				t.Errorf("WriteTo a writer failing after %d bytes = %v, want its error", limit, err)
			}
		}
	})
}

type limitedWriter struct{ left int64 }

func (w *limitedWriter) Write(p []byte) (int, error) {
	if int64(len(p)) > w.left {
		n := w.left
		w.left = 0
		return int(n), fmt.Errorf("disk full")
	}
	w.left -= int64(len(p))
	return len(p), nil
}

func TestCollisionsEdgeCases(t *testing.T) {
	t.Run("identical within one wheel", func(t *testing.T) {
		an, ar := testWheel(t, "aaa", "1.0",
			wfile{name: "aaa-1.0.data/purelib/shared/util.py", body: "same"},
			wfile{name: "shared/util.py", body: "same", stored: true})
		a := New()
		if err := a.AddWheel(an, ar, ""); err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if _, err := a.WriteTo(&buf); err != nil {
			t.Fatal(err)
		}
		var n int
		for _, f := range openZip(t, buf.Bytes()).File {
			if f.Name == "shared/util.py" {
				n++
				// The entry whose name sorts first is kept.
				if f.Method != zip.Deflate {
					t.Errorf("kept the stored copy, want the one from aaa-1.0.data/purelib/shared/util.py")
				}
			}
		}
		want := "shared/util.py: identical in " + an + " (aaa-1.0.data/purelib/shared/util.py), " + an + " (shared/util.py); kept the copy from " + an + " (aaa-1.0.data/purelib/shared/util.py)"
		if n != 1 || !slices.Equal(a.Notes(), []string{want}) {
			t.Errorf("%d entries, notes %q; want 1 entry and note %q", n, a.Notes(), want)
		}
	})
	t.Run("plain file unreadable while comparing", func(t *testing.T) {
		an, ar := testWheel(t, "aaa", "1.0", wfile{name: "handler.py", body: "same"})
		a := New()
		if err := a.AddWheel(an, ar, ""); err != nil {
			t.Fatal(err)
		}
		failing := func() (io.ReadCloser, error) { return nil, fs.ErrPermission }
		err := a.AddFile("handler.py", 0o644, 4, failing)
		if err == nil || !strings.Contains(err.Error(), an) || !strings.Contains(err.Error(), `source file "handler.py"`) {
			t.Errorf("AddFile comparing an unreadable file = %v, want an error naming both sources", err)
		}
		if err := a.AddFile("other.py", 0o644, 4, nil); err == nil {
			t.Error("AddFile accepted a nil open function")
		}
	})
}

// An archive refuses the file past MaxFiles, whole wheel or nothing, so a
// build's plan stays within its memory budget.
func TestMaxFiles(t *testing.T) {
	a := New()
	for i := range MaxFiles {
		if err := a.AddFile(fmt.Sprintf("f/%06d.py", i), 0o644, 0, stringFile("")); err != nil {
			t.Fatalf("file %d: %v", i, err)
		}
	}
	name, zr := testWheel(t, "late", "1.0", wfile{name: "late/__init__.py", body: "x = 1\n"})
	err := a.AddWheel(name, zr, "")
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("at most %d files", MaxFiles)) {
		t.Fatalf("AddWheel past MaxFiles = %v", err)
	}
	if a.Files() != MaxFiles {
		t.Errorf("Files() = %d after a refused wheel, want %d", a.Files(), MaxFiles)
	}
}
