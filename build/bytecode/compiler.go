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

	"golang.org/x/sys/unix"

	"github.com/galerly/galerly-lambda/build/internal/clip"
	"github.com/galerly/galerly-lambda/build/internal/procgroup"
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

// maxResponse bounds one reply from the interpreter: a .pyc is a small
// multiple of its source (under 2x for real code), and sources are at most
// MaxSourceBytes.
const maxResponse = 64 << 20

// MaxSourceBytes is the largest source a Compiler compiles: a larger one
// ships without bytecode, with a note, as one that does not compile does.
// Compiling costs CPython about 150 times the source's size in memory,
// and rewriting the .pyc canonically (see Canonicalize) about 50 times in
// the builder, so this keeps both within the builder's memory bound.
// Real modules are far smaller; the few larger ones are generated data
// tables.
const MaxSourceBytes = 2 << 20

// MemoryLimit caps each compiler process's address space (RLIMIT_AS): a
// source that is small but costly to compile (deeply nested literals, say)
// fails with MemoryError and ships without bytecode, instead of taking the
// machine's memory. It is far above what MaxSourceBytes needs.
const MemoryLimit = 1 << 30

// startTimeout bounds a compiler's start, up to its hello: its
// interpreter answered a probe moments before.
const startTimeout = 10 * time.Second

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

	memoryLimit uint64 // the process's RLIMIT_AS
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
	return start(ctx, in, MemoryLimit)
}

// start is Start with the process's memory capped at memoryLimit bytes.
func start(ctx context.Context, in *Interpreter, memoryLimit uint64) (*Compiler, error) {
	if in == nil {
		return nil, errors.New("bytecode compiler: no interpreter")
	}
	// -S: no site module, so no .pth file runs and no site-packages is on
	// sys.path; -s: no user site; -B: nothing written; -W ignore: compile()
	// warnings (invalid escapes and the like) would only fill stderr.
	args := append(slices.Clone(interpreterArgs), "-W", "ignore", "-c", compileScript)
	// Its own process group, killed whole when ctx ends or the process
	// ends: nothing it may start outlives it or holds its pipes.
	cmd := procgroup.Command(ctx, 5*time.Second, in.Path, args...)
	cmd.Env = interpreterEnv()
	c := &Compiler{in: in, ctx: ctx, cmd: cmd, tail: &tailBuffer{}, readerDone: make(chan struct{}), memoryLimit: memoryLimit}
	cmd.Stderr = c.tail
	pipe, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.name(), err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.name(), err)
	}
	if err := procgroup.Start(cmd); err != nil {
		return nil, fmt.Errorf("%s: %w", c.name(), err)
	}
	// The cap is set before the first source is sent; the process needs a
	// small part of it to start.
	limit := unix.Rlimit{Cur: memoryLimit, Max: memoryLimit}
	if err := unix.Prlimit(cmd.Process.Pid, unix.RLIMIT_AS, &limit, nil); err != nil {
		procgroup.Kill(cmd)
		cmd.Wait()
		return nil, fmt.Errorf("%s: capping its memory: %w", c.name(), err)
	}
	c.pipe, c.stdin = pipe, bufio.NewWriterSize(pipe, 64<<10)
	c.stdout = bufio.NewReaderSize(out, 64<<10)

	// The process says it is ready with its magic number: proof that the
	// binary at in.Path is still the one Find checked.
	hello := make([]byte, 6)
	timer := time.AfterFunc(startTimeout, func() { procgroup.Kill(cmd) })
	_, err = io.ReadFull(c.stdout, hello)
	fired := !timer.Stop()
	if err != nil {
		werr := cmd.Wait()
		what := "did not start"
		if fired {
			what = fmt.Sprintf("did not start within %v", startTimeout)
		}
		return nil, c.processError(what, werr)
	}
	want := binary.LittleEndian.AppendUint16([]byte("ok"), in.Magic)
	want = append(want, '\r', '\n')
	if string(hello) != string(want) {
		pipe.Close()
		procgroup.Kill(cmd)
		cmd.Wait()
		return nil, fmt.Errorf("%s: started with magic number %x, want %x", c.name(), hello, want)
	}
	go c.read()
	return c, nil
}

// Interpreter returns the interpreter the compiler runs.
func (c *Compiler) Interpreter() *Interpreter { return c.in }

// TooLargeReason is why a source of size bytes is not compiled, when it
// is over MaxSourceBytes.
func TooLargeReason(size int64) string {
	return fmt.Sprintf("%d bytes, over the %d MiB a source may have to be compiled (compiling takes about 150 times its size in memory)", size, MaxSourceBytes>>20)
}

// Compile compiles source as the module file the Lambda runtime will find
// at runPath (e.g. /opt/python/pkg/__init__.py), which becomes the
// filename of every code object and so what tracebacks name. It returns
// the complete .pyc: the magic number, FlagUncheckedHash, the source hash
// of importlib.util.source_hash, and the code object marshalled with
// canonical references (see Canonicalize).
//
// A source that does not compile for this runtime (a syntax error, a NUL
// byte, a bad encoding declaration, nesting too deep, more memory than
// MemoryLimit) or is over MaxSourceBytes is no error: pyc is nil and
// skipped says why in one line. err is set only when the process
// is gone (the Compiler is then unusable) or answered something that is
// not a .pyc.
func (c *Compiler) Compile(runPath string, source []byte) (pyc []byte, skipped string, err error) {
	if len(runPath) > math.MaxUint32 {
		return nil, "", fmt.Errorf("compiling %s: %s: path too long", clip.String(runPath), c.name())
	}
	if len(source) > MaxSourceBytes {
		return nil, TooLargeReason(int64(len(source))), nil
	}
	// The process is killed when ctx is done, but not at once: a call made
	// after that must not race the kill and succeed.
	if err := c.ctx.Err(); err != nil {
		return nil, "", fmt.Errorf("compiling %s: %s: %w", clip.String(runPath), c.name(), err)
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
		procgroup.Kill(c.cmd)
	}
	<-cl.done
	if cl.err != nil {
		return nil, "", fmt.Errorf("compiling %s: %w", runPath, cl.err)
	}
	switch cl.kind {
	case 'S':
		reason := string(cl.payload)
		if strings.HasPrefix(reason, "MemoryError") {
			reason += fmt.Sprintf(" (compiling it needs more than the compiler's %d MiB memory cap)", c.memoryLimit>>20)
		}
		return nil, reason, nil
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
		procgroup.Kill(c.cmd)
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
