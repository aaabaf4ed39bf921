// Package pack assembles the zip archive of a Lambda artifact (a layer or a
// function package) from wheels and plain files, so that its bytes depend
// only on the content that goes in.
//
// An [Archive] is planned first and written last. [Archive.AddWheel] and
// [Archive.AddFile] check every path and every collision up front and record
// sizes without reading content, so a caller can check Lambda's unzipped size
// limit, and name the largest packages, before anything is written.
// [Archive.WriteTo] then streams the entries; memory does not grow with the
// size of the archive.
//
// The archive has these properties, which make it reproducible and safe to
// unzip where Lambda unzips it:
//
// • Entries are sorted by name (byte order). There are no directory entries:
// Lambda creates parent directories as it unzips.
//
// • Every entry has the timestamp 1980-01-01 00:00:00 in the MS-DOS fields
// only, a Unix creator and mode 0644, or 0755 where the source marks the file
// executable (any x bit). There are no extra fields (so no extended
// timestamps; only zip64, for sizes past 4 GiB, would add one) and no
// comments.
//
// • Wheel entries are copied still compressed: method, CRC-32, sizes and
// compressed bytes are the wheel's, never inflated or deflated again. Plain
// files are deflated at write time.
//
// • Wheels are laid out as pip installs them (PEP 427): files under
// {name}-{version}.data/purelib/ and .data/platlib/ go to the root of the
// prefix; .data/scripts, .data/headers and .data/data are left out with a
// note (see [Archive.Notes]), since Lambda runs no console scripts, compiles
// nothing, and does not look outside site-packages. The .dist-info directory
// is kept, so that importlib.metadata works; no installer metadata
// (INSTALLER, REQUESTED, direct_url.json) is added, and any a wheel ships is
// left out.
//
// • Every path is relative, slash-separated, valid UTF-8, with no empty, "."
// or ".." elements, no backslash, no NUL or other control character and no
// Windows drive letter. Symlinks and other non-regular entries are refused,
// as are encrypted entries and compression methods other than store and
// deflate.
//
// • No two sources write one path, unless their bytes are identical (then one
// copy is kept, chosen by source name so the choice does not depend on the
// order of the Add calls), and no path is a file in one source and a
// directory in another.
package pack

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"math"
	"path"
	"slices"
	"strings"
)

// FilesSource is the source name under which [Archive.Sizes] counts the
// files added with [Archive.AddFile]. It cannot be a wheel's file name.
const FilesSource = "source files"

// MaxFiles is the most files an Archive holds. Its plan keeps every entry
// in memory (with the wheel's directory record it was read from), about
// 1 KB each with the garbage collector's headroom; this bound keeps a
// build's peak memory under 150 MB. Lambda sets no such limit, but real
// layers hold tens of thousands of files, bytecode included.
const MaxFiles = 120_000

// Archive plans the entries of one zip archive; [Archive.WriteTo] writes it.
// The zero value is not usable; call [New].
//
// An Archive keeps references to the wheels given to [Archive.AddWheel]: they
// must stay open until the last WriteTo returns.
type Archive struct {
	entries map[string]*entry
	// dirs maps every parent directory implied by an entry to the label of
	// the first entry that implied it, to refuse a file at a directory's path.
	dirs map[string]string
	// sources holds every wheel added, with its prefix, and FilesSource
	// (prefix "") once a file is added.
	sources map[sourceKey]bool
	notes   []string
}

// sourceKey is one wheel under one prefix: the same wheel may go under
// several (one site-packages folder per runtime it suits).
type sourceKey struct{ name, prefix string }

// entry is one file of the archive and where its bytes come from: a wheel
// entry (zf, copied raw) or a plain file (open, deflated at write time).
type entry struct {
	name   string // path in the archive
	source string // wheel file name, or FilesSource
	origin string // name inside the wheel, or the name given to AddFile
	exec   bool
	size   int64

	zf   *zip.File
	open func() (io.ReadCloser, error)

	crc    uint32
	hasCRC bool

	// copies labels every source of identical bytes at this path, sorted,
	// when there is more than one.
	copies []string
}

