package testenv

import (
	"os"
	"syscall"
	"testing"
	"time"
)

// FIFO makes a named pipe at path and returns path: a reader that opens
// it blocks until a writer comes, and none ever does.
func FIFO(t testing.TB, path string) string {
	t.Helper()
	if err := syscall.Mkfifo(path, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// DevZeroLink makes path a symlink to /dev/zero, which never ends, and
// returns path.
func DevZeroLink(t testing.TB, path string) string {
	t.Helper()
	if err := os.Symlink("/dev/zero", path); err != nil {
		t.Fatal(err)
	}
	return path
}

// NoBlock runs f and fails t at once if f has not returned within ten
// seconds: for code that must refuse a FIFO or a device rather than wait
// on it. A regression then fails the test with what blocked instead of
// hanging the run.
func NoBlock(t testing.TB, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s blocked", what)
	}
}
