// Package lock reads the pip --require-hashes lock format that pip-compile
// and `uv pip compile --generate-hashes` write, and PEP 751's pylock.toml
// (`uv export --format pylock.toml`, `pip lock`), chosen by the file name;
// evaluates their PEP 508 environment markers for a Lambda target; and
// computes the layer key: a hash of what the lock asks to install,
// independent of how the file is formatted, so the same pins and hashes
// give the same key in either format.
//
// The accepted format is deliberately narrow. Every requirement must be an
// exact pin, name==version, with at least one --hash=sha256: digest;
// anything whose meaning the key could not describe (ranges, URLs, paths,
// VCS checkouts, editables) is refused with the file and line at fault.
// What pip reads besides requirements is read as pip reads it: -r and -c
// includes (inside the project folder), and index options, which say
// where to look for files and so are not part of the key.
package lock

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/galerly/galerly-lambda/build/internal/clip"
)

// Error is a problem with one line of a lock file. Line is the first
// physical line of the requirement, even when it continues over several.
type Error struct {
	File string
	Line int
	Err  error
}

// Error formats e as "FILE:LINE: message", the form editors and CI log
// viewers turn into a link.
func (e *Error) Error() string { return fmt.Sprintf("%s:%d: %v", clip.String(e.File), e.Line, e.Err) }

// Unwrap returns the underlying problem.
func (e *Error) Unwrap() error { return e.Err }

// Requirement is one pinned package of a lock.
type Requirement struct {
	Name    string   // PEP 503 normalized name, e.g. "pillow-heif"
	Spelled string   // the name as the file spells it, e.g. "Pillow_HEIF", for messages
	Version string   // the pinned version as written after ==
	Hashes  []string // lowercase hex sha256 digests, sorted, without duplicates
	Marker  *Marker  // the environment marker after ';', nil when there is none
	Line    int      // first physical line of the requirement
	// File is the file the requirement is in, as messages name it: the
	// lock, or a file it includes (-r).
	File string
	// Wheels are the wheel files a pylock.toml lists for the package, with
	// where to get each; nil for a requirements file, whose files are
	// found on an index by their sha256.
	Wheels []WheelFile
	// Index is the pylock.toml's index for the package (packages.index), or
	// "": where a wheel with no url or path is looked up.
	Index string
}

// Lock is a parsed lock file.
type Lock struct {
	File string // the name the lock was read under, for messages
	// Requirements are sorted by Name, a package's lines or entries in
	// file order. A package may be listed several times under markers
	// that never apply together (Check refuses two at once), as uv pip
	// compile --universal and PEP 751 locks do.
	Requirements []Requirement
	// Notes are remarks a person may want to read (keys of a newer
	// pylock.toml format this code ignores); the builder logs them.
	Notes []string
	// Index holds the index options of a requirements file and its
	// includes (--index-url, --extra-index-url, --find-links, --no-index):
	// where to look for the files, which the build uses where its command
	// line gives none. They are not part of the key.
	Index IndexOptions
	// Includes are the files the lock includes (-r, -c), as read from
	// disk, in the order read.
	Includes []string

	pylock *pylockChecks // what Check evaluates; nil for a requirements file
	// constraints are the -c lines of a requirements file, by package.
	constraints map[string][]Requirement
}

// ReadFile reads and parses the lock file at path, in the format its name
// gives (see Parse), with the default selection of a pylock.toml.
func ReadFile(path string) (*Lock, error) { return ReadFileSelected(path, Selection{}) }

// Parse parses a lock file's contents. The format comes from name's last
// element: pylock.toml or pylock.NAME.toml is a PEP 751 lock (read with
// the default Selection: its default-groups, no extras), any other .toml
// name is refused, and anything else is a pip requirements file. The first
// problem found is returned as an *Error naming name and the line.
func Parse(name string, data []byte) (*Lock, error) { return ParseSelected(name, data, Selection{}) }

// readRequirementsFile parses one requirements file of r's lock: the lock
// itself, or a file it includes, named name in messages and read from
// path ("" when there is no file system). constraint says it is a -c
// file, whose requirement lines constrain rather than add.
func (r *includer) readRequirementsFile(name, path string, data []byte, constraint bool) error {
	if isUTF16(data) {
		return &Error{File: name, Line: 1,
			Err: errors.New("the lock is UTF-16; save it as UTF-8 (pip-compile and uv write UTF-8)")}
	}
	if line, col, ok := findNUL(data); ok {
		return &Error{File: name, Line: line,
			Err: fmt.Errorf("NUL byte at line %d column %d: a lock is text, and this file is damaged or not a lock", line, col)}
	}
	for _, ll := range logicalLines(string(data)) {
		if opts, isOption, err := parseOptionLine(ll.text); isOption {
			if err == nil {
				err = r.options(name, path, ll.line, opts)
			}
			if err != nil {
				return &Error{File: name, Line: ll.line, Err: err}
			}
			continue
		}
		parse := parseLine
		if constraint {
			parse = parseConstraintLine
		}
		req, err := parse(ll.text)
		if err != nil {
			return &Error{File: name, Line: ll.line, Err: err}
		}
		if req == nil {
			continue
		}
		req.Line, req.File = ll.line, name
		r.add(*req, constraint)
	}
	return nil
}