func (e *entry) label() string {
	if e.source == FilesSource {
		return fmt.Sprintf("source file %q", e.origin)
	}
	return fmt.Sprintf("%s (%s)", e.source, e.origin)
}

// before reports whether e is the copy to keep rather than o when both hold
// the same bytes: an order on sources, not on calls, keeps WriteTo's output
// independent of the order of the Add calls.
func (e *entry) before(o *entry) bool {
	if e.source != o.source {
		return e.source < o.source
	}
	return e.origin < o.origin
}

// New returns an empty Archive.
func New() *Archive {
	return &Archive{
		entries: make(map[string]*entry),
		dirs:    make(map[string]string),
		sources: make(map[sourceKey]bool),
	}
}

// AddWheel plans every file of the wheel r, named wheelName (its file name,
// used in sizes, notes and errors), under prefix: "" or a relative directory
// ending in "/", such as "python/" or "python/lib/python3.12/site-packages/".
// It reads no content unless a path is already taken, to compare the two
// copies.
//
// The same wheel may be added under several prefixes, as a wheel that suits
// several runtimes goes into each runtime's site-packages; adding it twice
// under one prefix is an error.
//
// On error the Archive is unchanged: a wheel is added whole or not at all.
func (a *Archive) AddWheel(wheelName string, r *zip.Reader, prefix string) error {
	if wheelName == "" || wheelName == FilesSource || strings.ContainsAny(wheelName, "/\\") {
		return fmt.Errorf("pack: invalid wheel name %q", wheelName)
	}
	distInfo := make(map[string]bool)
	err := a.addZip(wheelName, "wheel", r, prefix, func(f *zip.File) (string, string, error) {
		if first, _, _ := strings.Cut(f.Name, "/"); strings.HasSuffix(first, ".dist-info") && f.Name != first {
			distInfo[first] = true
		}
		return planWheelFile(f)
	}, func() error {
		// pip installs a wheel only with exactly one .dist-info directory;
		// with none or two, importlib.metadata would not find the package
		// or would find the wrong one.
		if len(distInfo) != 1 {
			names := make([]string, 0, len(distInfo))
			for d := range distInfo {
				names = append(names, d)
			}
			slices.Sort(names)
			return fmt.Errorf("pack: wheel %s: has %d .dist-info directories %v, want exactly one", wheelName, len(names), names)
		}
		return nil
	})
	return err
}

// AddBundle plans every file of the zip r, named name (used in sizes and
// errors, and distinct from every wheel name), under prefix, each at its
// own path: a bundle of files made for the artifact, such as the bytecode
// compiled from a wheel's sources, copied still compressed like a wheel's
// entries but without a wheel's layout rules. On error the Archive is
// unchanged.
func (a *Archive) AddBundle(name string, r *zip.Reader, prefix string) error {
	if name == "" || name == FilesSource {
		return fmt.Errorf("pack: invalid bundle name %q", name)
	}
	return a.addZip(name, "bundle", r, prefix, func(f *zip.File) (string, string, error) {
		target, isDir := strings.CutSuffix(f.Name, "/")
		if err := checkPath(target); err != nil {
			return "", "", err
		}
		if isDir {
			return "", "", nil
		}
		if err := checkRawEntry(f); err != nil {
			return "", "", err
		}
		return target, "", nil
	}, nil)
}

// addZip plans the files of one zip under prefix: plan maps each entry to
// its path under the prefix ("" to leave it out, with an optional note),
// and check, when not nil, may refuse the zip once all entries are seen.
func (a *Archive) addZip(name, kind string, r *zip.Reader, prefix string, plan func(*zip.File) (target, note string, err error), check func() error) error {
	key := sourceKey{name, prefix}
	if a.sources[key] {
		return fmt.Errorf("pack: %s %s added twice under prefix %q", kind, name, prefix)
	}
	if err := checkPrefix(prefix); err != nil {
		return fmt.Errorf("pack: %s %s: prefix %q: %w", kind, name, prefix, err)
	}
	var (
		staged []*entry
		notes  []string
	)
	for _, f := range r.File {
		target, note, err := plan(f)
		if err != nil {
			return fmt.Errorf("pack: %s %s: entry %q: %w", kind, name, f.Name, err)
		}
		if note != "" {
			notes = append(notes, fmt.Sprintf("%s: left out %s (%s)", name, f.Name, note))
		}
		if target == "" {
			continue
		}
		staged = append(staged, &entry{
			name:   prefix + target,
			source: name,
			origin: f.Name,
			exec:   isExecutable(&f.FileHeader),
			size:   int64(f.UncompressedSize64),
			zf:     f,
			crc:    f.CRC32,
			hasCRC: true,
		})
	}
	if check != nil {
		if err := check(); err != nil {
			return err
		}
	}
	if err := a.merge(staged); err != nil {
		return err
	}
	a.sources[key] = true
	a.notes = append(a.notes, notes...)
	return nil
}

