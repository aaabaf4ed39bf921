// Package source walks a Lambda function's source folder: it decides which
// files ship (default excludes, then the caller's exclude and include
// patterns), hashes each one, and names the secrets it sees on the way.
//
// The files a walk returns depend only on the names, contents and exec bits of
// the files that ship: not on the folder's own path, mtimes, owners, the
// umask or the order the file system lists entries in. That makes it the
// input of the function's code key, computed at preview time.
//
// Symlinks are never followed and never packed: one that would ship is an
// error naming it (exclude it, or replace it with the file), one that is
// excluded is ignored. Devices, pipes and sockets are treated the same way.
//
// Excluded folders are still entered, so that an include pattern can
// re-include a file under them and a secret in them is named (by its file
// name; only files that ship, and .pem files, are read). Two kinds are
// skipped whole when excluded: version control folders (.git, .hg, .svn)
// and virtualenvs (.venv, venv, or any folder holding a pyvenv.cfg), whose
// tool-managed files no include should reach; and bytecode and tool caches
// (__pycache__, .pytest_cache, .mypy_cache, .ruff_cache, .tox), unless an
// include pattern is given.
package source

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/galerly/galerly-lambda/build/internal/clip"
	"github.com/galerly/galerly-lambda/build/internal/regular"
	"github.com/galerly/galerly-lambda/build/pack"
	"github.com/galerly/galerly-lambda/build/target"
)

// Filter adds patterns to the default excludes ([DefaultExcludes]). The
// zero value packs everything the defaults leave in.
//
// The pattern syntax is gitignore's, without "!" negation (use Include)
// and without backslash escapes:
//
//   - "/" separates folders, whatever the operating system, and patterns
//     are relative to the source folder;
//   - a pattern without a "/" (other than a trailing one) matches a file or
//     folder name at any depth ("*.md", "fixtures/"); one with a "/" at its
//     start or in the middle is anchored at the source folder ("/setup.cfg",
//     "docs/*.md");
//   - a trailing "/" matches folders only;
//   - "*" matches any run of characters but "/", "?" one character,
//     "[a-z]" and "[!a-z]" a class;
//   - "**" as a whole element matches any number of folders: "**/x",
//     "a/**" (everything inside a), "a/**/b".
//
// A pattern that matches a folder applies to everything under it. Each
// path is judged at every level, from its top folder down to the file: at
// one level the last matching pattern wins (defaults, then Exclude, then
// Include, so an include beats any exclude), and the deepest level that
// any pattern matches decides. So "--exclude docs/ --include docs/api.md"
// packs just docs/api.md of docs/, and "--include tests/" packs tests/
// except what a deeper default still excludes (test_*.py, conftest.py,
// __pycache__/). "--include 'tests/**'" packs everything under tests/,
// bytecode a local run left there included (which makes the key differ
// between machines); "--include 'tests/**/*.py'" packs the suite's source.
type Filter struct {
	Exclude []string // patterns to leave out, besides the defaults
	Include []string // patterns to pack even when an exclude matches
}

// File is one file that ships.
type File struct {
	Path   string      // slash-separated, relative to the source folder
	Mode   fs.FileMode // 0o644, or 0o755 when the file has any x bit
	Size   int64       // bytes
	SHA256 string      // lowercase hex sha256 of the content
	abs    string      // where to read it
}

// Open opens the file for reading. The reader fails at the end of the file
// if the content is no longer the content that was hashed, so a file edited
// during a build cannot ship under the old hash.
func (f File) Open() (io.ReadCloser, error) {
	fh, _, err := regular.Open(f.abs)
	if err != nil {
		return nil, fmt.Errorf("source file %s: %w", clip.String(f.Path), err)
	}
	return &verifyingReader{f: fh, file: f, h: sha256.New()}, nil
}

// Tree is what a walk found.
type Tree struct {
	Root  string // the source folder as given
	Files []File // what ships, sorted by Path (byte order)
	// Excluded lists what was left out, sorted: a file by its path, a folder
	// left out whole with a trailing "/".
	Excluded []string
	// Warnings name the environment files and private keys found, each
	// saying whether it ships; sorted by path.
	Warnings []string
}

