package lock

import (
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/galerly/galerly-lambda/build/internal/clip"
	"github.com/galerly/galerly-lambda/build/internal/redact"
	"github.com/galerly/galerly-lambda/build/internal/regular"
)

// maxIncludedFiles bounds how many files one lock may include, directly
// or not, so a generated chain cannot make a preview read without end.
const maxIncludedFiles = 100

// projectMarkers are the files whose folder the CLI takes as the project
// folder, in two tiers: the nearest folder above the lock holding a
// Pulumi project file, which is the folder the Pulumi program reads the
// lock in, so a build accepts the includes its preview accepted; else the
// nearest holding one of the others.
var projectMarkers = [][]string{{"Pulumi.yaml", "Pulumi.yml"}, {"go.mod", "pyproject.toml", ".git"}}

// IndexOptions are the index options of a requirements lock, from the
// lock and the files it includes, each with the line that gave it. The
// values are as written: a URL may hold credentials, so show one with
// Option.Display.
type IndexOptions struct {
	IndexURL       *Option  // --index-url / -i; nil when no line gives one
	ExtraIndexURLs []Option // --extra-index-url, in the order given
	FindLinks      []Option // --find-links / -f, in the order given
	NoIndex        *Option  // --no-index; nil when no line gives it
}

// IsZero reports whether no line gave an index option.
func (o IndexOptions) IsZero() bool {
	return o.IndexURL == nil && len(o.ExtraIndexURLs) == 0 && len(o.FindLinks) == 0 && o.NoIndex == nil
}

// Option is one index option of a requirements file.
type Option struct {
	Name  string // as written: "--index-url", "-f", ...
	Value string // as written; "" for --no-index
	File  string // the file it is in, as messages name it
	Line  int
	// Dir is the folder of the file on disk, which a relative
	// --find-links path is relative to (as in pip); "" when the lock was
	// not read from disk.
	Dir string
}

// Where is the option's place, FILE:LINE.
func (o Option) Where() string { return fmt.Sprintf("%s:%d", o.File, o.Line) }

// Display is the option as a message may show it: name and value, with
// any credentials in the value left out.
func (o Option) Display() string {
	if o.Value == "" {
		return o.Name
	}
	return o.Name + " " + clip.String(redact.URL(o.Value))
}

// includer reads one requirements lock: the lock and every file it
// includes (-r, -c), as pip reads them, but only inside the project
// folder, so a build reads on every machine what its preview read.
type includer struct {
	lock *Lock
	// lockPath is the lock's file on disk; "" for Parse, which has only
	// the lock's bytes, so an include is refused.
	lockPath string
	// root is the project folder, absolute, and realRoot the same with
	// symlinks resolved; found by findRoot the first time an include
	// needs them.
	root, realRoot string
	rootDesc       string // how messages name the project folder
	findRoot       func() (string, error)
	reading        []string // real paths of the files being read, outermost first
	names          []string // their names, for a cycle's message
	read           map[string]bool
}

// newFileIncluder returns an includer for the lock read from lockPath.
// root is the project folder, or "" to take the nearest folder above the
// lock that holds one of projectMarkers (the lock's own folder when none
// does).
func newFileIncluder(lockPath, root string) *includer {
	r := &includer{lockPath: lockPath, read: map[string]bool{}}
	if root != "" {
		r.rootDesc = "the project folder"
		r.findRoot = func() (string, error) { return filepath.Abs(root) }
	} else {
		r.findRoot = func() (string, error) {
			dir, err := filepath.Abs(filepath.Dir(lockPath))
			if err != nil {
				return "", err
			}
			found := findProject(dir)
			r.rootDesc = fmt.Sprintf("the project folder %s (the nearest folder above the lock with %s; else with %s; else the lock's own folder)",
				found, strings.Join(projectMarkers[0], " or "), strings.Join(projectMarkers[1], ", "))
			return found, nil
		}
	}
	if real, err := filepath.EvalSymlinks(lockPath); err == nil {
		if abs, err := filepath.Abs(real); err == nil {
			r.read[abs] = true
			r.reading = []string{abs}
		}
	}
	return r
}

