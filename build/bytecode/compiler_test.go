package bytecode

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/galerly/galerly-lambda/build/target"
)

// Wheels often carry files for another Python (Python 2 leftovers, a
// backport's newer syntax): such a file is left without bytecode with a
// reason, and the build goes on.
func TestCompileSkipsWhatDoesNotCompile(t *testing.T) {
	cases := []struct {
		name     string
		source   string
		compiles func(minor int) bool // nil: never
		reason   string               // in the reason of a skip
	}{
		{"match statement", "match x:\n    case 1:\n        pass\n", func(m int) bool { return m >= 10 }, "SyntaxError"},
		{"except star", "try:\n    pass\nexcept* ValueError:\n    pass\n", func(m int) bool { return m >= 11 }, "SyntaxError"},
		{"type statement", "type Alias = int\n", func(m int) bool { return m >= 12 }, "SyntaxError"},
		{"Python 2 print", "print 'hello'\n", nil, "Missing parentheses"},
		{"NUL byte", "x = 1\x00\n", nil, "null bytes"},
		{"unknown encoding", "# -*- coding: no-such-codec -*-\nx = 1\n", nil, "unknown encoding"},
		{"invalid UTF-8", "x = '\xff'\n", nil, "can't decode"},
		{"too many nested parentheses", "x = " + strings.Repeat("(", 300) + "1" + strings.Repeat(")", 300) + "\n", nil, "nested parentheses"},
		{"recursion during compilation", "x = a" + strings.Repeat(".b", 100000) + "\n", nil, "RecursionError"},
		{"parser stack exhausted", "x = " + strings.Repeat("-", 100000) + "1\n", nil, "MemoryError"},
		{"integer too long", "x = 1" + strings.Repeat("0", 5000) + "\n", nil, "integer string conversion"},
	}
	for _, minor := range testMinors {
		t.Run(fmt.Sprintf("3.%d", minor), func(t *testing.T) {
			t.Parallel()
			in := interpreter(t, minor)
			c := startCompiler(t, in)
			healthy := []byte("def f(a, *, b=2):\n    return {a, b, 'x'}\n")
			want, _, err := c.Compile("/var/task/ok.py", healthy)
			if err != nil {
				t.Fatal(err)
			}
			for _, tc := range cases {
				pyc, skipped, err := c.Compile("/var/task/case.py", []byte(tc.source))
				if err != nil {
					t.Fatalf("%s: %v", tc.name, err)
				}
				if tc.compiles != nil && tc.compiles(minor) {
					if pyc == nil {
						t.Errorf("%s: skipped (%s), want compiled for 3.%d", tc.name, skipped, minor)
					}
					continue
				}
				if pyc != nil || !strings.Contains(skipped, tc.reason) || strings.Contains(skipped, "\n") {
					t.Errorf("%s: got %d bytes, skipped %q; want skipped with one line naming %q", tc.name, len(pyc), skipped, tc.reason)
				}
				// The process is as good as new after a failure.
				got, _, err := c.Compile("/var/task/ok.py", healthy)
				if err != nil || !bytes.Equal(got, want) {
					t.Fatalf("after %s: a healthy module compiles to other bytes (%v)", tc.name, err)
				}
			}
		})
	}
}

// Every .pyc carries the interpreter's magic number, the PEP 552
// unchecked-hash flags and the source hash importlib computes.
func TestCompiledHeader(t *testing.T) {
	for _, minor := range testMinors {
		t.Run(fmt.Sprintf("3.%d", minor), func(t *testing.T) {
			t.Parallel()
			in := interpreter(t, minor)
			c := startCompiler(t, in)
			src := []byte("import os\nprint(os.sep)\n")
			pyc, _, err := c.Compile("/opt/python/m.py", src)
			if err != nil {
				t.Fatal(err)
			}
			hash := runPython(t, in, nil, "import sys, importlib.util; print(importlib.util.source_hash(open(sys.argv[1], 'rb').read()).hex())",
				writeTemp(t, src))
			if got := binary.LittleEndian.Uint16(pyc); got != finalMagic[minor] || string(pyc[2:4]) != "\r\n" {
				t.Errorf("magic %x, want %d", pyc[:4], finalMagic[minor])
			}
			if got := binary.LittleEndian.Uint32(pyc[4:]); got != FlagUncheckedHash {
				t.Errorf("flags %#x, want %#x (hash-based, unchecked)", got, FlagUncheckedHash)
			}
			if got := fmt.Sprintf("%x", pyc[8:16]); got != strings.TrimSpace(hash) {
				t.Errorf("source hash %s, want %s", got, strings.TrimSpace(hash))
			}
		})
	}
}