// sortRequirements sorts requirements by name, keeping a package's lines
// in the order they were read.
func sortRequirements(reqs []Requirement) {
	slices.SortStableFunc(reqs, func(a, b Requirement) int { return cmp.Compare(a.Name, b.Name) })
}

// utf16Sample is how much of the start of a file isUTF16 looks at:
// enough characters to see the pattern, few enough to be instant.
const utf16Sample = 512

// isUTF16 reports whether data is UTF-16 encoded: it starts with a UTF-16
// byte order mark (PowerShell's > writes FF FE), or, without one, its
// first bytes hold NULs at every other position, which is what ASCII text
// (package names, versions, hashes) looks like in UTF-16. Read as UTF-8,
// such a file fails on its first name with an error that does not say
// what is wrong. A stray NUL elsewhere in UTF-8 text is not UTF-16 (see
// findNUL).
func isUTF16(data []byte) bool {
	if bytes.HasPrefix(data, []byte{0xff, 0xfe}) || bytes.HasPrefix(data, []byte{0xfe, 0xff}) {
		return true
	}
	sample := data[:min(len(data), utf16Sample)&^1]
	if len(sample) < 4 {
		return false
	}
	// Count the NULs at even and at odd offsets. UTF-16LE text that is
	// mostly ASCII has them at odd offsets, UTF-16BE at even ones; UTF-8
	// text has none, or a few anywhere.
	var even, odd int
	for i := 0; i < len(sample); i += 2 {
		if sample[i] == 0 {
			even++
		}
		if sample[i+1] == 0 {
			odd++
		}
	}
	pairs := len(sample) / 2
	return (odd*4 >= pairs*3 && even*4 < pairs) || (even*4 >= pairs*3 && odd*4 < pairs)
}

// findNUL returns the line and column (1-based, in characters) of the
// first NUL byte in data, if there is one.
func findNUL(data []byte) (line, col int, ok bool) {
	i := bytes.IndexByte(data, 0)
	if i < 0 {
		return 0, 0, false
	}
	before := data[:i]
	start := bytes.LastIndexByte(before, '\n') + 1
	return bytes.Count(before, []byte{'\n'}) + 1, utf8.RuneCount(before[start:]) + 1, true
}

// logicalLine is one requirement or option line after backslash
// continuations are joined; line is its first physical line.
type logicalLine struct {
	line int
	text string
}