// planWheelFile checks one wheel entry and returns its path relative to the
// prefix, or "" with an optional note when it is left out.
func planWheelFile(f *zip.File) (target, note string, err error) {
	name, isDir := strings.CutSuffix(f.Name, "/")
	if err := checkPath(name); err != nil {
		return "", "", err
	}
	if isDir {
		return "", "", nil
	}
	if err := checkRawEntry(f); err != nil {
		return "", "", err
	}

	first, rest, _ := strings.Cut(name, "/")
	switch {
	case strings.HasSuffix(first, ".data"):
		// Like pip: any top-level directory named *.data holds install
		// schemes, and an unknown scheme is an error rather than a guess.
		scheme, sub, ok := strings.Cut(rest, "/")
		switch scheme {
		case "purelib", "platlib":
			if !ok {
				return "", "", fmt.Errorf("is a file named like a scheme directory")
			}
			return sub, "", nil
		case "scripts":
			return "", "scripts are not used in Lambda", nil
		case "headers":
			return "", "C headers are not used at run time", nil
		case "data":
			return "", "data files install outside site-packages, where Lambda does not look", nil
		case "":
			return "", "", fmt.Errorf("is a file named like a .data directory")
		default:
			return "", "", fmt.Errorf("is in unknown install scheme %q (want purelib, platlib, scripts, headers or data)", scheme)
		}
	case strings.HasSuffix(first, ".dist-info"):
		switch rest {
		case "INSTALLER", "REQUESTED", "direct_url.json":
			return "", "installer metadata does not belong in a wheel", nil
		}
	}
	if dir, file := path.Split(name); path.Base(dir) == "__pycache__" && strings.HasSuffix(file, ".pyc") {
		// A wheel's own cached bytecode was compiled for some interpreter
		// and source timestamp; lambdapack compiles each runtime's.
		return "", "bytecode cached in a wheel is not used; lambdapack compiles its own for each runtime", nil
	}
	return name, "", nil
}

// WheelEntryPath returns where the wheel entry f goes, relative to the
// prefix it is added under (e.g. "PIL/Image.py" for
// "pillow-11.0.0.data/platlib/PIL/Image.py"), or "" when AddWheel leaves
// it out (a directory, a script, installer metadata). It refuses what
// AddWheel refuses.
func WheelEntryPath(f *zip.File) (string, error) {
	target, _, err := planWheelFile(f)
	return target, err
}

// checkRawEntry refuses a file entry that cannot be copied still
// compressed into the archive: not a regular file, encrypted, or
// compressed other than by store or deflate.
func checkRawEntry(f *zip.File) error {
	if err := checkRegular(&f.FileHeader); err != nil {
		return err
	}
	if f.Flags&0x1 != 0 {
		return errors.New("is encrypted")
	}
	switch f.Method {
	case zip.Store:
		if f.CompressedSize64 != f.UncompressedSize64 {
			return fmt.Errorf("is stored but has compressed size %d and size %d", f.CompressedSize64, f.UncompressedSize64)
		}
	case zip.Deflate:
	default:
		return fmt.Errorf("uses compression method %d (only store and deflate are supported)", f.Method)
	}
	if f.UncompressedSize64 > math.MaxInt64 {
		return fmt.Errorf("has impossible size %d", f.UncompressedSize64)
	}
	return nil
}

