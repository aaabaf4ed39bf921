package index

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/galerly/galerly-lambda/build/internal/clip"
	"github.com/galerly/galerly-lambda/build/internal/regular"
	"github.com/galerly/galerly-lambda/build/target"
)

const (
	backoffBase   = 500 * time.Millisecond
	backoffMax    = 15 * time.Second
	maxRetryAfter = 60 * time.Second // longer requests are shortened to this
	maxPageBytes  = 64 << 20         // PyPI's largest project pages are a few MB

	// stallTimeout and minWindowBytes decide when a request is abandoned
	// and retried: when a stallTimeout window (the first one counting
	// from the request) brings fewer than minWindowBytes, or fewer than
	// the rest of a body of known length. A byte now and then does not
	// keep a request alive: a connection trickling a byte every 20 s would
	// otherwise never end, and at under 600 bytes a second no wheel
	// arrives in useful time; a fresh connection may well do better, and
	// the caller's deadline (--timeout) bounds the retries.
	stallTimeout   = 30 * time.Second
	minWindowBytes = 16 << 10

	// slowAfter is when a request still running is first named on
	// Sources.Log, and slowEvery how often after that.
	slowAfter = 10 * time.Second
	slowEvery = 30 * time.Second
)

// MaxDownloadBytes caps every download, whether or not the index declares
// a size: a wheel larger than Lambda's limit on a layer's unzipped size
// (target.MaxUnzippedBytes) cannot fit in a layer, so an endless or
// oversized body is cut off there instead of filling the cache's disk.
const MaxDownloadBytes = target.MaxUnzippedBytes

// errStalled and errTooSlow end a request whose connection has stalled or
// trickles, so a hung connection on CI becomes a retry instead of a hung
// build.
var (
	errStalled = errors.New("no data received")
	errTooSlow = errors.New("too slow")
)

// transient marks an error worth retrying. after is the delay the server
// asked for (Retry-After), or 0 to use backoff.
type transient struct {
	err   error
	after time.Duration
}

// Error returns the message of the error that may go away on retry.
func (t *transient) Error() string { return t.err.Error() }

// Unwrap returns the underlying error, for errors.Is and errors.As.
func (t *transient) Unwrap() error { return t.err }

// retryable reports the status codes that can succeed if tried again.
// 501 Not Implemented and 505 will not.
func retryable(code int) bool {
	switch code {
	case http.StatusRequestTimeout, http.StatusTooManyRequests:
		return true
	case http.StatusNotImplemented, http.StatusHTTPVersionNotSupported:
		return false
	}
	return code >= 500
}

// retryAfter reads a Retry-After header (seconds or an HTTP date).
func retryAfter(h string, now time.Time) time.Duration {
	if h == "" {
		return 0
	}
	if s, err := strconv.Atoi(strings.TrimSpace(h)); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// backoff is the delay before retry i (0-based): exponential, capped, with
// jitter so that builders failing together do not retry together.
func backoff(i int) time.Duration {
	d := backoffMax
	if i < 10 {
		d = min(backoffBase<<i, backoffMax)
	}
	return d/2 + rand.N(d/2+1)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// retry calls attempt until it succeeds, returns an error not marked
// transient, or has been tried 1+Retries times.
func (ss *session) retry(ctx context.Context, attempt func() error) error {
	n := 1 + DefaultRetries
	if ss.s.Retries < 0 {
		n = 1
	} else if ss.s.Retries > 0 {
		n = 1 + ss.s.Retries
	}
	wait := ss.s.wait
	if wait == nil {
		wait = sleep
	}
	for i := 0; ; i++ {
		err := attempt()
		te, ok := err.(*transient)
		if !ok {
			return err
		}
		if i+1 >= n {
			return fmt.Errorf("%w (gave up after %d %s)", te.err, n, plural(n, "attempt"))
		}
		d := te.after
		if d == 0 {
			d = backoff(i)
		}
		if err := wait(ctx, min(d, maxRetryAfter)); err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				return &timeoutError{last: te.err, cause: context.Cause(ctx)}
			}
			return fmt.Errorf("%w (while waiting to retry: %v)", err, te.err)
		}
	}
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

// timeoutError is a request, or the wait before retrying one, cut short
// by the caller's deadline. It says what was being waited for; errors.Is
// finds context.DeadlineExceeded in it.
type timeoutError struct {
	what  string // "GET URL", when a request was cut short
	last  error  // the failure a retry was waiting to repair, when a wait was
	cause error  // context.Cause: what set the deadline (the CLI's --timeout)
}

func (e *timeoutError) Error() string {
	why := "timed out"
	if e.cause != nil && e.cause != context.DeadlineExceeded {
		why += " (" + e.cause.Error() + ")"
	}
	if e.last != nil {
		return e.last.Error() + "; " + why + " before the next attempt"
	}
	return e.what + ": " + why
}

// Unwrap returns context.DeadlineExceeded, for errors.Is.
func (e *timeoutError) Unwrap() error { return context.DeadlineExceeded }

// doneErr is the error for a request to u that ctx ended: a timeoutError
// naming the request when the deadline passed, ctx.Err() otherwise.
func doneErr(ctx context.Context, u *url.URL) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return &timeoutError{what: "GET " + shown(u), cause: context.Cause(ctx)}
	}
	return ctx.Err()
}

