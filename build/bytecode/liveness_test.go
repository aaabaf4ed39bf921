package bytecode

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/galerly/galerly-lambda/build/target"
	"github.com/galerly/galerly-lambda/internal/testenv"
)

// notes collects what a Finder notes.
type notes struct {
	mu    sync.Mutex
	lines []string
}

func (n *notes) add(format string, args ...any) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.lines = append(n.lines, fmt.Sprintf(format, args...))
}

func (n *notes) String() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return strings.Join(n.lines, "\n")
}

// A python3.12 on PATH, or a pyenv, that never answers and whose child
// keeps its output open is passed over after the probe limit, with a note
// naming it and what it did, and the search goes on to a working
// interpreter; nothing it started is left running.
func TestFindPassesOverCandidatesThatDoNotAnswer(t *testing.T) {
	py312 := testenv.FindPython(t, "3.12")
	prefix312 := filepath.Dir(filepath.Dir(py312))
	rt := target.Runtime{Minor: 12}
	const limit = 2 * time.Second
	for _, c := range []struct {
		name  string
		setup func(t *testing.T, m fakeMachine) (pids string)
		found string
		notes []string
	}{
		{
			name: "python3.12 on PATH hangs",
			setup: func(t *testing.T, m fakeMachine) string {
				_, pids := testenv.HangingProgram(t, m.dir, "python3.12", "")
				m.script(t, "pyenv", fmt.Sprintf(`case "$1" in versions) echo 3.12.1;; prefix) echo %s;; esac`, prefix312))
				return pids
			},
			found: "pyenv 3.12.1",
			notes: []string{"note: python3.12 bytecode: passing over python3.12 on PATH: ", "/python3.12 did not answer within 2s (it printed nothing); it was killed with the processes it started"},
		},
		{
			name: "a shim that says something, then hangs",
			setup: func(t *testing.T, m fakeMachine) string {
				_, pids := testenv.HangingProgram(t, m.dir, "python3.12", "pyenv: waiting for a lock on ~/.pyenv\n")
				m.script(t, "pyenv", fmt.Sprintf(`case "$1" in versions) echo 3.12.1;; prefix) echo %s;; esac`, prefix312))
				return pids
			},
			found: "pyenv 3.12.1",
			notes: []string{`(it wrote "pyenv: waiting for a lock on ~/.pyenv" on stderr)`},
		},
		{
			name: "pyenv hangs",
			setup: func(t *testing.T, m fakeMachine) string {
				_, pids := testenv.HangingProgram(t, m.dir, "pyenv", "")
				m.script(t, "uv", `[ "$1 $2 $3" = "python find 3.12" ] && echo `+py312)
				return pids
			},
			found: "uv python find 3.12",
			notes: []string{"note: passing over pyenv versions --bare: ", "/pyenv did not answer within 2s (it printed nothing)"},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := fakeMachine{t.TempDir()}
			pids := c.setup(t, m)
			var n notes
			f := m.finder()
			f.Limit, f.Note = limit, n.add
			start := time.Now()
			in, err := f.Find(context.Background(), rt, nil)
			took := time.Since(start)
			if err != nil {
				t.Fatalf("Find: %v", err)
			}
			if in.Found != c.found {
				t.Errorf("found %s, want %s", in.Found, c.found)
			}
			if took > limit+3*time.Second {
				t.Errorf("Find took %v with a probe limit of %v", took, limit)
			}
			for _, want := range c.notes {
				if !strings.Contains(n.String(), want) {
					t.Errorf("notes lack %q:\n%s", want, n.String())
				}
			}
			testenv.CheckGone(t, pids)
		})
	}
}

// An interpreter given with --python that does not answer fails the
// search, naming it and the limit, and is killed with its child.
func TestFindFailsOnAnExplicitInterpreterThatDoesNotAnswer(t *testing.T) {
	dir := t.TempDir()
	hang, pids := testenv.HangingProgram(t, dir, "python3.12", "")
	rt := target.Runtime{Minor: 12}
	start := time.Now()
	_, err := Finder{Limit: time.Second}.Find(context.Background(), rt, map[target.Runtime]string{rt: hang})
	if took := time.Since(start); took > 4*time.Second {
		t.Errorf("Find took %v with a 1s probe limit", took)
	}
	if want := "--python 3.12=" + hang + ": " + hang + " did not answer within 1s (it printed nothing)"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Find = %v, want %q", err, want)
	}
	testenv.CheckGone(t, pids)
}

