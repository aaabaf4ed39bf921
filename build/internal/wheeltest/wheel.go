package wheeltest

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/galerly/galerly-lambda/build/internal/pyname"
)

// Stored asks Write to store an entry uncompressed. It exists because
// zip.Store is 0, the zero value that Entry.Method uses for "deflate".
const Stored uint16 = 0xffff

// Entry is one file in a wheel.
type Entry struct {
	Name string      // slash-separated path in the zip; written as given, unsafe paths included
	Data []byte      // contents
	Mode fs.FileMode // 0 means 0644; fs.ModeSymlink makes a symlink entry (Data is its target)
	// Method is the zip compression method: 0 means zip.Deflate, as real
	// wheels use; Stored stores the entry.
	Method uint16
}

// modTime is the timestamp of every entry Write writes, so that the same
// entries always give the same bytes and the same sha256.
var modTime = time.Date(2020, time.January, 1, 0, 0, 0, 0, time.UTC)

// wheelName is a parsed PEP 427 file name.
type wheelName struct {
	dist, version, build string
	py, abi, plat        []string
}

func parseWheelName(filename string) (wheelName, error) {
	base, ok := strings.CutSuffix(filename, ".whl")
	if !ok || filepath.Base(filename) != filename {
		return wheelName{}, fmt.Errorf("wheel file name %q: want {dist}-{version}(-{build})?-{python}-{abi}-{platform}.whl", filename)
	}
	parts := strings.Split(base, "-")
	var w wheelName
	switch len(parts) {
	case 5:
	case 6:
		w.build = parts[2]
		parts = append(parts[:2], parts[3:]...)
	default:
		return wheelName{}, fmt.Errorf("wheel file name %q: %d dash-separated parts, want 5 or 6", filename, len(parts))
	}
	for _, p := range parts {
		if p == "" {
			return wheelName{}, fmt.Errorf("wheel file name %q: empty part", filename)
		}
	}
	w.dist, w.version = parts[0], parts[1]
	w.py, w.abi, w.plat = strings.Split(parts[2], "."), strings.Split(parts[3], "."), strings.Split(parts[4], ".")
	return w, nil
}

func (w wheelName) distInfo() string { return w.dist + "-" + w.version + ".dist-info" }

// tags expands the compressed tag sets (PEP 425) into one tag per line.
func (w wheelName) tags() []string {
	var out []string
	for _, py := range w.py {
		for _, abi := range w.abi {
			for _, plat := range w.plat {
				out = append(out, py+"-"+abi+"-"+plat)
			}
		}
	}
	return out
}

// Write writes a valid wheel named filename into dir: entries in the order
// given, then whichever of {dist}-{version}.dist-info/METADATA, WHEEL and
// RECORD the entries lack, made from the file name (PEP 427). RECORD lists
// every file with its urlsafe-base64 sha256 and size (itself with neither).
// The bytes depend only on the arguments. It returns the path and the
// file's sha256 in hex.
func Write(dir, filename string, entries []Entry) (path, sha256hex string, err error) {
	w, err := parseWheelName(filename)
	if err != nil {
		return "", "", err
	}
	di := w.distInfo()
	all := slices.Clone(entries)
	has := func(name string) bool {
		return slices.ContainsFunc(all, func(e Entry) bool { return e.Name == name })
	}
	if !has(di + "/METADATA") {
		all = append(all, Entry{Name: di + "/METADATA", Data: []byte(
			"Metadata-Version: 2.1\nName: " + w.dist + "\nVersion: " + w.version + "\n")})
	}
	if !has(di + "/WHEEL") {
		purelib := !slices.ContainsFunc(w.plat, func(p string) bool { return p != "any" })
		var b strings.Builder
		fmt.Fprintf(&b, "Wheel-Version: 1.0\nGenerator: wheeltest\nRoot-Is-Purelib: %t\n", purelib)
		for _, tag := range w.tags() {
			fmt.Fprintf(&b, "Tag: %s\n", tag)
		}
		if w.build != "" {
			fmt.Fprintf(&b, "Build: %s\n", w.build)
		}
		all = append(all, Entry{Name: di + "/WHEEL", Data: []byte(b.String())})
	}
	if !has(di + "/RECORD") {
		var b strings.Builder
		for _, e := range all {
			if strings.HasSuffix(e.Name, "/") {
				continue // directories are not recorded
			}
			sum := sha256.Sum256(e.Data)
			fmt.Fprintf(&b, "%s,sha256=%s,%d\n", csvField(e.Name), base64.RawURLEncoding.EncodeToString(sum[:]), len(e.Data))
		}
		fmt.Fprintf(&b, "%s,,\n", di+"/RECORD")
		all = append(all, Entry{Name: di + "/RECORD", Data: []byte(b.String())})
	}

	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range all {
		h := &zip.FileHeader{Name: e.Name, Method: zip.Deflate, Modified: modTime}
		switch e.Method {
		case 0:
		case Stored:
			h.Method = zip.Store
		default:
			h.Method = e.Method
		}
		mode := e.Mode
		if mode == 0 {
			mode = 0o644
		}
		if strings.HasSuffix(e.Name, "/") {
			mode |= fs.ModeDir
		}
		h.SetMode(mode)
		f, err := zw.CreateHeader(h)
		if err != nil {
			return "", "", fmt.Errorf("wheel %s entry %s: %w", filename, e.Name, err)
		}
		if _, err := f.Write(e.Data); err != nil {
			return "", "", fmt.Errorf("wheel %s entry %s: %w", filename, e.Name, err)
		}
	}
	if err := zw.Close(); err != nil {
		return "", "", fmt.Errorf("wheel %s: %w", filename, err)
	}
	path = filepath.Join(dir, filename)
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return "", "", fmt.Errorf("wheel %s: %w", filename, err)
	}
	sum := sha256.Sum256(buf.Bytes())
	return path, hex.EncodeToString(sum[:]), nil
}

