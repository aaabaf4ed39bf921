package index

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func sumOf(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// recorder remembers the requests a test server saw.
type recorder struct {
	mu   sync.Mutex
	reqs []*http.Request
}

func (rc *recorder) wrap(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc.mu.Lock()
		rc.reqs = append(rc.reqs, r.Clone(context.Background()))
		rc.mu.Unlock()
		h(w, r)
	})
}

func (rc *recorder) all() []*http.Request {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]*http.Request(nil), rc.reqs...)
}

func (rc *recorder) paths() []string {
	var out []string
	for _, r := range rc.all() {
		out = append(out, r.URL.Path)
	}
	return out
}

// serve starts a test server on 127.0.0.1 with a request recorder.
func serve(t *testing.T, h http.HandlerFunc) (*httptest.Server, *recorder) {
	t.Helper()
	rc := &recorder{}
	srv := httptest.NewServer(rc.wrap(h))
	t.Cleanup(srv.Close)
	return srv, rc
}

// waits records the delays between attempts instead of sleeping them, so
// retry tests are instant and can assert the delay chosen.
type waits struct {
	mu sync.Mutex
	ds []time.Duration
}

func (w *waits) wait(ctx context.Context, d time.Duration) error {
	w.mu.Lock()
	w.ds = append(w.ds, d)
	w.mu.Unlock()
	return ctx.Err()
}

func (w *waits) got() []time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]time.Duration(nil), w.ds...)
}

// fastSources is a Sources for one index whose retries do not sleep.
func fastSources(index string) (*Sources, *waits) {
	w := &waits{}
	return &Sources{IndexURL: index, NetrcPath: os.DevNull, wait: w.wait}, w
}

const (
	shaA = "a665a45920422f9d417e4867efdc4fb8a04a1f3fff1fa07e998e86f7f7a27ae3"
	shaB = "b1d5781111d84f7b3fe45a0852e59758cd7a87e5b5d8f2ad2b1b1b4c3e8b9a01"
)

func TestJSONIndex(t *testing.T) {
	srv, rc := serve(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/simple/pillow-heif/" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/vnd.pypi.simple.v1+json")
		fmt.Fprintf(w, `{
		  "meta": {"api-version": "1.1"},
		  "name": "pillow-heif",
		  "files": [
		    {"filename": "pillow_heif-0.16.0-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
		     "url": "../../files/pillow_heif-0.16.0-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
		     "hashes": {"sha256": "%s"}},
		    {"filename": "pillow_heif-0.15.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
		     "url": "https://files.example.test/p/pillow_heif-0.15.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl#sha256=%s",
		     "hashes": {"sha256": "%s"}, "yanked": true},
		    {"filename": "pillow_heif-0.14.0.tar.gz", "url": "/files/pillow_heif-0.14.0.tar.gz",
		     "hashes": {"md5": "0123456789abcdef0123456789abcdef"}, "yanked": "broken build"},
		    {"filename": "pillow_heif-0.13.0.tar.gz", "url": "/files/pillow_heif-0.13.0.tar.gz",
		     "hashes": {}, "yanked": false}
		  ]}`, strings.ToUpper(shaA), shaB, shaB)
	})
	s, _ := fastSources(srv.URL + "/simple/")
	s.UserAgent = "lambdapack-test/1"
	// Spelled as a user might: the page is requested by normalized name.
	files, err := s.Files(context.Background(), "Pillow_Heif")
	if err != nil {
		t.Fatal(err)
	}
	src := srv.URL + "/simple/"
	want := []File{
		{"pillow_heif-0.16.0-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
			srv.URL + "/files/pillow_heif-0.16.0-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", shaA, src, false, "", 0},
		{"pillow_heif-0.15.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
			"https://files.example.test/p/pillow_heif-0.15.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", shaB, src, true, "", 0},
		{"pillow_heif-0.14.0.tar.gz", srv.URL + "/files/pillow_heif-0.14.0.tar.gz", "", src, true, "broken build", 0},
		{"pillow_heif-0.13.0.tar.gz", srv.URL + "/files/pillow_heif-0.13.0.tar.gz", "", src, false, "", 0},
	}
	if !reflect.DeepEqual(files, want) {
		t.Errorf("Files =\n%+v\nwant\n%+v", files, want)
	}
	r := rc.all()[0]
	if got := r.Header.Get("Accept"); got != acceptSimple {
		t.Errorf("Accept = %q, want %q", got, acceptSimple)
	}
	if got := r.Header.Get("User-Agent"); got != "lambdapack-test/1" {
		t.Errorf("User-Agent = %q", got)
	}
}

