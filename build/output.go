package build

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/galerly/galerly-lambda/build/cache"
	"github.com/galerly/galerly-lambda/build/internal/atomicfile"
	"github.com/galerly/galerly-lambda/build/internal/clip"
)

// CheckOut refuses an output path the zip could not be written to before
// anything is downloaded or built, naming the path the user gave. The
// builds call it first; `--upload`, which may skip the build, calls it too.
func CheckOut(out string) error {
	if out == "" {
		return errors.New("no output file given")
	}
	if st, err := os.Stat(out); err == nil && st.IsDir() {
		return fmt.Errorf("output %s is a folder: give the zip's file name, e.g. %s", clip.String(out), clip.String(filepath.Join(out, "layer.zip")))
	}
	dir := filepath.Dir(out)
	st, err := os.Stat(dir)
	if err != nil || !st.IsDir() {
		return fmt.Errorf("output %s: the folder %s does not exist", clip.String(out), clip.String(dir))
	}
	return nil
}

// Inputs are what a build reads: its output must be none of them, or the
// build would overwrite what it was built from (or, for a folder, pack or
// serve its own previous output next time).
type Inputs struct {
	Lock      string   // the lock file; "" for none
	Includes  []string // the files the lock includes (-r, -c)
	FindLinks []string // find-links folders: paths or file:// URLs (others are ignored)
	Src       string   // a function's source folder; "" for a layer
	Cache     string   // the cache folder; "" for cache.DefaultDir()
}

// CheckOutNotInput refuses an output that is one of the build's inputs:
// the lock itself (by path or as another link to the same file), a file
// inside a find-links folder, the source folder or the cache folder. Paths
// are compared with symlinks resolved, so a folder named through a link is
// still caught. The CLI reports it as a usage error.
func CheckOutNotInput(out string, in Inputs) error {
	absOut, err := realOut(out)
	if err != nil {
		return err
	}
	if in.Lock != "" {
		absLock, err := realPath(in.Lock)
		if err != nil {
			return err
		}
		same := absOut == absLock
		if a, err := os.Stat(out); err == nil {
			if b, err := os.Stat(in.Lock); err == nil && os.SameFile(a, b) {
				same = true
			}
		}
		if same {
			return fmt.Errorf("output %s is the lock %s: the build would overwrite the file it is built from; write the zip elsewhere", out, in.Lock)
		}
	}
	for _, inc := range in.Includes {
		if a, err := os.Stat(out); err == nil {
			if b, err := os.Stat(inc); err == nil && os.SameFile(a, b) {
				return fmt.Errorf("output %s is %s, which the lock includes: the build would overwrite a file it is built from; write the zip elsewhere", out, inc)
			}
		}
	}
	folders := []struct{ path, what, why string }{
		{in.Src, "the source folder", "the next build would pack it"},
	}
	for _, fl := range in.FindLinks {
		if p, ok := localFolder(fl); ok {
			folders = append(folders, struct{ path, what, why string }{p, "the find-links folder " + fl, "it would overwrite or be served as a wheel"})
		}
	}
	cacheDir := in.Cache
	if cacheDir == "" {
		cacheDir, _ = cache.DefaultDir()
	}
	folders = append(folders, struct{ path, what, why string }{cacheDir, "the cache folder", "the cache holds only what it verified"})
	for _, f := range folders {
		if f.path == "" {
			continue
		}
		abs, err := realPath(f.path)
		if err != nil {
			return err
		}
		if within(abs, absOut) {
			what := f.what
			if what == "the source folder" || what == "the cache folder" {
				what += " " + f.path
			}
			return fmt.Errorf("output %s is inside %s: %s; write the zip elsewhere", out, what, f.why)
		}
	}
	return nil
}

// CheckCacheNotInSrc refuses a cache folder (cacheDir, or
// cache.DefaultDir() when it is "") inside a function's source folder src:
// the build writes records and wheels there, so the next build would pack
// them, and the code key would change with the cache's content although
// the code did not. Symlinks are resolved, as for CheckOutNotInput. The
// CLI reports it as a usage error.
func CheckCacheNotInSrc(cacheDir, src string) error {
	if src == "" {
		return nil
	}
	var shown string
	if cacheDir == "" {
		d, err := cache.DefaultDir()
		if err != nil {
			return nil // no default: the build itself will ask for --cache
		}
		cacheDir, shown = d, "the default cache folder "+d
	} else {
		shown = "the cache folder " + clip.String(cacheDir)
	}
	absCache, err := realPath(cacheDir)
	if err != nil {
		return err
	}
	absSrc, err := realPath(src)
	if err != nil {
		return err
	}
	if within(absSrc, absCache) {
		return fmt.Errorf("%s is inside the source folder %s: the next build would pack the cache's records and wheels, and the code key would change with them; keep the cache elsewhere (--cache DIR)",
			shown, clip.String(src))
	}
	return nil
}

// localFolder returns the local path of a find-links entry, or false for
// a remote one.
func localFolder(fl string) (string, bool) {
	if strings.HasPrefix(fl, "http://") || strings.HasPrefix(fl, "https://") {
		return "", false
	}
	if strings.HasPrefix(fl, "file:") {
		u, err := url.Parse(fl)
		if err != nil || u.Path == "" {
			return "", false
		}
		return filepath.FromSlash(u.Path), true
	}
	return fl, true
}

// within reports whether path is dir or inside it (both absolute, clean).
func within(dir, path string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// realOut is the absolute path out will be written at, its folder's
// symlinks resolved.
func realOut(out string) (string, error) {
	dir, err := realPath(filepath.Dir(out))
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, filepath.Base(out)), nil
}

// realPath is p absolute with symlinks resolved. For a path that does not
// exist (yet), such as a cache folder the build will make, the links of
// its deepest existing folder are resolved and the rest is kept as is.
func realPath(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	rest := ""
	for dir := abs; ; dir = filepath.Dir(dir) {
		if r, err := filepath.EvalSymlinks(dir); err == nil {
			return filepath.Join(r, rest), nil
		}
		if parent := filepath.Dir(dir); parent == dir {
			return abs, nil
		}
		rest = filepath.Join(filepath.Base(dir), rest)
	}
}

// staleTemp is how old a temporary file beside an output must be before a
// build removes it: a live build writes its zip within minutes, so only a
// killed build's leftovers are this old.
const staleTemp = time.Hour

// sweepBesideOut removes the temporary files that builds killed while
// writing out (SIGKILL, a lost runner) left beside it, older than an hour.
// Only the names lambdapack itself writes for out are touched; a failure
// costs disk space, not correctness, and is ignored.
func sweepBesideOut(out string) {
	atomicfile.Sweep(out, time.Now().Add(-staleTemp))
}
