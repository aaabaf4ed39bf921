package pack

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// wfile is one entry of a test wheel.
type wfile struct {
	name   string
	body   string
	stored bool        // method 0 instead of deflate
	mode   fs.FileMode // 0 means 0644
	edit   func(*zip.FileHeader)
}

// wheelBytes builds a zip holding files, written raw so that a test controls
// every header field. Each entry gets a non-1980 timestamp, an
// extended-timestamp extra field and a comment, which the archive must not
// carry over.
func wheelBytes(t testing.TB, files []wfile) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range files {
		data := []byte(f.body)
		comp := data
		fh := &zip.FileHeader{Name: f.name, Method: zip.Store, Comment: "entry comment"}
		if !f.stored && !strings.HasSuffix(f.name, "/") {
			fh.Method = zip.Deflate
			comp = deflate(t, data)
		}
		mode := f.mode
		if mode == 0 {
			mode = 0o644
		}
		fh.SetMode(mode)
		fh.CreatorVersion |= 20
		fh.ReaderVersion = 20
		fh.ModifiedDate = uint16(44<<9 | 3<<5 | 14) // 2024-03-14
		fh.ModifiedTime = uint16(15<<11 | 9<<5 | 13)
		ext := make([]byte, 9)
		binary.LittleEndian.PutUint16(ext, 0x5455)
		binary.LittleEndian.PutUint16(ext[2:], 5)
		ext[4] = 1
		binary.LittleEndian.PutUint32(ext[5:], 1710429000)
		fh.Extra = ext
		fh.CRC32 = crc32.ChecksumIEEE(data)
		fh.CompressedSize64 = uint64(len(comp))
		fh.UncompressedSize64 = uint64(len(data))
		if f.edit != nil {
			f.edit(fh)
		}
		w, err := zw.CreateRaw(fh)
		if err != nil {
			t.Fatalf("creating test wheel entry %q: %v", f.name, err)
		}
		if _, err := w.Write(comp); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.SetComment("wheel comment"); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func deflate(t testing.TB, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	fw, err := flate.NewWriter(&buf, flate.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	fw.Write(data)
	if err := fw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// openZip reads a zip from memory. Names such as "../x" are what some tests
// are about, so archive/zip's ErrInsecurePath (under GODEBUG=zipinsecurepath=0)
// is not a failure here.
func openZip(t testing.TB, b []byte) *zip.Reader {
	t.Helper()
	r, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		t.Fatalf("reading zip: %v", err)
	}
	return r
}

// distInfo returns the .dist-info files a minimal wheel of dist==ver has.
func distInfo(dist, ver string) []wfile {
	di := dist + "-" + ver + ".dist-info/"
	return []wfile{
		{name: di + "METADATA", body: fmt.Sprintf("Metadata-Version: 2.1\nName: %s\nVersion: %s\n", dist, ver)},
		{name: di + "WHEEL", body: "Wheel-Version: 1.0\nGenerator: pack-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"},
		{name: di + "RECORD", body: di + "METADATA,,\n" + di + "WHEEL,,\n" + di + "RECORD,,\n"},
	}
}

// testWheel returns the file name and a reader of a wheel of dist==ver with
// files and a minimal .dist-info.
func testWheel(t testing.TB, dist, ver string, files ...wfile) (string, *zip.Reader) {
	t.Helper()
	name := fmt.Sprintf("%s-%s-py3-none-any.whl", dist, ver)
	return name, openZip(t, wheelBytes(t, append(files, distInfo(dist, ver)...)))
}

// stringFile is an AddFile open function over s.
func stringFile(s string) func() (io.ReadCloser, error) {
	return func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(s)), nil }
}

// needTool returns the path of an external program, skipping the test when
// it is missing, except under CI where the machine image must have it.
func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not found: %v", name, err)
		}
		t.Skipf("%s not found: %v", name, err)
	}
	return p
}
