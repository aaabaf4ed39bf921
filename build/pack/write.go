package pack

import (
	"archive/zip"
	"fmt"
	"io"
	"io/fs"
	"slices"
)

// dosDate1980 is 1980-01-01 in MS-DOS date encoding ((year-1980)<<9 |
// month<<5 | day), the earliest date a zip header can hold; the MS-DOS time
// is 0, midnight. archive/zip writes an extended-timestamp extra field only
// when FileHeader.Modified is set, so leaving Modified zero and setting these
// fields keeps the headers free of extra fields.
const dosDate1980 = 1<<5 | 1

// Zip header values written for every entry.
const (
	zipVersion20 = 20 // deflate, directories
	zipVersion45 = 45 // zip64
	flagDataDesc = 0x8
	flagUTF8     = 0x800
)

// WriteTo writes the archive to w, entries sorted by name, and returns the
// number of bytes written. Entries stream from their sources through a
// fixed-size buffer, so memory does not grow with the archive. The same
// Archive writes the same bytes every time.
func (a *Archive) WriteTo(w io.Writer) (int64, error) {
	cw := &countWriter{w: w}
	zw := zip.NewWriter(cw)
	names := make([]string, 0, len(a.entries))
	for name := range a.entries {
		names = append(names, name)
	}
	slices.Sort(names)
	buf := make([]byte, 64<<10)
	for _, name := range names {
		e := a.entries[name]
		var err error
		if e.zf != nil {
			err = writeRaw(zw, e, buf)
		} else {
			err = writeDeflated(zw, e, buf)
		}
		if err != nil {
			return cw.n, fmt.Errorf("pack: writing %s from %s: %w", e.name, e.label(), err)
		}
	}
	if err := zw.Close(); err != nil {
		return cw.n, fmt.Errorf("pack: writing the zip directory: %w", err)
	}
	return cw.n, nil
}

// header returns the fixed part of every entry's header: name, timestamp,
// Unix creator and mode.
func header(e *entry) *zip.FileHeader {
	fh := &zip.FileHeader{
		Name:         e.name,
		ModifiedDate: dosDate1980,
	}
	mode := 0o644
	if e.exec {
		mode = 0o755
	}
	fh.SetMode(fs.FileMode(mode))
	return fh
}

// writeRaw copies a wheel entry still compressed. Method, CRC-32 and sizes
// are known from the wheel, so they go in the local header and no data
// descriptor follows, except for zip64 sizes, which archive/zip can only
// write in a descriptor.
func writeRaw(zw *zip.Writer, e *entry, buf []byte) error {
	f := e.zf
	fh := header(e)
	fh.CreatorVersion |= zipVersion20
	fh.ReaderVersion = zipVersion20
	fh.Method = f.Method
	fh.CRC32 = f.CRC32
	fh.CompressedSize64 = f.CompressedSize64
	fh.UncompressedSize64 = f.UncompressedSize64
	if needsUTF8Flag(e.name) {
		fh.Flags |= flagUTF8
	}
	if fh.CompressedSize64 >= 1<<32-1 || fh.UncompressedSize64 >= 1<<32-1 {
		fh.Flags |= flagDataDesc
		fh.ReaderVersion = zipVersion45
	}
	src, err := f.OpenRaw()
	if err != nil {
		return err
	}
	dst, err := zw.CreateRaw(fh)
	if err != nil {
		return err
	}
	n, err := io.CopyBuffer(dst, src, buf)
	if err != nil {
		return err
	}
	if uint64(n) != f.CompressedSize64 {
		return fmt.Errorf("copied %d of %d compressed bytes (truncated wheel?)", n, f.CompressedSize64)
	}
	return nil
}

// writeDeflated deflates a plain file. archive/zip puts its CRC-32 and sizes
// in a data descriptor after the data, which depends only on the content.
func writeDeflated(zw *zip.Writer, e *entry, buf []byte) error {
	fh := header(e)
	fh.Method = zip.Deflate
	dst, err := zw.CreateHeader(fh)
	if err != nil {
		return err
	}
	rc, err := e.open()
	if err != nil {
		return err
	}
	// Read one byte past the planned size to notice a file that grew since
	// it was added: the size limits were checked against the planned size.
	n, err := io.CopyBuffer(dst, io.LimitReader(rc, e.size+1), buf)
	if cerr := rc.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if n != e.size {
		return fmt.Errorf("file has %d bytes, %d when added (changed since?)", n, e.size)
	}
	return nil
}

// needsUTF8Flag matches archive/zip's CreateHeader, which sets the UTF-8
// flag for names outside the CP-437-safe ASCII range, so raw and deflated
// entries mark names alike. Names have passed checkPath, so they are valid
// UTF-8 without control characters or backslashes.
func needsUTF8Flag(name string) bool {
	for _, r := range name {
		if r > 0x7d {
			return true
		}
	}
	return false
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