// AddFile plans a plain file at name (its full path in the archive) with
// the given size; open is called at write time, and to compare content if
// name is already taken. mode must be a regular file's; any x bit makes the
// entry 0755. The file is deflated when written, and WriteTo fails if open
// then yields other than size bytes.
//
// On error the Archive is unchanged.
func (a *Archive) AddFile(name string, mode fs.FileMode, size int64, open func() (io.ReadCloser, error)) error {
	if err := checkPath(name); err != nil {
		return fmt.Errorf("pack: file %q: %w", name, err)
	}
	if !mode.IsRegular() {
		return fmt.Errorf("pack: file %q: is not a regular file (mode %v)", name, mode)
	}
	if size < 0 {
		return fmt.Errorf("pack: file %q: negative size %d", name, size)
	}
	if open == nil {
		return fmt.Errorf("pack: file %q: nil open function", name)
	}
	e := &entry{
		name:   name,
		source: FilesSource,
		origin: name,
		exec:   mode&0o111 != 0,
		size:   size,
		open:   open,
	}
	if err := a.merge([]*entry{e}); err != nil {
		return err
	}
	a.sources[sourceKey{name: FilesSource}] = true
	return nil
}

// merge checks staged against the archive and against each other, then
// adds them all, or none when any check fails.
func (a *Archive) merge(staged []*entry) error {
	batch := make(map[string]*entry)
	batchDirs := make(map[string]string)
	lookup := func(name string) *entry {
		if e := batch[name]; e != nil {
			return e
		}
		return a.entries[name]
	}
	dirLabel := func(name string) (string, bool) {
		if l, ok := batchDirs[name]; ok {
			return l, true
		}
		l, ok := a.dirs[name]
		return l, ok
	}
	for _, e := range staged {
		if old := lookup(e.name); old != nil {
			if old.source == FilesSource && e.source == FilesSource {
				return fmt.Errorf("pack: file %q added twice", e.name)
			}
			same, err := sameContent(old, e)
			if err != nil {
				return fmt.Errorf("pack: %s is written by %s and %s: %w", e.name, old.label(), e.label(), err)
			}
			if !same {
				return fmt.Errorf("pack: %s is written by %s and %s with different content", e.name, old.label(), e.label())
			}
			continue
		}
		if l, ok := dirLabel(e.name); ok {
			return fmt.Errorf("pack: %s is a file in %s but a directory in %s", e.name, e.label(), l)
		}
		for d := range parents(e.name) {
			if f := lookup(d); f != nil {
				return fmt.Errorf("pack: %s is a file in %s but a directory in %s", d, f.label(), e.label())
			}
		}
		if len(a.entries)+len(batch) >= MaxFiles {
			return fmt.Errorf("pack: %s would be file %d of the artifact; lambdapack takes at most %d files per artifact (it plans each in memory)", e.label(), MaxFiles+1, MaxFiles)
		}
		batch[e.name] = e
		for d := range parents(e.name) {
			if _, ok := dirLabel(d); !ok {
				batchDirs[d] = e.label()
			}
		}
	}

	// All checks passed: commit, in staged order, so that an identical
	// second copy of a path within one wheel finds the first.
	for _, e := range staged {
		old := a.entries[e.name]
		if old == nil {
			a.entries[e.name] = e
			continue
		}
		keep, drop := old, e
		if e.before(old) {
			keep, drop = e, old
		}
		copies := append(slices.Clone(old.copies), e.label())
		if len(old.copies) == 0 {
			copies = append(copies, old.label())
		}
		slices.Sort(copies)
		keep.copies = slices.Compact(copies)
		drop.copies = nil
		a.entries[e.name] = keep
	}
	for d, l := range batchDirs {
		a.dirs[d] = l
	}
	return nil
}

// parents yields the directories above name ("a/b/c" yields "a", "a/b").
func parents(name string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for i := 0; i < len(name); i++ {
			if name[i] == '/' && !yield(name[:i]) {
				return
			}
		}
	}
}

