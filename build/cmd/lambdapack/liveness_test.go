package main

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/galerly/galerly-lambda/build/internal/wheeltest"
	"github.com/galerly/galerly-lambda/internal/testenv"
)

// pureLock makes one pure wheel, tiny, and the lock that pins it.
func pureLock(t *testing.T) (wheel, sum, lockPath string) {
	t.Helper()
	wheel, sum, err := wheeltest.Pure(t.TempDir(), "tiny", "1.0", map[string]string{"tiny.py": "X = 1\n"})
	if err != nil {
		t.Fatal(err)
	}
	lockPath = filepath.Join(t.TempDir(), "lock.txt")
	if err := os.WriteFile(lockPath, []byte("tiny==1.0 --hash=sha256:"+sum+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return wheel, sum, lockPath
}

// lambdapackWithin runs the CLI in process, failing the test rather than
// hanging it when the command outlives limit.
func lambdapackWithin(t *testing.T, limit time.Duration, args ...string) result {
	t.Helper()
	done := make(chan result, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		var out, errb bytes.Buffer
		code := run(ctx, args, &env{stdout: &out, stderr: &errb})
		done <- result{code, out.String(), errb.String()}
	}()
	select {
	case r := <-done:
		return r
	case <-time.After(limit):
		cancel()
		r := <-done
		t.Fatalf("lambdapack %s was still running after %v (stderr so far: %s)", args[0], limit, r.stderr)
		return r
	}
}

// An index that never answers, or answers a byte at a time, fails the
// build at --timeout with "timed out", the URL and what was being done.
func TestLayerTimesOutOnAHungIndex(t *testing.T) {
	_, _, lockPath := pureLock(t)
	trickle := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		for {
			if _, err := w.Write([]byte(" ")); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}))
	t.Cleanup(trickle.Close)
	for _, c := range []struct{ name, base string }{
		{"never answers", silentURL(t)},
		{"trickles", trickle.URL},
	} {
		t.Run(c.name, func(t *testing.T) {
			index := c.base + "/simple/"
			start := time.Now()
			r := lambdapackWithin(t, 30*time.Second, "layer", "--lock", lockPath, "--runtime", "python3.12", "--arch", "x86_64",
				"--index-url", index, "--cache", t.TempDir(), "--out", filepath.Join(t.TempDir(), "layer.zip"), "--timeout", "1500ms")
			if took := time.Since(start); took > 10*time.Second {
				t.Errorf("took %v with --timeout 1500ms", took)
			}
			if r.code != exitFail {
				t.Errorf("exit %d, want %d", r.code, exitFail)
			}
			for _, w := range []string{"listing project tiny on index " + index, "GET " + index + "tiny/: timed out (the --timeout of 1.5s ran out)"} {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, r.stderr)
				}
			}
		})
	}
}

// A download that never ends is cut off at the size the index declares,
// and nothing of it is left in the cache.
func TestLayerRefusesAnEndlessDownload(t *testing.T) {
	wheel, sum, lockPath := pureLock(t)
	st, err := os.Stat(wheel)
	if err != nil {
		t.Fatal(err)
	}
	name := filepath.Base(wheel)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/simple/tiny/" {
			w.Header().Set("Content-Type", wheeltest.JSONContentType)
			fmt.Fprintf(w, `{"meta": {"api-version": "1.1"}, "name": "tiny", "files": [
			  {"filename": %q, "url": "/files/%s", "hashes": {"sha256": %q}, "size": %d}]}`, name, name, sum, st.Size())
			return
		}
		chunk := bytes.Repeat([]byte("z"), 32<<10)
		for {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	t.Cleanup(srv.Close)
	cacheDir := t.TempDir()
	r := lambdapackWithin(t, 30*time.Second, "layer", "--lock", lockPath, "--runtime", "python3.12", "--arch", "x86_64",
		"--index-url", srv.URL+"/simple/", "--cache", cacheDir, "--out", filepath.Join(t.TempDir(), "layer.zip"), "--timeout", "20s")
	want := fmt.Sprintf("download %s: GET %s/files/%s brings more than the %d bytes %s/simple/ declares for it", name, srv.URL, name, st.Size(), srv.URL)
	if r.code != exitFail || !strings.Contains(r.stderr, want) {
		t.Errorf("exit %d, stderr %q; want 1 and %q", r.code, r.stderr, want)
	}
	filepath.WalkDir(cacheDir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && !strings.HasSuffix(p, ".lock") {
			t.Errorf("the cache holds %s after a refused download", p)
		}
		return nil
	})
}

