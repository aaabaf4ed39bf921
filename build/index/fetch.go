package index

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

const (
	backoffBase   = 500 * time.Millisecond
	backoffMax    = 15 * time.Second
	maxRetryAfter = 60 * time.Second // longer requests are shortened to this
	stallTimeout  = 2 * time.Minute  // no bytes for this long: retry
	maxPageBytes  = 64 << 20         // PyPI's largest project pages are a few MB
)

// errStalled ends a request that has received nothing for the stall time,
// so a hung connection on CI becomes a retry instead of a hung build.
var errStalled = errors.New("no data received")

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

// watchedBody ends its request when no bytes arrive for the stall time.
type watchedBody struct {
	rc     io.ReadCloser
	ctx    context.Context // the request's own context
	timer  *time.Timer
	stall  time.Duration
	cancel context.CancelCauseFunc
}

func (b *watchedBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if n > 0 {
		b.timer.Reset(b.stall)
	}
	if err != nil && err != io.EOF {
		if cause := context.Cause(b.ctx); cause != nil {
			err = cause
		}
	}
	return n, err
}

func (b *watchedBody) Close() error {
	b.timer.Stop()
	err := b.rc.Close()
	b.cancel(nil)
	return err
}

// get sends one GET to u (which has no userinfo) with the credentials that
// apply to it. A failure to get a response is returned as transient unless
// ctx is done; the response body ends the request when closed.
func (ss *session) get(ctx context.Context, u *url.URL, header http.Header) (*http.Response, bool, error) {
	user, pass, hasCreds := ss.credsFor(u)
	stall := ss.s.stall
	if stall == 0 {
		stall = stallTimeout
	}
	actx, cancel := context.WithCancelCause(ctx)
	timer := time.AfterFunc(stall, func() { cancel(fmt.Errorf("%w for %v", errStalled, stall)) })
	req, err := http.NewRequestWithContext(actx, http.MethodGet, u.String(), nil)
	if err != nil {
		timer.Stop()
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
	resp, err := ss.client.Do(req)
	if err != nil {
		timer.Stop()
		cause := context.Cause(actx)
		cancel(nil)
		if ctx.Err() != nil {
			return nil, false, ctx.Err()
		}
		if cause != nil {
			err = cause
		} else if ue, ok := err.(*url.Error); ok {
			err = ue.Err // the URL is added by the caller, without credentials
		}
		return nil, false, &transient{err: fmt.Errorf("GET %s: %w", u, err)}
	}
	resp.Body = &watchedBody{rc: resp.Body, ctx: actx, timer: timer, stall: stall, cancel: cancel}
	return resp, hasCreds, nil
}

// statusError turns a failed response into an error, transient when a
// retry may help. The final URL (after redirects) is named. An unreadable
// netrc file is mentioned only here, where it may be why no credentials
// were sent.
func (ss *session) statusError(resp *http.Response, sentCreds bool) error {
	e := &StatusError{URL: redactURL(resp.Request.URL.String()), StatusCode: resp.StatusCode, Status: resp.Status}
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
// cancellation is final, anything else (a reset, a stall) is transient.
func readErr(ctx context.Context, u *url.URL, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return &transient{err: fmt.Errorf("GET %s: read: %w", u, err)}
}

// fetchPage fetches and parses a simple-index page. found is false when
// the server answers 404 or 410: the index does not have the project.
func (ss *session) fetchPage(ctx context.Context, u *url.URL, source string) (files []File, found bool, err error) {
	err = ss.retry(ctx, func() error {
		resp, sentCreds, err := ss.get(ctx, u, http.Header{"Accept": {acceptSimple}})
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
			return fmt.Errorf("GET %s: page larger than %d MB", u, maxPageBytes>>20)
		}
		final := resp.Request.URL // relative links resolve against the page after redirects
		format, err := pageFormat(resp.Header.Get("Content-Type"), body)
		if err != nil {
			return fmt.Errorf("GET %s: %w", redactURL(final.String()), err)
		}
		files, err = parsePage(format, body, final, source)
		if err != nil {
			return fmt.Errorf("GET %s: %w", redactURL(final.String()), err)
		}
		found = true
		return nil
	})
	return files, found, err
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
// file:// URLs (find-links) are copied from the local file.
//
// Bytes written are counted in s.Progress; files are not, since a file is
// done only once the caller has verified and stored it (Progress.FileDone).
func (s *Sources) Download(ctx context.Context, f File, w io.Writer) error {
	u, err := url.Parse(f.URL)
	if err != nil {
		return fmt.Errorf("download %s: bad URL %s", f.Filename, redactRaw(f.URL))
	}
	switch u.Scheme {
	case "file", "":
		p, err := localPath(f.URL)
		if err == nil {
			err = s.copyLocal(p, w)
		}
		if err != nil {
			return fmt.Errorf("download %s: %w", f.Filename, err)
		}
		return nil
	case "http", "https":
	default:
		return fmt.Errorf("download %s: unsupported URL scheme %q", f.Filename, u.Scheme)
	}
	ss, err := s.session()
	if err != nil {
		return err
	}
	if u.User != nil {
		// Credentials in a file URL apply to that URL only.
		e, err := parseEndpoint("file URL", f.URL)
		if err != nil {
			return fmt.Errorf("download %s: %w", f.Filename, err)
		}
		ss.auth = append([]endpoint{e}, ss.auth...)
		u = e.url
	}
	if err := ss.download(ctx, u, w); err != nil {
		return fmt.Errorf("download %s: %w", f.Filename, err)
	}
	return nil
}

// writeErr marks an error from the caller's writer, which a retry cannot
// fix.
type writeErr struct{ err error }

// Error names the failed write, which is the caller's and not the
// server's.
func (e writeErr) Error() string { return "write: " + e.err.Error() }

// Unwrap returns the writer's error, for errors.Is and errors.As.
func (e writeErr) Unwrap() error { return e.err }

func (ss *session) download(ctx context.Context, u *url.URL, w io.Writer) error {
	var written int64 // bytes w has, across attempts
	useRange := true  // false once the server mishandled a Range request
	buf := make([]byte, 64<<10)
	return ss.retry(ctx, func() error {
		// identity: a wheel is already compressed, and byte offsets for
		// Range must be offsets in the file itself.
		h := http.Header{"Accept-Encoding": {"identity"}}
		if written > 0 && useRange {
			h.Set("Range", fmt.Sprintf("bytes=%d-", written))
		}
		resp, sentCreds, err := ss.get(ctx, u, h)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		skip := int64(0)
		switch resp.StatusCode {
		case http.StatusOK:
			skip = written
		case http.StatusPartialContent:
			if h.Get("Range") == "" || contentRangeStart(resp.Header.Get("Content-Range")) != written {
				useRange = false
				return &transient{err: fmt.Errorf("GET %s: unexpected partial response %q", u, resp.Header.Get("Content-Range"))}
			}
		case http.StatusRequestedRangeNotSatisfiable:
			if written > 0 && useRange {
				useRange = false
				return &transient{err: fmt.Errorf("GET %s: server refused to resume at byte %d", u, written)}
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

// copyLocal copies a find-links file, counting it as downloaded bytes.
func (s *Sources) copyLocal(p string, w io.Writer) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	for {
		n, rerr := f.Read(buf)
		if n > 0 {
			if _, err := w.Write(buf[:n]); err != nil {
				return writeErr{err}
			}
			s.Progress.AddBytes(int64(n))
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			return fmt.Errorf("read %s: %w", p, rerr)
		}
	}
}