// Size returns the total size of the files that ship.
func (t *Tree) Size() int64 {
	var n int64
	for _, f := range t.Files {
		n += f.Size
	}
	return n
}

// Walk walks the folder root and returns the files that ship under f. It
// refuses a root that is not a folder, a tree that packs nothing, a symlink
// or special file that would ship, and a name a zip cannot hold safely.
func Walk(root string, f Filter) (*Tree, error) {
	rs, err := compileFilter(f)
	if err != nil {
		return nil, err
	}
	st, err := os.Stat(root)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("source folder %s does not exist", clip.String(root))
	case err != nil:
		return nil, fmt.Errorf("source folder %s: %w", clip.String(root), err)
	case !st.IsDir():
		return nil, fmt.Errorf("source %s is not a folder: give the folder that holds the function's code", clip.String(root))
	}
	w := &walker{root: root, rules: rs, tree: &Tree{Root: root}}
	if _, err := w.dir("", root, false); err != nil {
		return nil, err
	}
	t := w.tree
	if len(t.Files) == 0 {
		if len(t.Excluded) == 0 {
			return nil, fmt.Errorf("source folder %s packs nothing: it holds no files", clip.String(root))
		}
		return nil, fmt.Errorf("source folder %s packs nothing: everything in it is excluded (%s)", clip.String(root), listSome(t.Excluded))
	}
	slices.SortFunc(t.Files, func(a, b File) int { return strings.Compare(a.Path, b.Path) })
	slices.Sort(t.Excluded)
	slices.SortStableFunc(w.warnings, func(a, b warning) int { return strings.Compare(a.path, b.path) })
	for _, wn := range w.warnings {
		t.Warnings = append(t.Warnings, wn.text)
	}
	return t, nil
}

