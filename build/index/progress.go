package index

import (
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/term"
)

// progressEvery is the shortest time between two redraws: often enough to
// look live, rare enough that drawing never costs a download anything.
const progressEvery = 100 * time.Millisecond

// Progress shows one updating line, "downloading 3/12 files, 41.2 MB", on
// a terminal. Set as Sources.Progress it counts the bytes Download
// fetches; the caller calls FileDone as each file is stored. It writes
// nothing when its writer is not a terminal (a CI log, a pipe), so logs
// stay clean. Its methods are safe for concurrent use, and do nothing on a
// nil *Progress.
type Progress struct {
	out   io.Writer // nil: quiet
	total int

	files    atomic.Int64
	bytes    atomic.Int64
	lastDraw atomic.Int64 // unix nanoseconds of the last redraw
	now      func() time.Time

	mu    sync.Mutex // serializes writes to out
	drawn bool
}

// NewProgress returns a Progress for downloading files files that draws
// on w if w is a terminal.
func NewProgress(w io.Writer, files int) *Progress {
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		w = nil
	}
	return newProgress(w, files, time.Now)
}

func newProgress(w io.Writer, files int, now func() time.Time) *Progress {
	return &Progress{out: w, total: files, now: now}
}

// AddBytes counts n more bytes downloaded.
func (p *Progress) AddBytes(n int64) {
	if p == nil {
		return
	}
	p.bytes.Add(n)
	p.maybeDraw()
}

// FileDone counts one more file downloaded.
func (p *Progress) FileDone() {
	if p == nil {
		return
	}
	p.files.Add(1)
	p.maybeDraw()
}

// Finish draws the final counts and ends the line, if anything was drawn.
func (p *Progress) Finish() {
	if p == nil || p.out == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drawn {
		fmt.Fprintf(p.out, "\r%s\x1b[K\n", p.line())
		p.drawn = false
	}
}

// maybeDraw redraws unless the last redraw was under progressEvery ago;
// of several goroutines arriving together, only one draws.
func (p *Progress) maybeDraw() {
	if p.out == nil {
		return
	}
	now := p.now().UnixNano()
	last := p.lastDraw.Load()
	if last != 0 && now-last < int64(progressEvery) {
		return
	}
	if !p.lastDraw.CompareAndSwap(last, now) {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.out, "\r%s\x1b[K", p.line())
	p.drawn = true
}

func (p *Progress) line() string {
	return fmt.Sprintf("downloading %d/%d files, %s", p.files.Load(), p.total, formatBytes(p.bytes.Load()))
}

// formatBytes formats n in decimal units, as download tools do: "41.2 MB".
func formatBytes(n int64) string {
	switch {
	case n < 1000:
		return fmt.Sprintf("%d B", n)
	case n < 1000*1000:
		return fmt.Sprintf("%.1f kB", float64(n)/1e3)
	case n < 1000*1000*1000:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	}
	return fmt.Sprintf("%.1f GB", float64(n)/1e9)
}

// interrupt writes msg on a line of its own, clearing the progress line
// first, and reports whether it did: it does nothing (false) unless the
// progress line is drawn on a terminal. The next update redraws the line.
func (p *Progress) interrupt(msg string) bool {
	if p == nil || p.out == nil {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.out, "\r\x1b[K%s\n", msg)
	p.drawn = false
	p.lastDraw.Store(0)
	return true
}