// An index URL that answers with a login or captive-portal page is named
// as such, not reported as a lock whose wheels are missing.
func TestLayerNamesAPortalPage(t *testing.T) {
	_, _, lockPath := pureLock(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, `<html><head><title>Guest Wi-Fi - Log in</title></head><body>
		  <a href="/accept-terms">Accept</a> <a href="/help.html">Help</a></body></html>`)
	}))
	t.Cleanup(srv.Close)
	r := lambdapackWithin(t, 30*time.Second, "layer", "--lock", lockPath, "--runtime", "python3.12", "--arch", "x86_64",
		"--index-url", srv.URL+"/simple/", "--cache", t.TempDir(), "--out", filepath.Join(t.TempDir(), "layer.zip"))
	if r.code != exitFail {
		t.Errorf("exit %d, want %d", r.code, exitFail)
	}
	for _, w := range []string{"lock.txt:1: tiny==1.0", "the page " + srv.URL + "/simple/tiny/ answered but lists no distributions", `"Guest Wi-Fi - Log in"`} {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("stderr lacks %q:\n%s", w, r.stderr)
		}
	}
}

// A remote page that links a file:// URL does not make lambdapack read the
// local disk, even when the local file has the bytes the lock names.
func TestLayerRefusesFileLinksOnARemotePage(t *testing.T) {
	wheel, sum, lockPath := pureLock(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(w, `<a href="file://%s#sha256=%s">%s</a>`, wheel, sum, filepath.Base(wheel))
	}))
	t.Cleanup(srv.Close)
	out := filepath.Join(t.TempDir(), "layer.zip")
	r := lambdapackWithin(t, 30*time.Second, "layer", "--lock", lockPath, "--runtime", "python3.12", "--arch", "x86_64",
		"--index-url", srv.URL+"/simple/", "--cache", t.TempDir(), "--out", out)
	if r.code != exitFail {
		t.Errorf("exit %d, want %d: the local file was used\n%s", r.code, exitFail, r.stderr)
	}
	for _, w := range []string{"note: the page " + srv.URL + "/simple/tiny/ links " + filepath.Base(wheel) + " at file://" + wheel, "may not point at"} {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("stderr lacks %q:\n%s", w, r.stderr)
		}
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Error("a layer was written")
	}
}

// An S3 endpoint that accepts connections and never answers fails the
// upload at --timeout, naming the operation, the object and the endpoint;
// verify's Lambda endpoint likewise.
func TestAWSEndpointThatNeverAnswers(t *testing.T) {
	wheel, _, lockPath := pureLock(t)
	silent := silentURL(t)
	testenv.SetenvAll(t, testenv.EndpointEnv(silent))
	cases := []struct {
		name string
		args []string
		want []string
	}{
		{"layer --upload", []string{"layer", "--lock", lockPath, "--runtime", "python3.12", "--arch", "x86_64",
			"--no-index", "--find-links", filepath.Dir(wheel), "--cache", t.TempDir(), "--out", filepath.Join(t.TempDir(), "layer.zip"),
			"--upload", "s3://galerly-artifacts/layers/x.zip", "--timeout", "1500ms"},
			[]string{"HEAD s3://galerly-artifacts/layers/x.zip: timed out waiting for the S3 endpoint " + silent + " (the --timeout of 1.5s ran out)"}},
		{"verify", []string{"verify", "--function", "galerly-api", "--expect-layer", "arn:aws:lambda:us-east-1:123456789012:layer:galerly-image-processing:4",
			"--timeout", "1500ms"},
			[]string{"reading function galerly-api: timed out waiting for the Lambda endpoint " + silent + " (the --timeout of 1.5s ran out)"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			r := lambdapackWithin(t, 30*time.Second, c.args...)
			if took := time.Since(start); took > 10*time.Second {
				t.Errorf("took %v with --timeout 1500ms", took)
			}
			if r.code != exitFail || r.stdout != "" {
				t.Errorf("exit %d, stdout %q; want %d and nothing", r.code, r.stdout, exitFail)
			}
			for _, w := range c.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, r.stderr)
				}
			}
		})
	}
}

// --timeout takes a positive duration.
func TestTimeoutUsage(t *testing.T) {
	for _, v := range []string{"0s", "-1m", "soon"} {
		r := lambdapack("verify", "--function", "f", "--expect-layer", "arn:aws:lambda:us-east-1:123456789012:layer:x:1", "--timeout", v)
		if r.code != exitUsage || !strings.Contains(r.stderr, "timeout") {
			t.Errorf("--timeout %s: exit %d, stderr %q; want a usage error", v, r.code, r.stderr)
		}
	}
}

// silentURL is the base URL of a server that accepts and never answers.
func silentURL(t *testing.T) string {
	url, _ := testenv.SilentServer(t)
	return url
}
