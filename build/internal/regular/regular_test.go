package regular

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/galerly/galerly-lambda/internal/testenv"
)

// Special files are refused by name, a FIFO without blocking, a device
// without reading it; a file over the limit is refused with its size.
func TestOnlyRegularFilesAreRead(t *testing.T) {
	dir := t.TempDir()
	fifo := testenv.FIFO(t, filepath.Join(dir, "fifo"))
	zero := testenv.DevZeroLink(t, filepath.Join(dir, "zero"))
	sock := filepath.Join(dir, "sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(big, make([]byte, 101), 0o600); err != nil {
		t.Fatal(err)
	}
	ok := filepath.Join(dir, "ok")
	if err := os.WriteFile(ok, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path, want string
	}{
		{fifo, fifo + " is a named pipe (FIFO), not a regular file"},
		{zero, zero + " is a character device, not a regular file"},
		{sock, sock + " is a socket, not a regular file"},
		{dir, dir + " is a folder, not a regular file"},
		{big, big + " is 101 bytes, more than the 100 bytes accepted here"},
		{filepath.Join(dir, "missing"), "no such file"},
	} {
		var err error
		testenv.NoBlock(t, "ReadFile("+c.path+")", func() { _, err = ReadFile(c.path, 100) })
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ReadFile(%s) = %v, want an error with %q", c.path, err, c.want)
		}
	}
	data, err := ReadFile(ok, 100)
	if err != nil || string(data) != "hello" {
		t.Errorf("ReadFile(ok) = %q, %v", data, err)
	}
	if data, err := ReadFile(ok, 5); err != nil || string(data) != "hello" {
		t.Errorf("ReadFile at exactly the limit = %q, %v", data, err)
	}
}

// A FIFO swapped in after the first check (Open's stat, or the listing
// OpenListed trusts) is caught by the open file's own stat, and the open
// does not wait for a writer.
func TestFIFOSwappedInIsNotRead(t *testing.T) {
	fifo := testenv.FIFO(t, filepath.Join(t.TempDir(), "fifo"))
	var err error
	testenv.NoBlock(t, "OpenListed(fifo)", func() { _, _, err = OpenListed(fifo) })
	var nr *NotRegularError
	if !errors.As(err, &nr) || !strings.Contains(err.Error(), "named pipe") {
		t.Errorf("OpenListed(fifo) = %v, want a NotRegularError", err)
	}
}
