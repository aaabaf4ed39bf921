package lock

import (
	"cmp"
	"errors"
	"fmt"
	"net/url"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	toml "github.com/pelletier/go-toml/v2"

	"github.com/galerly/galerly-lambda/build/internal/clip"
	"github.com/galerly/galerly-lambda/build/internal/pep440"
	"github.com/galerly/galerly-lambda/build/internal/pyname"
	"github.com/galerly/galerly-lambda/build/internal/redact"
	"github.com/galerly/galerly-lambda/build/internal/regular"
	"github.com/galerly/galerly-lambda/build/wheel"
)

// Selection names the optional parts of a pylock.toml (PEP 751) to
// install: the values of the extras and dependency_groups marker
// variables. The zero Selection is the PEP's default install: no extras,
// and the lock's default-groups.
type Selection struct {
	Extras []string // extras to install, each one the lock declares in extras
	// Groups are dependency groups to install besides the default ones,
	// each one the lock declares in dependency-groups or default-groups.
	Groups []string
	// NoDefaultGroups leaves the lock's default-groups out, so only Groups
	// are installed.
	NoDefaultGroups bool
}

// IsZero reports whether s is the default install.
func (s Selection) IsZero() bool {
	return len(s.Extras) == 0 && len(s.Groups) == 0 && !s.NoDefaultGroups
}

// String describes s the way the command line spells it, for messages.
func (s Selection) String() string {
	var parts []string
	for _, e := range s.Extras {
		parts = append(parts, "--extra "+e)
	}
	for _, g := range s.Groups {
		parts = append(parts, "--group "+g)
	}
	if s.NoDefaultGroups {
		parts = append(parts, "--no-default-groups")
	}
	return strings.Join(parts, " ")
}

// WheelFile is one wheel file a pylock.toml names for a package.
type WheelFile struct {
	// Filename is the wheel's file name: the last segment of its url or
	// path when that is a wheel file name of the package, else its name.
	Filename string
	// URL is where to download the file (http, https or file), as written;
	// "" when the entry gives a path, or neither.
	URL string
	// Path is the file on disk as written: absolute, or relative to the
	// lock file's folder (LocalPath resolves it); "" when there is none.
	Path string
	// Size is the size in bytes the lock declares, or 0 when it gives none.
	Size   int64
	SHA256 string // lowercase hex
	Where  string // the entry's key path, e.g. "packages[3].wheels[1]"
	Line   int    // the entry's line in the lock
}

// LocalPath returns the file a path entry names, for the lock read from
// lockFile: PEP 751 makes a relative path relative to the lock's folder.
func (w WheelFile) LocalPath(lockFile string) string {
	p := filepath.FromSlash(w.Path)
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(filepath.Dir(lockFile), p)
}

// lockFormat is how a lock file is read, decided by its name.
type lockFormat int

const (
	requirementsFormat lockFormat = iota
	pylockFormat
)

// pylockName is what PEP 751 allows a lock file to be called besides
// pylock.toml: pylock.NAME.toml, NAME without dots.
var pylockName = regexp.MustCompile(`^pylock\.[^.]+\.toml$`)

// IsPylockName reports whether the lock at path is read as a pylock.toml:
// its last element is pylock.toml or pylock.NAME.toml (PEP 751).
func IsPylockName(path string) bool {
	f, err := formatOf(path)
	return err == nil && f == pylockFormat
}

