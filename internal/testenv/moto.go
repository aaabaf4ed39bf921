package testenv

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// MotoRegion is the region Moto.Env and Moto.Setenv configure.
const MotoRegion = "us-east-1"

// Moto is a moto_server (a real, in-memory implementation of the S3, IAM,
// STS and Lambda APIs) listening on 127.0.0.1, started for one test.
type Moto struct {
	// Endpoint is the server's base URL, "http://127.0.0.1:PORT".
	Endpoint string

	cmd    *exec.Cmd
	waited chan error // receives cmd.Wait's result once the process exits
	log    *tailBuffer
}

// startTimeout bounds how long moto_server may take to listen. It starts
// in about a second on an idle machine; a loaded CI runner can take far
// longer to import moto, and a hung start must still end the test.
const startTimeout = 60 * time.Second

// StartMoto starts a fresh moto_server on a free 127.0.0.1 port, waits
// until it answers, and stops it (with any children) when t ends. It skips
// t (fails it under CI=true) when moto_server is not installed, and fails t
// when it is installed but does not start.
//
// Each call starts its own server (about a second), so tests never see
// each other's buckets; tests that want to share one start it in the
// parent test and use it from subtests.
func StartMoto(t testing.TB) *Moto {
	t.Helper()
	path, err := LocateMoto()
	if err != nil {
		SkipOrFail(t, "%v", err)
	}
	m, err := startMoto(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("moto_server output (last lines):\n%s", m.log.String())
		}
		m.stop()
	})
	return m
}

// LocateMoto returns the path of the real moto_server executable, looking
// through a pyenv shim: a shim picks its interpreter at run time from
// PYENV_VERSION, which a test may set for other reasons, and costs half a
// second per start. The result is remembered for the life of the process.
func LocateMoto() (string, error) { return motoPath() }

var motoPath = sync.OnceValues(locateMoto)

func locateMoto() (string, error) {
	p, err := exec.LookPath("moto_server")
	if err != nil {
		return "", errors.New("moto_server is not on PATH (pip install 'moto[server]')")
	}
	if !slices.Contains(strings.Split(filepath.ToSlash(p), "/"), "shims") {
		return p, nil
	}
	pyenv, err := exec.LookPath("pyenv")
	if err != nil {
		return "", fmt.Errorf("moto_server on PATH is a pyenv shim (%s) but pyenv is not on PATH", p)
	}
	out, err := exec.Command(pyenv, "whence", "--path", "moto_server").Output()
	if err != nil {
		return "", fmt.Errorf("moto_server on PATH is a pyenv shim (%s) and no pyenv version provides it: pyenv whence: %w", p, err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		line = strings.TrimSpace(line)
		if st, err := os.Stat(line); line != "" && err == nil && !st.IsDir() {
			return line, nil
		}
	}
	return "", fmt.Errorf("moto_server on PATH is a pyenv shim (%s) and pyenv whence --path names no executable", p)
}

// runningRE matches the line werkzeug prints once its socket is bound.
var runningRE = regexp.MustCompile(`Running on (http://127\.0\.0\.1:[0-9]+)`)

func startMoto(path string) (*Moto, error) {
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	// Port 0 lets the kernel pick a free port as the server binds it, so
	// two starts can never race for one port; werkzeug prints the result.
	cmd := exec.Command(path, "-H", "127.0.0.1", "-p", "0")
	cmd.Stdout = pw
	cmd.Stderr = pw
	// Its own process group, so stop reaches any child; and killed with
	// the test binary, so a test that times out leaves no server behind.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Env = append(os.Environ(), "PYTHONUNBUFFERED=1")
	if err := cmd.Start(); err != nil {
		pr.Close()
		pw.Close()
		return nil, fmt.Errorf("start %s: %w", path, err)
	}
	pw.Close()
	m := &Moto{cmd: cmd, log: newTailBuffer(200)}
	found := make(chan string, 1)
	go func() {
		// Keep draining after the port is known: moto logs every request,
		// and a full pipe would block the server.
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			line := sc.Text()
			m.log.add(line)
			if mm := runningRE.FindStringSubmatch(line); mm != nil {
				select {
				case found <- mm[1]:
				default:
				}
			}
		}
		pr.Close()
		close(found)
	}()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	m.waited = exited

	timer := time.NewTimer(startTimeout)
	defer timer.Stop()
	select {
	case ep, ok := <-found:
		if !ok {
			m.stop()
			return nil, fmt.Errorf("moto_server (%s) exited before listening:\n%s", path, m.log.String())
		}
		m.Endpoint = ep
	case <-timer.C:
		m.stop()
		return nil, fmt.Errorf("moto_server (%s) did not listen within %s:\n%s", path, startTimeout, m.log.String())
	}
	if err := m.waitAnswering(startTimeout); err != nil {
		m.stop()
		return nil, fmt.Errorf("moto_server at %s: %w\n%s", m.Endpoint, err, m.log.String())
	}
	return m, nil
}