// findProject returns the nearest folder from dir upward holding a file
// of the first tier of projectMarkers, else of the second, else dir.
func findProject(dir string) string {
	for _, tier := range projectMarkers {
		for d := dir; ; d = filepath.Dir(d) {
			for _, m := range tier {
				if _, err := os.Lstat(filepath.Join(d, m)); err == nil {
					return d
				}
			}
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	return dir
}

// readRequirements reads a requirements lock named name whose bytes are
// data, read from r.lockPath, with its includes.
func (r *includer) readRequirements(name string, data []byte) (*Lock, error) {
	r.lock = &Lock{File: name}
	if len(r.reading) == 1 {
		r.names = []string{name}
	}
	if err := r.readRequirementsFile(name, r.lockPath, data, false); err != nil {
		return nil, err
	}
	sortRequirements(r.lock.Requirements)
	return r.lock, nil
}

// add records a requirement line, or a constraint line of a -c file.
func (r *includer) add(req Requirement, constraint bool) {
	if !constraint {
		r.lock.Requirements = append(r.lock.Requirements, req)
		return
	}
	if r.lock.constraints == nil {
		r.lock.constraints = map[string][]Requirement{}
	}
	r.lock.constraints[req.Name] = append(r.lock.constraints[req.Name], req)
}

// options follows the options of one line of the file name (read from
// path) at line.
func (r *includer) options(name, path string, line int, opts []option) error {
	ix := &r.lock.Index
	for _, o := range opts {
		opt := Option{Name: o.name, Value: o.value, File: name, Line: line}
		if path != "" {
			opt.Dir = filepath.Dir(path)
		}
		switch o.name {
		case "-r", "--requirement", "-c", "--constraint":
			if err := r.include(name, path, o); err != nil {
				return err
			}
		case "-i", "--index-url":
			if err := checkIndexValue(opt); err != nil {
				return err
			}
			if prev := ix.IndexURL; prev != nil && prev.Value != opt.Value {
				return fmt.Errorf("%s: %s already gives another index (%s): a lock may name one --index-url; list more with --extra-index-url", opt.Display(), prev.Where(), prev.Display())
			}
			ix.IndexURL = &opt
		case "--extra-index-url":
			if err := checkIndexValue(opt); err != nil {
				return err
			}
			if !slices.ContainsFunc(ix.ExtraIndexURLs, func(p Option) bool { return p.Value == opt.Value }) {
				ix.ExtraIndexURLs = append(ix.ExtraIndexURLs, opt)
			}
		case "-f", "--find-links":
			if err := checkFindLinksValue(opt); err != nil {
				return err
			}
			ix.FindLinks = append(ix.FindLinks, opt)
		case "--no-index":
			ix.NoIndex = &opt
		case "--trusted-host":
			r.lock.Notes = append(r.lock.Notes, fmt.Sprintf("%s: --trusted-host %s is not needed and not used: plain http:// indexes are allowed, every file is checked against the lock's sha256, and lambdapack never turns off TLS certificate checks",
				opt.Where(), clip.String(o.value)))
		}
	}
	return nil
}

// pipEnvVar is pip's ${NAME} in a requirements file's option values,
// expanded from the environment when the file is used (Expanded), so a
// token need not be written into the lock.
var pipEnvVar = regexp.MustCompile(`\$\{([A-Z0-9_]+)\}`)

// Expanded is the option's value with each ${NAME} replaced by the
// environment variable NAME, left as is when NAME is unset, as pip does.
func (o Option) Expanded() string {
	return pipEnvVar.ReplaceAllStringFunc(o.Value, func(m string) string {
		if v, ok := os.LookupEnv(m[2 : len(m)-1]); ok {
			return v
		}
		return m
	})
}

// checkIndexValue checks the URL of an --index-url or --extra-index-url
// line: absolute http(s). ${NAME} (pip's environment variables, say a
// token) is kept for the build to expand, so the lock reads the same
// everywhere; it is checked as if it were a plain word.
func checkIndexValue(o Option) error {
	u, err := url.Parse(pipEnvVar.ReplaceAllString(o.Value, "x"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%s: want an absolute http:// or https:// URL", o.Display())
	}
	return nil
}

// checkFindLinksValue checks a --find-links value: an http(s) or file URL,
// or a folder.
func checkFindLinksValue(o Option) error {
	if scheme, _, ok := strings.Cut(o.Value, "://"); ok {
		switch strings.ToLower(scheme) {
		case "http", "https", "file":
			return nil
		}
		return fmt.Errorf("%s: want a folder, or an http://, https:// or file:// URL", o.Display())
	}
	return nil
}

// include reads the file an -r or -c option of the file from (read from
// fromPath) names, relative to from's folder, refusing one outside the
// project folder, one that is not a regular file, and a cycle.
func (r *includer) include(from, fromPath string, o option) error {
	constraint := o.name == "-c" || o.name == "--constraint"
	what := o.name + " " + clip.String(o.value)
	if strings.Contains(o.value, "://") {
		return fmt.Errorf("%s: includes are read from files in the project folder, not from URLs: save the file beside the lock", what)
	}
	if fromPath == "" {
		return fmt.Errorf("%s: includes are read from the file system, and this lock was given as text: read it with its path (lambdapack --lock FILE, the program's layerLock)", what)
	}
	if r.root == "" {
		root, err := r.findRoot()
		var real string
		if err == nil {
			real, err = filepath.EvalSymlinks(root)
		}
		if err != nil {
			return fmt.Errorf("%s: the project folder: %w", what, err)
		}
		r.root, r.realRoot = root, real
	}
	p := filepath.FromSlash(o.value)
	name := o.value
	if !filepath.IsAbs(p) {
		p = filepath.Join(filepath.Dir(fromPath), p)
		name = path.Join(path.Dir(filepath.ToSlash(from)), filepath.ToSlash(o.value))
	}
	outside := func() error {
		return fmt.Errorf("%s: %s is outside %s: an include must stay inside it, so every machine reads the same files", what, name, r.rootDesc)
	}
	// Lexically first, so a path out is refused whether or not it exists
	// here; then with links resolved, so a link cannot lead out.
	if abs, err := filepath.Abs(p); err != nil || !inside(r.root, abs) {
		return outside()
	}
	real, err := filepath.EvalSymlinks(p)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s: %s does not exist (an include is relative to the file that names it)", what, name)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if real, err = filepath.Abs(real); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if !inside(r.realRoot, real) {
		return outside()
	}
	if i := slices.Index(r.reading, real); i >= 0 {
		return fmt.Errorf("%s: the includes form a cycle: %s -> %s", what, strings.Join(r.names[i:], " -> "), name)
	}
	if r.read[real] {
		return nil // read already, through another include: its lines are in
	}
	if len(r.read) > maxIncludedFiles {
		return fmt.Errorf("%s: more than %d included files: is an include generated in a loop?", what, maxIncludedFiles)
	}
	// As the lock itself is read: a FIFO or device is refused unopened,
	// a regular file read within the size bound.
	data, err := regular.ReadFile(real, MaxFileBytes)
	var (
		notRegular *regular.NotRegularError
		tooLarge   *regular.TooLargeError
	)
	switch {
	case errors.As(err, &notRegular):
		return fmt.Errorf("%s: %s is not a regular file (%s): an include is a requirements file", what, name, regular.Describe(notRegular.Mode))
	case errors.As(err, &tooLarge):
		return fmt.Errorf("%s: %s is %d bytes, more than the %d a lock may hold", what, name, tooLarge.Size, tooLarge.Limit)
	case err != nil:
		return fmt.Errorf("%s: %w", what, err)
	}
	r.read[real] = true
	r.lock.Includes = append(r.lock.Includes, p)
	r.reading, r.names = append(r.reading, real), append(r.names, name)
	defer func() { r.reading, r.names = r.reading[:len(r.reading)-1], r.names[:len(r.names)-1] }()
	return r.readRequirementsFile(name, p, data, constraint)
}

// parseConstraintLine parses a line of a -c file: NAME==VERSION, with or
// without --hash options and a marker. A constraint only narrows a
// requirement that another line makes (Check): the version it must have,
// and with hashes the files it may be installed from.
func parseConstraintLine(text string) (*Requirement, error) {
	req, err := parsePinned(text)
	if err != nil {
		return nil, fmt.Errorf("constraint: %w", err)
	}
	return req, nil
}

// inside reports whether path is dir or below it; both are absolute.
func inside(dir, path string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}
