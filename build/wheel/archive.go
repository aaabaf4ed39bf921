package wheel

import (
	"bufio"
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"slices"
	"strings"

	"github.com/galerly/galerly-lambda/build/internal/clip"
	"github.com/galerly/galerly-lambda/build/internal/pyname"
)

// MaxEntries is the most entries a wheel may hold. An artifact's plan
// keeps a few hundred bytes per entry; past this count a wheel would push
// the builder's memory over its 150 MB budget, and no real wheel comes
// near it (numpy, among the largest, has about 2,000).
const MaxEntries = 100_000

// Zip record signatures and sizes (APPNOTE.TXT 4.3).
const (
	sigLocal      = 0x04034b50
	sigCentral    = 0x02014b50
	sigEnd        = 0x06054b50
	sigEnd64      = 0x06064b50
	sigEnd64Loc   = 0x07064b50
	localLen      = 30
	centralLen    = 46
	endLen        = 22
	end64LocLen   = 20
	end64Len      = 56
	zip64ExtraTag = 0x0001
	flagDataDesc  = 0x8
	maxCommentLen = 0xffff
)

// entry is what the central directory says of one file.
type entry struct {
	name              string
	flags, method     uint16
	crc               uint32
	csize, usize      uint64
	offset, dataStart uint64
}

// CheckArchive verifies the wheel file r (size bytes), named fn, before
// its entries are copied into an artifact still compressed, where nothing
// downstream would inflate and check them:
//
//   - the archive has at most MaxEntries entries, counted from its end
//     record before anything is parsed;
//   - every entry's local header agrees with the central directory (name,
//     method, and CRC-32 and sizes unless a data descriptor follows), and
//     no entry's data overlaps another's or the directory;
//   - every entry inflates to exactly the size the headers give, with the
//     CRC-32 they give, so the size limit is checked against true sizes;
//   - like pip, the wheel has exactly one .dist-info directory, named for
//     the wheel's project and version, holding METADATA and a WHEEL file
//     whose Wheel-Version is 1.x.
//
// With tee not nil, each entry's bytes are also copied, as they inflate
// to be checked, to the writer tee returns for the entry's name (nil for
// none), so a caller that wants some entries' bytes (to hash them)
// inflates the wheel once. Nothing written there is known good until
// CheckArchive returns nil; an entry that inflates to more than its
// headers say writes at most one byte more.
//
// Errors name the wheel and the entry at fault.
func CheckArchive(r io.ReaderAt, size int64, fn Filename, tee func(name string) io.Writer) error {
	entries, err := readDirectory(r, size)
	if err != nil {
		return fmt.Errorf("wheel %s: %w", fn.Raw, err)
	}
	if err := checkLocal(r, entries); err != nil {
		return fmt.Errorf("wheel %s: %w", fn.Raw, err)
	}
	in := &inflater{buf: make([]byte, 32<<10)}
	for _, e := range entries {
		var w io.Writer
		if tee != nil {
			w = tee(e.name)
		}
		if err := in.check(r, e, w); err != nil {
			return fmt.Errorf("wheel %s: entry %q: %w", fn.Raw, clip.String(e.name), err)
		}
	}
	if err := checkDistInfo(r, entries, fn, in); err != nil {
		return fmt.Errorf("wheel %s: %w", fn.Raw, err)
	}
	return nil
}