func TestHTMLIndex(t *testing.T) {
	var srvURL string
	srv, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/simple/numpy/":
			// Relative links must resolve against the page after this.
			http.Redirect(w, r, "/mirror/pypi/numpy/", http.StatusFound)
		case "/mirror/pypi/numpy/":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprintf(w, `<!DOCTYPE html><html><head><meta name="pypi:repository-version" content="1.0"></head><body>
<h1>Links for numpy</h1>
<a href="../">parent folder</a>
<a>no href</a>
<a href="numpy-2.0.0-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl#sha256=%s">numpy-2.0.0-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl</a><br/>
<a href="../../files/numpy-1.26.4-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl#sha256=%s" data-yanked="">numpy-1.26.4</a>
<a href="%s/abs/numpy-1.26.3.tar.gz#md5=0123456789abcdef0123456789abcdef" data-yanked="bad release">numpy-1.26.3.tar.gz</a>
<a href="/files/numpy%%2B1.0.tar.gz#sha256=notahash" data-requires-python="&gt;=3.9">numpy+1.0.tar.gz</a>
</body></html>`, strings.ToUpper(shaA), shaB, srvURL)
		default:
			http.NotFound(w, r)
		}
	})
	srvURL = srv.URL
	s, _ := fastSources(srv.URL + "/simple") // no trailing slash: still the right page
	files, err := s.Files(context.Background(), "numpy")
	if err != nil {
		t.Fatal(err)
	}
	src := srv.URL + "/simple"
	want := []File{
		{"numpy-2.0.0-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
			srv.URL + "/mirror/pypi/numpy/numpy-2.0.0-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", shaA, src, false, "", 0},
		{"numpy-1.26.4-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
			srv.URL + "/mirror/files/numpy-1.26.4-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", shaB, src, true, "", 0},
		{"numpy-1.26.3.tar.gz", srv.URL + "/abs/numpy-1.26.3.tar.gz", "", src, true, "bad release", 0},
		{"numpy+1.0.tar.gz", srv.URL + "/files/numpy%2B1.0.tar.gz", "", src, false, "", 0},
	}
	if !reflect.DeepEqual(files, want) {
		t.Errorf("Files =\n%+v\nwant\n%+v", files, want)
	}
}

func TestHTMLBaseHref(t *testing.T) {
	srv, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, `<html><head><base href="/cdn/numpy/"></head><body>
<a href="numpy-2.0.0-py3-none-any.whl">numpy-2.0.0-py3-none-any.whl</a></body></html>`)
	})
	s, _ := fastSources(srv.URL + "/simple/")
	files, err := s.Files(context.Background(), "numpy")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 1 || files[0].URL != srv.URL+"/cdn/numpy/numpy-2.0.0-py3-none-any.whl" {
		t.Errorf("Files = %+v, want the link resolved against <base href>", files)
	}
}

// negotiating answers like a server that has both formats and picks by the
// client's Accept header (q values honoured, as PEP 691 expects).
func negotiating(w http.ResponseWriter, r *http.Request) {
	accept := r.Header.Get("Accept")
	jsonQ, htmlQ := -1.0, -1.0
	for _, part := range strings.Split(accept, ",") {
		mt, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			fmt.Sscan(v, &q)
		}
		switch mt {
		case "application/vnd.pypi.simple.v1+json":
			jsonQ = max(jsonQ, q)
		case "application/vnd.pypi.simple.v1+html", "text/html":
			htmlQ = max(htmlQ, q)
		}
	}
	if jsonQ > htmlQ {
		w.Header().Set("Content-Type", "application/vnd.pypi.simple.v1+json")
		fmt.Fprint(w, `{"meta":{"api-version":"1.0"},"files":[{"filename":"rawpy-0.21.0-py3-none-any.whl","url":"j/rawpy-0.21.0-py3-none-any.whl","hashes":{}}]}`)
		return
	}
	w.Header().Set("Content-Type", "text/html")
	fmt.Fprint(w, `<a href="h/rawpy-0.21.0-py3-none-any.whl">x</a>`)
}