// logicalLines joins backslash continuations the way pip does, with two
// leniencies that cannot change a lock's meaning: whitespace after the
// backslash is ignored, and the joined pieces are separated by a space so
// "numpy==1.0\" followed by "--hash=..." still splits into two tokens.
// As in pip, a comment line or a line without a trailing backslash ends
// the continuation, and comments are stripped after joining.
func logicalLines(s string) []logicalLine {
	s = strings.TrimPrefix(s, "\ufeff")
	var (
		out   []logicalLine
		parts []string
		start int
	)
	flush := func() {
		if parts != nil {
			out = append(out, logicalLine{line: start, text: stripComment(strings.Join(parts, " "))})
			parts = nil
		}
	}
	for i, raw := range strings.Split(s, "\n") {
		line := strings.TrimRightFunc(raw, unicode.IsSpace)
		if strings.HasPrefix(strings.TrimLeftFunc(line, unicode.IsSpace), "#") {
			flush()
			continue
		}
		body, more := strings.CutSuffix(line, `\`)
		if parts == nil {
			start = i + 1
		}
		parts = append(parts, body)
		if !more {
			flush()
		}
	}
	flush()
	return out
}

// stripComment cuts s at the first '#' that starts the line or follows
// whitespace, as pip does; a '#' inside a token (a URL fragment) stays.
func stripComment(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] == '#' && (i == 0 || isSpace(s[i-1])) {
			return s[:i]
		}
	}
	return s
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f'
}

// parseLine parses one logical line that is not an option line. It
// returns nil, nil for a blank line.
func parseLine(text string) (*Requirement, error) {
	req, err := parsePinned(text)
	if req == nil || err != nil {
		return nil, err
	}
	if len(req.Hashes) == 0 {
		return nil, fmt.Errorf("%s==%s has no --hash=sha256: every requirement needs the digests of its files (pip-compile --generate-hashes, uv pip compile --generate-hashes)", req.Spelled, clip.String(req.Version))
	}
	return req, nil
}

// parsePinned parses NAME==VERSION[; MARKER] and its --hash options, if
// any; nil, nil for a blank line.
func parsePinned(text string) (*Requirement, error) {
	text = strings.TrimSpace(text)
	if text == "" {
		return nil, nil
	}
	reqText, optText := splitOptions(text)
	req, err := parseRequirement(reqText)
	if err != nil {
		return nil, err
	}
	if req.Hashes, err = parseHashes(optText); err != nil {
		return nil, err
	}
	return req, nil
}

// splitOptions splits a requirement line where its options begin: at the
// first token that starts with '-' outside a quoted marker string.
func splitOptions(s string) (req, opts string) {
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '-' && i > 0 && isSpace(s[i-1]):
			return strings.TrimSpace(s[:i]), s[i:]
		}
	}
	return s, ""
}

// parseHashes reads the options of a requirement line, where only --hash
// is allowed, and returns the sorted, de-duplicated sha256 digests.
func parseHashes(opts string) ([]string, error) {
	fields := strings.Fields(opts)
	var hashes []string
	for i := 0; i < len(fields); i++ {
		f := fields[i]
		var val string
		switch {
		case strings.HasPrefix(f, "--hash="):
			val = strings.TrimPrefix(f, "--hash=")
		case f == "--hash":
			if i+1 == len(fields) {
				return nil, fmt.Errorf("--hash needs a value: --hash=sha256:HEX")
			}
			i++
			val = fields[i]
		default:
			name, _, _ := strings.Cut(f, "=")
			return nil, fmt.Errorf("option %s is not supported on a requirement line: only --hash=sha256:HEX is", clip.String(name))
		}
		h, err := parseHash(val)
		if err != nil {
			return nil, err
		}
		hashes = append(hashes, h)
	}
	slices.Sort(hashes)
	return slices.Compact(hashes), nil
}

// parseHash checks one --hash value and returns its lowercase hex digest.
// Only sha256 is accepted: it is what PyPI publishes and what the cache
// and the key are addressed by.
func parseHash(val string) (string, error) {
	algo, hex, ok := strings.Cut(val, ":")
	if !ok {
		return "", fmt.Errorf("--hash=%s: want --hash=sha256:HEX", clip.String(val))
	}
	if !strings.EqualFold(algo, "sha256") {
		return "", fmt.Errorf("--hash=%s: only sha256 hashes are supported, not %s", clip.String(val), clip.String(algo))
	}
	if len(hex) != 64 || strings.IndexFunc(hex, func(r rune) bool { return !isHexDigit(r) }) >= 0 {
		return "", fmt.Errorf("--hash=%s: a sha256 digest is 64 hex digits", clip.String(val))
	}
	return strings.ToLower(hex), nil
}

func isHexDigit(r rune) bool {
	return '0' <= r && r <= '9' || 'a' <= r && r <= 'f' || 'A' <= r && r <= 'F'
}

// option is one option of an option line: its name as written (-r,
// --index-url) and its value, "" for a flag.
type option struct{ name, value string }

// parseOptionLine parses a line of pip options (one that starts with
// '-'); isOption is false for any other line. Options that only say what
// lambdapack does anyway are dropped; includes and index options are
// returned, for the reader to follow; options that would change what gets
// installed are refused.
func parseOptionLine(text string) (opts []option, isOption bool, err error) {
	text = strings.TrimSpace(text)
	if !strings.HasPrefix(text, "-") {
		return nil, false, nil
	}
	fields := strings.Fields(text)
	for i := 0; i < len(fields); i++ {
		f := fields[i]
		if !strings.HasPrefix(f, "-") {
			return nil, true, fmt.Errorf("unexpected %s: a lock line is NAME==VERSION --hash=sha256:HEX", clip.Quote(f))
		}
		name, val, hasVal := strings.Cut(f, "=")
		if !strings.HasPrefix(f, "--") && len(f) > 2 {
			// Short options may carry their value attached: -rbase.txt.
			name, val, hasVal = f[:2], f[2:], true
		}
		value := func() (string, error) {
			if hasVal {
				return val, nil
			}
			if i+1 < len(fields) {
				i++
				return fields[i], nil
			}
			return "", fmt.Errorf("%s needs a value", name)
		}
		switch name {
		case "-r", "--requirement", "-c", "--constraint",
			"-i", "--index-url", "--extra-index-url", "-f", "--find-links", "--trusted-host":
			v, err := value()
			if err != nil {
				return nil, true, err
			}
			opts = append(opts, option{name, v})
		case "--no-index":
			opts = append(opts, option{name: name})
		case "-e", "--editable":
			v, err := value()
			if err != nil {
				v = "PATH"
			}
			return nil, true, fmt.Errorf("%s %s: editable requirements are not supported: a layer is built only from pinned wheels (NAME==VERSION --hash=sha256:HEX)", name, clip.String(v))
		case "--no-binary":
			return nil, true, fmt.Errorf("--no-binary: lambdapack installs wheels only and never builds from source")
		case "--hash":
			return nil, true, fmt.Errorf("--hash with no requirement before it: is the backslash missing at the end of the line above?")
		case "--require-hashes", "--pre", "--prefer-binary":
			// What lambdapack does regardless (pins are exact, hashes required).
		case "--only-binary":
			value() // lambdapack uses only wheels anyway
		default:
			return nil, true, fmt.Errorf("option %s is not supported in a lock", clip.String(name))
		}
	}
	return opts, true, nil
}
