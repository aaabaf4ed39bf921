package upload

import (
	"fmt"
	"io"
	"os"
	"sync"

	"golang.org/x/term"
)

// progress shows one updating line, "uploading s3://b/k: 3/16 parts,
// 48.0/250.0 MB", on a terminal, and nothing on a pipe or CI log. Parts
// are the unit because the SDK must be able to seek and re-read a part's
// body (for signing and retries), which a byte-counting wrapper would
// break. A nil *progress does nothing.
type progress struct {
	mu          sync.Mutex
	out         io.Writer
	loc         Location
	total       int64
	parts, done int
	sent        int64
}

func newProgress(w io.Writer, loc Location, total int64, parts int) *progress {
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	return startProgress(w, loc, total, parts)
}

// startProgress draws on w whatever it is.
func startProgress(w io.Writer, loc Location, total int64, parts int) *progress {
	p := &progress{out: w, loc: loc, total: total, parts: parts}
	p.draw()
	return p
}

func (p *progress) partDone(n int64) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done++
	p.sent += n
	p.draw()
}

// finish ends the line.
func (p *progress) finish() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintln(p.out)
}

// draw writes the line; the caller holds mu (or is the constructor).
func (p *progress) draw() {
	if p.parts > 1 {
		fmt.Fprintf(p.out, "\ruploading %s: %d/%d parts, %s/%s\x1b[K", p.loc, p.done, p.parts, mb(p.sent), mb(p.total))
		return
	}
	state := "…"
	if p.done > 0 {
		state = "done"
	}
	fmt.Fprintf(p.out, "\ruploading %s (%s) %s\x1b[K", p.loc, mb(p.total), state)
}

func mb(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/1e6) }