func TestContentNegotiation(t *testing.T) {
	for _, tc := range []struct {
		name        string
		contentType string
		body        string
		handler     http.HandlerFunc
		wantURLPath string // of the one file, or "" with wantErr
		wantErr     string
	}{
		{name: "server with both picks JSON", handler: negotiating, wantURLPath: "/simple/rawpy/j/rawpy-0.21.0-py3-none-any.whl"},
		{name: "HTML-only server", contentType: "text/html", body: `<a href="h/rawpy-0.21.0-py3-none-any.whl">x</a>`, wantURLPath: "/simple/rawpy/h/rawpy-0.21.0-py3-none-any.whl"},
		{name: "PEP 691 HTML type", contentType: "application/vnd.pypi.simple.v1+html", body: `<a href="h/rawpy-0.21.0-py3-none-any.whl">x</a>`, wantURLPath: "/simple/rawpy/h/rawpy-0.21.0-py3-none-any.whl"},
		{name: "no content type, JSON body", contentType: "", body: ` {"files":[{"filename":"rawpy-0.21.0-py3-none-any.whl","url":"j/rawpy-0.21.0-py3-none-any.whl"}]}`, wantURLPath: "/simple/rawpy/j/rawpy-0.21.0-py3-none-any.whl"},
		{name: "unknown major version", contentType: "application/vnd.pypi.simple.v1+json", body: `{"meta":{"api-version":"2.0"},"files":[]}`, wantErr: "api-version 2.0"},
		{name: "JSON file without url", contentType: "application/vnd.pypi.simple.v1+json", body: `{"files":[{"filename":"rawpy-0.21.0-py3-none-any.whl"}]}`, wantErr: "bad url"},
		{name: "bad JSON", contentType: "application/vnd.pypi.simple.v1+json", body: `{"files":[`, wantErr: "PEP 691 JSON"},
		{name: "not an index page", contentType: "image/png", body: "\x89PNG", wantErr: `unsupported content type "image/png"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := tc.handler
			if h == nil {
				h = func(w http.ResponseWriter, r *http.Request) {
					w.Header()["Content-Type"] = []string{tc.contentType}
					if tc.contentType == "" {
						w.Header()["Content-Type"] = nil // no sniffing by the server either
					}
					io.WriteString(w, tc.body)
				}
			}
			srv, _ := serve(t, h)
			s, _ := fastSources(srv.URL + "/simple/")
			files, err := s.Files(context.Background(), "rawpy")
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), "rawpy") {
					t.Fatalf("err = %v, want one naming the project and %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(files) != 1 || files[0].URL != srv.URL+tc.wantURLPath {
				t.Errorf("Files = %+v, want one file at %s", files, tc.wantURLPath)
			}
		})
	}
}

// pageOf serves a JSON project page listing the given filename/sha pairs.
func pageOf(pairs ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var fs []string
		for i := 0; i < len(pairs); i += 2 {
			fs = append(fs, fmt.Sprintf(`{"filename":%q,"url":"/f/%s","hashes":{"sha256":%q}}`, pairs[i], pairs[i], pairs[i+1]))
		}
		w.Header().Set("Content-Type", "application/vnd.pypi.simple.v1+json")
		fmt.Fprintf(w, `{"meta":{"api-version":"1.0"},"files":[%s]}`, strings.Join(fs, ","))
	}
}

func TestNotFoundIsNoFiles(t *testing.T) {
	srv, rc := serve(t, http.NotFound)
	s, w := fastSources(srv.URL + "/simple/")
	files, err := s.Files(context.Background(), "rawpy")
	if err != nil || len(files) != 0 {
		t.Fatalf("Files = %v, %v; want none and no error", files, err)
	}
	if n := len(rc.all()); n != 1 || len(w.got()) != 0 {
		t.Errorf("%d requests, %d waits: a 404 must not be retried", n, len(w.got()))
	}
}

func TestExtraIndexMerge(t *testing.T) {
	primary, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/simple/numpy/" {
			pageOf("numpy-2.0.0-py3-none-any.whl", shaA, "numpy-2.0.0.tar.gz", shaA)(w, r)
			return
		}
		http.NotFound(w, r)
	})
	extra, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/private/numpy/":
			// One file also on the primary (same name and hash: listed
			// once), one with the same name but other bytes (kept: only
			// the lock's hash decides which is used), one new file.
			pageOf("numpy-2.0.0-py3-none-any.whl", shaA,
				"numpy-2.0.0.tar.gz", shaB,
				"numpy-2.0.0-cp312-cp312-manylinux2014_x86_64.whl", shaB)(w, r)
		case "/private/internal-tool/":
			pageOf("internal_tool-1.0-py3-none-any.whl", shaB)(w, r)
		default:
			http.NotFound(w, r)
		}
	})
	s, _ := fastSources(primary.URL + "/simple/")
	s.ExtraIndexURLs = []string{extra.URL + "/private/"}

	files, err := s.Files(context.Background(), "numpy")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range files {
		got = append(got, f.Filename+" "+f.SHA256[:1]+" "+strings.TrimPrefix(strings.TrimPrefix(f.Source, primary.URL), extra.URL))
	}
	want := []string{
		"numpy-2.0.0-py3-none-any.whl a /simple/",
		"numpy-2.0.0.tar.gz a /simple/",
		"numpy-2.0.0.tar.gz b /private/",
		"numpy-2.0.0-cp312-cp312-manylinux2014_x86_64.whl b /private/",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("merged files:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// Missing from the primary (404) but present in the extra index.
	files, err = s.Files(context.Background(), "internal-tool")
	if err != nil || len(files) != 1 || files[0].Filename != "internal_tool-1.0-py3-none-any.whl" {
		t.Errorf("Files(internal-tool) = %+v, %v; want the extra index's file", files, err)
	}
}

// findLinksDir makes a find-links folder with wheels and sdists of several
// projects, some with confusable names.
func findLinksDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{
		"numpy-2.0.0-cp312-cp312-manylinux2014_x86_64.whl",
		"numpy-2.0.0.tar.gz",
		"NumPy-1.0.zip",
		"numpyx-1.0-py3-none-any.whl",
		"pillow-10.4.0-cp312-cp312-manylinux_2_28_x86_64.whl",
		"pillow_heif-0.16.0-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
		"pillow-heif-0.15.0.tar.gz",
		"numpy-notes.txt",
		"README",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("content of "+name), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// A folder named like a wheel is not one.
	if err := os.Mkdir(filepath.Join(dir, "numpy-3.0-py3-none-any.whl"), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestFindLinks(t *testing.T) {
	dir := findLinksDir(t)
	for _, tc := range []struct {
		project string
		want    []string
	}{
		{"numpy", []string{"NumPy-1.0.zip", "numpy-2.0.0-cp312-cp312-manylinux2014_x86_64.whl", "numpy-2.0.0.tar.gz"}},
		{"pillow", []string{"pillow-10.4.0-cp312-cp312-manylinux_2_28_x86_64.whl"}},
		{"Pillow.HEIF", []string{"pillow-heif-0.15.0.tar.gz", "pillow_heif-0.16.0-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"}},
		{"rawpy", nil},
	} {
		t.Run(tc.project, func(t *testing.T) {
			s := &Sources{NoIndex: true, FindLinks: []string{dir}}
			files, err := s.Files(context.Background(), tc.project)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range files {
				got = append(got, f.Filename)
				if f.SHA256 != "" || f.Source != dir || f.URL != fileURL(filepath.Join(dir, f.Filename)) {
					t.Errorf("file %+v: want no sha256, Source %s and a file:// URL", f, dir)
				}
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Files = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestFindLinksDownload(t *testing.T) {
	dir := findLinksDir(t)
	// A file:// URL names the folder as well as a path does.
	s := &Sources{NoIndex: true, FindLinks: []string{fileURL(dir)}}
	files, err := s.Files(context.Background(), "pillow")
	if err != nil || len(files) != 1 {
		t.Fatalf("Files = %+v, %v", files, err)
	}
	var buf bytes.Buffer
	if err := s.Download(context.Background(), files[0], &buf); err != nil {
		t.Fatal(err)
	}
	if want := "content of " + files[0].Filename; buf.String() != want {
		t.Errorf("downloaded %q, want %q", buf.String(), want)
	}
}

func TestFindLinksMissingFolder(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "no-such-wheels")
	s := &Sources{NoIndex: true, FindLinks: []string{missing}}
	_, err := s.Files(context.Background(), "numpy")
	if err == nil || !strings.Contains(err.Error(), missing) {
		t.Fatalf("err = %v, want one naming %s (a typo must not pass silently)", err, missing)
	}
}

// TestFindLinksSameName: two folders may hold files of the same name with
// different bytes. Without a sha256 nothing proves them the same, so both
// are listed, whatever the order of the folders; only the same file listed
// twice is listed once.
func TestFindLinksSameName(t *testing.T) {
	const name = "twin-1.0-py3-none-any.whl"
	dirs := []string{t.TempDir(), t.TempDir()}
	for i, d := range dirs {
		if err := os.WriteFile(filepath.Join(d, name), []byte(fmt.Sprint("twin from folder ", i)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name  string
		flags []string
		want  []string // Source of each file listed, in order
	}{
		{"in order", []string{dirs[0], dirs[1]}, []string{dirs[0], dirs[1]}},
		{"reversed", []string{dirs[1], dirs[0]}, []string{dirs[1], dirs[0]}},
		{"same folder twice", []string{dirs[0], fileURL(dirs[0])}, []string{dirs[0]}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &Sources{NoIndex: true, FindLinks: tc.flags}
			files, err := s.Files(context.Background(), "twin")
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range files {
				got = append(got, f.Source)
				var buf bytes.Buffer
				if err := s.Download(context.Background(), f, &buf); err != nil {
					t.Fatal(err)
				}
				if want := fmt.Sprint("twin from folder ", slices.Index(dirs, f.Source)); buf.String() != want {
					t.Errorf("%s from %s: downloaded %q, want %q", f.Filename, f.Source, buf.String(), want)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("%s listed from %q, want %q", name, got, tc.want)
			}
		})
	}
}

func TestFindLinksPage(t *testing.T) {
	srv, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(w, `<a href="numpy-2.0.0-py3-none-any.whl#sha256=%s">n</a>
<a href="pillow-10.4.0-py3-none-any.whl">p</a>`, shaA)
	})
	s := &Sources{NoIndex: true, FindLinks: []string{srv.URL + "/wheels/"}, NetrcPath: os.DevNull}
	files, err := s.Files(context.Background(), "numpy")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 1 || files[0].Filename != "numpy-2.0.0-py3-none-any.whl" || files[0].SHA256 != shaA {
		t.Errorf("Files = %+v, want only numpy's wheel with its hash", files)
	}
}

func TestNoIndex(t *testing.T) {
	srv, rc := serve(t, pageOf("numpy-9.9.9-py3-none-any.whl", shaA))
	dir := findLinksDir(t)
	s := &Sources{IndexURL: srv.URL + "/simple/", ExtraIndexURLs: []string{srv.URL + "/extra/"}, NoIndex: true, FindLinks: []string{dir}}
	files, err := s.Files(context.Background(), "numpy")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 3 {
		t.Errorf("Files = %+v, want the 3 find-links files only", files)
	}
	if n := len(rc.all()); n != 0 {
		t.Errorf("index was asked %d times with NoIndex", n)
	}
}

func TestBadProjectName(t *testing.T) {
	srv, rc := serve(t, pageOf())
	s, _ := fastSources(srv.URL + "/simple/")
	for _, name := range []string{"", "../admin", "a/b", "-numpy", "numpy.", "num py", "numpy?x=1"} {
		if _, err := s.Files(context.Background(), name); err == nil {
			t.Errorf("Files(%q) accepted a bad name", name)
		}
	}
	if n := len(rc.all()); n != 0 {
		t.Errorf("%d requests sent for bad names", n)
	}
}

func TestBadIndexURLHidesPassword(t *testing.T) {
	for _, raw := range []string{"ftp://u:hunter2@host/simple/", "http://u:hunter2@host:notaport/simple/", "u:hunter2@host/simple"} {
		s := &Sources{IndexURL: raw}
		_, err := s.Files(context.Background(), "numpy")
		if err == nil || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("IndexURL %q: err = %v; want an error without the password", raw, err)
		}
	}
}

// authServer serves a project page and a file, both only to user:pass.
func authServer(t *testing.T, user, pass string, content []byte) (*httptest.Server, *recorder) {
	return serve(t, func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		if !ok || u != user || p != pass {
			w.Header().Set("WWW-Authenticate", `Basic realm="index"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		switch r.URL.Path {
		case "/simple/numpy/":
			pageOf("numpy-2.0.0-py3-none-any.whl", sumOf(content))(w, r)
		case "/f/numpy-2.0.0-py3-none-any.whl":
			w.Write(content)
		default:
			http.NotFound(w, r)
		}
	})
}

