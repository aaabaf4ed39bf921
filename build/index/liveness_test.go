package index

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/galerly/galerly-lambda/internal/testenv"
)

// timeoutCause stands for the CLI's --timeout, which sets the deadline's
// cause.
var timeoutCause = errors.New("the --timeout of 300ms ran out")

// A server that accepts and never answers holds a listing or a download
// only until the caller's deadline, and the error says it timed out,
// naming the URL and, through the caller's cause, why there was a
// deadline.
func TestDeadlineEndsASilentServer(t *testing.T) {
	base, _ := testenv.SilentServer(t)
	cases := []struct {
		name string
		call func(ctx context.Context, s *Sources) error
		want []string
	}{
		{"listing", func(ctx context.Context, s *Sources) error {
			_, err := s.Files(ctx, "numpy")
			return err
		}, []string{"listing project numpy on index " + base + "/simple/", "GET " + base + "/simple/numpy/: timed out (" + timeoutCause.Error() + ")"}},
		{"download", func(ctx context.Context, s *Sources) error {
			return s.Download(ctx, File{Filename: "x-1.0-py3-none-any.whl", URL: base + "/f/x-1.0-py3-none-any.whl"}, io.Discard)
		}, []string{"download x-1.0-py3-none-any.whl: GET " + base + "/f/x-1.0-py3-none-any.whl: timed out"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := &Sources{IndexURL: base + "/simple/", NetrcPath: os.DevNull}
			ctx, cancel := context.WithTimeoutCause(context.Background(), 300*time.Millisecond, timeoutCause)
			defer cancel()
			start := time.Now()
			err := c.call(ctx, s)
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("took %v past a 300ms deadline", took)
			}
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("err = %v, want one matching context.DeadlineExceeded", err)
			}
			for _, w := range c.want {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("err = %v, want it to contain %q", err, w)
				}
			}
		})
	}
}

// The deadline passing while Download waits to retry names the failure
// it was waiting to repair.
func TestDeadlineWhileWaitingToRetry(t *testing.T) {
	srv, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	})
	s := &Sources{IndexURL: srv.URL + "/simple/", NetrcPath: os.DevNull}
	ctx, cancel := context.WithTimeoutCause(context.Background(), 200*time.Millisecond, timeoutCause)
	defer cancel()
	err := s.Download(ctx, File{Filename: "x.whl", URL: srv.URL + "/x.whl"}, io.Discard)
	if !errors.Is(err, context.DeadlineExceeded) || err == nil ||
		!strings.Contains(err.Error(), "503 Service Unavailable; timed out ("+timeoutCause.Error()+") before the next attempt") {
		t.Errorf("err = %v, want the 503 and the timeout", err)
	}
}

// A body that trickles a byte now and then is abandoned and retried like
// a stalled one: each byte must not restart the clock. Bounded here by
// the retries alone (the deadline is far), so the test fails by timing
// out if a trickle keeps a request alive.
func TestTrickleIsAbandoned(t *testing.T) {
	srv, rc := serve(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		for {
			if _, err := w.Write([]byte{'x'}); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	})
	s, waits := fastSources(srv.URL + "/simple/")
	s.stall = 200 * time.Millisecond
	s.minBytes = 100
	s.Retries = 2
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := s.Download(ctx, File{Filename: "x.whl", URL: srv.URL + "/x.whl"}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "too slow") || !strings.Contains(err.Error(), "gave up after 3 attempts") {
		t.Errorf("err = %v, want it abandoned as too slow after 3 attempts", err)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v: the trickle lasted until the deadline", err)
	}
	if n, w := len(rc.all()), len(waits.got()); n != 3 || w != 2 {
		t.Errorf("%d requests and %d waits, want 3 and 2", n, w)
	}
}

// A small body that comes whole, however slowly it starts, is not held
// to the minimum rate: only the bytes it has left count.
func TestSmallSlowBodyIsKept(t *testing.T) {
	content := []byte("a small wheel")
	srv, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(len(content)))
		w.Write(content[:3])
		w.(http.Flusher).Flush()
		time.Sleep(120 * time.Millisecond) // past one window, with bytes in it
		w.Write(content[3:])
	})
	s, _ := fastSources(srv.URL + "/simple/")
	s.stall = 100 * time.Millisecond
	s.minBytes = 2
	var buf bytes.Buffer
	if err := s.Download(context.Background(), File{Filename: "x.whl", URL: srv.URL + "/x.whl"}, &buf); err != nil || !bytes.Equal(buf.Bytes(), content) {
		t.Errorf("got %q, %v; want the whole body", buf.Bytes(), err)
	}
}

