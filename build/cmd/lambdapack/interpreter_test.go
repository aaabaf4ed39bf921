package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/galerly/galerly-lambda/internal/testenv"
)

// An interpreter that never answers, and whose child keeps its output
// open, cannot hang a build. Given with --python it fails the build after
// the probe limit, naming it; found first on PATH it is passed over with
// a note and pyenv's 3.12 compiles; while the --timeout runs out the
// build ends with it, naming what it waited for. Each time it is killed
// with its child, and a failed build writes nothing at --out.
func TestInterpreterThatDoesNotAnswer(t *testing.T) {
	testenv.FindPython(t, "3.12")
	wheel, _, lockPath := pureLock(t)
	layer := func(t *testing.T, out string, extra ...string) result {
		args := append([]string{"layer", "--lock", lockPath, "--runtime", "python3.12", "--arch", "x86_64",
			"--no-index", "--find-links", filepath.Dir(wheel), "--cache", t.TempDir(), "--out", out}, extra...)
		return lambdapackWithin(t, 60*time.Second, args...)
	}

	t.Run("--python", func(t *testing.T) {
		hang, pids := testenv.HangingProgram(t, t.TempDir(), "python3.12", "")
		out := filepath.Join(t.TempDir(), "layer.zip")
		start := time.Now()
		r := layer(t, out, "--python", "3.12="+hang, "--timeout", "60s")
		if took := time.Since(start); took > 15*time.Second {
			t.Errorf("took %v; the probe limit is 5s", took)
		}
		if want := "--python 3.12=" + hang + ": " + hang + " did not answer within 5s (it printed nothing)"; r.code != exitFail || !strings.Contains(r.stderr, want) {
			t.Errorf("exit %d, stderr %q; want %d and %q", r.code, r.stderr, exitFail, want)
		}
		noFile(t, out)
		testenv.CheckGone(t, pids)
	})

	t.Run("first on PATH", func(t *testing.T) {
		dir := t.TempDir()
		hang, pids := testenv.HangingProgram(t, dir, "python3.12", "")
		t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
		out := filepath.Join(t.TempDir(), "layer.zip")
		r := layer(t, out, "--timeout", "60s")
		if r.code != exitOK {
			t.Fatalf("exit %d, stderr %s", r.code, r.stderr)
		}
		for _, want := range []string{
			"note: python3.12 bytecode: passing over python3.12 on PATH: " + hang + " did not answer within 5s (it printed nothing); it was killed with the processes it started",
			"compiling python3.12 bytecode with Python 3.12.",
		} {
			if !strings.Contains(r.stderr, want) {
				t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
			}
		}
		testenv.CheckGone(t, pids)
	})

	t.Run("--timeout runs out", func(t *testing.T) {
		dir := t.TempDir()
		hang, pids := testenv.HangingProgram(t, dir, "python3.12", "")
		t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
		out := filepath.Join(t.TempDir(), "layer.zip")
		start := time.Now()
		r := layer(t, out, "--timeout", "2s")
		if took := time.Since(start); took > 10*time.Second {
			t.Errorf("took %v with --timeout 2s", took)
		}
		if want := "python3.12 bytecode: looking for a CPython 3.12 interpreter: " + hang + " had not answered: the --timeout of 2s ran out"; r.code != exitFail || !strings.Contains(r.stderr, want) {
			t.Errorf("exit %d, stderr %q; want %d and %q", r.code, r.stderr, exitFail, want)
		}
		noFile(t, out)
		testenv.CheckGone(t, pids)
	})
}