func TestBasicAuthFromURL(t *testing.T) {
	const user, pass = "alice", "s3cret-token-9"
	content := []byte("wheel bytes")
	srv, rc := authServer(t, user, pass, content)
	withCreds := "http://" + user + ":" + pass + "@" + strings.TrimPrefix(srv.URL, "http://") + "/simple/"

	s, _ := fastSources(withCreds)
	files, err := s.Files(context.Background(), "numpy")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 1 || files[0].Source != srv.URL+"/simple/" {
		t.Fatalf("Files = %+v, want one file with Source %s/simple/", files, srv.URL)
	}
	if strings.Contains(fmt.Sprint(files), pass) {
		t.Errorf("File shows the password: %+v", files)
	}
	var buf bytes.Buffer
	if err := s.Download(context.Background(), files[0], &buf); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), content) {
		t.Errorf("downloaded %q", buf.Bytes())
	}
	for _, r := range rc.all() {
		if u, p, _ := r.BasicAuth(); u != user || p != pass {
			t.Errorf("%s: credentials %q/%q, want the index URL's", r.URL.Path, u, p)
		}
	}

	// Refused credentials: the error says so and does not show them.
	s.IndexURL = "http://" + user + ":wrong-" + pass + "@" + strings.TrimPrefix(srv.URL, "http://") + "/simple/"
	_, err = s.Files(context.Background(), "numpy")
	var se *StatusError
	if !errors.As(err, &se) || se.StatusCode != http.StatusUnauthorized {
		t.Fatalf("err = %v, want a 401 StatusError", err)
	}
	if strings.Contains(err.Error(), pass) || !strings.Contains(err.Error(), "refused") {
		t.Errorf("err = %q: want no password and a hint that the credentials were refused", err)
	}
}

