package bytecode

import (
	"bufio"
	"context"
	_ "embed"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"time"
)

//go:embed compile.py
var compileScript string

// HeaderSize is the size of a .pyc header: magic number, flags, and (for a
// hash-based .pyc) the 8-byte source hash.
const HeaderSize = 16

// FlagUncheckedHash is the PEP 552 flags word of every .pyc a Compiler
// writes: hash-based (bit 0) with check_source off (bit 1 clear), so the
// interpreter loads it without reading or hashing the source.
const FlagUncheckedHash = 0x01

// maxResponse bounds one reply from the interpreter; a .pyc is a small
// multiple of its source, and sources in a Lambda artifact are < 250 MB.
const maxResponse = 1 << 30

// Compiler is one long-lived interpreter process that compiles sources for
// its runtime. Its methods are safe for concurrent use; requests from
// several goroutines are queued on the process's standard input, so it
// starts the next source as soon as it has answered one. Call Close when
// done.
type Compiler struct {
	in  *Interpreter
	ctx context.Context
	// onRaw, when set (by tests), sees each .pyc as the interpreter wrote
	// it, before canonicalization.
	onRaw func(runPath string, pyc []byte)
	cmd   *exec.Cmd
	tail  *tailBuffer

	wmu   sync.Mutex // one request written at a time, in queue order
	stdin *bufio.Writer
	pipe  io.WriteCloser

	qmu     sync.Mutex
	queue   []*call // requests written and not yet answered, oldest first
	failed  error   // once set, the process is gone and every call gets it
	closing bool

	stdout     *bufio.Reader
	readerDone chan struct{}
}

type call struct {
	kind    byte
	payload []byte
	err     error
	done    chan struct{}
}

var errClosed = errors.New("compiler is closed")

// Start starts the compiler process for in. The process ends when ctx is
// done or Close is called.
func Start(ctx context.Context, in *Interpreter) (*Compiler, error) {
	if in == nil {
		return nil, errors.New("bytecode compiler: no interpreter")
	}
	// -S: no site module, so no .pth file runs and no site-packages is on
	// sys.path; -s: no user site; -B: nothing written; -W ignore: compile()
	// warnings (invalid escapes and the like) would only fill stderr.
	args := append(slices.Clone(interpreterArgs), "-W", "ignore", "-c", compileScript)
	cmd := exec.CommandContext(ctx, in.Path, args...)
	cmd.Env = interpreterEnv()
	cmd.WaitDelay = 5 * time.Second
	c := &Compiler{in: in, ctx: ctx, cmd: cmd, tail: &tailBuffer{}, readerDone: make(chan struct{})}
	cmd.Stderr = c.tail
	pipe, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.name(), err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.name(), err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: %w", c.name(), err)
	}
	c.pipe, c.stdin = pipe, bufio.NewWriterSize(pipe, 64<<10)
	c.stdout = bufio.NewReaderSize(out, 64<<10)

	// The process says it is ready with its magic number: proof that the
	// binary at in.Path is still the one Find checked.
	hello := make([]byte, 6)
	timer := time.AfterFunc(probeTimeout, func() { cmd.Process.Kill() })
	_, err = io.ReadFull(c.stdout, hello)
	timer.Stop()
	if err != nil {
		werr := cmd.Wait()
		return nil, c.processError("did not start", werr)
	}
	want := binary.LittleEndian.AppendUint16([]byte("ok"), in.Magic)
	want = append(want, '\r', '\n')
	if string(hello) != string(want) {
		pipe.Close()
		cmd.Process.Kill()
		cmd.Wait()
		return nil, fmt.Errorf("%s: started with magic number %x, want %x", c.name(), hello, want)
	}
	go c.read()
	return c, nil
}

// Interpreter returns the interpreter the compiler runs.
func (c *Compiler) Interpreter() *Interpreter { return c.in }

// Compile compiles source as the module file the Lambda runtime will find
// at runPath (e.g. /opt/python/pkg/__init__.py), which becomes the
// filename of every code object and so what tracebacks name. It returns
// the complete .pyc: the magic number, FlagUncheckedHash, the source hash
// of importlib.util.source_hash, and the code object marshalled with
// canonical references (see Canonicalize).
//
// A source that does not compile for this runtime (a syntax error, a NUL
// byte, a bad encoding declaration, nesting too deep) is no error: pyc is
// nil and skipped says why in one line. err is set only when the process
// is gone (the Compiler is then unusable) or answered something that is
// not a .pyc.
func (c *Compiler) Compile(runPath string, source []byte) (pyc []byte, skipped string, err error) {
	if len(runPath) > math.MaxUint32 || len(source) > math.MaxUint32 {
		return nil, "", fmt.Errorf("compiling %s: %s: source too large", runPath, c.name())
	}
	// The process is killed when ctx is done, but not at once: a call made
	// after that must not race the kill and succeed.
	if err := c.ctx.Err(); err != nil {
		return nil, "", fmt.Errorf("compiling %s: %s: %w", runPath, c.name(), err)
	}
	cl := &call{done: make(chan struct{})}
	c.wmu.Lock()
	c.qmu.Lock()
	if c.failed != nil || c.closing {
		err := c.failed
		if err == nil {
			err = errClosed
		}
		c.qmu.Unlock()
		c.wmu.Unlock()
		if err == errClosed {
			return nil, "", fmt.Errorf("compiling %s: %s: %w", runPath, c.name(), err)
		}
		return nil, "", fmt.Errorf("compiling %s: %w", runPath, err)
	}
	c.queue = append(c.queue, cl)
	c.qmu.Unlock()
	werr := c.writeRequest(runPath, source)
	c.wmu.Unlock()
	if werr != nil {
		// The process is gone or wedged; the reader reports why to every
		// queued call, this one included, once it is dead.
		c.cmd.Process.Kill()
	}
	<-cl.done
	if cl.err != nil {
		return nil, "", fmt.Errorf("compiling %s: %w", runPath, cl.err)
	}
	switch cl.kind {
	case 'S':
		return nil, string(cl.payload), nil
	case 'P':
		if c.onRaw != nil {
			c.onRaw(runPath, cl.payload)
		}
		pyc, err := c.finish(cl.payload)
		if err != nil {
			return nil, "", fmt.Errorf("compiling %s: %s: %w", runPath, c.name(), err)
		}
		return pyc, "", nil
	}
	return nil, "", fmt.Errorf("compiling %s: %s: unknown reply %q", runPath, c.name(), cl.kind)
}

