package testenv

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// HangingProgram writes an executable shell script at dir/name that
// stands for an interpreter or shim that never answers: it records its
// PID and its child's in the returned file, writes stderr (if any) on its
// standard error, starts a child that holds its standard output open, and
// never exits. Code that runs it must kill the whole process group, or
// the child keeps the pipe (and a reader waiting for its end) alive.
func HangingProgram(t testing.TB, dir, name, stderr string) (path, pids string) {
	t.Helper()
	path = filepath.Join(dir, name)
	pids = filepath.Join(t.TempDir(), name+".pids")
	said := filepath.Join(t.TempDir(), name+".stderr")
	if err := os.WriteFile(said, []byte(stderr), 0o644); err != nil {
		t.Fatal(err)
	}
	script := fmt.Sprintf(`#!/bin/sh
echo $$ >> %[1]q
cat %[2]q >&2
sleep 600 &
echo $! >> %[1]q
while :; do sleep 600; done
`, pids, said)
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path, pids
}

// processGone reports whether no live process has the given PID: none at
// all, or a zombie waiting for its new parent to reap it.
func processGone(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	// The state follows the command name, which is in parentheses.
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && (s[i+2] == 'Z' || s[i+2] == 'X')
}

// CheckGone fails t unless every PID listed in the file pids (one or more
// per line, as HangingProgram writes them) is gone within a few seconds:
// the code under test must have killed them. It also fails when the file
// names no PID, which would make the check vacuous.
func CheckGone(t testing.TB, pids string) {
	t.Helper()
	data, err := os.ReadFile(pids)
	if err != nil {
		t.Fatalf("no PIDs recorded: %v", err)
	}
	fields := strings.Fields(string(data))
	if len(fields) == 0 {
		t.Fatalf("%s names no process", pids)
	}
	for _, f := range fields {
		pid, err := strconv.Atoi(f)
		if err != nil {
			t.Fatalf("%s: %q is not a PID", pids, f)
		}
		deadline := time.Now().Add(5 * time.Second)
		for !processGone(pid) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if !processGone(pid) {
			t.Errorf("process %d is still running: it was not killed", pid)
			// Don't leave it behind for the next test.
			if p, err := os.FindProcess(pid); err == nil {
				p.Kill()
			}
		}
	}
}