func TestCredentialsStayOnTheirHost(t *testing.T) {
	other, otherRC := serve(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "cdn bytes") })
	idx, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(w, `<a href="%s/cdn/numpy-2.0.0-py3-none-any.whl">x</a>`, other.URL)
	})
	s, _ := fastSources("http://alice:s3cret@" + strings.TrimPrefix(idx.URL, "http://") + "/simple/")
	files, err := s.Files(context.Background(), "numpy")
	if err != nil || len(files) != 1 {
		t.Fatalf("Files = %+v, %v", files, err)
	}
	if err := s.Download(context.Background(), files[0], io.Discard); err != nil {
		t.Fatal(err)
	}
	if h := otherRC.all()[0].Header.Get("Authorization"); h != "" {
		t.Errorf("the index's credentials were sent to another host: %q", h)
	}
}

func TestNetrcCredentials(t *testing.T) {
	const user, pass = "bob", "hunter2-netrc"
	content := []byte("private wheel")
	srv, rc := authServer(t, user, pass, content)
	netrc := filepath.Join(t.TempDir(), "netrc")
	body := "machine pypi.org login nobody password nothing\n" +
		"machine 127.0.0.1\n  login " + user + "\n  password " + pass + "\n"
	if err := os.WriteFile(netrc, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}

	for _, viaEnv := range []bool{false, true} {
		s, _ := fastSources(srv.URL + "/simple/")
		if viaEnv {
			t.Setenv("NETRC", netrc)
			s.NetrcPath = ""
		} else {
			s.NetrcPath = netrc
		}
		files, err := s.Files(context.Background(), "numpy")
		if err != nil || len(files) != 1 {
			t.Fatalf("viaEnv %v: Files = %+v, %v", viaEnv, files, err)
		}
		var buf bytes.Buffer
		if err := s.Download(context.Background(), files[0], &buf); err != nil || !bytes.Equal(buf.Bytes(), content) {
			t.Fatalf("viaEnv %v: Download = %q, %v", viaEnv, buf.Bytes(), err)
		}
	}
	for _, r := range rc.all() {
		if u, p, _ := r.BasicAuth(); u != user || p != pass {
			t.Errorf("%s: credentials %q/%q, want netrc's", r.URL.Path, u, p)
		}
	}

	// A wrong netrc password: refused, and not shown.
	bad := filepath.Join(t.TempDir(), "netrc")
	os.WriteFile(bad, []byte("default login bob password wrong-hunter2-netrc\n"), 0o600)
	s, _ := fastSources(srv.URL + "/simple/")
	s.NetrcPath = bad
	_, err := s.Files(context.Background(), "numpy")
	if err == nil || strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), "401") {
		t.Errorf("err = %v; want a 401 without the password", err)
	}

	// No credentials at all: the hint says where to put them.
	s.NetrcPath = filepath.Join(t.TempDir(), "absent")
	_, err = s.Files(context.Background(), "numpy")
	if err == nil || !strings.Contains(err.Error(), "netrc") {
		t.Errorf("err = %v; want a hint about netrc", err)
	}
}

// TestBadNetrcIgnored: like pip, a netrc file that cannot be used means no
// netrc credentials rather than a failed build; it is named only when a
// server then asks for credentials.
func TestBadNetrcIgnored(t *testing.T) {
	content := []byte("private wheel")
	open, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/simple/numpy/":
			pageOf("numpy-2.0.0-py3-none-any.whl", sumOf(content))(w, r)
		default:
			w.Write(content)
		}
	})
	locked, _ := authServer(t, "bob", "hunter2-netrc", content)
	dir := t.TempDir()
	malformed := filepath.Join(dir, "netrc")
	// An unquoted password with a space: "netrc" is an unexpected word,
	// and must not be shown.
	os.WriteFile(malformed, []byte("machine 127.0.0.1\nlogin bob\npassword hunter2 netrc\n"), 0o600)
	folder := filepath.Join(dir, "folder")
	os.Mkdir(folder, 0o755)

	for _, tc := range []struct{ name, netrc, reason string }{
		{"malformed", malformed, malformed + " line 3"},
		{"unreadable", folder, folder},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := fastSources(open.URL + "/simple/")
			s.NetrcPath = tc.netrc
			files, err := s.Files(context.Background(), "numpy")
			if err != nil || len(files) != 1 {
				t.Fatalf("a host that needs no credentials: Files = %+v, %v; want the file (the netrc ignored)", files, err)
			}
			var buf bytes.Buffer
			if err := s.Download(context.Background(), files[0], &buf); err != nil || !bytes.Equal(buf.Bytes(), content) {
				t.Errorf("a host that needs no credentials: Download = %q, %v", buf.Bytes(), err)
			}

			s.IndexURL = locked.URL + "/simple/"
			_, err = s.Files(context.Background(), "numpy")
			var se *StatusError
			if !errors.As(err, &se) || se.StatusCode != http.StatusUnauthorized {
				t.Fatalf("a host that needs credentials: err = %v, want a 401 StatusError", err)
			}
			if !strings.Contains(se.Hint, tc.reason) || !strings.Contains(se.Hint, "ignored") {
				t.Errorf("hint %q: want the netrc problem (%s)", se.Hint, tc.reason)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("err = %q shows part of the netrc password", err)
			}
		})
	}
}