// endless answers every request with a body that never ends, optionally
// declaring a length.
func endless(contentLength string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if contentLength != "" {
			w.Header().Set("Content-Length", contentLength)
		}
		chunk := bytes.Repeat([]byte("z"), 32<<10)
		for {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}
}

// No download brings more than the index declares, or than the cap when
// it declares nothing; the body is cut off there, not retried, and the
// writer never receives a byte past the cap.
func TestDownloadIsCapped(t *testing.T) {
	cases := []struct {
		name          string
		contentLength string // what the server declares, "" for nothing
		declared      int64  // File.Size
		want          string
	}{
		{"endless, nothing declared", "", 0, "brings more than 65536 bytes (Lambda's limit on a layer's unzipped size: no wheel that large can fit)"},
		{"endless, size declared", "", 1000, "brings more than the 1000 bytes " + "SRC" + " declares for it: the file is not the one listed"},
		{"Content-Length over the declared size", "5000", 1000, "(Content-Length 5000) brings more than the 1000 bytes"},
		{"Content-Length over the cap", "100000", 0, "(Content-Length 100000) brings more than 65536 bytes"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv, rc := serve(t, endless(c.contentLength))
			s, _ := fastSources(srv.URL + "/simple/")
			s.maxBytes = 64 << 10
			var got countingWriter
			err := s.Download(context.Background(), File{Filename: "x.whl", URL: srv.URL + "/x.whl", Size: c.declared, Source: srv.URL + "/simple/"}, &got)
			want := strings.ReplaceAll(c.want, "SRC", srv.URL+"/simple/")
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("err = %v, want it to contain %q", err, want)
			}
			limit := s.maxBytes
			if c.declared > 0 {
				limit = c.declared
			}
			if got.n > limit {
				t.Errorf("the writer received %d bytes, over %d", got.n, limit)
			}
			if n := len(rc.all()); n != 1 {
				t.Errorf("%d requests, want 1: a file over its size is not retried", n)
			}
		})
	}

	t.Run("declared over Lambda's limit", func(t *testing.T) {
		srv, rc := serve(t, endless(""))
		s, _ := fastSources(srv.URL + "/simple/")
		err := s.Download(context.Background(), File{Filename: "x.whl", URL: srv.URL + "/x.whl", Size: MaxDownloadBytes + 1, Source: "idx"}, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "idx declares it is 262144001 bytes, over 262144000") {
			t.Errorf("err = %v", err)
		}
		if n := len(rc.all()); n != 0 {
			t.Errorf("%d requests, want none", n)
		}
	})
}

type countingWriter struct{ n int64 }

func (w *countingWriter) Write(p []byte) (int, error) {
	w.n += int64(len(p))
	return len(p), nil
}

// PEP 700's size in a JSON page is what Download holds the file to.
func TestJSONSizeIsRead(t *testing.T) {
	srv, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/vnd.pypi.simple.v1+json")
		fmt.Fprint(w, `{"meta": {"api-version": "1.1"}, "files": [
		  {"filename": "x-1.0-py3-none-any.whl", "url": "/f/x-1.0-py3-none-any.whl", "hashes": {}, "size": 1234},
		  {"filename": "x-0.9-py3-none-any.whl", "url": "/f/x-0.9-py3-none-any.whl", "hashes": {}}]}`)
	})
	s, _ := fastSources(srv.URL + "/simple/")
	files, err := s.Files(context.Background(), "x")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 2 || files[0].Size != 1234 || files[1].Size != 0 {
		t.Errorf("files = %+v, want sizes 1234 and 0 (not declared)", files)
	}
}