// watch guards one request. It ends the request (through cancel, with
// errStalled or errTooSlow as the cause) when a window of the stall time
// brings too few bytes, and names it on the Sources' Log when it runs
// long. Its timers start with the request, so a server that accepts and
// never answers is caught too.
type watch struct {
	s         *Sources
	what      string // "GET URL (downloading FILE)", for notes
	start     time.Time
	window    time.Duration
	minimum   int64
	cancel    context.CancelCauseFunc
	got       atomic.Int64 // bytes received so far
	total     atomic.Int64 // the body's length when known, else -1
	responded atomic.Bool  // the response's headers came

	mu      sync.Mutex // guards what follows, and the timers' Reset
	stopped bool
	seen    int64 // got at the start of the current window
	stall   *time.Timer
	slow    *time.Timer
}

func (ss *session) newWatch(what string, cancel context.CancelCauseFunc) *watch {
	w := &watch{
		s:       ss.s,
		what:    what,
		start:   time.Now(),
		window:  cmp.Or(ss.s.stall, stallTimeout),
		minimum: cmp.Or(ss.s.minBytes, minWindowBytes),
		cancel:  cancel,
	}
	w.total.Store(-1)
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stall = time.AfterFunc(w.window, w.checkWindow)
	w.slow = time.AfterFunc(cmp.Or(ss.s.slow, slowAfter), w.noteSlow)
	return w
}

// checkWindow ends the request if the window that just closed brought too
// little, and otherwise opens the next one.
func (w *watch) checkWindow() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped {
		return
	}
	got := w.got.Load()
	brought := got - w.seen
	need := w.minimum
	if total := w.total.Load(); total >= 0 {
		need = min(need, total-w.seen)
	}
	switch {
	case brought == 0 && need > 0:
		w.cancel(fmt.Errorf("%w for %v", errStalled, w.window))
		return
	case brought < need:
		w.cancel(fmt.Errorf("%w: %d bytes in %v, under the %d a live connection brings", errTooSlow, brought, w.window, need))
		return
	}
	w.seen = got
	w.stall.Reset(w.window)
}

// noteSlow names the request on Log, and plans the next reminder.
func (w *watch) noteSlow() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped {
		return
	}
	elapsed := time.Since(w.start).Round(time.Second)
	got := "no response yet"
	if n := w.got.Load(); w.responded.Load() {
		got = formatBytes(n) + " received"
		if total := w.total.Load(); total > 0 {
			got += " of " + formatBytes(total)
		}
	}
	w.s.note(fmt.Sprintf("still waiting for %s: %v so far, %s", w.what, elapsed, got))
	w.slow.Reset(slowEvery)
}

// stop ends the watch: the body was read to its end or closed.
func (w *watch) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stopped = true
	w.stall.Stop()
	w.slow.Stop()
}

// watchedBody counts the bytes of a response for its watch, and reports a
// read cut short by the watch as the watch's reason.
type watchedBody struct {
	rc    io.ReadCloser
	ctx   context.Context // the request's own context
	watch *watch
}

func (b *watchedBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if n > 0 {
		b.watch.got.Add(int64(n))
	}
	switch {
	case err == io.EOF:
		b.watch.stop()
	case err != nil:
		if cause := context.Cause(b.ctx); cause != nil {
			err = cause
		}
	}
	return n, err
}