// TestFindLinksPageCredentials: userinfo in an http(s) find-links URL is
// sent to the page and to its files on the same host, and shown nowhere.
func TestFindLinksPageCredentials(t *testing.T) {
	const user, pass = "carol", "fl-s3cret-7"
	content := []byte("find-links wheel")
	srv, rc := authServer(t, user, pass, content)
	host := strings.TrimPrefix(srv.URL, "http://")
	s := &Sources{
		NoIndex:   true,
		FindLinks: []string{"http://" + user + ":" + pass + "@" + host + "/simple/numpy/"},
		NetrcPath: os.DevNull,
	}
	files, err := s.Files(context.Background(), "numpy")
	if err != nil || len(files) != 1 {
		t.Fatalf("Files = %+v, %v; want the page's one file", files, err)
	}
	if f := files[0]; f.Source != srv.URL+"/simple/numpy/" || strings.Contains(fmt.Sprint(f), pass) {
		t.Errorf("file %+v: want Source %s/simple/numpy/ and no password", f, srv.URL)
	}
	var buf bytes.Buffer
	if err := s.Download(context.Background(), files[0], &buf); err != nil || !bytes.Equal(buf.Bytes(), content) {
		t.Fatalf("Download = %q, %v", buf.Bytes(), err)
	}
	if paths := rc.paths(); len(paths) != 2 {
		t.Errorf("requests %q, want the page and the file", paths)
	}
	for _, r := range rc.all() {
		if u, p, _ := r.BasicAuth(); u != user || p != pass {
			t.Errorf("%s: credentials %q/%q, want the find-links URL's", r.URL.Path, u, p)
		}
	}

	// Without credentials, the hint names the find-links URL as a place
	// for them.
	s.FindLinks = []string{srv.URL + "/simple/numpy/"}
	_, err = s.Files(context.Background(), "numpy")
	var se *StatusError
	if !errors.As(err, &se) || se.StatusCode != http.StatusUnauthorized || !strings.Contains(se.Hint, "find-links URL") {
		t.Errorf("err = %v, want a 401 whose hint mentions the find-links URL", err)
	}
}

// flaky fails the first n requests with status (and Retry-After if set),
// then serves ok.
func flaky(n int, status int, retryAfter string, ok http.HandlerFunc) http.HandlerFunc {
	var mu sync.Mutex
	seen := 0
	return func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen++
		fail := seen <= n
		mu.Unlock()
		if fail {
			if retryAfter != "" {
				w.Header().Set("Retry-After", retryAfter)
			}
			http.Error(w, "try later", status)
			return
		}
		ok(w, r)
	}
}

func TestRetry(t *testing.T) {
	content := []byte("the wheel")
	serveBoth := func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/f/") {
			w.Write(content)
			return
		}
		pageOf("numpy-2.0.0-py3-none-any.whl", sumOf(content))(w, r)
	}
	for _, tc := range []struct {
		name      string
		fails     int
		status    int
		header    string
		wantWaits func([]time.Duration) bool
	}{
		{"500 twice", 2, 500, "", func(ds []time.Duration) bool {
			return len(ds) == 2 && ds[0] >= backoffBase/2 && ds[0] <= backoffBase && ds[1] >= backoffBase && ds[1] <= 2*backoffBase
		}},
		{"502 once", 1, 502, "", func(ds []time.Duration) bool { return len(ds) == 1 }},
		{"429 with Retry-After seconds", 1, 429, "7", func(ds []time.Duration) bool {
			return reflect.DeepEqual(ds, []time.Duration{7 * time.Second})
		}},
		{"503 with a long Retry-After is capped", 1, 503, "3600", func(ds []time.Duration) bool {
			return reflect.DeepEqual(ds, []time.Duration{maxRetryAfter})
		}},
	} {
		for _, download := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/download=%v", tc.name, download), func(t *testing.T) {
				// Only the page, or only the file, fails at first.
				failing := flaky(tc.fails, tc.status, tc.header, serveBoth)
				h := func(w http.ResponseWriter, r *http.Request) {
					if strings.HasPrefix(r.URL.Path, "/f/") == download {
						failing(w, r)
						return
					}
					serveBoth(w, r)
				}
				srv, rc := serve(t, h)
				s, w := fastSources(srv.URL + "/simple/")
				files, err := s.Files(context.Background(), "numpy")
				if err != nil {
					t.Fatal(err)
				}
				var buf bytes.Buffer
				if err := s.Download(context.Background(), files[0], &buf); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(buf.Bytes(), content) {
					t.Errorf("downloaded %q, want %q", buf.Bytes(), content)
				}
				if got := len(rc.all()); got != 2+tc.fails {
					t.Errorf("%d requests (%v), want %d", got, rc.paths(), 2+tc.fails)
				}
				if !tc.wantWaits(w.got()) {
					t.Errorf("waits %v", w.got())
				}
			})
		}
	}
}