// csvField quotes a RECORD path the way Python's csv module would.
func csvField(s string) string {
	if strings.ContainsAny(s, ",\"\r\n") {
		return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
	}
	return s
}

// DistName escapes a project name for a wheel file name (PEP 427 with the
// PEP 503 normalization): "Tiny.Pkg" becomes "tiny_pkg".
func DistName(name string) string {
	return strings.ReplaceAll(pyname.Normalize(name), "-", "_")
}

// Pure writes {DistName(name)}-{version}-py3-none-any.whl into dir holding modules
// (path in the wheel -> source), e.g.
// {"tinypkg/__init__.py": "__version__ = '1.0'\n"}.
func Pure(dir, name, version string, modules map[string]string) (path, sum string, err error) {
	var entries []Entry
	for _, p := range slices.Sorted(maps.Keys(modules)) {
		entries = append(entries, Entry{Name: p, Data: []byte(modules[p])})
	}
	return Write(dir, DistName(name)+"-"+version+"-py3-none-any.whl", entries)
}

// WithData writes {DistName(name)}-{version}-py3-none-any.whl into dir with a file in
// each .data folder a wheel can have. With pkg = DistName(name) and
// data = {pkg}-{version}.data it holds:
//
//	{pkg}/__init__.py                    __version__ = '{version}'
//	{data}/purelib/{pkg}_purelib.py      VALUE = 'purelib'
//	{data}/platlib/{pkg}_platlib.py      VALUE = 'platlib'
//	{data}/scripts/{pkg}-cli             a "#!python" script, mode 0755
//	{data}/headers/{pkg}.h               a C header
//	{data}/data/share/{pkg}/data.txt     a data file
func WithData(dir, name, version string) (path, sum string, err error) {
	pkg := DistName(name)
	data := pkg + "-" + version + ".data"
	return Write(dir, pkg+"-"+version+"-py3-none-any.whl", []Entry{
		{Name: pkg + "/__init__.py", Data: []byte("__version__ = '" + version + "'\n")},
		{Name: data + "/purelib/" + pkg + "_purelib.py", Data: []byte("VALUE = 'purelib'\n")},
		{Name: data + "/platlib/" + pkg + "_platlib.py", Data: []byte("VALUE = 'platlib'\n")},
		{Name: data + "/scripts/" + pkg + "-cli", Data: []byte("#!python\nimport " + pkg + "\nprint(" + pkg + ".__version__)\n"), Mode: 0o755},
		{Name: data + "/headers/" + pkg + ".h", Data: []byte("#define " + strings.ToUpper(pkg) + "_VALUE 1\n")},
		{Name: data + "/data/share/" + pkg + "/data.txt", Data: []byte("data for " + pkg + "\n")},
	})
}