// listSome names the first few of a list for a message.
func listSome(list []string) string {
	const shown = 5
	if len(list) <= shown {
		return strings.Join(list, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(list[:shown], ", "), len(list)-shown)
}

type walker struct {
	root     string
	rules    rules
	tree     *Tree
	warnings []warning
}

// verdict judges rel at its own level, falling back to its folder's verdict.
func (w *walker) verdict(rel string, isDir, inherited bool) bool {
	if ex, ok, _ := w.rules.decide(rel, isDir); ok {
		return ex
	}
	return inherited
}

// dir walks one folder whose verdict is excluded and returns how many
// files under it ship.
func (w *walker) dir(rel, abs string, excluded bool) (int, error) {
	entries, err := os.ReadDir(abs)
	if err != nil {
		return 0, fmt.Errorf("source folder %s: %w", clip.String(w.root), err)
	}
	shipped := 0
	for _, e := range entries {
		name := e.Name()
		crel := name
		if rel != "" {
			crel = rel + "/" + name
		}
		cabs := filepath.Join(abs, name)
		switch typ := e.Type(); {
		case typ&fs.ModeSymlink != 0:
			st, serr := os.Stat(cabs)
			isDir := serr == nil && st.IsDir()
			if w.verdict(crel, isDir, excluded) {
				w.tree.Excluded = append(w.tree.Excluded, crel)
				continue
			}
			dest, _ := os.Readlink(cabs)
			return 0, fmt.Errorf("source folder %s: %s is a symlink (to %s), and a function package holds no symlinks: replace it with the file itself, or exclude it with --exclude %s",
				clip.String(w.root), clip.String(crel), clip.String(dest), clip.String(crel))
		case typ.IsDir():
			cex := w.verdict(crel, true, excluded)
			if cex && (neverEntered(name, cabs) || isCache(name) && !w.rules.hasIncludes()) {
				w.tree.Excluded = append(w.tree.Excluded, crel+"/")
				continue
			}
			mark := len(w.tree.Excluded)
			n, err := w.dir(crel, cabs, cex)
			if err != nil {
				return 0, err
			}
			if cex && n == 0 {
				// Nothing under it ships: name the folder, not each file.
				w.tree.Excluded = append(w.tree.Excluded[:mark], crel+"/")
			}
			shipped += n
		case typ.IsRegular():
			cex := w.verdict(crel, false, excluded)
			if cex {
				w.tree.Excluded = append(w.tree.Excluded, crel)
				w.checkExcluded(crel, name, cabs)
				continue
			}
			if err := w.file(crel, name, cabs); err != nil {
				return 0, err
			}
			shipped++
		default:
			if w.verdict(crel, false, excluded) {
				w.tree.Excluded = append(w.tree.Excluded, crel)
				continue
			}
			return 0, fmt.Errorf("source folder %s: %s is %s, not a regular file; exclude it with --exclude %s", clip.String(w.root), clip.String(crel), regular.Describe(typ), clip.String(crel))
		}
	}
	return shipped, nil
}

// neverEntered reports whether an excluded folder is one that is skipped
// whole: version control and virtualenvs, large trees of tool-managed files
// (a virtualenv's CA bundles would read as key files) that an include
// cannot sensibly reach into.
func neverEntered(name, abs string) bool {
	switch name {
	case ".git", ".hg", ".svn", ".venv", "venv":
		return true
	}
	_, err := os.Lstat(filepath.Join(abs, "pyvenv.cfg"))
	return err == nil
}

// isCache reports whether a folder name is a bytecode or tool cache, which
// holds only generated files: excluded, it is entered only when an include
// pattern might reach into it.
func isCache(name string) bool {
	switch name {
	case "__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".tox":
		return true
	}
	return false
}

// file hashes one file that ships, scanning it for private keys on the way.
func (w *walker) file(rel, name, abs string) error {
	if err := pack.CheckPath(rel); err != nil {
		return fmt.Errorf("source folder %s: file %s cannot go in a zip: %w; rename it or exclude it", clip.String(w.root), clip.Quote(rel), err)
	}
	// Listed as a regular file, but it may have been replaced since (by a
	// FIFO, which would block the read): OpenListed refuses that unread.
	fh, st, err := regular.OpenListed(abs)
	var special *regular.NotRegularError
	if errors.As(err, &special) {
		return fmt.Errorf("source folder %s: %s is %s, not a regular file; exclude it with --exclude %s", clip.String(w.root), clip.String(rel), regular.Describe(special.Mode), clip.String(rel))
	}
	if err != nil {
		return fmt.Errorf("source folder %s: %w", clip.String(w.root), err)
	}
	defer fh.Close()
	if st.Size() > target.MaxUnzippedBytes {
		// It cannot ship, and hashing it could take longer than any build
		// should (a sparse file may claim terabytes).
		return fmt.Errorf("source folder %s: %s is %d bytes, more than Lambda's limit of %d bytes on a function and its layers unzipped; exclude it with --exclude %s",
			clip.String(w.root), clip.String(rel), st.Size(), int64(target.MaxUnzippedBytes), clip.String(rel))
	}
	h := sha256.New()
	var scan keyScanner
	n, err := io.Copy(io.MultiWriter(h, &scan), fh)
	if err != nil {
		return fmt.Errorf("source folder %s: read %s: %w", clip.String(w.root), clip.String(rel), err)
	}
	mode := fs.FileMode(0o644)
	if st.Mode()&0o111 != 0 {
		mode = 0o755
	}
	w.tree.Files = append(w.tree.Files, File{
		Path:   rel,
		Mode:   mode,
		Size:   n,
		SHA256: hex.EncodeToString(h.Sum(nil)),
		abs:    abs,
	})
	w.checkShipped(rel, name, abs, &scan)
	return nil
}

// verifyingReader reads a File and fails at its end when the bytes read are
// not the bytes that were hashed.
type verifyingReader struct {
	f    *os.File
	file File
	h    interface {
		io.Writer
		Sum([]byte) []byte
	}
	n int64
}

func (r *verifyingReader) Read(p []byte) (int, error) {
	n, err := r.f.Read(p)
	r.h.Write(p[:n])
	r.n += int64(n)
	if err == io.EOF {
		if sum := hex.EncodeToString(r.h.Sum(nil)); r.n != r.file.Size || sum != r.file.SHA256 {
			return n, fmt.Errorf("source file %s changed while packing (%d bytes, sha256 %s; it had %d bytes, sha256 %s when the folder was read)",
				clip.String(r.file.Path), r.n, sum, r.file.Size, r.file.SHA256)
		}
	}
	return n, err
}

func (r *verifyingReader) Close() error { return r.f.Close() }