func TestGiveUp(t *testing.T) {
	srv, rc := serve(t, func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	})
	host := strings.TrimPrefix(srv.URL, "http://")
	s, w := fastSources("http://carol:pw-secret-77@" + host + "/simple/")
	s.Retries = 2

	_, err := s.Files(context.Background(), "numpy")
	if err == nil {
		t.Fatal("Files succeeded against a dead index")
	}
	msg := err.Error()
	for _, want := range []string{srv.URL + "/simple/numpy/", "numpy", "503", "gave up after 3 attempts"} {
		if !strings.Contains(msg, want) {
			t.Errorf("err %q does not mention %q", msg, want)
		}
	}
	if strings.Contains(msg, "pw-secret-77") || strings.Contains(msg, "carol") {
		t.Errorf("err %q shows the credentials", msg)
	}
	var se *StatusError
	if !errors.As(err, &se) || se.StatusCode != 503 {
		t.Errorf("err = %v, want it to wrap a 503 StatusError", err)
	}
	if n := len(rc.all()); n != 3 || len(w.got()) != 2 {
		t.Errorf("%d requests and %d waits, want 3 and 2", n, len(w.got()))
	}

	f := File{Filename: "numpy-2.0.0-py3-none-any.whl", URL: "http://carol:pw-secret-77@" + host + "/f/numpy-2.0.0-py3-none-any.whl"}
	err = s.Download(context.Background(), f, io.Discard)
	if err == nil || strings.Contains(err.Error(), "pw-secret-77") ||
		!strings.Contains(err.Error(), srv.URL+"/f/numpy-2.0.0-py3-none-any.whl") || !strings.Contains(err.Error(), "gave up after 3 attempts") {
		t.Errorf("Download err = %v; want the URL without credentials and the attempt count", err)
	}

	s.Retries = -1
	before := len(rc.all())
	s.Files(context.Background(), "numpy")
	if n := len(rc.all()) - before; n != 1 {
		t.Errorf("Retries -1: %d requests, want 1", n)
	}
}

func TestPermanentErrorsNotRetried(t *testing.T) {
	for _, status := range []int{http.StatusForbidden, http.StatusNotFound, http.StatusNotImplemented} {
		srv, rc := serve(t, func(w http.ResponseWriter, r *http.Request) { http.Error(w, "no", status) })
		s, _ := fastSources(srv.URL + "/simple/")
		err := s.Download(context.Background(), File{Filename: "x-1.0-py3-none-any.whl", URL: srv.URL + "/f/x-1.0-py3-none-any.whl"}, io.Discard)
		var se *StatusError
		if !errors.As(err, &se) || se.StatusCode != status {
			t.Errorf("status %d: err = %v", status, err)
		}
		if n := len(rc.all()); n != 1 {
			t.Errorf("status %d: %d requests, want 1", status, n)
		}
	}
}

func TestWriteErrorNotRetried(t *testing.T) {
	srv, rc := serve(t, func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("bytes")) })
	s, _ := fastSources(srv.URL + "/simple/")
	diskFull := errors.New("no space left on device")
	err := s.Download(context.Background(), File{Filename: "x.whl", URL: srv.URL + "/x.whl"},
		writerFunc(func([]byte) (int, error) { return 0, diskFull }))
	if !errors.Is(err, diskFull) {
		t.Errorf("err = %v, want the writer's error", err)
	}
	if n := len(rc.all()); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func TestDownloadResumesWithoutDuplicates(t *testing.T) {
	content := bytes.Repeat([]byte("0123456789"), 100_000) // 1 MB
	for _, honourRange := range []bool{true, false} {
		t.Run(fmt.Sprintf("range=%v", honourRange), func(t *testing.T) {
			var mu sync.Mutex
			n := 0
			srv, rc := serve(t, func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				n++
				first := n == 1
				mu.Unlock()
				if first {
					// Promise everything, send a third, drop the connection.
					w.Header().Set("Content-Length", fmt.Sprint(len(content)))
					w.Write(content[:len(content)/3])
					return
				}
				if !honourRange {
					r.Header.Del("Range")
				}
				http.ServeContent(w, r, "x.whl", time.Time{}, bytes.NewReader(content))
			})
			s, _ := fastSources(srv.URL + "/simple/")
			var buf bytes.Buffer
			if err := s.Download(context.Background(), File{Filename: "x.whl", URL: srv.URL + "/x.whl"}, &buf); err != nil {
				t.Fatal(err)
			}
			if buf.Len() != len(content) || !bytes.Equal(buf.Bytes(), content) {
				t.Fatalf("wrote %d bytes (sha %s), want the %d bytes of the file exactly once", buf.Len(), sumOf(buf.Bytes())[:8], len(content))
			}
			reqs := rc.all()
			if len(reqs) != 2 {
				t.Fatalf("%d requests, want 2", len(reqs))
			}
			if got := reqs[1].Header.Get("Range"); !strings.HasPrefix(got, "bytes=") || got == "bytes=0-" {
				t.Errorf("retry sent Range %q, want one starting where the first attempt stopped", got)
			}
		})
	}
}