func (b *watchedBody) Close() error {
	b.watch.stop()
	err := b.rc.Close()
	b.watch.cancel(nil)
	return err
}

// get sends one GET to u (which has no userinfo) with the credentials that
// apply to it; what says what the request is for, in notes. A failure to
// get a response is returned as transient unless ctx is done; the response
// body ends the request when closed.
func (ss *session) get(ctx context.Context, u *url.URL, header http.Header, what string) (*http.Response, bool, error) {
	user, pass, hasCreds := ss.credsFor(u)
	actx, cancel := context.WithCancelCause(ctx)
	req, err := http.NewRequestWithContext(actx, http.MethodGet, u.String(), nil)
	if err != nil {
		cancel(nil)
		return nil, false, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	ua := ss.s.UserAgent
	if ua == "" {
		ua = "lambdapack"
	}
	req.Header.Set("User-Agent", ua)
	if hasCreds {
		req.SetBasicAuth(user, pass)
	}
	w := ss.newWatch(fmt.Sprintf("GET %s (%s)", shown(u), what), cancel)
	resp, err := ss.client.Do(req)
	if err != nil {
		w.stop()
		cause := context.Cause(actx)
		cancel(nil)
		if ctx.Err() != nil {
			return nil, false, doneErr(ctx, u)
		}
		if cause != nil {
			err = cause
		} else if ue, ok := err.(*url.Error); ok {
			err = ue.Err // the URL is added by the caller, without credentials
		}
		err = clip.Error(err) // a DNS error names the host whole
		return nil, false, &transient{err: fmt.Errorf("GET %s: %w", shown(u), err)}
	}
	w.total.Store(max(resp.ContentLength, -1))
	w.responded.Store(true)
	resp.Body = &watchedBody{rc: resp.Body, ctx: actx, watch: w}
	return resp, hasCreds, nil
}

// statusError turns a failed response into an error, transient when a
// retry may help. The final URL (after redirects) is named. An unreadable
// netrc file is mentioned only here, where it may be why no credentials
// were sent.
func (ss *session) statusError(resp *http.Response, sentCreds bool) error {
	e := &StatusError{URL: clip.String(redactURL(resp.Request.URL.String())), StatusCode: resp.StatusCode, Status: clip.String(resp.Status)}
	switch resp.StatusCode {
	case http.StatusUnauthorized, http.StatusForbidden:
		switch {
		case sentCreds:
			e.Hint = "the credentials were refused"
		case ss.netrcErr != nil:
			e.Hint = fmt.Sprintf("no credentials were sent: put them in the index or find-links URL, or fix the netrc file, which was ignored: %v", ss.netrcErr)
		default:
			e.Hint = "no credentials were sent: put them in the index or find-links URL, or in a netrc file"
		}
	}
	if retryable(resp.StatusCode) {
		return &transient{err: e, after: retryAfter(resp.Header.Get("Retry-After"), time.Now())}
	}
	return e
}

// readErr classifies an error reading a response body: the caller's
// cancellation or deadline is final, anything else (a reset, a stall) is
// transient.
func readErr(ctx context.Context, u *url.URL, err error) error {
	if ctx.Err() != nil {
		return doneErr(ctx, u)
	}
	return &transient{err: fmt.Errorf("GET %s: read: %w", shown(u), err)}
}

// fetchPage fetches and parses a simple-index page; what says what for,
// in notes. found is false when the server answers 404 or 410: the index
// does not have the project. Links the page may not give are noted on
// Log, naming the page.
func (ss *session) fetchPage(ctx context.Context, u *url.URL, source, what string) (pg page, found bool, err error) {
	err = ss.retry(ctx, func() error {
		resp, sentCreds, err := ss.get(ctx, u, http.Header{"Accept": {acceptSimple}}, what)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		switch {
		case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
			found = false
			return nil
		case resp.StatusCode != http.StatusOK:
			return ss.statusError(resp, sentCreds)
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, maxPageBytes+1))
		if err != nil {
			return readErr(ctx, u, err)
		}
		if len(body) > maxPageBytes {
			return fmt.Errorf("GET %s: page larger than %d MB", shown(u), maxPageBytes>>20)
		}
		final := resp.Request.URL // relative links resolve against the page after redirects
		format, err := pageFormat(resp.Header.Get("Content-Type"), body)
		if err != nil {
			return fmt.Errorf("GET %s: %w", clip.String(redactURL(final.String())), err)
		}
		pg, err = parsePage(format, body, final, source)
		if err != nil {
			return fmt.Errorf("GET %s: %w", clip.String(redactURL(final.String())), err)
		}
		pg.final = redactURL(final.String())
		found = true
		return nil
	})
	for _, r := range pg.refused {
		ss.s.note(fmt.Sprintf("note: the page %s links %s: a remote page may not point at anything but http(s) URLs, such as local files; the link is ignored",
			clip.String(pg.final), r))
	}
	return pg, found, err
}