// The search is within the caller's deadline: when it passes while a
// candidate is being probed, Find stops at once, naming what it waited
// for and why, and kills it.
func TestFindEndsAtTheDeadline(t *testing.T) {
	m := fakeMachine{t.TempDir()}
	_, pids := testenv.HangingProgram(t, m.dir, "python3.12", "")
	ctx, cancel := context.WithTimeoutCause(context.Background(), time.Second, errors.New("the --timeout of 1s ran out"))
	defer cancel()
	start := time.Now()
	_, err := m.finder().Find(ctx, target.Runtime{Minor: 12}, nil) // the default limit, 5s, is longer
	if took := time.Since(start); took > 4*time.Second {
		t.Errorf("Find took %v with a 1s deadline", took)
	}
	for _, want := range []string{"python3.12 bytecode: looking for a CPython 3.12 interpreter: ", filepath.Join(m.dir, "python3.12") + " had not answered: the --timeout of 1s ran out"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Find = %v, want %q", err, want)
		}
	}
	testenv.CheckGone(t, pids)
}

// A compiler that stops answering mid-protocol, with a child holding its
// output, ends with the caller's deadline: Compile fails naming the
// deadline, Close returns, and the process and its child are gone.
func TestCompilerThatStopsAnsweringIsKilledWithItsChildren(t *testing.T) {
	dir := t.TempDir()
	pids := filepath.Join(t.TempDir(), "pids")
	in := &Interpreter{Runtime: target.Runtime{Minor: 12}, Version: "3.12.1", Magic: 3531, CacheTag: "cpython-312"}
	in.Path = writeScript(t, dir, "stalls", fmt.Sprintf(`printf 'ok\313\015\015\012'; echo $$ >> %[1]q; sleep 600 & echo $! >> %[1]q; while :; do sleep 600; done`, pids))
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	c, err := Start(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, _, err = c.Compile("/opt/python/a.py", []byte("x = 1\n"))
	if err == nil || !strings.Contains(err.Error(), "context deadline exceeded") {
		t.Errorf("Compile = %v, want the deadline named", err)
	}
	c.Close()
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("Compile and Close took %v with a 1s deadline", took)
	}
	testenv.CheckGone(t, pids)
}

// A compiler that exits at the end of its input while a child it started
// holds its output: Close returns at once, and the child is killed.
func TestCompilerCloseKillsLeftovers(t *testing.T) {
	dir := t.TempDir()
	pids := filepath.Join(t.TempDir(), "pids")
	in := &Interpreter{Runtime: target.Runtime{Minor: 12}, Version: "3.12.1", Magic: 3531, CacheTag: "cpython-312"}
	in.Path = writeScript(t, dir, "leaves", fmt.Sprintf(`printf 'ok\313\015\015\012'; echo $$ >> %[1]q; sleep 600 & echo $! >> %[1]q; cat >/dev/null`, pids))
	c, err := Start(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- c.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Close = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close waited for the child holding the compiler's output")
	}
	testenv.CheckGone(t, pids)
}

// A source over MaxSourceBytes is not sent to the interpreter: it ships
// without bytecode, saying why. One that needs more memory than the
// compiler's cap to compile fails there with MemoryError, also a skip,
// and the compiler goes on.
func TestCompileMemoryBounds(t *testing.T) {
	in := interpreter(t, 12)
	c, err := start(context.Background(), in, 256<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	big := []byte(strings.Repeat("x = 1\n", MaxSourceBytes/6+1))
	pyc, skipped, err := c.Compile("/opt/python/big.py", big)
	if want := fmt.Sprintf("%d bytes, over the 2 MiB a source may have to be compiled", len(big)); err != nil || pyc != nil || !strings.HasPrefix(skipped, want) {
		t.Errorf("Compile(%d bytes) = %d bytes, %q, %v; want a skip saying %q", len(big), len(pyc), skipped, err, want)
	}
	var dense strings.Builder
	for i := 0; dense.Len() < MaxSourceBytes-100; i++ {
		fmt.Fprintf(&dense, "x%d = %d\n", i, i)
	}
	pyc, skipped, err = c.Compile("/opt/python/dense.py", []byte(dense.String()))
	if want := "MemoryError (compiling it needs more than the compiler's 256 MiB memory cap)"; err != nil || pyc != nil || skipped != want {
		t.Errorf("Compile(dense, 256 MiB cap) = %d bytes, %q, %v; want a skip saying %q", len(pyc), skipped, err, want)
	}
	if pyc, skipped, err := c.Compile("/opt/python/small.py", []byte("x = 1\n")); err != nil || pyc == nil {
		t.Errorf("Compile after a MemoryError = %d bytes, %q, %v", len(pyc), skipped, err)
	}
}
