// Package regular opens files that must be regular files. A path the
// builder is given (a lock, a netrc, a seal key, a wheel a lock names, a
// find-links file, a cache entry) may name a FIFO, which blocks a reader
// until a writer comes, or a device such as /dev/zero, which never ends.
// Such a path is refused by name without ever being opened for reading,
// and what is read whole is read within a size bound.
package regular

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"

	"github.com/galerly/galerly-lambda/build/internal/clip"
)

// NotRegularError reports a path that is not a regular file.
type NotRegularError struct {
	Path string
	Mode fs.FileMode
}

func (e *NotRegularError) Error() string {
	return fmt.Sprintf("%s is %s, not a regular file: it is not read", clip.String(e.Path), Describe(e.Mode))
}

// TooLargeError reports a file over the size a reader accepts.
type TooLargeError struct {
	Path  string
	Size  int64 // the size seen: at least Limit+1
	Limit int64
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("%s is %d bytes, more than the %d bytes accepted here", clip.String(e.Path), e.Size, e.Limit)
}

// Describe names a file type for messages: "a named pipe (FIFO)", "a
// character device", "a folder".
func Describe(m fs.FileMode) string {
	switch t := m.Type(); {
	case t == 0:
		return "a regular file"
	case t&fs.ModeDir != 0:
		return "a folder"
	case t&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case t&fs.ModeSocket != 0:
		return "a socket"
	case t&fs.ModeCharDevice != 0:
		return "a character device"
	case t&fs.ModeDevice != 0:
		return "a block device"
	case t&fs.ModeSymlink != 0:
		return "a symlink"
	default:
		return "a special file (" + t.String() + ")"
	}
}

// Open opens path for reading if it is a regular file, following
// symlinks, and returns it with its FileInfo. Anything else is refused
// with a *NotRegularError: first by a stat, so a FIFO or device is never
// opened, then (for one swapped in after the stat) as OpenListed refuses
// it.
func Open(path string) (*os.File, fs.FileInfo, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, nil, &NotRegularError{Path: path, Mode: st.Mode()}
	}
	return OpenListed(path)
}

// OpenListed is Open for a path that a folder listing (os.ReadDir) has
// just shown to be a regular file, not a link: the listing stands for
// Open's stat. What was swapped in since is refused with a
// *NotRegularError by the open file's own stat, the open being
// non-blocking so that a FIFO cannot stall it.
func OpenListed(path string) (*os.File, fs.FileInfo, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, nil, &NotRegularError{Path: path, Mode: st.Mode()}
	}
	return f, st, nil
}

// ReadFile reads the regular file at path whole, refusing it (with a
// *TooLargeError) when it holds more than limit bytes, even one that
// grows while it is read.
func ReadFile(path string, limit int64) ([]byte, error) {
	f, st, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st.Size() > limit {
		return nil, &TooLargeError{Path: path, Size: st.Size(), Limit: limit}
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, &TooLargeError{Path: path, Size: int64(len(data)), Limit: limit}
	}
	return data, nil
}
