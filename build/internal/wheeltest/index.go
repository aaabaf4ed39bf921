package wheeltest

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/galerly/galerly-lambda/build/internal/pyname"
)

// Format is the flavour of simple repository API an Index serves.
type Format int

const (
	// JSON is the PEP 691 JSON API (application/vnd.pypi.simple.v1+json).
	JSON Format = iota
	// HTML is the PEP 503 HTML API.
	HTML
)

// JSONContentType is the PEP 691 media type the JSON index answers with.
const JSONContentType = "application/vnd.pypi.simple.v1+json"

// IndexOption changes how ServeIndex serves.
type IndexOption func(*indexConfig)

type indexConfig struct {
	relative   bool
	user, pass string
}

// RelativeURLs makes the JSON index give file URLs relative to the project
// page, as PEP 691 allows (the HTML index always does).
func RelativeURLs() IndexOption { return func(c *indexConfig) { c.relative = true } }

// BasicAuth makes every path answer 401 unless the request carries these
// HTTP basic credentials, like a private index.
func BasicAuth(user, password string) IndexOption {
	return func(c *indexConfig) { c.user, c.pass = user, password }
}

type indexFile struct {
	filename, version, path, sha256 string
	size                            int64
}

// Index is a simple repository served on 127.0.0.1 for one test. It counts
// the requests it gets, so tests can assert that a warm build made none.
type Index struct {
	// URL is the simple root, ending in "/": http://127.0.0.1:PORT/simple/.
	// Project pages are URL + normalized name + "/"; files are served under
	// http://127.0.0.1:PORT/files/.
	URL string

	format   Format
	cfg      indexConfig
	names    map[string]string // normalized -> name as in the first file
	projects map[string][]indexFile

	mu       sync.Mutex
	total    int
	counts   map[string]int
	tampered map[string][]byte
	failures map[string]failure
}

type failure struct{ n, status int }

// ServeIndex serves files (wheel or sdist paths) as a simple index in
// format until t ends, grouped into projects by the name in each file name.
func ServeIndex(t testing.TB, files []string, format Format, opts ...IndexOption) *Index {
	t.Helper()
	ix := &Index{
		format:   format,
		names:    map[string]string{},
		projects: map[string][]indexFile{},
		counts:   map[string]int{},
		tampered: map[string][]byte{},
		failures: map[string]failure{},
	}
	for _, o := range opts {
		o(&ix.cfg)
	}
	seen := map[string]bool{}
	for _, p := range files {
		f, name, err := describe(p)
		if err != nil {
			t.Fatalf("ServeIndex: %v", err)
		}
		if seen[f.filename] {
			t.Fatalf("ServeIndex: %s given twice", f.filename)
		}
		seen[f.filename] = true
		key := pyname.Normalize(name)
		if _, ok := ix.names[key]; !ok {
			ix.names[key] = name
		}
		ix.projects[key] = append(ix.projects[key], f)
	}
	srv := httptest.NewServer(http.HandlerFunc(ix.serve))
	t.Cleanup(srv.Close)
	ix.URL = srv.URL + "/simple/"
	return ix
}

// describe hashes one file and takes its project name and version from
// its name: a wheel's first two parts, or an sdist's name-version.
func describe(path string) (indexFile, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return indexFile{}, "", err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return indexFile{}, "", fmt.Errorf("%s: %w", path, err)
	}
	base := filepath.Base(path)
	var name, version string
	if w, err := parseWheelName(base); err == nil {
		name, version = w.dist, w.version
	} else {
		stem := strings.TrimSuffix(strings.TrimSuffix(base, ".tar.gz"), ".zip")
		i := strings.LastIndex(stem, "-")
		if stem == base || i <= 0 {
			return indexFile{}, "", fmt.Errorf("%s: neither a wheel nor an sdist (.tar.gz, .zip) file name", base)
		}
		name, version = stem[:i], stem[i+1:]
	}
	return indexFile{filename: base, version: version, path: path, sha256: hex.EncodeToString(h.Sum(nil)), size: n}, name, nil
}

// Requests returns how many requests the index has answered, whatever
// their path or outcome.
func (ix *Index) Requests() int {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	return ix.total
}

// Count returns how many requests asked for path, e.g. "/simple/numpy/"
// or "/files/numpy-2.0.0-cp312-cp312-manylinux2014_x86_64.whl".
func (ix *Index) Count(path string) int {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	return ix.counts[path]
}

// Paths returns a copy of the request count per path.
func (ix *Index) Paths() map[string]int {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	return maps.Clone(ix.counts)
}

// Tamper makes later downloads of filename return body, while the project
// page still lists the original sha256.
func (ix *Index) Tamper(filename string, body []byte) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.tampered[filename] = slices.Clone(body)
}

// FailNext makes the next n requests for path answer status (e.g. 503),
// to exercise retries.
func (ix *Index) FailNext(path string, n, status int) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.failures[path] = failure{n, status}
}

