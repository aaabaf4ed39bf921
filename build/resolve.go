package build

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/galerly/galerly-lambda/build/cache"
	"github.com/galerly/galerly-lambda/build/index"
	"github.com/galerly/galerly-lambda/build/internal/clip"
	"github.com/galerly/galerly-lambda/build/lock"
	"github.com/galerly/galerly-lambda/build/target"
	"github.com/galerly/galerly-lambda/build/wheel"
)

// placement is one wheel installed into one folder of the artifact.
type placement struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Wheel   string `json:"wheel"`
	SHA256  string `json:"sha256"`
	Path    string `json:"path"` // "python/", or a runtime's site-packages with a trailing slash
	// URL is where the wheel is published (distributionURL), for the SBOM;
	// "" for a wheel from a local folder.
	URL  string     `json:"url,omitempty"`
	file string     // the verified cache file, set once fetched
	inv  *inventory // what the SBOM records of the wheel, set once checked
}

// resolver turns the lock's requirements into placed, cached wheels.
type resolver struct {
	lock     *lock.Lock
	target   target.Target
	key      string
	cache    *cache.Cache
	sources  *index.Sources
	jobs     int
	log      func(format string, args ...any)
	progress io.Writer
}

// recordName is the cache record holding the resolution of one key. With
// it and the wheels in the cache, a warm build makes no network request:
// the key fixes the lock and the target, and the lock fixes every file
// that may be chosen, so the choice never goes stale. Its name changes
// with what a placement records ("v2": the URL the SBOM names), so a warm
// build never describes the artifact differently from a cold one.
func (r *resolver) recordName() string { return "layer-" + r.key + ".v2.json" }

// resolve returns every wheel placement, with each wheel verified in the
// cache (its sha256, then its archive: checkWheels) and its inventory
// taken, from the cache alone when it can.
func (r *resolver) resolve(ctx context.Context) ([]placement, error) {
	placed, err := r.place(ctx)
	if err != nil {
		return nil, err
	}
	if err := checkLockedSizes(r.lock, placed); err != nil {
		return nil, err
	}
	if err := checkWheels(ctx, r.cache, placed, r.log); err != nil {
		return nil, err
	}
	return placed, nil
}

