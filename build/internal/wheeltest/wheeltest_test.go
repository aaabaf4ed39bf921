package wheeltest

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/galerly/galerly-lambda/internal/testenv"
)

// readWheel returns every entry of a wheel by name.
func readWheel(t *testing.T, path string) (map[string][]byte, map[string]*zip.File, []string) {
	t.Helper()
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { zr.Close() })
	data, files := map[string][]byte{}, map[string]*zip.File{}
	var order []string
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		data[f.Name], files[f.Name] = b, f
		order = append(order, f.Name)
	}
	return data, files, order
}

// checkRecord asserts that RECORD lists every file with its real hash and
// size, as installers verify it.
func checkRecord(t *testing.T, data map[string][]byte, record string) {
	t.Helper()
	rows, err := csv.NewReader(bytes.NewReader(data[record])).ReadAll()
	if err != nil {
		t.Fatalf("RECORD: %v", err)
	}
	listed := map[string]bool{}
	for _, row := range rows {
		if len(row) != 3 {
			t.Fatalf("RECORD row %q: want 3 fields", row)
		}
		listed[row[0]] = true
		if row[0] == record {
			if row[1] != "" || row[2] != "" {
				t.Errorf("RECORD lists itself with hash %q size %q, want both empty", row[1], row[2])
			}
			continue
		}
		b, ok := data[row[0]]
		if !ok {
			t.Errorf("RECORD lists %s, which the wheel lacks", row[0])
			continue
		}
		sum := sha256.Sum256(b)
		if want := "sha256=" + base64.RawURLEncoding.EncodeToString(sum[:]); row[1] != want {
			t.Errorf("RECORD hash of %s = %s, want %s", row[0], row[1], want)
		}
		if row[2] != strconv.Itoa(len(b)) {
			t.Errorf("RECORD size of %s = %s, want %d", row[0], row[2], len(b))
		}
	}
	for name := range data {
		if !strings.HasSuffix(name, "/") && !listed[name] {
			t.Errorf("%s is in the wheel but not in RECORD", name)
		}
	}
}

func zipfileTest(t *testing.T, python, path string) {
	t.Helper()
	out, err := exec.Command(python, "-S", "-E", "-s", "-m", "zipfile", "-t", path).CombinedOutput()
	if err != nil {
		t.Fatalf("python -m zipfile -t %s: %v\n%s", filepath.Base(path), err, out)
	}
}

func TestWriteIsAValidWheel(t *testing.T) {
	python := testenv.FindPython(t, "3.12")
	dir := t.TempDir()
	entries := []Entry{
		{Name: "tinypkg/__init__.py", Data: []byte("__version__ = '1.0'\n")},
		{Name: "tinypkg/data, with comma.txt", Data: bytes.Repeat([]byte("x"), 4096), Method: Stored},
		{Name: "tinypkg/tool.sh", Data: []byte("#!/bin/sh\necho hi\n"), Mode: 0o755},
	}
	const name = "tinypkg-1.0-7-py2.py3-none-any.whl"
	path, sum, err := Write(dir, name, entries)
	if err != nil {
		t.Fatal(err)
	}
	zipfileTest(t, python, path)

	data, files, order := readWheel(t, path)
	checkRecord(t, data, "tinypkg-1.0.dist-info/RECORD")
	if last := order[len(order)-1]; last != "tinypkg-1.0.dist-info/RECORD" {
		t.Errorf("last entry is %s, want RECORD (installers read it last)", last)
	}
	wheel := string(data["tinypkg-1.0.dist-info/WHEEL"])
	for _, want := range []string{"Wheel-Version: 1.0\n", "Root-Is-Purelib: true\n", "Tag: py2-none-any\n", "Tag: py3-none-any\n", "Build: 7\n"} {
		if !strings.Contains(wheel, want) {
			t.Errorf("WHEEL lacks %q:\n%s", want, wheel)
		}
	}
	meta := string(data["tinypkg-1.0.dist-info/METADATA"])
	if !strings.Contains(meta, "Name: tinypkg\n") || !strings.Contains(meta, "Version: 1.0\n") {
		t.Errorf("METADATA does not name the wheel's project and version:\n%s", meta)
	}
	if m := files["tinypkg/tool.sh"].Mode(); m.Perm() != 0o755 {
		t.Errorf("tool.sh mode = %v, want 0755", m)
	}
	if m := files["tinypkg/__init__.py"].Mode(); m.Perm() != 0o644 {
		t.Errorf("__init__.py mode = %v, want 0644 by default", m)
	}
	if got := files["tinypkg/data, with comma.txt"].Method; got != zip.Store {
		t.Errorf("stored entry has method %d, want zip.Store", got)
	}
	if got := files["tinypkg/__init__.py"].Method; got != zip.Deflate {
		t.Errorf("default entry has method %d, want zip.Deflate", got)
	}

	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if h := sha256.Sum256(b); hex.EncodeToString(h[:]) != sum {
		t.Errorf("returned sha256 %s is not the file's", sum)
	}
	_, again, err := Write(t.TempDir(), name, entries)
	if err != nil {
		t.Fatal(err)
	}
	if again != sum {
		t.Errorf("writing the same wheel twice gave sha256 %s then %s", sum, again)
	}
}