func (ix *Index) serve(w http.ResponseWriter, r *http.Request) {
	ix.mu.Lock()
	ix.total++
	ix.counts[r.URL.Path]++
	ix.mu.Unlock()

	if ix.cfg.user != "" || ix.cfg.pass != "" {
		u, p, ok := r.BasicAuth()
		if !ok || subtle.ConstantTimeCompare([]byte(u), []byte(ix.cfg.user)) != 1 ||
			subtle.ConstantTimeCompare([]byte(p), []byte(ix.cfg.pass)) != 1 {
			w.Header().Set("WWW-Authenticate", `Basic realm="wheeltest"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
	}
	if status := ix.injectedFailure(r.URL.Path); status != 0 {
		http.Error(w, "injected failure", status)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	switch p := r.URL.Path; {
	case p == "/simple/":
		ix.serveRoot(w)
	case strings.HasPrefix(p, "/simple/"):
		name, rest, _ := strings.Cut(strings.TrimPrefix(p, "/simple/"), "/")
		if rest != "" {
			http.NotFound(w, r)
			return
		}
		key := pyname.Normalize(name)
		if _, ok := ix.projects[key]; !ok {
			http.NotFound(w, r)
			return
		}
		if p != "/simple/"+key+"/" {
			// PyPI redirects other spellings to the normalized page.
			http.Redirect(w, r, "/simple/"+key+"/", http.StatusMovedPermanently)
			return
		}
		ix.serveProject(w, r, key)
	case strings.HasPrefix(p, "/files/"):
		ix.serveFile(w, r, strings.TrimPrefix(p, "/files/"))
	default:
		http.NotFound(w, r)
	}
}

// injectedFailure returns the status FailNext asked path to fail with,
// using up one of its failures, or 0.
func (ix *Index) injectedFailure(path string) int {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	f := ix.failures[path]
	if f.n <= 0 {
		return 0
	}
	f.n--
	ix.failures[path] = f
	return f.status
}

func (ix *Index) serveRoot(w http.ResponseWriter) {
	keys := slices.Sorted(maps.Keys(ix.projects))
	if ix.format == JSON {
		type project struct {
			Name string `json:"name"`
		}
		var ps []project
		for _, k := range keys {
			ps = append(ps, project{ix.names[k]})
		}
		writeJSON(w, map[string]any{"meta": map[string]string{"api-version": "1.1"}, "projects": ps})
		return
	}
	var b strings.Builder
	b.WriteString("<!DOCTYPE html>\n<html><head><meta name=\"pypi:repository-version\" content=\"1.1\"><title>Simple index</title></head><body>\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "<a href=\"%s/\">%s</a><br/>\n", k, html.EscapeString(ix.names[k]))
	}
	b.WriteString("</body></html>\n")
	writeHTML(w, b.String())
}

func (ix *Index) serveProject(w http.ResponseWriter, r *http.Request, key string) {
	files := ix.projects[key]
	if ix.format == JSON {
		type file struct {
			Filename string            `json:"filename"`
			URL      string            `json:"url"`
			Hashes   map[string]string `json:"hashes"`
			Size     int64             `json:"size"`
		}
		out := []file{}
		versions := map[string]bool{}
		for _, f := range files {
			u := "../../files/" + url.PathEscape(f.filename)
			if !ix.cfg.relative {
				u = "http://" + r.Host + "/files/" + url.PathEscape(f.filename)
			}
			out = append(out, file{f.filename, u, map[string]string{"sha256": f.sha256}, f.size})
			versions[f.version] = true
		}
		writeJSON(w, map[string]any{
			"meta":     map[string]string{"api-version": "1.1"},
			"name":     key,
			"versions": slices.Sorted(maps.Keys(versions)),
			"files":    out,
		})
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "<!DOCTYPE html>\n<html><head><meta name=\"pypi:repository-version\" content=\"1.1\"><title>Links for %s</title></head><body>\n<h1>Links for %s</h1>\n", key, key)
	for _, f := range files {
		fmt.Fprintf(&b, "<a href=\"../../files/%s#sha256=%s\">%s</a><br/>\n",
			html.EscapeString(url.PathEscape(f.filename)), f.sha256, html.EscapeString(f.filename))
	}
	b.WriteString("</body></html>\n")
	writeHTML(w, b.String())
}

func (ix *Index) serveFile(w http.ResponseWriter, r *http.Request, filename string) {
	var found *indexFile
	for _, fs := range ix.projects {
		for i := range fs {
			if fs[i].filename == filename {
				found = &fs[i]
			}
		}
	}
	if found == nil {
		http.NotFound(w, r)
		return
	}
	ix.mu.Lock()
	body, tampered := ix.tampered[filename]
	ix.mu.Unlock()
	w.Header().Set("Content-Type", "application/octet-stream")
	if tampered {
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		if r.Method == http.MethodGet {
			w.Write(body)
		}
		return
	}
	f, err := os.Open(found.path)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	defer f.Close()
	w.Header().Set("Content-Length", strconv.FormatInt(found.size, 10))
	if r.Method == http.MethodGet {
		io.Copy(w, f)
	}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", JSONContentType)
	json.NewEncoder(w).Encode(v)
}

func writeHTML(w http.ResponseWriter, s string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	io.WriteString(w, s)
}