// Download writes the content of f to w.
//
// w receives each byte of the file exactly once, in order, even when
// Download retries: a retry after a partial transfer asks for the rest
// with a Range request, and if the server ignores Range, skips the bytes w
// already has. So w can be the fill writer of a cache Put, which hashes
// the whole and rejects the result if the file changed between attempts.
// An error from w is returned at once, without retries.
//
// No more than f.Size bytes are fetched when the index declared a size,
// and never more than MaxDownloadBytes: a larger file is an error (not
// retried) as soon as it shows, by its Content-Length or its bytes.
//
// file:// URLs (find-links folders) are copied from the local file; one
// listed by a remote page is refused.
//
// Bytes written are counted in s.Progress; files are not, since a file is
// done only once the caller has verified and stored it (Progress.FileDone).
func (s *Sources) Download(ctx context.Context, f File, w io.Writer) error {
	name := clip.String(f.Filename)
	u, err := url.Parse(f.URL)
	if err != nil {
		return fmt.Errorf("download %s: bad URL %s", name, clip.String(redactRaw(f.URL)))
	}
	limit := sizeLimit{max: cmp.Or(s.maxBytes, MaxDownloadBytes)}
	if f.Size > 0 {
		if f.Size > limit.max {
			return fmt.Errorf("download %s: %s declares it is %d bytes, over %d (%s): it was not downloaded",
				name, clip.String(f.Source), f.Size, limit.max, limit.why())
		}
		limit.max, limit.declaredBy = f.Size, clip.String(f.Source)
	}
	switch u.Scheme {
	case "file", "":
		if strings.HasPrefix(f.Source, "http://") || strings.HasPrefix(f.Source, "https://") {
			return fmt.Errorf("download %s: %s lists it at %s, and a remote page may not point at local files", name, clip.String(f.Source), clip.String(f.URL))
		}
		p, err := localPath(f.URL)
		if err == nil {
			err = s.copyLocal(p, w, limit)
		}
		if err != nil {
			return fmt.Errorf("download %s: %w", name, err)
		}
		return nil
	case "http", "https":
	default:
		return fmt.Errorf("download %s: unsupported URL scheme %s", name, clip.Quote(u.Scheme))
	}
	ss, err := s.session()
	if err != nil {
		return err
	}
	if u.User != nil {
		// Credentials in a file URL apply to that URL only.
		e, err := parseEndpoint("file URL", f.URL)
		if err != nil {
			return fmt.Errorf("download %s: %w", name, err)
		}
		ss.auth = append([]endpoint{e}, ss.auth...)
		u = e.url
	}
	if err := ss.download(ctx, u, w, limit, "downloading "+name); err != nil {
		return fmt.Errorf("download %s: %w", name, err)
	}
	return nil
}

// sizeLimit is the most bytes a download may bring, and why.
type sizeLimit struct {
	max        int64
	declaredBy string // the index that declared the size, "" for MaxDownloadBytes
}

func (l sizeLimit) why() string {
	if l.declaredBy != "" {
		return "the size " + l.declaredBy + " declares for it"
	}
	return "Lambda's limit on a layer's unzipped size: no wheel that large can fit"
}

// tooLarge is the error for a download found to exceed l; it is never
// retried.
func (l sizeLimit) tooLarge(what string) error {
	if l.declaredBy != "" {
		return fmt.Errorf("%s brings more than the %d bytes %s declares for it: the file is not the one listed; the download was stopped and nothing was kept",
			what, l.max, l.declaredBy)
	}
	return fmt.Errorf("%s brings more than %d bytes (%s); the download was stopped and nothing was kept", what, l.max, l.why())
}

// writeErr marks an error from the caller's writer, which a retry cannot
// fix.
type writeErr struct{ err error }

