package wheel

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"strings"
	"testing"
)

// rawEntry is one entry written with zip.Writer.CreateRaw, so a test can
// give headers that disagree with the data.
type rawEntry struct {
	name       string
	data       []byte // uncompressed content
	store      bool
	crc        *uint32 // nil: the data's
	size       *uint64 // nil: the data's
	dataDesc   bool
	corruptRaw bool // flip a byte of the compressed data
}

func u32(v uint32) *uint32 { return &v }
func u64(v uint64) *uint64 { return &v }

// buildZip writes entries as a wheel would hold them.
func buildZip(t *testing.T, entries []rawEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		fh := &zip.FileHeader{Name: e.name, Method: zip.Deflate}
		comp := e.data
		if e.store {
			fh.Method = zip.Store
		} else {
			var c bytes.Buffer
			fw, _ := flate.NewWriter(&c, flate.BestSpeed)
			fw.Write(e.data)
			fw.Close()
			comp = c.Bytes()
		}
		if e.corruptRaw {
			comp = bytes.Clone(comp)
			comp[len(comp)/2] ^= 0xff
		}
		fh.CRC32 = crc32.ChecksumIEEE(e.data)
		if e.crc != nil {
			fh.CRC32 = *e.crc
		}
		fh.UncompressedSize64 = uint64(len(e.data))
		if e.size != nil {
			fh.UncompressedSize64 = *e.size
		}
		fh.CompressedSize64 = uint64(len(comp))
		if e.dataDesc {
			fh.Flags |= flagDataDesc
		}
		w, err := zw.CreateRaw(fh)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(comp)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// meta is a wheel's metadata for tinypkg 1.0.
func meta(dir string) []rawEntry {
	return []rawEntry{
		{name: dir + "/METADATA", data: []byte("Metadata-Version: 2.1\nName: tinypkg\nVersion: 1.0\n")},
		{name: dir + "/WHEEL", data: []byte("Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")},
		{name: dir + "/RECORD", data: []byte("")},
	}
}

func TestCheckArchive(t *testing.T) {
	fn, err := ParseFilename("tinypkg-1.0-py3-none-any.whl")
	if err != nil {
		t.Fatal(err)
	}
	source := []byte(strings.Repeat("print('tiny')\n", 100))
	good := rawEntry{name: "tinypkg/__init__.py", data: source}
	withMeta := func(e ...rawEntry) []rawEntry { return append(e, meta("tinypkg-1.0.dist-info")...) }
	tests := []struct {
		name    string
		entries []rawEntry
		patch   func([]byte) // change the bytes after writing
		want    string       // "" for no error
	}{
		{"a good wheel", withMeta(good), nil, ""},
		{"a stored entry", withMeta(rawEntry{name: "tinypkg/data.bin", data: source, store: true}), nil, ""},
		{"a data descriptor", withMeta(rawEntry{name: "tinypkg/__init__.py", data: source, dataDesc: true}), nil, ""},
		{"dist-info spelled with another case and separator", append([]rawEntry{good}, meta("TinyPkg-1.0.dist-info")...), nil, ""},
		{"a wrong CRC-32 in both headers", withMeta(rawEntry{name: "tinypkg/__init__.py", data: source, crc: u32(0x12345678)}), nil, "CRC-32 of its data is"},
		{"damaged compressed data", withMeta(rawEntry{name: "tinypkg/__init__.py", data: source, corruptRaw: true}), nil, `entry "tinypkg/__init__.py"`},
		{"headers claim fewer bytes than the data inflates to", withMeta(rawEntry{name: "tinypkg/big.py", data: bytes.Repeat([]byte{'a'}, 1<<20), size: u64(100)}), nil, "inflates to more than the 100 bytes"},
		{"headers claim more bytes than the data inflates to", withMeta(rawEntry{name: "tinypkg/__init__.py", data: source, size: u64(1 << 30)}), nil, "inflates to 1400 bytes, its headers give 1073741824"},
		{"a stored entry whose sizes differ", withMeta(rawEntry{name: "tinypkg/x", data: source, store: true, size: u64(10)}), nil, "stored, but"},
		{"local header CRC differs from the directory's", withMeta(good), func(b []byte) {
			binary.LittleEndian.PutUint32(b[14:], 0xdeadbeef) // the first entry's local header
		}, "local header says CRC-32 deadbeef"},
		{"local header names another file", withMeta(good), func(b []byte) {
			copy(b[localLen:], "TINYPKG")
		}, "the local header names"},
		{"no .dist-info", []rawEntry{good}, nil, "has 0 .dist-info directories"},
		{"two .dist-info", append(withMeta(good), meta("other-1.0.dist-info")...), nil, "has 2 .dist-info directories"},
		{"a .dist-info for another project", append([]rawEntry{good}, meta("requests-99.0.dist-info")...), nil, "requests-99.0.dist-info is not named for tinypkg 1.0"},
		{"a .dist-info for another version", append([]rawEntry{good}, meta("tinypkg-2.0.dist-info")...), nil, "is not named for tinypkg 1.0"},
		{"no WHEEL file", []rawEntry{good, meta("tinypkg-1.0.dist-info")[0]}, nil, "lacks its WHEEL or METADATA"},
		{"no METADATA file", []rawEntry{good, meta("tinypkg-1.0.dist-info")[1]}, nil, "lacks its WHEEL or METADATA"},
		{"Wheel-Version 2", []rawEntry{good, meta("tinypkg-1.0.dist-info")[0], {name: "tinypkg-1.0.dist-info/WHEEL", data: []byte("Wheel-Version: 2.0\n")}}, nil, "Wheel-Version 2.0"},
		{"not a zip", nil, func(b []byte) { copy(b, make([]byte, len(b))) }, "not a zip archive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := buildZip(t, tt.entries)
			if tt.patch != nil {
				tt.patch(data)
			}
			err := CheckArchive(bytes.NewReader(data), int64(len(data)), fn, nil)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("CheckArchive: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("CheckArchive = %v, want an error containing %q", err, tt.want)
			case tt.want != "" && !strings.Contains(err.Error(), fn.Raw):
				t.Errorf("error %q does not name the wheel", err)
			}
		})
	}
}

