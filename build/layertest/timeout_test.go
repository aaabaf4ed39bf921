package layertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/galerly/galerly-lambda/internal/testenv"
)

// runFor runs Run with a deadline whose cause names it, as the CLI's
// --timeout does, and returns what it printed and how long it took.
func runFor(t *testing.T, d time.Duration, opts Options) (stdout string, err error, took time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeoutCause(context.Background(), d, errors.New("the --timeout of "+d.String()+" ran out"))
	defer cancel()
	var out, errOut bytes.Buffer
	opts.Stdout, opts.Stderr = &out, &errOut
	start := time.Now()
	err = Run(ctx, opts)
	return out.String(), err, time.Since(start)
}

// A module that hangs at import, having started a process that holds the
// interpreter's output, ends the test at its deadline: the error names
// the module being imported and why it stopped, the modules before it
// are reported, and the interpreter and its child are gone.
func TestImportThatHangsEndsAtTheDeadline(t *testing.T) {
	t.Parallel()
	pids := filepath.Join(t.TempDir(), "pids")
	zipPath := layer(t,
		file{name: "python/fine.py", body: ""},
		file{name: "python/sleepy.py", body: fmt.Sprintf(`import os, subprocess, time
child = subprocess.Popen(["sleep", "600"])
with open(%q, "a") as f:
    f.write("%%d %%d\n" %% (os.getpid(), child.pid))
time.sleep(600)
`, pids)},
	)
	stdout, err, took := runFor(t, 2*time.Second, Options{Zip: zipPath, Python: testenv.FindPython(t, "3.12"), Modules: []string{"fine", "sleepy", "never"}})
	if took > 7*time.Second {
		t.Errorf("Run took %v with a 2s deadline", took)
	}
	if want := "layer " + zipPath + ": test with python3.12 stopped while importing sleepy: the --timeout of 2s ran out; the interpreter was killed with the processes it started"; err == nil || err.Error() != want {
		t.Errorf("Run = %v, want %q", err, want)
	}
	if got := maskTimes(t, stdout); got != lines("fine\tok\t-\t-\tMS\t1 compiled", "sleepy\tFAILED") {
		t.Errorf("stdout:\n%s", got)
	}
	testenv.CheckGone(t, pids)
}

// An interpreter that never starts (a shim that hangs, its child holding
// its output) ends the test at its deadline, named, and killed.
func TestInterpreterThatHangsEndsAtTheDeadline(t *testing.T) {
	t.Parallel()
	hang, pids := testenv.HangingProgram(t, t.TempDir(), "python3.12", "")
	zipPath := layer(t, file{name: "python/fine.py", body: ""})
	stdout, err, took := runFor(t, time.Second, Options{Zip: zipPath, Python: hang, Modules: []string{"fine"}})
	if took > 6*time.Second {
		t.Errorf("Run took %v with a 1s deadline", took)
	}
	if want := "interpreter " + hang + " had not started when the --timeout of 1s ran out; it was killed with the processes it started"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Run = %v, want %q", err, want)
	}
	if stdout != "" {
		t.Errorf("stdout %q", stdout)
	}
	testenv.CheckGone(t, pids)
}

// A --zip that names a FIFO or a device is refused unread.
func TestZipThatIsNotAFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	fifo := testenv.FIFO(t, filepath.Join(dir, "layer.zip"))
	zero := testenv.DevZeroLink(t, filepath.Join(dir, "zero.zip"))
	for _, c := range []struct{ path, want string }{
		{fifo, fifo + " is a named pipe (FIFO), not a regular file"},
		{zero, zero + " is a character device, not a regular file"},
	} {
		_, err, took := runFor(t, 30*time.Second, Options{Zip: c.path, Python: "/nonexistent/python", Modules: []string{"m"}})
		if err == nil || !strings.Contains(err.Error(), c.want) || took > 5*time.Second {
			t.Errorf("Run(%s) = %v after %v, want %q at once", c.path, err, took, c.want)
		}
	}
}