// place returns every wheel placement, with each wheel in the cache with
// its sha256, from the cache alone when it can.
func (r *resolver) place(ctx context.Context) ([]placement, error) {
	if placed, ok := r.fromCache(ctx); ok {
		return placed, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	applied, err := applying(r.lock, r.target)
	if err != nil {
		return nil, err
	}
	perReq := make([]choice, len(applied))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(r.jobs)
	for i, req := range applied {
		g.Go(func() error {
			c, err := r.choose(gctx, req)
			perReq[i] = c
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	var placed []placement
	var files []index.File
	for _, c := range perReq {
		// Logged in lock order, not the order the queries finished in.
		r.log("%s", c.why)
		for _, n := range c.notes {
			r.log("note: %s", n)
		}
		placed = append(placed, c.placed...)
		files = append(files, c.files...)
	}
	if err := r.fetch(ctx, placed, files); err != nil {
		return nil, err
	}
	data, err := json.MarshalIndent(placed, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("record the resolution: %w", err)
	}
	if err := r.cache.WriteRecord(r.recordName(), data); err != nil {
		// The build is still right; only the next one will ask the index again.
		r.log("note: could not record the resolution in the cache: %v", err)
	}
	return placed, nil
}

// applying returns the requirements of l that apply to t, refusing a lock
// that would make an empty layer. l is one readLock accepted for t: Check
// is not made again (for a pylock.toml it chooses every package's wheels,
// and a warm build would pay for it twice).
func applying(l *lock.Lock, t target.Target) ([]lock.Applied, error) {
	applied := l.For(t)
	if len(applied) == 0 {
		return nil, fmt.Errorf("lock %s: no requirement applies to %s, so the layer would be empty", l.File, t)
	}
	return applied, nil
}

// fromCache returns the recorded resolution for the key when it places
// only wheels the lock pins, as the lock asks (see checkRecord), and every
// wheel it names is in the cache and still has its hash. The cache folder
// is not trusted (CI restores it from a shared store): a record that does
// not match the lock is ignored with a note, and the wheels are resolved
// again from the sources.
func (r *resolver) fromCache(ctx context.Context) ([]placement, bool) {
	data, ok, err := r.cache.ReadRecord(r.recordName())
	if err != nil {
		r.log("note: %v; resolving again", err)
	}
	if err != nil || !ok {
		return nil, false
	}
	var placed []placement
	if err := json.Unmarshal(data, &placed); err != nil || len(placed) == 0 {
		r.log("note: cache record %s is unreadable; resolving again", r.recordName())
		return nil, false
	}
	if err := checkRecord(placed, r.lock, r.target); err != nil {
		r.log("note: cache record %s does not match the lock, so it is ignored and the wheels are resolved again: %v", r.recordName(), err)
		return nil, false
	}
	for i := range placed {
		if ctx.Err() != nil {
			return nil, false
		}
		path, ok, err := r.cache.Get(placed[i].SHA256)
		if err != nil || !ok {
			return nil, false
		}
		placed[i].file = path
	}
	r.log("resolved %d wheels from the cache (key %s)", len(placed), r.key[:12])
	return placed, true
}

// checkRecord reports why a recorded resolution is not one the lock l can
// produce for t: every placement must be a wheel of a requirement that
// applies, at its pinned version, with a sha256 the lock names for it, a
// filename of that package and version, in a folder the requirement's
// runtimes read and that fits each of them; and each requirement must be
// placed exactly once for each runtime it applies to. So whatever the
// cache holds, nothing the lock did not pin for this target is shipped.
func checkRecord(placed []placement, l *lock.Lock, t target.Target) error {
	applied, err := applying(l, t)
	if err != nil {
		return err
	}
	// A package may have several lines, each for some runtimes (a
	// universal lock's numpy for python3.11 and for python3.12).
	byName := make(map[string][]lock.Applied, len(applied))
	for _, a := range applied {
		byName[a.Name] = append(byName[a.Name], a)
	}
	type slot struct {
		name string
		rt   target.Runtime
	}
	covered := map[slot]bool{}
	for _, p := range placed {
		req, runtimes, err := recordedLine(p, byName[p.Name], t)
		if err != nil {
			return err
		}
		fn, err := wheel.ParseFilename(p.Wheel)
		if err != nil {
			return err
		}
		if fn.Name != req.Name || !fn.IsVersion(req.Version) {
			return fmt.Errorf("it places %s for %s==%s", clip.String(p.Wheel), p.Name, req.Version)
		}
		for _, rt := range runtimes {
			if fit := fn.Fit(rt, t.Arch); !fit.OK {
				return fmt.Errorf("it places %s for %s, which it does not fit: %s", p.Wheel, rt, fit.Reason)
			}
			s := slot{p.Name, rt}
			if covered[s] {
				return fmt.Errorf("it places %s twice for %s", p.Name, rt)
			}
			covered[s] = true
		}
	}
	for _, a := range applied {
		for _, rt := range a.Runtimes {
			if !covered[slot{a.Name, rt}] {
				return fmt.Errorf("it places no wheel of %s for %s", a.Name, rt)
			}
		}
	}
	return nil
}

// recordedLine returns the line of the lock, among a package's lines that
// apply to t, that the recorded placement p installs: the one with its
// version and sha256 whose runtimes read p's folder, and those runtimes.
func recordedLine(p placement, lines []lock.Applied, t target.Target) (lock.Applied, []target.Runtime, error) {
	if len(lines) == 0 {
		return lock.Applied{}, nil, fmt.Errorf("it places %s, which the lock does not pin for %s", clip.String(p.Name), t)
	}
	var versions []string
	var named []lock.Applied
	for _, a := range lines {
		versions = append(versions, a.Version)
		if p.Version == a.Version && slices.Contains(a.Hashes, p.SHA256) {
			named = append(named, a)
		}
	}
	switch {
	case !slices.Contains(versions, p.Version):
		return lock.Applied{}, nil, fmt.Errorf("it places %s %s, the lock pins %s", p.Name, clip.String(p.Version), strings.Join(slices.Compact(versions), " or "))
	case len(named) == 0:
		return lock.Applied{}, nil, fmt.Errorf("it places %s with sha256 %s, which the lock does not name for %s==%s", clip.String(p.Wheel), clip.String(p.SHA256), p.Name, p.Version)
	}
	var err error
	for _, a := range named {
		var runtimes []target.Runtime
		if runtimes, err = runtimesReading(p.Path, a, t); err == nil {
			return a, runtimes, nil
		}
	}
	return lock.Applied{}, nil, fmt.Errorf("%s: %w", p.Wheel, err)
}

// runtimesReading returns the runtimes of req that import from path, the
// folder a wheel was placed in, as choose places them: "python/" serves
// all of them (only when the requirement applies to every runtime of t),
// a runtime's site-packages serves that runtime.
func runtimesReading(path string, req lock.Applied, t target.Target) ([]target.Runtime, error) {
	if path == "python/" {
		if len(t.Runtimes) == 1 || len(req.Runtimes) == len(t.Runtimes) {
			return req.Runtimes, nil
		}
		return nil, fmt.Errorf("placed in python/, but %s applies only to %s", req.Name, runtimeList(req.Runtimes))
	}
	for _, rt := range req.Runtimes {
		if path == rt.SitePackages()+"/" {
			return []target.Runtime{rt}, nil
		}
	}
	return nil, fmt.Errorf("placed in %q, which no runtime of %s that %s applies to reads", clip.String(path), t, req.Name)
}

// runtimeList names runtimes for a message.
func runtimeList(rs []target.Runtime) string {
	names := make([]string, len(rs))
	for i, r := range rs {
		names[i] = r.String()
	}
	return strings.Join(names, ", ")
}

// choice is what choose decided for one requirement.
type choice struct {
	placed []placement
	files  []index.File // where each placed wheel can be downloaded from
	why    string       // which wheel and why, for the log
	notes  []string     // what a person may want to know (a yanked file)
}

// where names a requirement in messages the way the lock parser does,
// FILE:LINE, followed by the pin.
func (r *resolver) where(req lock.Applied) string {
	return fmt.Sprintf("%s:%d: %s==%s", cmp.Or(req.File, r.lock.File), req.Line, req.Spelled, req.Version)
}

// choose lists the files of one requirement, keeps those whose sha256 the
// lock names, and picks the wheels for the target.
func (r *resolver) choose(ctx context.Context, req lock.Applied) (choice, error) {
	where := r.where(req)
	listed, err := r.listFiles(ctx, req) // lockfiles.go
	if err != nil {
		return choice{}, fmt.Errorf("%s: %w", where, err)
	}
	if len(listed) == 0 {
		return choice{}, fmt.Errorf("%s: no source lists %s (searched %s)", where, req.Name, r.sources.Describe())
	}
	reqTarget := target.Target{Runtimes: req.Runtimes, Arch: r.target.Arch}
	inLock := make(map[string]bool, len(req.Hashes))
	for _, h := range req.Hashes {
		inLock[h] = true
	}
	var (
		bySum    = map[string]index.File{} // the files whose sha256 the lock names
		misfits  []wheel.Filename          // unhashed files of this version that fit no runtime: only their reasons matter
		unlocked []string                  // fitting files of this version whose sha256 the lock does not name
		cached   = map[string]string{}     // sum -> cache file, for files hashed (and so cached) here
		sdists   int
	)
	for _, f := range listed {
		fn, err := wheel.ParseFilename(f.Filename)
		if err != nil {
			sdists++
			continue
		}
		if fn.Name != req.Name || !fn.IsVersion(req.Version) {
			continue
		}
		if f.SHA256 == "" {
			// A source that gives no hash (a find-links folder, an index
			// without hash fragments): hash only what could be chosen.
			if !fitsAny(fn, reqTarget) {
				misfits = append(misfits, fn)
				continue
			}
			sum, path, err := r.hashUnlisted(ctx, f, inLock)
			if err != nil {
				return choice{}, fmt.Errorf("%s: %w", where, err)
			}
			f.SHA256 = sum
			if path != "" {
				cached[sum] = path
			}
		}
		if !inLock[f.SHA256] {
			if fitsAny(fn, reqTarget) {
				unlocked = append(unlocked, fmt.Sprintf("%s in %s has sha256 %s", f.Filename, f.Source, f.SHA256))
			}
			continue
		}
		if prev, dup := bySum[f.SHA256]; !dup || f.Filename < prev.Filename {
			bySum[f.SHA256] = f
		}
	}
	byName := map[string]index.File{}
	for _, f := range bySum {
		// Two files of one name that the lock both names: keep the smaller
		// hash, so the choice does not depend on listing order.
		if prev, dup := byName[f.Filename]; !dup || f.SHA256 < prev.SHA256 {
			byName[f.Filename] = f
		}
	}
	var names []wheel.Filename
	for name := range byName {
		fn, _ := wheel.ParseFilename(name) // parsed once already to get here
		names = append(names, fn)
	}
	if len(names) == 0 && len(misfits) == 0 {
		switch {
		case len(unlocked) > 0:
			return choice{}, fmt.Errorf("%s: %s, which the lock does not name (it names %s): the lock was compiled without the files this target needs, or the file is not the one the lock was made from",
				where, strings.Join(unlocked, "; "), hashList(req.Hashes))
		case sdists > 0:
			return choice{}, fmt.Errorf("%s: the sources list no wheel whose sha256 the lock names (only source distributions or files of other versions); lambdapack installs wheels only", where)
		}
		return choice{}, fmt.Errorf("%s: none of the %d files the sources list for %s has a sha256 the lock names", where, len(listed), req.Name)
	}
	sel, err := wheel.Select(req.Name, req.Version, append(names, misfits...), reqTarget)
	if err != nil {
		// Select names the package and version itself.
		return choice{}, fmt.Errorf("%s:%d: %w", cmp.Or(req.File, r.lock.File), req.Line, err)
	}
	c := choice{why: sel.Why}
	add := func(fn wheel.Filename, path string) {
		f := byName[fn.Raw]
		c.placed = append(c.placed, placement{Name: req.Name, Version: req.Version, Wheel: fn.Raw, SHA256: f.SHA256, Path: path,
			URL: distributionURL(req, f), file: cached[f.SHA256]})
		c.files = append(c.files, f)
		if f.Yanked {
			c.notes = append(c.notes, fmt.Sprintf("%s is yanked on %s; it is used because the lock pins it exactly", fn.Raw, f.Source))
		}
	}
	if sel.Shared != nil && (len(r.target.Runtimes) == 1 || len(req.Runtimes) == len(r.target.Runtimes)) {
		add(*sel.Shared, "python/")
		return c, nil
	}
	// A wheel chosen for only some runtimes, or a package a marker limits
	// to some of them, goes where only those runtimes look.
	for _, rt := range req.Runtimes {
		fn, ok := sel.PerRuntime[rt]
		if sel.Shared != nil {
			fn, ok = *sel.Shared, true
		}
		if ok {
			add(fn, rt.SitePackages()+"/")
		}
	}
	return c, nil
}

// fitsAny reports whether fn fits at least one runtime of t.
func fitsAny(fn wheel.Filename, t target.Target) bool {
	for _, rt := range t.Runtimes {
		if fn.Fit(rt, t.Arch).OK {
			return true
		}
	}
	return false
}

// hashList shortens a lock's hashes for a message.
func hashList(hashes []string) string {
	const shown = 3
	if len(hashes) <= shown {
		return strings.Join(hashes, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(hashes[:shown], ", "), len(hashes)-shown)
}

// hashUnlisted learns the sha256 of a file whose source gave none. A file
// whose hash the lock names is kept in the cache, so it is read from its
// source only once; path is then its cache file.
func (r *resolver) hashUnlisted(ctx context.Context, f index.File, inLock map[string]bool) (sum, path string, err error) {
	tmp, err := os.CreateTemp(r.cache.Dir(), ".hash-*")
	if err != nil {
		return "", "", fmt.Errorf("cache: %w", err)
	}
	defer removeQuietly(tmp.Name())
	defer tmp.Close()
	h := sha256.New()
	if err := r.sources.Download(ctx, f, io.MultiWriter(tmp, h)); err != nil {
		return "", "", err
	}
	sum = hex.EncodeToString(h.Sum(nil))
	if !inLock[sum] {
		return sum, "", nil
	}
	path, err = r.cache.Put(sum, func(w io.Writer) error {
		if _, err := tmp.Seek(0, io.SeekStart); err != nil {
			return err
		}
		_, err := io.Copy(w, tmp)
		return err
	})
	if err != nil {
		return "", "", fmt.Errorf("%s: %w", f.Filename, err)
	}
	return sum, path, nil
}

// fetch makes sure every placed wheel is in the cache with its hash,
// downloading in parallel what is missing from files, which says where
// each wheel can be downloaded from.
func (r *resolver) fetch(ctx context.Context, placed []placement, files []index.File) error {
	from := map[string]index.File{}
	for _, f := range files {
		from[f.SHA256] = f
	}
	var missing []string
	paths := map[string]string{} // sum -> verified cache file; "" while missing
	for _, p := range placed {
		if p.file != "" {
			// Put in the cache moments ago by hashUnlisted, already verified.
			paths[p.SHA256] = p.file
		}
	}
	for _, p := range placed {
		if _, seen := paths[p.SHA256]; seen {
			continue
		}
		path, ok, err := r.cache.Get(p.SHA256)
		if err != nil {
			return fmt.Errorf("cache: %w", err)
		}
		paths[p.SHA256] = path
		if !ok {
			missing = append(missing, p.SHA256)
		}
	}
	slices.Sort(missing)
	prog := index.NewProgress(r.progress, len(missing))
	sources := *r.sources
	sources.Progress = prog
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(r.jobs)
	for _, sum := range missing {
		f := from[sum]
		g.Go(func() error {
			var dlErr error
			path, err := r.cache.Put(sum, func(w io.Writer) error {
				dlErr = sources.Download(gctx, f, w)
				return dlErr
			})
			var mm *cache.MismatchError
			switch {
			case errors.As(err, &mm):
				return fmt.Errorf("%s from %s: downloaded bytes have sha256 %s, but the lock %s names %s for it; the file was not kept (a tampered or corrupted download)",
					f.Filename, f.Source, mm.Got, r.lock.File, mm.Want)
			case dlErr != nil:
				// Download's error already names the file and the URL.
				return dlErr
			case err != nil:
				return fmt.Errorf("%s: %w", f.Filename, err)
			}
			prog.FileDone()
			mu.Lock()
			paths[sum] = path
			mu.Unlock()
			return nil
		})
	}
	err := g.Wait()
	prog.Finish()
	if err != nil {
		return err
	}
	for i := range placed {
		placed[i].file = paths[placed[i].SHA256]
	}
	return nil
}

// distributionURL is where the SBOM says f is published: the url a
// pylock.toml gives for the file, else the index's http(s) URL; "" for a
// file from a local folder, whose path says nothing to anyone else.
// Credentials, the query and the fragment (#sha256=...) are left out:
// the SBOM is shared, and a query can hold a token.
func distributionURL(req lock.Applied, f index.File) string {
	for _, w := range req.Wheels {
		if w.SHA256 == f.SHA256 {
			if u := publicURL(w.URL); u != "" {
				return u
			}
		}
	}
	return publicURL(f.URL)
}

// publicURL is raw without userinfo, query and fragment, when it is an
// http(s) URL; "" otherwise.
func publicURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return ""
	}
	u.User, u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = nil, "", false, "", ""
	return u.String()
}