// The tee gets the bytes of the entries it asks for, stored or deflated,
// as the check inflates them, and nothing of the others.
func TestCheckArchiveTee(t *testing.T) {
	fn, _ := ParseFilename("tinypkg-1.0-py3-none-any.whl")
	lib := bytes.Repeat([]byte("\x7fELF machine code "), 5000)
	entries := append([]rawEntry{
		{name: "tinypkg/__init__.py", data: []byte("print('tiny')\n")},
		{name: "tinypkg.libs/libtiny.so.1", data: lib},
		{name: "tinypkg/stored.bin", data: []byte("stored bytes"), store: true},
	}, meta("tinypkg-1.0.dist-info")...)
	data := buildZip(t, entries)
	got := map[string]*bytes.Buffer{"tinypkg.libs/libtiny.so.1": {}, "tinypkg/stored.bin": {}, "tinypkg-1.0.dist-info/METADATA": {}}
	asked := 0
	tee := func(name string) io.Writer {
		asked++
		if b, ok := got[name]; ok {
			return b
		}
		return nil
	}
	if err := CheckArchive(bytes.NewReader(data), int64(len(data)), fn, tee); err != nil {
		t.Fatal(err)
	}
	if asked != len(entries) {
		t.Errorf("the tee was asked for %d entries, the wheel has %d", asked, len(entries))
	}
	for _, e := range entries {
		if b, ok := got[e.name]; ok && !bytes.Equal(b.Bytes(), e.data) {
			t.Errorf("%s: the tee got %d bytes that are not its %d", e.name, b.Len(), len(e.data))
		}
	}

	// A wheel that fails the check still says so with a tee.
	bad := buildZip(t, append([]rawEntry{{name: "tinypkg.libs/libtiny.so.1", data: lib, crc: u32(1)}}, meta("tinypkg-1.0.dist-info")...))
	if err := CheckArchive(bytes.NewReader(bad), int64(len(bad)), fn, tee); err == nil || !strings.Contains(err.Error(), "CRC-32") {
		t.Errorf("CheckArchive with a tee = %v, want the CRC-32 refused", err)
	}
}

// A wheel with more entries than MaxEntries is refused from its end
// record, before its directory is read into memory.
func TestCheckArchiveTooManyEntries(t *testing.T) {
	fn, _ := ParseFilename("tinypkg-1.0-py3-none-any.whl")
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for i := range MaxEntries + 1 {
		if _, err := zw.CreateHeader(&zip.FileHeader{Name: fmt.Sprintf("tinypkg/m%d.py", i), Method: zip.Store}); err != nil {
			t.Fatal(err)
		}
	}
	zw.Close()
	err := CheckArchive(bytes.NewReader(buf.Bytes()), int64(buf.Len()), fn, nil)
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("has %d entries", MaxEntries+1)) {
		t.Fatalf("CheckArchive = %v, want the entry count refused", err)
	}
}

// The fuzzer feeds CheckArchive arbitrary archives: it must return, with
// or without an error, and never panic or allocate without bound.
func FuzzCheckArchive(f *testing.F) {
	fn, _ := ParseFilename("tinypkg-1.0-py3-none-any.whl")
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range []string{"tinypkg/__init__.py", "tinypkg-1.0.dist-info/WHEEL", "tinypkg-1.0.dist-info/METADATA"} {
		w, _ := zw.Create(e)
		w.Write([]byte("Wheel-Version: 1.0\n"))
	}
	zw.Close()
	f.Add(buf.Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		_ = CheckArchive(bytes.NewReader(data), int64(len(data)), fn, nil)
	})
}