// Builds compile from several goroutines into one process; each caller
// must get the bytecode of its own source.
func TestCompileConcurrentCallers(t *testing.T) {
	in := interpreter(t, 12)
	srcs := stdlibSources(t, in)
	serial := compileAll(t, startCompiler(t, in), srcs, ascending(len(srcs)))
	c := startCompiler(t, in)
	got := make([][]byte, len(srcs))
	var wg sync.WaitGroup
	errs := make(chan error, len(srcs))
	for w := range 8 {
		wg.Go(func() {
			for i := w; i < len(srcs); i += 8 {
				pyc, _, err := c.Compile(srcs[i].runPath, srcs[i].data)
				if err != nil {
					errs <- err
					return
				}
				got[i] = pyc
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for i := range srcs {
		if !bytes.Equal(got[i], serial[i]) {
			t.Errorf("%s: concurrent result differs from serial", srcs[i].runPath)
		}
	}
}

// A process that dies is an error naming the interpreter and what it
// said, for the call in flight and every call after.
func TestCompilerProcessDeath(t *testing.T) {
	dir := t.TempDir()
	in := &Interpreter{Runtime: target.Runtime{Minor: 12}, Version: "3.12.1", Magic: 3531, CacheTag: "cpython-312"}

	t.Run("dies on a request", func(t *testing.T) {
		in := *in
		in.Path = writeScript(t, dir, "dying", `printf 'ok\313\015\015\012'; head -c 4 >/dev/null; echo "Fatal Python error: boom" >&2; exit 3`)
		c, err := Start(context.Background(), &in)
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = c.Compile("/opt/python/a.py", []byte("x = 1\n"))
		for _, want := range []string{in.Path, "Python 3.12.1", "exit status 3", "Fatal Python error: boom"} {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("Compile error %v, want it to name %q", err, want)
			}
		}
		if _, _, err2 := c.Compile("/opt/python/b.py", []byte("x = 1\n")); err2 == nil || !strings.Contains(err2.Error(), "boom") {
			t.Errorf("Compile after the death: %v, want the same cause", err2)
		}
		if err := c.Close(); err == nil || !strings.Contains(err.Error(), "exit status 3") {
			t.Errorf("Close: %v, want the exit status", err)
		}
	})
	t.Run("wrong magic at start", func(t *testing.T) {
		in := *in
		in.Path = writeScript(t, dir, "otherMagic", `printf 'ok\312\015\015\012'; cat >/dev/null`)
		if _, err := Start(context.Background(), &in); err == nil || !strings.Contains(err.Error(), "magic") {
			t.Errorf("Start: %v, want a magic number error", err)
		}
	})
	t.Run("fails to start", func(t *testing.T) {
		in := *in
		in.Path = writeScript(t, dir, "broken", `echo "ImportError: no module named encodings" >&2; exit 1`)
		if _, err := Start(context.Background(), &in); err == nil || !strings.Contains(err.Error(), "encodings") {
			t.Errorf("Start: %v, want the interpreter's stderr", err)
		}
	})
	t.Run("killed", func(t *testing.T) {
		c := startCompilerNoClose(t, interpreter(t, 12))
		c.cmd.Process.Kill()
		if _, _, err := c.Compile("/opt/python/a.py", []byte("x = 1\n")); err == nil || !strings.Contains(err.Error(), "killed") {
			t.Errorf("Compile after kill: %v", err)
		}
		c.Close()
	})
	t.Run("context cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		c, err := Start(ctx, interpreter(t, 12))
		if err != nil {
			t.Fatal(err)
		}
		cancel()
		if _, _, err := c.Compile("/opt/python/a.py", []byte("x = 1\n")); err == nil || !strings.Contains(err.Error(), "context canceled") {
			t.Errorf("Compile after cancel: %v", err)
		}
		c.Close()
	})
	t.Run("closed", func(t *testing.T) {
		c := startCompilerNoClose(t, interpreter(t, 12))
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		if err := c.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
		if _, _, err := c.Compile("/opt/python/a.py", []byte("x = 1\n")); err == nil || !strings.Contains(err.Error(), "closed") {
			t.Errorf("Compile after Close: %v", err)
		}
	})
}

func startCompilerNoClose(t testing.TB, in *Interpreter) *Compiler {
	t.Helper()
	c, err := Start(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// writeScript writes an executable shell script standing in for a program.
func writeScript(t testing.TB, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func writeTemp(t testing.TB, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "src")
	writeFile(t, p, data)
	return p
}