// A page that answers but lists no distribution (a login or captive
// portal page) is reported naming the page, where it redirected, and its
// title, rather than as a lock that names no listed wheel.
func TestEmptyPageIsNamed(t *testing.T) {
	const portal = `<!DOCTYPE html><html><head><title>
	  Sign in - Hotel WiFi </title></head><body><form action="/login"><a href="/forgot">Forgot password?</a>
	  <a href="/terms.html">Terms</a></form></body></html>`
	srv, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/portal/login" {
			http.Redirect(w, r, "/portal/login", http.StatusFound)
			return
		}
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, portal)
	})
	s, _ := fastSources(srv.URL + "/simple/")
	_, err := s.Files(context.Background(), "numpy")
	var ep *EmptyPageError
	if !errors.As(err, &ep) {
		t.Fatalf("err = %v (%T), want an *EmptyPageError", err, err)
	}
	want := []EmptyPage{{URL: srv.URL + "/simple/numpy/", Final: srv.URL + "/portal/login", Title: "Sign in - Hotel WiFi", HTML: true}}
	if ep.Project != "numpy" || len(ep.Pages) != 1 || ep.Pages[0] != want[0] {
		t.Errorf("error = %+v, want the page %+v", ep, want)
	}
	for _, w := range []string{srv.URL + "/simple/numpy/", "lists no distributions", `"Sign in - Hotel WiFi"`, "captive-portal"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("message %q lacks %q", err, w)
		}
	}

	t.Run("a JSON page with no files", func(t *testing.T) {
		empty, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/vnd.pypi.simple.v1+json")
			fmt.Fprint(w, `{"meta": {"api-version": "1.1"}, "name": "numpy", "files": []}`)
		})
		s, _ := fastSources(empty.URL + "/simple/")
		_, err := s.Files(context.Background(), "numpy")
		if !errors.As(err, &ep) || !strings.Contains(err.Error(), "the index has the project but no files for it") || strings.Contains(err.Error(), "portal") {
			t.Errorf("err = %v, want an *EmptyPageError that does not call an index a portal", err)
		}
	})
	t.Run("another source lists the project", func(t *testing.T) {
		good, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprint(w, `<a href="/f/numpy-2.0.0-py3-none-any.whl">numpy-2.0.0-py3-none-any.whl</a>`)
		})
		s, _ := fastSources(srv.URL + "/simple/")
		s.ExtraIndexURLs = []string{good.URL + "/simple/"}
		files, err := s.Files(context.Background(), "numpy")
		if err != nil || len(files) == 0 {
			t.Errorf("Files = %v, %v; want the other index's file", files, err)
		}
	})
	t.Run("a find-links page with no distributions", func(t *testing.T) {
		s := &Sources{NoIndex: true, FindLinks: []string{srv.URL + "/wheels/"}, NetrcPath: os.DevNull}
		_, err := s.Files(context.Background(), "numpy")
		if !errors.As(err, &ep) || ep.Pages[0].URL != srv.URL+"/wheels/" {
			t.Errorf("err = %v, want an *EmptyPageError naming the find-links page", err)
		}
	})
	t.Run("a find-links page of other projects", func(t *testing.T) {
		other, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, `<a href="six-1.16.0-py2.py3-none-any.whl">six</a>`)
		})
		s := &Sources{NoIndex: true, FindLinks: []string{other.URL + "/"}, NetrcPath: os.DevNull}
		files, err := s.Files(context.Background(), "numpy")
		if err != nil || len(files) != 0 {
			t.Errorf("Files = %v, %v; want none and no error: the page is an index, of other projects", files, err)
		}
	})
}