// finish checks the header the interpreter wrote and rewrites the
// marshalled code canonically.
func (c *Compiler) finish(p []byte) ([]byte, error) {
	if len(p) < HeaderSize+1 {
		return nil, fmt.Errorf("reply of %d bytes is not a .pyc", len(p))
	}
	if m := binary.LittleEndian.Uint16(p); m != c.in.Magic || p[2] != '\r' || p[3] != '\n' {
		return nil, fmt.Errorf("reply has magic number %x, want %d", p[:4], c.in.Magic)
	}
	if f := binary.LittleEndian.Uint32(p[4:]); f != FlagUncheckedHash {
		return nil, fmt.Errorf("reply has flags %#x, want %#x", f, FlagUncheckedHash)
	}
	out := make([]byte, HeaderSize, len(p))
	copy(out, p[:HeaderSize])
	return appendCanonical(out, p[HeaderSize:], c.in.Runtime.Minor)
}

func (c *Compiler) writeRequest(runPath string, source []byte) error {
	var n [4]byte
	binary.LittleEndian.PutUint32(n[:], uint32(len(runPath)))
	c.stdin.Write(n[:])
	c.stdin.WriteString(runPath)
	binary.LittleEndian.PutUint32(n[:], uint32(len(source)))
	c.stdin.Write(n[:])
	c.stdin.Write(source)
	return c.stdin.Flush()
}

// read delivers replies to queued calls in order until the process ends,
// then fails every call still waiting.
func (c *Compiler) read() {
	defer close(c.readerDone)
	var rerr error
	for {
		var hdr [5]byte
		if _, err := io.ReadFull(c.stdout, hdr[:]); err != nil {
			rerr = err
			break
		}
		n := binary.LittleEndian.Uint32(hdr[1:])
		if n > maxResponse {
			rerr = fmt.Errorf("reply of %d bytes", n)
			break
		}
		payload := make([]byte, n)
		if _, err := io.ReadFull(c.stdout, payload); err != nil {
			rerr = err
			break
		}
		c.qmu.Lock()
		if len(c.queue) == 0 {
			c.qmu.Unlock()
			rerr = errors.New("reply to no request")
			break
		}
		cl := c.queue[0]
		c.queue = c.queue[1:]
		c.qmu.Unlock()
		cl.kind, cl.payload = hdr[0], payload
		close(cl.done)
	}
	if !errors.Is(rerr, io.EOF) {
		// A broken protocol: stop the process rather than guess.
		c.cmd.Process.Kill()
	}
	werr := c.cmd.Wait()

	c.qmu.Lock()
	defer c.qmu.Unlock()
	if c.closing && errors.Is(rerr, io.EOF) && werr == nil && len(c.queue) == 0 {
		c.failed = errClosed
		return
	}
	what := "exited"
	switch {
	case !errors.Is(rerr, io.EOF) && !errors.Is(rerr, io.ErrUnexpectedEOF):
		what = "broke the protocol (" + rerr.Error() + ")"
	case errors.Is(rerr, io.ErrUnexpectedEOF):
		what = "exited in the middle of a reply"
	}
	c.failed = c.processError(what, werr)
	for _, cl := range c.queue {
		cl.err = c.failed
		close(cl.done)
	}
	c.queue = nil
}

// processError describes how the process ended, with the end of what it
// wrote on stderr.
func (c *Compiler) processError(what string, werr error) error {
	msg := what
	if werr != nil {
		msg += ": " + werr.Error()
	}
	if err := c.ctx.Err(); err != nil {
		msg += " (" + err.Error() + ")"
	}
	if t := strings.TrimSpace(c.tail.String()); t != "" {
		msg += "; stderr:\n" + t
	}
	return fmt.Errorf("%s %s", c.name(), msg)
}

// Close ends the process: it finishes what is queued, then exits. Close
// returns an error if the process had died or does not exit cleanly.
func (c *Compiler) Close() error {
	c.wmu.Lock()
	c.qmu.Lock()
	already := c.closing
	c.closing = true
	c.qmu.Unlock()
	if !already {
		c.pipe.Close()
	}
	c.wmu.Unlock()
	<-c.readerDone
	c.qmu.Lock()
	defer c.qmu.Unlock()
	if errors.Is(c.failed, errClosed) {
		return nil
	}
	return c.failed
}

func (c *Compiler) name() string {
	return "bytecode compiler " + c.in.String()
}

// tailBuffer keeps the last bytes a process wrote on stderr.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
}

const tailSize = 4 << 10

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > tailSize {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-tailSize:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}
