package index

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is a clock the test moves by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// syncBuffer is a bytes.Buffer safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestProgressThrottlesAndFinishes(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1700000000, 0)}
	var out syncBuffer
	p := newProgress(&out, 12, clock.now)

	p.AddBytes(1_000_000) // first update draws at once
	for range 1000 {
		p.AddBytes(40_000) // within the same instant: no redraw
	}
	if n := strings.Count(out.String(), "\r"); n != 1 {
		t.Fatalf("drew %d times for updates within one instant, want 1: %q", n, out.String())
	}
	clock.advance(progressEvery)
	p.FileDone()
	p.FileDone()
	p.FileDone()
	if n := strings.Count(out.String(), "\r"); n != 2 {
		t.Fatalf("drew %d times, want 2 (one per %v)", n, progressEvery)
	}
	p.Finish()
	lines := strings.Split(out.String(), "\r")
	last := lines[len(lines)-1]
	if want := "downloading 3/12 files, 41.0 MB\x1b[K\n"; last != want {
		t.Errorf("final line %q, want %q", last, want)
	}
}

func TestProgressConcurrent(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1700000000, 0)}
	var out syncBuffer
	p := newProgress(&out, 8, clock.now)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				p.AddBytes(1000)
				clock.advance(time.Millisecond)
			}
			p.FileDone()
		}()
	}
	wg.Wait()
	p.Finish()
	if !strings.HasSuffix(out.String(), "downloading 8/8 files, 800.0 kB\x1b[K\n") {
		t.Errorf("output ends %q, want the exact totals", out.String()[max(0, len(out.String())-60):])
	}
	// 800 ms of fake time: at most one draw per 100 ms, plus the first and Finish.
	if n := strings.Count(out.String(), "\r"); n > 10 {
		t.Errorf("drew %d times in 800ms, want at most 10", n)
	}
}

func TestProgressQuietWhenNotATerminal(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var buf bytes.Buffer
	for _, p := range []*Progress{NewProgress(f, 2), NewProgress(&buf, 2)} {
		p.AddBytes(5000)
		p.FileDone()
		p.Finish()
	}
	if fi, _ := f.Stat(); fi.Size() != 0 || buf.Len() != 0 {
		t.Errorf("wrote %d bytes to a file and %d to a buffer, want none (not terminals)", fi.Size(), buf.Len())
	}
	var nilP *Progress // what Sources.Progress is by default
	nilP.AddBytes(1)
	nilP.FileDone()
	nilP.Finish()
}

func TestProgressCountsDownloads(t *testing.T) {
	content := bytes.Repeat([]byte("x"), 2_500_000)
	srv, _ := serve(t, func(w http.ResponseWriter, r *http.Request) { w.Write(content) })
	clock := &fakeClock{t: time.Unix(1700000000, 0)}
	var out syncBuffer
	s, _ := fastSources(srv.URL + "/simple/")
	s.Progress = newProgress(&out, 2, clock.now)
	for range 2 {
		if err := s.Download(context.Background(), File{Filename: "x.whl", URL: srv.URL + "/x.whl"}, &bytes.Buffer{}); err != nil {
			t.Fatal(err)
		}
		s.Progress.FileDone() // the caller's part, once the file is stored
	}
	s.Progress.Finish()
	if !strings.HasSuffix(out.String(), "downloading 2/2 files, 5.0 MB\x1b[K\n") {
		t.Errorf("progress output %q, want 2/2 files and 5.0 MB", out.String())
	}
}

func TestFormatBytes(t *testing.T) {
	for n, want := range map[int64]string{
		0:             "0 B",
		999:           "999 B",
		1000:          "1.0 kB",
		41_234_567:    "41.2 MB",
		1_500_000_000: "1.5 GB",
	} {
		if got := formatBytes(n); got != want {
			t.Errorf("formatBytes(%d) = %q, want %q", n, got, want)
		}
	}
}