// readDirectory reads the end records and the central directory.
func readDirectory(r io.ReaderAt, size int64) ([]*entry, error) {
	tail := min(size, endLen+maxCommentLen)
	buf := make([]byte, tail)
	if _, err := r.ReadAt(buf, size-tail); err != nil && err != io.EOF {
		return nil, fmt.Errorf("reading the end of the archive: %w", err)
	}
	at := -1
	for i := len(buf) - endLen; i >= 0; i-- {
		if binary.LittleEndian.Uint32(buf[i:]) == sigEnd {
			at = i
			break
		}
	}
	if at < 0 {
		return nil, errors.New("not a zip archive (no end of central directory record)")
	}
	end := buf[at:]
	count := uint64(binary.LittleEndian.Uint16(end[10:]))
	dirSize := uint64(binary.LittleEndian.Uint32(end[12:]))
	dirOffset := uint64(binary.LittleEndian.Uint32(end[16:]))
	endOffset := uint64(size-tail) + uint64(at)
	if count == 0xffff || dirSize == 0xffffffff || dirOffset == 0xffffffff {
		if endOffset < end64LocLen {
			return nil, errors.New("zip64 end record expected but the archive is too short")
		}
		loc := make([]byte, end64LocLen)
		if _, err := r.ReadAt(loc, int64(endOffset-end64LocLen)); err != nil || binary.LittleEndian.Uint32(loc) != sigEnd64Loc {
			return nil, errors.New("zip64 end locator missing")
		}
		rec := make([]byte, end64Len)
		off := binary.LittleEndian.Uint64(loc[8:])
		if off > uint64(size) {
			return nil, errors.New("zip64 end record out of the archive")
		}
		if _, err := r.ReadAt(rec, int64(off)); err != nil || binary.LittleEndian.Uint32(rec) != sigEnd64 {
			return nil, errors.New("zip64 end record missing")
		}
		count = binary.LittleEndian.Uint64(rec[32:])
		dirSize = binary.LittleEndian.Uint64(rec[40:])
		dirOffset = binary.LittleEndian.Uint64(rec[48:])
		endOffset = off
	}
	if count > MaxEntries {
		return nil, fmt.Errorf("has %d entries; lambdapack takes at most %d per wheel (it would need more memory than it allows itself, and no real wheel has so many)", count, MaxEntries)
	}
	if dirOffset > endOffset || dirSize > endOffset-dirOffset {
		return nil, errors.New("central directory out of the archive")
	}
	dir := bufio.NewReaderSize(io.NewSectionReader(r, int64(dirOffset), int64(dirSize)), 64<<10)
	entries := make([]*entry, 0, count)
	fixed := make([]byte, centralLen)
	for i := uint64(0); i < count; i++ {
		if _, err := io.ReadFull(dir, fixed); err != nil || binary.LittleEndian.Uint32(fixed) != sigCentral {
			return nil, fmt.Errorf("central directory record %d is damaged", i+1)
		}
		e := &entry{
			flags:  binary.LittleEndian.Uint16(fixed[8:]),
			method: binary.LittleEndian.Uint16(fixed[10:]),
			crc:    binary.LittleEndian.Uint32(fixed[16:]),
			csize:  uint64(binary.LittleEndian.Uint32(fixed[20:])),
			usize:  uint64(binary.LittleEndian.Uint32(fixed[24:])),
			offset: uint64(binary.LittleEndian.Uint32(fixed[42:])),
		}
		n, m, k := binary.LittleEndian.Uint16(fixed[28:]), binary.LittleEndian.Uint16(fixed[30:]), binary.LittleEndian.Uint16(fixed[32:])
		vars := make([]byte, int(n)+int(m)+int(k))
		if _, err := io.ReadFull(dir, vars); err != nil {
			return nil, fmt.Errorf("central directory record %d is truncated", i+1)
		}
		e.name = string(vars[:n])
		if err := applyZip64(vars[n:n+m], &e.usize, &e.csize, &e.offset); err != nil {
			return nil, fmt.Errorf("entry %q: %w", clip.String(e.name), err)
		}
		entries = append(entries, e)
	}
	return entries, nil
}

// applyZip64 replaces the 32-bit fields that are all ones with the values
// of the zip64 extra field, which holds them in this order.
func applyZip64(extra []byte, fields ...*uint64) error {
	var want []*uint64
	for _, f := range fields {
		if *f == 0xffffffff {
			want = append(want, f)
		}
	}
	if len(want) == 0 {
		return nil
	}
	for len(extra) >= 4 {
		tag, n := binary.LittleEndian.Uint16(extra), int(binary.LittleEndian.Uint16(extra[2:]))
		if 4+n > len(extra) {
			break
		}
		if tag == zip64ExtraTag {
			body := extra[4 : 4+n]
			for _, f := range want {
				if len(body) < 8 {
					return errors.New("zip64 extra field is too short")
				}
				*f = binary.LittleEndian.Uint64(body)
				body = body[8:]
			}
			return nil
		}
		extra = extra[4+n:]
	}
	return errors.New("sizes need a zip64 extra field, which is missing")
}