// Error names the failed write, which is the caller's and not the
// server's.
func (e writeErr) Error() string { return "write: " + e.err.Error() }

// Unwrap returns the writer's error, for errors.Is and errors.As.
func (e writeErr) Unwrap() error { return e.err }

func (ss *session) download(ctx context.Context, u *url.URL, w io.Writer, limit sizeLimit, what string) error {
	var written int64 // bytes w has, across attempts
	useRange := true  // false once the server mishandled a Range request
	buf := make([]byte, 64<<10)
	get := "GET " + shown(u)
	return ss.retry(ctx, func() error {
		// identity: a wheel is already compressed, and byte offsets for
		// Range must be offsets in the file itself.
		h := http.Header{"Accept-Encoding": {"identity"}}
		if written > 0 && useRange {
			h.Set("Range", fmt.Sprintf("bytes=%d-", written))
		}
		resp, sentCreds, err := ss.get(ctx, u, h, what)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		skip := int64(0)
		switch resp.StatusCode {
		case http.StatusOK:
			skip = written
			if resp.ContentLength > limit.max {
				return limit.tooLarge(fmt.Sprintf("%s (Content-Length %d)", get, resp.ContentLength))
			}
		case http.StatusPartialContent:
			if h.Get("Range") == "" || contentRangeStart(resp.Header.Get("Content-Range")) != written {
				useRange = false
				return &transient{err: fmt.Errorf("GET %s: unexpected partial response %s", shown(u), clip.Quote(resp.Header.Get("Content-Range")))}
			}
			if resp.ContentLength > limit.max-written {
				return limit.tooLarge(fmt.Sprintf("%s (%d bytes, then Content-Length %d)", get, written, resp.ContentLength))
			}
		case http.StatusRequestedRangeNotSatisfiable:
			if written > 0 && useRange {
				useRange = false
				return &transient{err: fmt.Errorf("GET %s: server refused to resume at byte %d", shown(u), written)}
			}
			return ss.statusError(resp, sentCreds)
		default:
			return ss.statusError(resp, sentCreds)
		}
		if skip > 0 {
			if _, err := io.CopyN(io.Discard, resp.Body, skip); err != nil {
				return readErr(ctx, u, err)
			}
		}
		for {
			n, rerr := resp.Body.Read(buf)
			if n > 0 {
				if written+int64(n) > limit.max {
					return limit.tooLarge(get)
				}
				if _, err := w.Write(buf[:n]); err != nil {
					return writeErr{err}
				}
				written += int64(n)
				ss.s.Progress.AddBytes(int64(n))
			}
			if rerr == io.EOF {
				return nil
			}
			if rerr != nil {
				return readErr(ctx, u, rerr)
			}
		}
	})
}

// contentRangeStart reads the first byte position of "bytes 100-199/200",
// or -1.
func contentRangeStart(cr string) int64 {
	rest, ok := strings.CutPrefix(cr, "bytes ")
	if !ok {
		return -1
	}
	first, _, ok := strings.Cut(rest, "-")
	if !ok {
		return -1
	}
	n, err := strconv.ParseInt(first, 10, 64)
	if err != nil {
		return -1
	}
	return n
}

// copyLocal copies a find-links file, counting it as downloaded bytes,
// refusing one over limit.
func (s *Sources) copyLocal(p string, w io.Writer, limit sizeLimit) error {
	// A FIFO or a device (a path in a lock may name /dev/zero) is
	// refused unread: it would block the build or never end.
	f, st, err := regular.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	if st.Size() > limit.max {
		return fmt.Errorf("%s is %d bytes, over %d (%s)", clip.String(p), st.Size(), limit.max, limit.why())
	}
	buf := make([]byte, 64<<10)
	var written int64
	for {
		n, rerr := f.Read(buf)
		if n > 0 {
			// The file may grow while it is read.
			if written += int64(n); written > limit.max {
				return limit.tooLarge("reading " + clip.String(p))
			}
			if _, err := w.Write(buf[:n]); err != nil {
				return writeErr{err}
			}
			s.Progress.AddBytes(int64(n))
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			return fmt.Errorf("read %s: %w", clip.String(p), rerr)
		}
	}
}

// shown is u as messages show it: without credentials, and clipped, since
// a page may give a file URL of any length.
func shown(u *url.URL) string { return clip.String(redactURL(u.String())) }