// formatOf decides the format of the lock named name (a path) by its base
// name, refusing a TOML file PEP 751 would not call a lock.
func formatOf(name string) (lockFormat, error) {
	base := name[strings.LastIndexAny(name, `/\`)+1:]
	switch {
	case base == "pylock.toml" || pylockName.MatchString(base):
		return pylockFormat, nil
	case strings.HasSuffix(strings.ToLower(base), ".toml"):
		return 0, fmt.Errorf("lock %s: a TOML lock must be named pylock.toml or pylock.NAME.toml, in lower case with no dot in NAME (PEP 751); any other name is read as a pip requirements file", clip.String(name))
	}
	return requirementsFormat, nil
}

// MaxFileBytes is the largest lock file read: a lock of a thousand
// packages with a dozen hashes each is about 2 MB.
const MaxFileBytes = 16 << 20

// ReadFileSelected reads the lock at path, a pip requirements file or a
// pylock.toml (chosen by the file name, see Parse), installing the extras
// and dependency groups sel names.
func ReadFileSelected(path string, sel Selection) (*Lock, error) {
	if _, err := formatOf(path); err != nil {
		return nil, err
	}
	data, err := ReadData(path)
	if err != nil {
		return nil, fmt.Errorf("read lock: %w", err)
	}
	return parseSelected(path, data, sel, newFileIncluder(path, ""))
}

// ReadData reads the bytes of the lock file at path as every reader of a
// lock does, the CLI's and the Pulumi program's: a lock path may name a
// FIFO or a device, refused unopened (a *regular.NotRegularError), and a
// regular file is read only up to MaxFileBytes, a size no real lock comes
// near.
func ReadData(path string) ([]byte, error) { return regular.ReadFile(path, MaxFileBytes) }

// ParseInProject parses the lock whose contents are data (ReadData),
// named name: a slash-separated path relative to the project folder root,
// which is how messages name it. The files a requirements lock includes
// are read relative to it and must be inside root. It is how the Pulumi
// program reads its locks.
func ParseInProject(root, name string, data []byte, sel Selection) (*Lock, error) {
	return parseSelected(name, data, sel, newFileIncluder(filepath.Join(root, filepath.FromSlash(name)), root))
}

// ParseSelected parses a lock's contents as Parse does, installing the
// extras and dependency groups sel names. A selection other than the
// default is refused for a requirements file, which has no extras or
// groups to choose from. With no file system, a requirements file's
// includes are refused.
func ParseSelected(name string, data []byte, sel Selection) (*Lock, error) {
	return parseSelected(name, data, sel, &includer{})
}

// parseSelected is ParseSelected with inc to read includes with.
func parseSelected(name string, data []byte, sel Selection, inc *includer) (*Lock, error) {
	format, err := formatOf(name)
	if err != nil {
		return nil, err
	}
	if format == pylockFormat {
		return parsePylock(name, data, sel)
	}
	if !sel.IsZero() {
		return nil, fmt.Errorf("lock %s: %s: extras and dependency groups are chosen in a pylock.toml only; a requirements file lists exactly what it installs", clip.String(name), clip.String(sel.String()))
	}
	return inc.readRequirements(name, data)
}

// pylockChecks is what a pylock.toml says that depends on the target, kept
// for Check: PEP 751 makes a lock that does not fit the environment, or a
// package that applies but cannot be installed, an error.
type pylockChecks struct {
	environments     []*Marker
	environmentsText []string
	environmentsLine int
	requiresPython   *Marker
	requiresText     string
	requiresLine     int
	entries          []pylockEntry // every [[packages]] entry, in file order
}

// pylockEntry is one [[packages]] entry as Check sees it.
type pylockEntry struct {
	name, spelled, where string
	version              string // "" when the entry has none
	line                 int
	marker               *Marker // bound to the selection
	requiresPython       *Marker
	requiresText         string
	// problem says why the entry cannot be installed (no wheels, a wheel
	// without a sha256, ...); it is an error only when the entry applies.
	problem error
}

// pylockParser holds what parsing one pylock.toml needs.
type pylockParser struct {
	file  string
	lines tomlLines
	notes []string
}

// Known keys of PEP 751's pylock.toml 1.0, per table.
var (
	topKeys     = []string{"lock-version", "environments", "requires-python", "extras", "dependency-groups", "default-groups", "created-by", "packages", "tool"}
	packageKeys = []string{"name", "version", "marker", "requires-python", "dependencies", "vcs", "directory", "archive", "index", "sdist", "wheels", "attestation-identities", "tool"}
	fileKeys    = []string{"name", "upload-time", "url", "path", "size", "hashes"}
)

// parsePylock parses a pylock.toml (PEP 751). Problems with the file's
// form are returned at once as an *Error naming the line and key path;
// problems with a package that only matter if it is installed (no wheel,
// no sha256) are kept for Check. Lines are 1-based; the indexes of a key
// path are 0-based ("packages[0]" is the first package).
func parsePylock(name string, data []byte, sel Selection) (*Lock, error) {
	if isUTF16(data) {
		return nil, &Error{File: name, Line: 1, Err: errors.New("the lock is UTF-16; save it as UTF-8 (TOML is UTF-8)")}
	}
	if line, col, ok := findNUL(data); ok {
		// TOML forbids a raw NUL; the decoder's own message would not say
		// what or where it is.
		return nil, &Error{File: name, Line: line,
			Err: fmt.Errorf("NUL byte at line %d column %d: a lock is text, and this file is damaged or not a lock", line, col)}
	}
	data = []byte(strings.TrimPrefix(string(data), "\ufeff"))
	var doc map[string]any
	if err := toml.Unmarshal(data, &doc); err != nil {
		if line, ok := requirementsText(data); ok {
			return nil, &Error{File: name, Line: line, Err: errors.New(requirementsAsPylock)}
		}
		line := 1
		var de *toml.DecodeError
		if errors.As(err, &de) {
			line, _ = de.Position()
		}
		return nil, &Error{File: name, Line: max(line, 1), Err: fmt.Errorf("not valid TOML: %s", clip.String(strings.TrimPrefix(err.Error(), "toml: ")))}
	}
	p := &pylockParser{file: name, lines: indexLines(data)}
	l := &Lock{File: name, pylock: &pylockChecks{}}
	if err := p.header(doc, l.pylock); err != nil {
		return nil, err
	}
	sets, err := p.selection(doc, sel)
	if err != nil {
		return nil, err
	}
	packages, _, err := p.tables(doc, "", "packages", true)
	if err != nil {
		return nil, err
	}
	for i, pkg := range packages {
		req, entry, err := p.pkg(pkg, fmt.Sprintf("packages[%d]", i), sets)
		if err != nil {
			return nil, err
		}
		l.pylock.entries = append(l.pylock.entries, entry)
		if req != nil {
			l.Requirements = append(l.Requirements, *req)
		}
	}
	slices.SortStableFunc(l.Requirements, func(a, b Requirement) int { return cmp.Compare(a.Name, b.Name) })
	l.Notes = p.notes
	return l, nil
}

// fail returns the problem at key path where, as FILE:LINE: PATH: message.
func (p *pylockParser) fail(where, format string, args ...any) *Error {
	return &Error{File: p.file, Line: p.lines.line(where), Err: fmt.Errorf("%s: %s", clip.String(where), fmt.Sprintf(format, clip.Args(args)...))}
}

// clippedErrorf is fmt.Errorf with every string argument clipped.
func clippedErrorf(format string, args ...any) error {
	return fmt.Errorf(format, clip.Args(args)...)
}

// note records a remark about the key at where, for the build log.
func (p *pylockParser) note(where, format string, args ...any) {
	p.notes = append(p.notes, fmt.Sprintf("%s:%d: %s: %s", clip.String(p.file), p.lines.line(where), clip.String(where), fmt.Sprintf(format, clip.Args(args)...)))
}

// unknownKeys notes the keys of t at where that PEP 751 does not define:
// a newer minor lock-version may add keys, and PEP 751 asks installers to
// warn about them rather than fail.
func (p *pylockParser) unknownKeys(t map[string]any, where string, known []string) {
	var unknown []string
	for k := range t {
		if !slices.Contains(known, k) {
			unknown = append(unknown, k)
		}
	}
	slices.Sort(unknown)
	for _, k := range unknown {
		p.note(join(where, k), "not a key of pylock.toml 1.0 (PEP 751); ignored")
	}
}

// header reads the lock's top-level keys.
func (p *pylockParser) header(doc map[string]any, c *pylockChecks) error {
	v, ok, err := p.str(doc, "", "lock-version")
	if err != nil {
		return err
	}
	if !ok {
		return p.fail("lock-version", "missing: a pylock.toml starts with lock-version = \"1.0\" (PEP 751)")
	}
	if err := p.lockVersion(v); err != nil {
		return err
	}
	p.unknownKeys(doc, "", topKeys)
	if _, _, err := p.str(doc, "", "created-by"); err != nil {
		return err
	}
	envs, _, err := p.strList(doc, "", "environments")
	if err != nil {
		return err
	}
	for i, e := range envs {
		m, err := parseMarker(e, false)
		if err != nil {
			return p.fail(fmt.Sprintf("environments[%d]", i), "marker %q: %v", e, err)
		}
		c.environments = append(c.environments, m)
	}
	c.environmentsText, c.environmentsLine = envs, p.lines.line("environments")
	if rp, ok, err := p.str(doc, "", "requires-python"); err != nil {
		return err
	} else if ok {
		m, err := requiresPythonMarker(rp)
		if err != nil {
			return p.fail("requires-python", "%v", err)
		}
		c.requiresPython, c.requiresText, c.requiresLine = m, rp, p.lines.line("requires-python")
	}
	if _, _, err := p.table(doc, "", "tool"); err != nil {
		return err
	}
	return nil
}

// lockVersion accepts the lock-version PEP 751 defines, 1.0, and later
// 1.x versions (with a note, as PEP 751 asks), and refuses any other major
// version, which may change what a key means.
func (p *pylockParser) lockVersion(s string) error {
	v, err := pep440.Parse(s)
	if err != nil {
		return p.fail("lock-version", "%q is not a version", s)
	}
	one, _ := pep440.Parse("1")
	two, _ := pep440.Parse("2")
	switch {
	case v.Compare(two) >= 0:
		return p.fail("lock-version", "%q: this lambdapack reads pylock.toml format 1 (PEP 751), and the lock is written in a newer major format it cannot read correctly; upgrade lambdapack, or export the lock with a tool that writes lock-version \"1.0\"", s)
	case v.Compare(one) < 0:
		return p.fail("lock-version", "%q: PEP 751 defines format 1.0; this is not a version of it", s)
	case v.Compare(one) > 0:
		p.note("lock-version", "%q is newer than 1.0, which this lambdapack knows; it reads the lock as 1.0 and notes the keys it does not know (PEP 751)", s)
	}
	return nil
}

// selection checks sel against the extras and groups the lock declares,
// and returns the marker sets it gives.
func (p *pylockParser) selection(doc map[string]any, sel Selection) (*markerSets, error) {
	declared := func(key string) ([]string, error) {
		names, _, err := p.strList(doc, "", key)
		if err != nil {
			return nil, err
		}
		for i, n := range names {
			if !pyname.Valid(n) {
				return nil, p.fail(fmt.Sprintf("%s[%d]", key, i), "%q is not a valid name", n)
			}
		}
		return names, nil
	}
	extras, err := declared("extras")
	if err != nil {
		return nil, err
	}
	groups, err := declared("dependency-groups")
	if err != nil {
		return nil, err
	}
	defaults, err := declared("default-groups")
	if err != nil {
		return nil, err
	}
	normalized := func(names []string) map[string]bool {
		m := map[string]bool{}
		for _, n := range names {
			m[pyname.Normalize(n)] = true
		}
		return m
	}
	sets := &markerSets{extras: map[string]bool{}, groups: map[string]bool{}}
	okExtras := normalized(extras)
	for _, e := range sel.Extras {
		if !okExtras[pyname.Normalize(e)] {
			return nil, p.fail("extras", "%q is not an extra this lock declares (it declares %s)", e, listOrNone(extras))
		}
		sets.extras[pyname.Normalize(e)] = true
	}
	okGroups := normalized(append(slices.Clone(groups), defaults...))
	for _, g := range sel.Groups {
		if !okGroups[pyname.Normalize(g)] {
			return nil, p.fail("dependency-groups", "%q is not a dependency group this lock declares (dependency-groups: %s; default-groups: %s)", g, listOrNone(groups), listOrNone(defaults))
		}
		sets.groups[pyname.Normalize(g)] = true
	}
	if !sel.NoDefaultGroups {
		for _, g := range defaults {
			sets.groups[pyname.Normalize(g)] = true
		}
	}
	return sets, nil
}

func listOrNone(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// pkg reads one [[packages]] entry. It returns the requirement to install
// when the entry is installable (nil when it is not: entry.problem says
// why), and an error only for a malformed entry.
func (p *pylockParser) pkg(t map[string]any, where string, sets *markerSets) (*Requirement, pylockEntry, error) {
	p.unknownKeys(t, where, packageKeys)
	e := pylockEntry{where: where, line: p.lines.line(where)}
	spelled, ok, err := p.str(t, where, "name")
	if err != nil {
		return nil, e, err
	}
	if !ok {
		return nil, e, p.fail(where, "no name: every package entry names its package")
	}
	if !pyname.Valid(spelled) {
		return nil, e, p.fail(join(where, "name"), "%q is not a valid package name", spelled)
	}
	e.spelled, e.name = spelled, NormalizeName(spelled)
	version, hasVersion, err := p.str(t, where, "version")
	if err != nil {
		return nil, e, err
	}
	if hasVersion && !isVersion(version) {
		return nil, e, p.fail(join(where, "version"), "%q is not a valid version (PEP 440)", version)
	}
	e.version = version
	if text, ok, err := p.str(t, where, "marker"); err != nil {
		return nil, e, err
	} else if ok {
		m, err := parseMarker(text, true)
		if err != nil {
			return nil, e, p.fail(join(where, "marker"), "%s: %q: %v", spelled, text, err)
		}
		e.marker = m.withSets(sets)
	}
	if text, ok, err := p.str(t, where, "requires-python"); err != nil {
		return nil, e, err
	} else if ok {
		m, err := requiresPythonMarker(text)
		if err != nil {
			return nil, e, p.fail(join(where, "requires-python"), "%s: %v", spelled, err)
		}
		e.requiresPython, e.requiresText = m, text
	}
	index, _, err := p.str(t, where, "index")
	if err != nil {
		return nil, e, err
	}
	for _, key := range []string{"dependencies", "attestation-identities"} {
		if _, _, err := p.tables(t, where, key, false); err != nil {
			return nil, e, err
		}
	}
	if _, _, err := p.table(t, where, "tool"); err != nil {
		return nil, e, err
	}

	// The sources. PEP 751 makes vcs, directory and archive exclusive of
	// each other and of sdist and wheels.
	var sources []string
	for _, key := range []string{"vcs", "directory", "archive"} {
		if _, ok, err := p.table(t, where, key); err != nil {
			return nil, e, err
		} else if ok {
			sources = append(sources, key)
		}
	}
	sdist, hasSdist, err := p.table(t, where, "sdist")
	if err != nil {
		return nil, e, err
	}
	wheels, hasWheels, err := p.tables(t, where, "wheels", false)
	if err != nil {
		return nil, e, err
	}
	if len(sources) > 1 || (len(sources) == 1 && (hasSdist || hasWheels)) {
		if hasWheels {
			sources = append(sources, "wheels")
		}
		if hasSdist {
			sources = append(sources, "sdist")
		}
		return nil, e, p.fail(where, "%s has both %s: PEP 751 allows only one of vcs, directory and archive, and neither beside sdist or wheels", spelled, strings.Join(sources, " and "))
	}

	var sdistSum string
	if hasSdist {
		p.unknownKeys(sdist, join(where, "sdist"), fileKeys)
		if sdistSum, err = p.fileFields(sdist, join(where, "sdist")); err != nil {
			return nil, e, err
		}
	}
	files := make([]WheelFile, 0, len(wheels))
	var wheelProblem error // the first wheel that cannot be used
	for i, w := range wheels {
		wf, problem, err := p.wheelFile(w, fmt.Sprintf("%s.wheels[%d]", where, i), e, version, index)
		if err != nil {
			return nil, e, err
		}
		if wheelProblem == nil {
			wheelProblem = problem
		}
		files = append(files, wf)
	}

	// Whether it can be installed: decided here, reported by Check only
	// for a target the entry applies to (a lock may hold, say, a
	// Windows-only package that is an sdist).
	switch {
	case len(sources) == 1:
		e.problem = p.sourceProblem(t, where, spelled, sources[0])
	case !hasWheels || len(wheels) == 0:
		what := "no wheels and no source"
		if hasSdist {
			what = "only a source distribution (sdist)"
		}
		e.problem = p.fail(where, "%s has %s: lambdapack installs wheels only and never builds from source; lock it with wheels (uv: --only-binary :all:, pip: --only-binary :all:)", spelled, what)
	case !hasVersion:
		e.problem = p.fail(where, "%s has no version: a package installed from wheels must pin its version", spelled)
	case wheelProblem != nil:
		e.problem = wheelProblem
	default:
		e.problem = p.sameNameSameFile(files)
	}
	if e.problem != nil {
		return nil, e, nil
	}
	req := &Requirement{
		Name:    e.name,
		Spelled: clip.String(spelled),
		Version: version,
		Marker:  e.marker,
		Line:    e.line,
		File:    p.file,
		Index:   index,
		Wheels:  dedupeWheels(files),
	}
	for _, w := range req.Wheels {
		req.Hashes = append(req.Hashes, w.SHA256)
	}
	if sdistSum != "" {
		// The sdist's digest is in the key, as a requirements file lists
		// it, so exporting one resolution in either format gives one key.
		req.Hashes = append(req.Hashes, sdistSum)
	}
	slices.Sort(req.Hashes)
	req.Hashes = slices.Compact(req.Hashes)
	return req, e, nil
}

// sourceProblem explains why a vcs, directory or archive package cannot be
// installed.
func (p *pylockParser) sourceProblem(t map[string]any, where, name, kind string) error {
	src, _, _ := p.table(t, where, kind) // read once already
	desc := ""
	if s, ok := src["url"].(string); ok {
		desc = " " + redact.URL(s) // a vcs url may carry a token
	} else if s, ok := src["path"].(string); ok {
		desc = " " + s
	}
	hint := map[string]string{
		"vcs":       "build a wheel, publish it to an index or a --find-links folder, and lock that",
		"directory": "a project's own folder is not a dependency to pack: export without it (uv export --no-emit-project, or --no-emit-workspace) and ship its code as the function's source",
		"archive":   "lock the package by name and version from an index, so the lock lists its wheels",
	}[kind]
	article := "a"
	if kind == "archive" {
		article = "an"
	}
	return p.fail(join(where, kind), "%s comes from %s %s source%s: lambdapack installs wheels only; %s", name, article, kind, desc, hint)
}

// fileFields checks the url, path, size and hashes of an sdist or wheel
// entry's table and returns its sha256 digest, or "" when it has none
// (whether that is allowed is the caller's call).
func (p *pylockParser) fileFields(t map[string]any, where string) (string, error) {
	for _, k := range []string{"name", "url", "path"} {
		if _, _, err := p.str(t, where, k); err != nil {
			return "", err
		}
	}
	if size, ok, err := p.integer(t, where, "size"); err != nil {
		return "", err
	} else if ok && size <= 0 {
		return "", p.fail(join(where, "size"), "%d: a file's size is a positive number of bytes", size)
	}
	hashes, ok, err := p.table(t, where, "hashes")
	if err != nil || !ok {
		return "", err
	}
	hw := join(where, "hashes")
	var sum string
	for _, algo := range slices.Sorted(mapKeys(hashes)) {
		v, ok := hashes[algo].(string)
		if !ok {
			return "", p.fail(join(hw, algo), "want a string digest, found %s", typeName(hashes[algo]))
		}
		if strings.EqualFold(algo, "sha256") {
			if len(v) != 64 || strings.IndexFunc(v, func(r rune) bool { return !isHexDigit(r) }) >= 0 {
				return "", p.fail(join(hw, algo), "%q is not a sha256 digest (64 hex digits)", v)
			}
			sum = strings.ToLower(v)
		}
	}
	return sum, nil
}

// wheelFile reads one [[packages.wheels]] entry. A malformed entry is an
// error; an entry that cannot be used (no sha256, not a wheel of the
// package, nowhere to get it from) is returned as problem, an error only
// if the package applies.
func (p *pylockParser) wheelFile(t map[string]any, where string, e pylockEntry, version, index string) (w WheelFile, problem, err error) {
	p.unknownKeys(t, where, fileKeys)
	sum, err := p.fileFields(t, where)
	if err != nil {
		return WheelFile{}, nil, err
	}
	w = WheelFile{SHA256: sum, Where: where, Line: p.lines.line(where)}
	w.URL, _ = t["url"].(string)
	w.Path, _ = t["path"].(string)
	w.Size, _ = t["size"].(int64)
	w.Filename, _ = t["name"].(string)
	hashes, ok := t["hashes"].(map[string]any)
	switch {
	case !ok:
		return w, p.fail(where, "%s %s: no hashes: every wheel needs its sha256 digest (hashes = { sha256 = \"...\" })", e.spelled, version), nil
	case sum == "":
		algos := "none"
		if len(hashes) > 0 {
			algos = strings.Join(slices.Sorted(mapKeys(hashes)), ", ")
		}
		return w, p.fail(join(where, "hashes"), "%s %s: no sha256 digest (it has %s): lambdapack verifies and caches files by sha256 only; lock again with sha256 hashes", e.spelled, version, algos), nil
	}
	// PEP 751 prefers the path; a url beside it says where the file came
	// from, and is not used.
	if w.Path == "" && w.URL != "" && !fetchableURL(w.URL) {
		return w, p.fail(join(where, "url"), "%q: want an http:// or https:// URL, or file:///ABSOLUTE/PATH (use path for a file beside the lock)", redact.URL(w.URL)), nil
	}
	if problem := p.settleFilename(&w, e, version); problem != nil {
		return w, problem, nil
	}
	if w.Path == "" && w.URL == "" && index == "" {
		return w, p.fail(where, "%s: no url or path, and the package names no index to find the file on", w.Filename), nil
	}
	return w, nil, nil
}

// fetchableURL reports whether raw is a URL the builder downloads from:
// http(s) with a host, or a file URL of an absolute path on this machine.
func fetchableURL(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil || u.Opaque != "" {
		return false
	}
	switch u.Scheme {
	case "http", "https":
		return u.Host != ""
	case "file":
		return (u.Host == "" || u.Host == "localhost") && strings.HasPrefix(u.Path, "/")
	}
	return false
}

// sameNameSameFile refuses two entries of one file name with different
// sha256 digests: which one is meant cannot be told.
func (p *pylockParser) sameNameSameFile(files []WheelFile) error {
	byName := map[string]string{}
	for _, w := range files {
		if prev, dup := byName[w.Filename]; dup && prev != w.SHA256 {
			return p.fail(w.Where, "%s is listed twice with different sha256 digests (%s and %s)", w.Filename, prev, w.SHA256)
		}
		byName[w.Filename] = w.SHA256
	}
	return nil
}

// settleFilename sets w.Filename to the wheel's file name and checks that
// it is a wheel of the package at version. PEP 751 lets name be left out
// when the last segment of the url or path is the file name; uv writes a
// normalized name beside a url whose file name keeps its spelling, so the
// url's or path's segment is preferred when it is a wheel of the package,
// and a given name must then name the same wheel.
func (p *pylockParser) settleFilename(w *WheelFile, e pylockEntry, version string) error {
	given := w.Filename
	segment := ""
	switch {
	case w.Path != "":
		segment = path.Base(strings.ReplaceAll(w.Path, `\`, "/"))
	case w.URL != "":
		if u, err := url.Parse(w.URL); err == nil {
			segment = path.Base(u.Path)
		}
	}
	ofPackage := func(s string) (wheel.Filename, error) {
		fn, err := wheel.ParseFilename(s)
		if err != nil {
			return fn, err
		}
		if fn.Name != e.name || !fn.IsVersion(version) {
			return fn, clippedErrorf("%s is a wheel of %s %s, not of %s %s", s, fn.Name, fn.Version, e.spelled, version)
		}
		return fn, nil
	}
	var nameFn wheel.Filename
	if given != "" {
		fn, err := ofPackage(given)
		if err != nil {
			return p.fail(join(w.Where, "name"), "%v", err)
		}
		nameFn = fn
	}
	if segment != "" && segment != "." && segment != "/" {
		fn, err := ofPackage(segment)
		switch {
		case err == nil && given != "" && fn.Tag() != nameFn.Tag():
			return p.fail(w.Where, "name %s and the file %s are different wheels", given, segment)
		case err == nil:
			w.Filename = segment
			return nil
		case given == "":
			key := "url"
			if w.Path != "" {
				key = "path"
			}
			return p.fail(join(w.Where, key), "%v (give the file name in name when the %s does not end in it)", err, key)
		}
	}
	if given == "" {
		return p.fail(w.Where, "no name, url or path: PEP 751 names a wheel by one of them")
	}
	return nil
}

// dedupeWheels drops repeated entries of one file (same name and sha256).
func dedupeWheels(files []WheelFile) []WheelFile {
	var out []WheelFile
	seen := map[string]bool{}
	for _, w := range files {
		k := w.Filename + " " + w.SHA256
		if !seen[k] {
			seen[k] = true
			out = append(out, w)
		}
	}
	return out
}