// waitAnswering polls moto's own API until it answers 200.
func (m *Moto) waitAnswering(limit time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	var last error
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, m.Endpoint+"/moto-api/", nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("GET /moto-api/: %s", resp.Status)
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("does not answer: %w", last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// stop ends the server's process group: SIGTERM, then SIGKILL if it has
// not exited within five seconds.
func (m *Moto) stop() {
	if m.cmd == nil || m.cmd.Process == nil {
		return
	}
	pgid := m.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-m.waited:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-m.waited
	}
	m.cmd = nil
}

// Reset empties every backend of the server (buckets, roles, functions),
// through moto's own API.
func (m *Moto) Reset() error {
	return m.control("reset moto", "/moto-api/reset", "application/json", "")
}

// EnforceAuth makes the server check every request from now on as AWS
// does: the signature against an access key created in its IAM, and the
// action against that user's policies. Create the users first.
func (m *Moto) EnforceAuth() error {
	return m.control("enforce auth on moto", "/moto-api/reset-auth", "text/plain", "0")
}

// control posts body to one of moto's own endpoints, which answer 200.
func (m *Moto) control(what, path, contentType, body string) error {
	resp, err := http.Post(m.Endpoint+path, contentType, strings.NewReader(body))
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", what, resp.Status)
	}
	return nil
}

// Env returns the environment, as KEY=VALUE, that points an AWS SDK or CLI
// in a subprocess at the server: its endpoint for every service, fixed test
// credentials, MotoRegion, and nothing read from the developer's own AWS
// setup (no shared config or credentials file, profile, session token, web
// identity, container or instance credentials, or per-service endpoint).
// Append it to os.Environ(); later entries win.
func (m *Moto) Env() []string { return EndpointEnv(m.Endpoint) }

// EndpointEnv is Moto.Env for any endpoint, e.g. a recording proxy in
// front of moto or a closed port.
func EndpointEnv(endpoint string) []string {
	return []string{
		"AWS_ENDPOINT_URL=" + endpoint,
		"AWS_ACCESS_KEY_ID=testing",
		"AWS_SECRET_ACCESS_KEY=testing",
		"AWS_REGION=" + MotoRegion,
		"AWS_DEFAULT_REGION=" + MotoRegion,
		"AWS_CONFIG_FILE=" + os.DevNull,
		"AWS_SHARED_CREDENTIALS_FILE=" + os.DevNull,
		"AWS_EC2_METADATA_DISABLED=true",
		// Empty means unset to the SDKs; these would otherwise send
		// requests elsewhere or with someone's real identity.
		"AWS_SESSION_TOKEN=",
		"AWS_PROFILE=",
		"AWS_DEFAULT_PROFILE=",
		"AWS_ROLE_ARN=",
		"AWS_WEB_IDENTITY_TOKEN_FILE=",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI=",
		"AWS_CONTAINER_CREDENTIALS_FULL_URI=",
		"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=",
		"AWS_ENDPOINT_URL_S3=",
		"AWS_ENDPOINT_URL_LAMBDA=",
		"AWS_ENDPOINT_URL_IAM=",
		"AWS_ENDPOINT_URL_STS=",
	}
}

// Setenv applies Env to the test process with t.Setenv, for code that
// loads its AWS config in process; t must not be parallel.
func (m *Moto) Setenv(t testing.TB) { SetenvAll(t, m.Env()) }

// SetenvAll applies KEY=VALUE pairs with t.Setenv.
func SetenvAll(t testing.TB, env []string) {
	t.Helper()
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
}

// tailBuffer keeps the last lines a server printed, for failure messages.
type tailBuffer struct {
	mu    sync.Mutex
	max   int
	lines []string
}

func newTailBuffer(max int) *tailBuffer { return &tailBuffer{max: max} }

func (b *tailBuffer) add(line string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.lines = append(b.lines, line)
	if len(b.lines) > b.max {
		b.lines = slices.Delete(b.lines, 0, len(b.lines)-b.max)
	}
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Join(b.lines, "\n")
}

// Request is one request a Recorder passed on.
type Request struct {
	Method   string
	Path     string // as sent, e.g. "/bucket/layers/x.zip" with path-style S3
	RawQuery string
	Header   http.Header
}

// Recorder is a reverse proxy on 127.0.0.1 that records every request it
// passes on to a target, so a test can prove what a client sent (or that
// it sent nothing) against a real server.
type Recorder struct {
	// Endpoint is the proxy's base URL, to use in place of the target's.
	Endpoint string

	mu        sync.Mutex
	reqs      []Request
	intercept func(*http.Request) int
}

// RecordRequests starts a Recorder in front of target (a base URL such as
// Moto.Endpoint) and closes it when t ends.
func RecordRequests(t testing.TB, target string) *Recorder {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatalf("recorder target %q: %v", target, err)
	}
	r := &Recorder{}
	proxy := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.reqs = append(r.reqs, Request{Method: req.Method, Path: req.URL.EscapedPath(), RawQuery: req.URL.RawQuery, Header: req.Header.Clone()})
		f := r.intercept
		r.mu.Unlock()
		if f != nil {
			if status := f(req); status != 0 {
				_, _ = io.Copy(io.Discard, req.Body)
				http.Error(w, http.StatusText(status), status)
				return
			}
		}
		proxy.ServeHTTP(w, req)
	}))
	t.Cleanup(srv.Close)
	r.Endpoint = srv.URL
	return r
}

// Requests returns the requests recorded so far, oldest first.
func (r *Recorder) Requests() []Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.reqs)
}

// Intercept makes the recorder call f before passing each request on: f
// may act on the target first (write a competing object, say), and a
// non-zero status it returns is answered instead of passing the request
// on, to make a real server appear to fail. nil removes it.
func (r *Recorder) Intercept(f func(*http.Request) int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.intercept = f
}

// Reset forgets the requests recorded so far.
func (r *Recorder) Reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reqs = nil
}

// Count returns how many recorded requests had method (any method if "").
func (r *Recorder) Count(method string) int {
	n := 0
	for _, q := range r.Requests() {
		if method == "" || q.Method == method {
			n++
		}
	}
	return n
}
