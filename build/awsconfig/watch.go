package awsconfig

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
)

const (
	// responseTimeout bounds how long one attempt may wait for a response
	// once its request (body included) is sent. An endpoint that accepts
	// the connection and never answers is then abandoned and the SDK's
	// retryer tries again, so the retries fit inside the caller's
	// deadline instead of the first attempt using all of it. Lambda's
	// Invoke is exempt: a function may run for minutes.
	responseTimeout = 30 * time.Second

	// slowAfter is when a request still unanswered is first named on the
	// log, and slowEvery how often after that.
	slowAfter = 10 * time.Second
	slowEvery = 30 * time.Second
)

// watchClient sends the SDK's requests, bounding each attempt's wait for a
// response and naming the slow ones on log.
type watchClient struct {
	next            aws.HTTPClient
	responseTimeout time.Duration
	slowAfter       time.Duration
	log             io.Writer // nil: say nothing
}

func newWatchClient(next aws.HTTPClient) *watchClient {
	return &watchClient{next: next, responseTimeout: responseTimeout, slowAfter: slowAfter}
}

// WithLog returns cfg (as Load made it) with its requests to AWS that are
// still unanswered after 10 s (then every 30 s) named on w: the service,
// the operation and the URL. w receives one line per Write and must be
// safe for concurrent use (the parts of an upload go in parallel).
func WithLog(cfg aws.Config, w io.Writer) aws.Config {
	if c, ok := cfg.HTTPClient.(*watchClient); ok {
		cp := *c
		cp.log = w
		cfg.HTTPClient = &cp
	}
	return cfg
}

// NoResponseError is one attempt that got no response within the time
// allowed. It is a timeout (Timeout reports true), which the SDK retries.
type NoResponseError struct {
	Operation string // "S3 HeadObject"
	After     time.Duration
}

// Error names the operation and how long it waited.
func (e *NoResponseError) Error() string {
	return fmt.Sprintf("%s: no response within %v", e.Operation, e.After)
}

// Timeout reports true: the SDK retries timeouts.
func (e *NoResponseError) Timeout() bool { return true }

// Do sends one attempt.
func (c *watchClient) Do(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	name := awsmiddleware.GetOperationName(ctx)
	op := awsmiddleware.GetServiceID(ctx) + " " + name
	log := c.log
	actx, cancel := context.WithCancelCause(ctx)
	a := &attempt{
		what:   fmt.Sprintf("%s (%s %s://%s%s)", op, req.Method, req.URL.Scheme, req.URL.Host, req.URL.EscapedPath()),
		start:  time.Now(),
		log:    log,
		noResp: &NoResponseError{Operation: op, After: c.responseTimeout},
		cancel: cancel,
	}
	if log != nil {
		a.mu.Lock()
		a.slow = time.AfterFunc(c.slowAfter, a.noteSlow)
		a.mu.Unlock()
	}
	out := req.WithContext(actx)
	switch {
	case name == "Invoke":
		// Not bounded: the function's own run time is the wait.
	case req.Body == nil || req.Body == http.NoBody || req.ContentLength == 0:
		a.arm(c.responseTimeout)
	default:
		// The wait for a response starts once the body is sent: a large
		// part on a slow uplink takes as long as it takes.
		out.Body = &sentBody{rc: req.Body, left: req.ContentLength, sent: func() { a.arm(c.responseTimeout) }}
	}

	resp, err := c.next.Do(out)
	a.stop()
	if err != nil {
		cause := context.Cause(actx)
		cancel(nil)
		if ctx.Err() == nil && errors.Is(cause, a.noResp) {
			return nil, a.noResp
		}
		return nil, err
	}
	// The body is read after Do returns, under the attempt's context.
	resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

// attempt is the state of one request while it waits for its response.
type attempt struct {
	what   string
	start  time.Time
	log    io.Writer
	noResp *NoResponseError
	cancel context.CancelCauseFunc

	mu      sync.Mutex
	stopped bool // the response (or an error) came: arm no more, say no more
	timer   *time.Timer
	slow    *time.Timer
}

// arm starts the wait for a response, once.
func (a *attempt) arm(d time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.stopped || a.timer != nil {
		return
	}
	a.timer = time.AfterFunc(d, func() { a.cancel(a.noResp) })
}

func (a *attempt) noteSlow() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.stopped {
		return
	}
	fmt.Fprintf(a.log, "still waiting for %s: %v so far\n", a.what, time.Since(a.start).Round(time.Second))
	a.slow.Reset(slowEvery)
}

func (a *attempt) stop() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.stopped = true
	if a.timer != nil {
		a.timer.Stop()
	}
	if a.slow != nil {
		a.slow.Stop()
	}
}

// sentBody calls sent once the transport has read the whole request body
// (by its length, at its end, or when closing it).
type sentBody struct {
	rc   io.ReadCloser
	left int64 // bytes still to send, when the length is known (else < 0)
	sent func()
	once sync.Once
}

func (b *sentBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if b.left >= 0 {
		b.left -= int64(n)
	}
	if err != nil || b.left == 0 {
		b.once.Do(b.sent)
	}
	return n, err
}

func (b *sentBody) Close() error {
	b.once.Do(b.sent)
	return b.rc.Close()
}

// cancelOnClose ends an attempt's context when its response body is
// closed.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelCauseFunc
}

func (b *cancelOnClose) Close() error {
	err := b.ReadCloser.Close()
	b.cancel(nil)
	return err
}