func TestWriteRejectsBadFileNames(t *testing.T) {
	for _, name := range []string{"tinypkg-1.0.tar.gz", "tinypkg-1.0-py3-none.whl", "a-b-c-d-e-f-g.whl", "sub/tinypkg-1.0-py3-none-any.whl", "tinypkg--py3-none-any.whl"} {
		if _, _, err := Write(t.TempDir(), name, nil); err == nil {
			t.Errorf("Write(%q) succeeded, want an error naming the file", name)
		} else if !strings.Contains(err.Error(), name) {
			t.Errorf("Write(%q) error %q does not name the file", name, err)
		}
	}
}

// extract unpacks a wheel the way an installer lays out purelib/platlib.
func extract(t *testing.T, wheel string) string {
	t.Helper()
	dir := t.TempDir()
	data, files, _ := readWheel(t, wheel)
	for name, b := range data {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, files[name].Mode().Perm()); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func runPython(t *testing.T, python, pythonpath, prog string) string {
	t.Helper()
	cmd := exec.Command(python, "-S", "-s", "-B", "-c", prog)
	cmd.Env = []string{"PYTHONPATH=" + pythonpath, "PATH=/usr/bin:/bin", "HOME=" + t.TempDir()}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s -c %q: %v\n%s", python, prog, err, out)
	}
	return strings.TrimSpace(string(out))
}