// checkLocal compares each local header with the central directory, and
// refuses data that overlaps another entry's or the directory.
func checkLocal(r io.ReaderAt, entries []*entry) error {
	fixed := make([]byte, localLen)
	for _, e := range entries {
		where := fmt.Sprintf("entry %q", clip.String(e.name))
		if _, err := r.ReadAt(fixed, int64(e.offset)); err != nil || binary.LittleEndian.Uint32(fixed) != sigLocal {
			return fmt.Errorf("%s: no local header where the central directory says", where)
		}
		flags := binary.LittleEndian.Uint16(fixed[6:])
		method := binary.LittleEndian.Uint16(fixed[8:])
		crc := binary.LittleEndian.Uint32(fixed[14:])
		csize := uint64(binary.LittleEndian.Uint32(fixed[18:]))
		usize := uint64(binary.LittleEndian.Uint32(fixed[22:]))
		n, m := binary.LittleEndian.Uint16(fixed[26:]), binary.LittleEndian.Uint16(fixed[28:])
		vars := make([]byte, int(n)+int(m))
		if _, err := r.ReadAt(vars, int64(e.offset)+localLen); err != nil {
			return fmt.Errorf("%s: local header is truncated", where)
		}
		if string(vars[:n]) != e.name {
			return fmt.Errorf("%s: the local header names %q", where, clip.String(string(vars[:n])))
		}
		if method != e.method {
			return fmt.Errorf("%s: compression method %d in the local header, %d in the central directory", where, method, e.method)
		}
		if flags&flagDataDesc == 0 || crc != 0 || csize != 0 || usize != 0 {
			// Sizes and CRC-32 are in the local header: they must be the
			// directory's (a streaming unzip reads these).
			if err := applyZip64(vars[n:], &usize, &csize); err != nil {
				return fmt.Errorf("%s: local header: %w", where, err)
			}
			if crc != e.crc || csize != e.csize || usize != e.usize {
				return fmt.Errorf("%s: local header says CRC-32 %08x, %d bytes compressed, %d bytes; the central directory says %08x, %d, %d",
					where, crc, csize, usize, e.crc, e.csize, e.usize)
			}
		}
		e.dataStart = e.offset + localLen + uint64(n) + uint64(m)
	}
	byStart := slices.Clone(entries)
	slices.SortFunc(byStart, func(a, b *entry) int { return cmpUint(a.offset, b.offset) })
	for i, e := range byStart {
		end := e.dataStart + e.csize
		if end < e.dataStart {
			return fmt.Errorf("entry %q: impossible compressed size %d", clip.String(e.name), e.csize)
		}
		if i+1 < len(byStart) && end > byStart[i+1].offset {
			return fmt.Errorf("entries %q and %q overlap", clip.String(e.name), clip.String(byStart[i+1].name))
		}
	}
	return nil
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// inflater checks entries' data, reusing one decompressor and one buffer:
// a wheel may have tens of thousands of small entries, and a fresh
// decompressor for each would cost more than the inflating.
type inflater struct {
	buf []byte
	fr  io.ReadCloser
}

// open returns the data of e, inflated when it is deflated.
func (in *inflater) open(r io.ReaderAt, e *entry) io.Reader {
	raw := io.NewSectionReader(r, int64(e.dataStart), int64(e.csize))
	if e.method == 0 {
		return raw
	}
	if in.fr == nil {
		in.fr = flate.NewReader(raw)
	} else {
		in.fr.(flate.Resetter).Reset(raw, nil)
	}
	return in.fr
}

// check inflates one entry, copying it to also when not nil, and compares
// its size and CRC-32 with the headers'. It reads at most one byte past
// the declared size, so an entry that would inflate to gigabytes costs no
// more than its declared size.
func (in *inflater) check(r io.ReaderAt, e *entry, also io.Writer) error {
	switch {
	case e.method != 0 && e.method != 8:
		return fmt.Errorf("compression method %d (only store and deflate are supported)", e.method)
	case e.method == 0 && e.csize != e.usize:
		return fmt.Errorf("stored, but %d bytes compressed and %d bytes uncompressed", e.csize, e.usize)
	}
	h := crc32.NewIEEE()
	var dst io.Writer = h
	if also != nil {
		dst = io.MultiWriter(h, also)
	}
	n, err := io.CopyBuffer(dst, io.LimitReader(in.open(r, e), int64(e.usize)+1), in.buf)
	switch {
	case n > int64(e.usize):
		return fmt.Errorf("inflates to more than the %d bytes its headers give", e.usize)
	case err != nil:
		return fmt.Errorf("does not inflate: %w", err)
	case uint64(n) != e.usize:
		return fmt.Errorf("inflates to %d bytes, its headers give %d", n, e.usize)
	case h.Sum32() != e.crc:
		return fmt.Errorf("CRC-32 of its data is %08x, its headers give %08x (a damaged or tampered wheel)", h.Sum32(), e.crc)
	}
	return nil
}

// checkDistInfo applies pip's rule for a wheel's metadata.
func checkDistInfo(r io.ReaderAt, entries []*entry, fn Filename, in *inflater) error {
	dirs := map[string]bool{}
	for _, e := range entries {
		first, _, nested := strings.Cut(e.name, "/")
		if nested && strings.HasSuffix(first, ".dist-info") {
			dirs[first] = true
		}
	}
	if len(dirs) != 1 {
		names := make([]string, 0, len(dirs))
		for d := range dirs {
			names = append(names, clip.String(d))
		}
		slices.Sort(names)
		return fmt.Errorf("has %d .dist-info directories %v, want exactly one (pip refuses such a wheel)", len(names), names)
	}
	var dir string
	for d := range dirs {
		dir = d
	}
	stem := strings.TrimSuffix(dir, ".dist-info")
	name, version, ok := strings.Cut(stem, "-")
	if !ok || pyname.Normalize(name) != fn.Name || !fn.IsVersion(version) {
		return fmt.Errorf("its metadata directory %s is not named for %s %s (pip refuses a wheel whose .dist-info names another project or version)", clip.String(dir), fn.Name, fn.Version)
	}
	var wheelFile *entry
	hasMetadata := false
	for _, e := range entries {
		switch e.name {
		case dir + "/WHEEL":
			wheelFile = e
		case dir + "/METADATA":
			hasMetadata = true
		}
	}
	if wheelFile == nil || !hasMetadata {
		return fmt.Errorf("%s lacks its WHEEL or METADATA file (pip refuses such a wheel)", dir)
	}
	return checkWheelVersion(in.open(r, wheelFile), wheelFile)
}

// checkWheelVersion reads the WHEEL file e (its data already checked) and
// refuses a Wheel-Version whose major is not 1, as pip does.
func checkWheelVersion(data io.Reader, e *entry) error {
	const maxWheelFile = 64 << 10
	if e.usize > maxWheelFile {
		return fmt.Errorf("%s is %d bytes; a WHEEL file is a few lines", e.name, e.usize)
	}
	body, err := io.ReadAll(io.LimitReader(data, int64(e.usize)))
	if err != nil {
		return fmt.Errorf("%s: %w", e.name, err)
	}
	for line := range bytes.Lines(body) {
		k, v, ok := strings.Cut(strings.TrimSpace(string(line)), ":")
		if !ok || !strings.EqualFold(strings.TrimSpace(k), "Wheel-Version") {
			continue
		}
		major, _, _ := strings.Cut(strings.TrimSpace(v), ".")
		if major != "1" {
			return fmt.Errorf("%s says Wheel-Version %s; only 1.x is understood (as by pip)", e.name, clip.String(strings.TrimSpace(v)))
		}
		return nil
	}
	return fmt.Errorf("%s has no Wheel-Version (pip refuses such a wheel)", e.name)
}
