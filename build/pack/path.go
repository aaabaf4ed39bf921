package pack

import (
	"archive/zip"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"unicode/utf8"
)

// Zip "version made by" hosts whose external attributes carry Unix mode bits
// in the high 16 bits, and the MS-DOS directory attribute.
const (
	creatorUnix  = 3
	creatorMacOS = 19
	msdosDir     = 0x10
)

// Unix file type bits (S_IFMT) and the types that matter here.
const (
	unixTypeMask = 0o170000
	unixRegular  = 0o100000
	unixDir      = 0o040000
	unixSymlink  = 0o120000
)

// CheckPath reports why name cannot be a path in an archive: the rule
// [Archive.AddFile] applies, for callers that want to refuse a path before
// planning (a function's source tree, checked at preview time).
func CheckPath(name string) error { return checkPath(name) }

// checkPath reports why name cannot be a path in the archive. The rules
// keep an unzip, on Lambda or a developer's machine, inside its target
// directory and unambiguous.
func checkPath(name string) error {
	if name == "" {
		return errors.New("empty path")
	}
	if strings.IndexByte(name, 0) >= 0 {
		return errors.New("path contains a NUL byte")
	}
	if !utf8.ValidString(name) {
		return errors.New("path is not valid UTF-8")
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("path contains control character %U", r)
		}
	}
	if strings.IndexByte(name, '\\') >= 0 {
		return errors.New("path contains a backslash")
	}
	if name[0] == '/' {
		return errors.New("path is absolute")
	}
	if len(name) >= 2 && name[1] == ':' && isASCIILetter(name[0]) {
		return errors.New("path starts with a Windows drive letter")
	}
	for elem := range strings.SplitSeq(name, "/") {
		switch elem {
		case "":
			return errors.New("path has an empty element")
		case ".":
			return errors.New(`path has a "." element`)
		case "..":
			return errors.New(`path has a ".." element`)
		}
	}
	return nil
}

func isASCIILetter(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

// checkPrefix reports why prefix cannot be the directory wheel files go
// under: it is "" or a valid path followed by "/".
func checkPrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	dir, ok := strings.CutSuffix(prefix, "/")
	if !ok {
		return errors.New(`prefix must be "" or end in "/"`)
	}
	return checkPath(dir)
}

// checkRegular reports why the (non-directory-named) entry h is not a
// regular file, going by the attributes of the system that made it.
func checkRegular(h *zip.FileHeader) error {
	switch h.CreatorVersion >> 8 {
	case creatorUnix, creatorMacOS:
		mode := h.ExternalAttrs >> 16
		switch mode & unixTypeMask {
		case 0, unixRegular:
			// Some tools write permission bits only; that is a file.
			return nil
		case unixSymlink:
			return errors.New("is a symlink")
		case unixDir:
			return errors.New("is a directory whose name does not end in /")
		default:
			return fmt.Errorf("is not a regular file (mode %#o)", mode)
		}
	default:
		if h.ExternalAttrs&msdosDir != 0 {
			return errors.New("is a directory whose name does not end in /")
		}
		return nil
	}
}

// isExecutable reports whether the entry h is marked executable: any x bit,
// which only Unix-like creators record.
func isExecutable(h *zip.FileHeader) bool {
	switch h.CreatorVersion >> 8 {
	case creatorUnix, creatorMacOS:
		return fs.FileMode(h.ExternalAttrs>>16)&0o111 != 0
	}
	return false
}