func TestPureImportsWithItsMetadata(t *testing.T) {
	python := testenv.FindPython(t, "3.12")
	path, _, err := Pure(t.TempDir(), "Tiny.Pkg", "1.2", map[string]string{
		"tiny_pkg/__init__.py": "from .core import answer\n",
		"tiny_pkg/core.py":     "answer = 42\n",
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := filepath.Base(path); got != "tiny_pkg-1.2-py3-none-any.whl" {
		t.Errorf("file name %s, want the escaped project name", got)
	}
	got := runPython(t, python, extract(t, path),
		"import tiny_pkg, importlib.metadata as m; print(tiny_pkg.answer, m.version('tiny-pkg'))")
	if got != "42 1.2" {
		t.Errorf("import and importlib.metadata gave %q, want \"42 1.2\"", got)
	}
}

func TestWithDataHasEveryDataFolder(t *testing.T) {
	python := testenv.FindPython(t, "3.12")
	path, _, err := WithData(t.TempDir(), "datapkg", "2.0")
	if err != nil {
		t.Fatal(err)
	}
	zipfileTest(t, python, path)
	data, files, _ := readWheel(t, path)
	checkRecord(t, data, "datapkg-2.0.dist-info/RECORD")
	for _, folder := range []string{"purelib", "platlib", "scripts", "headers", "data"} {
		prefix := "datapkg-2.0.data/" + folder + "/"
		if !slices.ContainsFunc(slices.Collect(maps.Keys(data)), func(n string) bool { return strings.HasPrefix(n, prefix) }) {
			t.Errorf("no entry under %s", prefix)
		}
	}
	if m := files["datapkg-2.0.data/scripts/datapkg-cli"].Mode(); m&0o111 == 0 {
		t.Errorf("script mode %v is not executable", m)
	}
}

func TestCompiledWheelImports(t *testing.T) {
	for _, minor := range []string{"3.11", "3.12", "3.13"} {
		t.Run(minor, func(t *testing.T) {
			python := testenv.FindPython(t, minor)
			suffix := ExtSuffix(t, python)
			if !strings.Contains(suffix, "cpython-3"+strings.TrimPrefix(minor, "3.")) {
				t.Errorf("ExtSuffix = %q, want it to name cpython-3%s", suffix, strings.TrimPrefix(minor, "3."))
			}
			path, _ := CompiledWheel(t, t.TempDir(), python, "Fast-Pkg", "fastpkg._speed", "0.3")
			cp := "cp3" + strings.TrimPrefix(minor, "3.")
			if ok, _ := regexp.MatchString(`^fast_pkg-0\.3-`+cp+`-`+cp+`-manylinux2014_(x86_64|aarch64)\.whl$`, filepath.Base(path)); !ok {
				t.Errorf("file name %s, want fast_pkg-0.3-%s-%s-manylinux2014_<machine>.whl", filepath.Base(path), cp, cp)
			}
			got := runPython(t, python, extract(t, path),
				"import fastpkg._speed as m; assert m.add(2, 3) == 5; print(m.__version__, m.__file__.endswith("+`"`+suffix+`"`+"))")
			if got != "0.3 True" {
				t.Errorf("compiled module gave %q, want \"0.3 True\"", got)
			}
		})
	}
}

func TestCompiledWheelOptions(t *testing.T) {
	python := testenv.FindPython(t, "3.12")
	path, _ := CompiledWheel(t, t.TempDir(), python, "fastpkg", "fastmod", "1.0", InPlatlib(), PlatformTag("manylinux_2_28_x86_64"))
	if !strings.HasSuffix(path, "-cp312-cp312-manylinux_2_28_x86_64.whl") {
		t.Errorf("PlatformTag not in file name %s", filepath.Base(path))
	}
	data, files, _ := readWheel(t, path)
	so := "fastpkg-1.0.data/platlib/fastmod" + ExtSuffix(t, python)
	if _, ok := data[so]; !ok {
		t.Fatalf("no %s in the wheel", so)
	}
	if files[so].Mode().Perm() != 0o755 {
		t.Errorf("extension mode %v, want 0755", files[so].Mode())
	}
	if !strings.Contains(string(data["fastpkg-1.0.dist-info/WHEEL"]), "Root-Is-Purelib: false\n") {
		t.Error("a platform wheel's WHEEL must say Root-Is-Purelib: false")
	}
	checkRecord(t, data, "fastpkg-1.0.dist-info/RECORD")
}

var anchorRE = regexp.MustCompile(`<a href="([^"]+)">([^<]+)</a>`)

// projectFiles reads a project page the way an index client would and
// returns filename -> (absolute URL, sha256).
func projectFiles(t *testing.T, format Format, page string, resp *http.Response) map[string][2]string {
	t.Helper()
	body, _ := io.ReadAll(resp.Body)
	base, _ := url.Parse(page)
	out := map[string][2]string{}
	switch format {
	case JSON:
		if ct := resp.Header.Get("Content-Type"); ct != JSONContentType {
			t.Errorf("Content-Type %q, want %q", ct, JSONContentType)
		}
		var doc struct {
			Meta struct {
				APIVersion string `json:"api-version"`
			}
			Name  string
			Files []struct {
				Filename string
				URL      string
				Hashes   map[string]string
			}
		}
		if err := json.Unmarshal(body, &doc); err != nil {
			t.Fatalf("project page: %v\n%s", err, body)
		}
		if doc.Meta.APIVersion != "1.1" {
			t.Errorf("api-version %q", doc.Meta.APIVersion)
		}
		for _, f := range doc.Files {
			u, _ := base.Parse(f.URL)
			out[f.Filename] = [2]string{u.String(), f.Hashes["sha256"]}
		}
	case HTML:
		for _, m := range anchorRE.FindAllStringSubmatch(string(body), -1) {
			u, _ := base.Parse(m[1])
			hash := strings.TrimPrefix(u.Fragment, "sha256=")
			u.Fragment = ""
			if strings.HasPrefix(m[1], "http") {
				t.Errorf("href %s is absolute, want relative", m[1])
			}
			out[m[2]] = [2]string{u.String(), hash}
		}
	}
	return out
}

func get(t *testing.T, u string) *http.Response {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func TestServeIndex(t *testing.T) {
	dir := t.TempDir()
	a, sumA, err := Pure(dir, "Tiny_Pkg", "1.0", map[string]string{"tiny_pkg/__init__.py": ""})
	if err != nil {
		t.Fatal(err)
	}
	b, sumB, err := Pure(dir, "tiny-pkg", "1.1", map[string]string{"tiny_pkg/__init__.py": "x = 1\n"})
	if err != nil {
		t.Fatal(err)
	}
	o, _, err := Pure(dir, "other", "3.0", nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{filepath.Base(a): sumA, filepath.Base(b): sumB}

	for _, tc := range []struct {
		name   string
		format Format
		opts   []IndexOption
	}{
		{"json", JSON, nil},
		{"json-relative", JSON, []IndexOption{RelativeURLs()}},
		{"html", HTML, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ix := ServeIndex(t, []string{a, b, o}, tc.format, tc.opts...)
			if !strings.HasPrefix(ix.URL, "http://127.0.0.1:") || !strings.HasSuffix(ix.URL, "/simple/") {
				t.Fatalf("URL %s, want http://127.0.0.1:PORT/simple/", ix.URL)
			}
			page := ix.URL + "tiny-pkg/"
			files := projectFiles(t, tc.format, page, get(t, page))
			if len(files) != len(want) {
				t.Fatalf("project page lists %v, want %v", files, want)
			}
			for name, sum := range want {
				f := files[name]
				if f[1] != sum {
					t.Errorf("%s listed with sha256 %q, want %s", name, f[1], sum)
				}
				body, _ := io.ReadAll(get(t, f[0]).Body)
				if h := sha256.Sum256(body); hex.EncodeToString(h[:]) != sum {
					t.Errorf("download of %s from %s does not match its sha256", name, f[0])
				}
			}
			if n := ix.Count("/simple/tiny-pkg/"); n != 1 {
				t.Errorf("Count(project page) = %d, want 1", n)
			}
			if n := ix.Requests(); n != 3 {
				t.Errorf("Requests() = %d after one page and two files, want 3", n)
			}

			// Other spellings redirect to the normalized page; unknown names 404.
			if resp := get(t, ix.URL+"Tiny_Pkg/"); resp.StatusCode != 200 || resp.Request.URL.Path != "/simple/tiny-pkg/" {
				t.Errorf("Tiny_Pkg/ answered %d at %s, want a redirect to /simple/tiny-pkg/", resp.StatusCode, resp.Request.URL.Path)
			}
			if resp := get(t, ix.URL+"missing/"); resp.StatusCode != http.StatusNotFound {
				t.Errorf("unknown project answered %d, want 404", resp.StatusCode)
			}
			root, _ := io.ReadAll(get(t, ix.URL).Body)
			if !strings.Contains(string(root), "other") || !strings.Contains(string(root), "tiny_pkg") {
				t.Errorf("root page does not list both projects:\n%s", root)
			}

			fileURL := files[filepath.Base(a)][0]
			ix.Tamper(filepath.Base(a), []byte("not the wheel"))
			if body, _ := io.ReadAll(get(t, fileURL).Body); string(body) != "not the wheel" {
				t.Errorf("Tamper: download gave %d bytes of the original, want the tampered body", len(body))
			}
			u, _ := url.Parse(fileURL)
			ix.FailNext(u.Path, 2, http.StatusServiceUnavailable)
			for i, wantStatus := range []int{503, 503, 200} {
				if got := get(t, fileURL).StatusCode; got != wantStatus {
					t.Errorf("request %d after FailNext(2): status %d, want %d", i+1, got, wantStatus)
				}
			}
		})
	}
}

func TestServeIndexBasicAuth(t *testing.T) {
	p, _, err := Pure(t.TempDir(), "secret", "1.0", nil)
	if err != nil {
		t.Fatal(err)
	}
	ix := ServeIndex(t, []string{p}, JSON, BasicAuth("alice", "s3cret"))
	if got := get(t, ix.URL+"secret/").StatusCode; got != http.StatusUnauthorized {
		t.Errorf("no credentials: %d, want 401", got)
	}
	u, _ := url.Parse(ix.URL + "secret/")
	u.User = url.UserPassword("alice", "wrong")
	if got := get(t, u.String()).StatusCode; got != http.StatusUnauthorized {
		t.Errorf("wrong password: %d, want 401", got)
	}
	u.User = url.UserPassword("alice", "s3cret")
	if got := get(t, u.String()).StatusCode; got != http.StatusOK {
		t.Errorf("right credentials: %d, want 200", got)
	}
	if ix.Requests() != 3 {
		t.Errorf("Requests() = %d, want 3 (refused requests count too)", ix.Requests())
	}
}