// sameContent reports whether a and b hold the same bytes: sizes and CRC-32
// first, then the decompressed content itself, since equal CRCs do not prove
// equal bytes.
func sameContent(a, b *entry) (bool, error) {
	if a.size != b.size {
		return false, nil
	}
	ca, err := a.checksum()
	if err != nil {
		return false, err
	}
	cb, err := b.checksum()
	if err != nil {
		return false, err
	}
	if ca != cb {
		return false, nil
	}
	ra, err := a.openContent()
	if err != nil {
		return false, err
	}
	defer ra.Close()
	rb, err := b.openContent()
	if err != nil {
		return false, err
	}
	defer rb.Close()
	ba := make([]byte, 32<<10)
	bb := make([]byte, 32<<10)
	for {
		na, erra := io.ReadFull(ra, ba)
		nb, errb := io.ReadFull(rb, bb)
		if !bytes.Equal(ba[:na], bb[:nb]) {
			return false, nil
		}
		doneA := erra == io.EOF || erra == io.ErrUnexpectedEOF
		doneB := errb == io.EOF || errb == io.ErrUnexpectedEOF
		if erra != nil && !doneA {
			return false, fmt.Errorf("reading %s: %w", a.label(), erra)
		}
		if errb != nil && !doneB {
			return false, fmt.Errorf("reading %s: %w", b.label(), errb)
		}
		if doneA || doneB {
			return doneA && doneB, nil
		}
	}
}

// checksum returns the CRC-32 of e's content: the wheel's, or computed by
// reading a plain file once.
func (e *entry) checksum() (uint32, error) {
	if e.hasCRC {
		return e.crc, nil
	}
	rc, err := e.open()
	if err != nil {
		return 0, fmt.Errorf("opening %s: %w", e.label(), err)
	}
	defer rc.Close()
	h := crc32.NewIEEE()
	n, err := io.Copy(h, rc)
	if err != nil {
		return 0, fmt.Errorf("reading %s: %w", e.label(), err)
	}
	if n != e.size {
		return 0, fmt.Errorf("%s has %d bytes, want %d", e.label(), n, e.size)
	}
	e.crc, e.hasCRC = h.Sum32(), true
	return e.crc, nil
}

// openContent opens e's decompressed content.
func (e *entry) openContent() (io.ReadCloser, error) {
	var rc io.ReadCloser
	var err error
	if e.zf != nil {
		rc, err = e.zf.Open()
	} else {
		rc, err = e.open()
	}
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", e.label(), err)
	}
	return rc, nil
}

// Writers returns a label for each source that writes name, sorted: none
// when the archive does not hold name, one when a single source writes it,
// several when sources write it with identical bytes (which [Archive.AddWheel]
// and [Archive.AddFile] accept). A caller for whom any shared path is an
// error, such as a function's code beside its dependencies, checks here.
func (a *Archive) Writers(name string) []string {
	e := a.entries[name]
	if e == nil {
		return nil
	}
	if len(e.copies) > 0 {
		return slices.Clone(e.copies)
	}
	return []string{e.label()}
}

// Files returns the number of files the archive will hold.
func (a *Archive) Files() int { return len(a.entries) }

// UnzippedSize returns the total size of the files the archive will hold,
// as Lambda counts it against its unzipped size limit.
func (a *Archive) UnzippedSize() int64 {
	var n int64
	for _, e := range a.entries {
		n += e.size
	}
	return n
}

// Sizes returns the unzipped bytes each source contributes, keyed by wheel
// name (summing its copies, for a wheel added under several prefixes), with
// the files from AddFile under [FilesSource]. A path several sources write
// identically counts once, for the source whose copy is kept, so the values
// add up to [Archive.UnzippedSize]. Every source added is a key, even one
// that contributes nothing.
func (a *Archive) Sizes() map[string]int64 {
	m := make(map[string]int64, len(a.sources))
	for s := range a.sources {
		m[s.name] = 0
	}
	for _, e := range a.entries {
		m[e.source] += e.size
	}
	return m
}

// Notes returns, sorted, a line for each wheel entry left out (once, however
// many prefixes the wheel was added under) and for each path several sources
// wrote identically.
func (a *Archive) Notes() []string {
	notes := slices.Clone(a.notes)
	for _, e := range a.entries {
		if len(e.copies) > 1 {
			notes = append(notes, fmt.Sprintf("%s: identical in %s; kept the copy from %s",
				e.name, strings.Join(e.copies, ", "), e.label()))
		}
	}
	slices.Sort(notes)
	// A wheel under two prefixes leaves out the same entries twice.
	return slices.Compact(notes)
}
