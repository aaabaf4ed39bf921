package pack

import (
	"archive/zip"
	"bytes"
	"strings"
	"testing"
)

// A wheel is untrusted input until its hash is checked, and the checks
// here are what stand between it and Lambda's /opt: whatever bytes arrive,
// AddWheel must not panic, and what it accepts must write a zip whose every
// name is a clean relative path under the prefix.
func FuzzAddWheel(f *testing.F) {
	for _, entries := range [][]string{
		{"pkg/__init__.py", "pkg-1.0.dist-info/METADATA", "pkg-1.0.dist-info/RECORD"},
		{"pkg-1.0.data/purelib/x.py", "pkg-1.0.data/scripts/run", "pkg-1.0.dist-info/WHEEL"},
		{"../evil", "pkg-1.0.dist-info/METADATA"},
	} {
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		for _, e := range entries {
			w, err := zw.Create(e)
			if err != nil {
				f.Fatal(err)
			}
			w.Write([]byte("x = 1\n"))
		}
		zw.Close()
		f.Add(buf.Bytes())
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		a := New()
		if err := a.AddWheel("pkg-1.0-py3-none-any.whl", zr, "python/"); err != nil {
			return
		}
		var out bytes.Buffer
		if _, err := a.WriteTo(&out); err != nil {
			return // a lying size or a bad compressed stream is found while copying
		}
		got, err := zip.NewReader(bytes.NewReader(out.Bytes()), int64(out.Len()))
		if err != nil {
			t.Fatalf("AddWheel accepted a wheel whose archive does not read back: %v", err)
		}
		for _, zf := range got.File {
			n := zf.Name
			if !strings.HasPrefix(n, "python/") || strings.Contains(n, "\\") || strings.HasSuffix(n, "/") {
				t.Fatalf("unsafe entry %q written", n)
			}
			for _, part := range strings.Split(n, "/") {
				if part == "" || part == "." || part == ".." {
					t.Fatalf("unsafe entry %q written", n)
				}
			}
		}
	})
}