// A remote page may not point at the local disk: its file:// links (and
// any other scheme) are left out with a note naming the page, and a File
// that says a remote page listed it at a file:// URL is not read.
func TestRemotePageMayNotLinkLocalFiles(t *testing.T) {
	secret := t.TempDir() + "/numpy-2.0.0-py3-none-any.whl"
	if err := os.WriteFile(secret, []byte("local bytes"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, format := range []string{"html", "json"} {
		t.Run(format, func(t *testing.T) {
			srv, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
				if format == "json" {
					w.Header().Set("Content-Type", "application/vnd.pypi.simple.v1+json")
					fmt.Fprintf(w, `{"meta": {"api-version": "1.0"}, "files": [
					  {"filename": "numpy-2.0.0-py3-none-any.whl", "url": "file://%s", "hashes": {}},
					  {"filename": "numpy-1.0.0-py3-none-any.whl", "url": "/f/numpy-1.0.0-py3-none-any.whl", "hashes": {}}]}`, secret)
					return
				}
				w.Header().Set("Content-Type", "text/html")
				fmt.Fprintf(w, `<a href="file://%s">numpy-2.0.0</a><a href="ftp://x/numpy-1.5.0-py3-none-any.whl">ftp</a>
				  <a href="/f/numpy-1.0.0-py3-none-any.whl">numpy-1.0.0</a>`, secret)
			})
			var log syncBuffer
			s, _ := fastSources(srv.URL + "/simple/")
			s.Log = &log
			files, err := s.Files(context.Background(), "numpy")
			if err != nil {
				t.Fatal(err)
			}
			if len(files) != 1 || files[0].Filename != "numpy-1.0.0-py3-none-any.whl" {
				t.Errorf("files = %+v, want only the http link", files)
			}
			note := log.String()
			for _, w := range []string{"the page " + srv.URL + "/simple/numpy/", "numpy-2.0.0-py3-none-any.whl at file://" + secret, "may not point at"} {
				if !strings.Contains(note, w) {
					t.Errorf("note %q lacks %q", note, w)
				}
			}
		})
	}
	s := &Sources{NoIndex: true, FindLinks: []string{"https://idx.example/links/"}}
	err := s.Download(context.Background(), File{Filename: "numpy-2.0.0-py3-none-any.whl", URL: "file://" + secret, Source: "https://idx.example/links/"}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "a remote page may not point at local files") {
		t.Errorf("Download of a remote page's file:// link: %v", err)
	}
}

// A request that takes long is named on Log while it runs, with what it is
// for, whether or not Log is a terminal.
func TestSlowRequestIsNamed(t *testing.T) {
	srv, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(300 * time.Millisecond)
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, `<a href="/f/numpy-2.0.0-py3-none-any.whl">numpy</a>`)
	})
	var log syncBuffer
	s, _ := fastSources(srv.URL + "/simple/")
	s.Log = &log
	s.slow = 50 * time.Millisecond
	if _, err := s.Files(context.Background(), "numpy"); err != nil {
		t.Fatal(err)
	}
	want := "still waiting for GET " + srv.URL + "/simple/numpy/ (listing project numpy on index " + srv.URL + "/simple/): "
	if got := log.String(); !strings.HasPrefix(got, want) {
		t.Errorf("log %q, want it to start with %q", got, want)
	}

	// A quick request says nothing.
	var quiet syncBuffer
	s.Log, s.slow = &quiet, 0
	if _, err := s.Files(context.Background(), "numpy"); err != nil || quiet.String() != "" {
		t.Errorf("a quick request logged %q (%v)", quiet.String(), err)
	}
}

// A project name, file name or URL a megabyte long is echoed clipped.
func TestLongInputIsClipped(t *testing.T) {
	long := strings.Repeat("a", 1<<20)
	srv, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/simple/") {
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprintf(w, `<a href="/f/%s/x-1.0-py3-none-any.whl">x</a>`, long)
			return
		}
		http.Error(w, "gone", http.StatusForbidden)
	})
	s, _ := fastSources(srv.URL + "/simple/")
	_, err := s.Files(context.Background(), long+"-")
	if err == nil || len(err.Error()) > 1000 {
		t.Errorf("Files with a bad long name: %d bytes of error", len(fmt.Sprint(err)))
	}
	_, err = s.Files(context.Background(), long)
	var ep *EmptyPageError
	if !errors.As(err, &ep) || len(err.Error()) > 2000 {
		t.Errorf("Files with a long name: %d bytes of error: %.300v", len(fmt.Sprint(err)), err)
	}
	files, err := s.Files(context.Background(), "x")
	if err != nil || len(files) != 1 {
		t.Fatalf("Files = %v, %v", files, err)
	}
	files[0].Filename = long + ".whl"
	err = s.Download(context.Background(), files[0], io.Discard)
	if err == nil || len(err.Error()) > 1000 || !strings.Contains(err.Error(), "403") {
		t.Errorf("Download of a long URL: %d bytes of error: %.300v", len(fmt.Sprint(err)), err)
	}
}