func TestDownloadStallRetried(t *testing.T) {
	content := []byte("complete wheel")
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	var mu sync.Mutex
	n := 0
	srv, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n++
		first := n == 1
		mu.Unlock()
		if first {
			w.Header().Set("Content-Length", fmt.Sprint(len(content)))
			w.Write(content[:4])
			w.(http.Flusher).Flush()
			select { // hang, as a dead connection does
			case <-r.Context().Done():
			case <-release:
			}
			return
		}
		http.ServeContent(w, r, "x.whl", time.Time{}, bytes.NewReader(content))
	})
	s, w := fastSources(srv.URL + "/simple/")
	s.stall = 50 * time.Millisecond
	var buf bytes.Buffer
	if err := s.Download(context.Background(), File{Filename: "x.whl", URL: srv.URL + "/x.whl"}, &buf); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), content) || len(w.got()) != 1 {
		t.Errorf("got %q after %d retries, want %q after 1", buf.Bytes(), len(w.got()), content)
	}
}

func TestContextCancel(t *testing.T) {
	t.Run("during a request", func(t *testing.T) {
		entered := make(chan struct{}, 1)
		srv, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
			entered <- struct{}{}
			<-r.Context().Done()
		})
		s, _ := fastSources(srv.URL + "/simple/")
		ctx, cancel := context.WithCancel(context.Background())
		go func() { <-entered; cancel() }()
		_, err := s.Files(ctx, "numpy")
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
	})
	t.Run("while waiting to retry", func(t *testing.T) {
		srv, rc := serve(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "30")
			http.Error(w, "busy", http.StatusTooManyRequests)
		})
		ctx, cancel := context.WithCancel(context.Background())
		s := &Sources{IndexURL: srv.URL + "/simple/", NetrcPath: os.DevNull,
			wait: func(ctx context.Context, d time.Duration) error { cancel(); return sleep(ctx, d) }}
		err := s.Download(ctx, File{Filename: "x.whl", URL: srv.URL + "/x.whl"}, io.Discard)
		if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "429") {
			t.Errorf("err = %v, want context.Canceled naming the last failure", err)
		}
		if n := len(rc.all()); n != 1 {
			t.Errorf("%d requests after cancel, want 1", n)
		}
	})
}

func TestBelongsTo(t *testing.T) {
	for _, tc := range []struct {
		filename, project string
		want              bool
	}{
		{"numpy-2.0.0-cp312-cp312-manylinux2014_x86_64.whl", "numpy", true},
		{"numpy-2.0.0-cp312-cp312-manylinux2014_x86_64.whl", "NumPy", true},
		{"numpyx-1.0-py3-none-any.whl", "numpy", false},
		{"pillow_heif-0.16.0-cp312-cp312-manylinux2014_x86_64.whl", "pillow-heif", true},
		{"pillow_heif-0.16.0-cp312-cp312-manylinux2014_x86_64.whl", "pillow", false},
		{"Pillow-10.4.0-cp312-cp312-manylinux_2_28_x86_64.whl", "pillow", true},
		{"pillow-heif-0.15.0.tar.gz", "pillow-heif", true},
		{"pillow-heif-0.15.0.tar.gz", "pillow", false},
		{"pillow_heif-0.15.0.tar.gz", "Pillow.Heif", true},
		{"numpy-2.0.0.zip", "numpy", true},
		{"numpy-2.0.0.exe", "numpy", false},
		{"numpy.whl", "numpy", false},
		{"numpy-.tar.gz", "numpy", false},
	} {
		if got := belongsTo(tc.filename, tc.project); got != tc.want {
			t.Errorf("belongsTo(%q, %q) = %v, want %v", tc.filename, tc.project, got, tc.want)
		}
	}
}

func TestNormalize(t *testing.T) {
	for in, want := range map[string]string{
		"Pillow":         "pillow",
		"pillow_heif":    "pillow-heif",
		"Pillow.-_HEIF":  "pillow-heif",
		"zope.interface": "zope-interface",
		"a__b":           "a-b",
	} {
		if got := normalize(in); got != want {
			t.Errorf("normalize(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		h    string
		want time.Duration
	}{
		{"", 0},
		{"0", 0},
		{"12", 12 * time.Second},
		{" 3 ", 3 * time.Second},
		{"-5", 0},
		{"soon", 0},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0},
	} {
		if got := retryAfter(tc.h, now); got != tc.want {
			t.Errorf("retryAfter(%q) = %v, want %v", tc.h, got, tc.want)
		}
	}
}

func TestBackoffGrowsAndIsCapped(t *testing.T) {
	for i := range 20 {
		d := backoff(i)
		full := backoffMax
		if i < 10 {
			full = min(backoffBase<<i, backoffMax)
		}
		if d < full/2 || d > full {
			t.Errorf("backoff(%d) = %v, want within [%v, %v]", i, d, full/2, full)
		}
	}
}

func TestRedact(t *testing.T) {
	for _, raw := range []string{
		"https://user:tok3n@example.com/simple/",
		"https://tok3n@example.com",
		"http://u:tok3n@host:notaport/x",
		"https://u:tok3n@h/a@b",
	} {
		for _, got := range []string{redactRaw(raw), redactURL(raw)} {
			if strings.Contains(got, "tok3n") {
				t.Errorf("redacted %q = %q", raw, got)
			}
		}
	}
	if got := redactURL("https://u:p@example.com/simple/?x=1"); got != "https://example.com/simple/?x=1" {
		t.Errorf("redactURL = %q", got)
	}
}
