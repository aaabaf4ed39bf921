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
	file    string // the verified cache file, set once fetched
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
// that may be chosen, so the choice never goes stale.
func (r *resolver) recordName() string { return "layer-" + r.key + ".json" }

// resolve returns every wheel placement, with each wheel verified in the
// cache, from the cache alone when it can.
func (r *resolver) resolve(ctx context.Context) ([]placement, error) {
	if placed, ok := r.fromCache(); ok {
		return placed, nil
	}
	applied := r.lock.For(r.target)
	if len(applied) == 0 {
		return nil, fmt.Errorf("lock %s: no requirement applies to %s", r.lock.File, r.target)
	}
	perReq := make([][]placement, len(applied))
	files := make([][]index.File, len(applied))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(r.jobs)
	for i, req := range applied {
		g.Go(func() error {
			p, f, err := r.choose(gctx, req)
			perReq[i], files[i] = p, f
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	var placed []placement
	for _, p := range perReq {
		placed = append(placed, p...)
	}
	if err := r.fetch(ctx, placed, files); err != nil {
		return nil, err
	}
	data, err := json.MarshalIndent(placed, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := r.cache.WriteRecord(r.recordName(), data); err != nil {
		// The build is still right; only the next one will ask the index again.
		r.log("note: could not record the resolution in the cache: %v", err)
	}
	return placed, nil
}

// fromCache returns the recorded resolution for the key when every wheel
// it names is in the cache and still has its hash.
func (r *resolver) fromCache() ([]placement, bool) {
	data, ok, err := r.cache.ReadRecord(r.recordName())
	if err != nil || !ok {
		return nil, false
	}
	var placed []placement
	if err := json.Unmarshal(data, &placed); err != nil || len(placed) == 0 {
		return nil, false
	}
	for i := range placed {
		path, ok, err := r.cache.Get(placed[i].SHA256)
		if err != nil || !ok {
			return nil, false
		}
		placed[i].file = path
	}
	r.log("resolved %d wheels from the cache (key %s)", len(placed), r.key[:12])
	return placed, true
}

// choose lists the files of one requirement, keeps those whose sha256 the
// lock names, and picks the wheels for the target. It returns the
// placements and the files they may be downloaded from.
func (r *resolver) choose(ctx context.Context, req lock.Applied) ([]placement, []index.File, error) {
	where := fmt.Sprintf("%s==%s (%s line %d)", req.Spelled, req.Version, r.lock.File, req.Line)
	listed, err := r.sources.Files(ctx, req.Name)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", where, err)
	}
	if len(listed) == 0 {
		return nil, nil, fmt.Errorf("%s: no source lists %s (searched %s)", where, req.Name, r.searched())
	}
	reqTarget := target.Target{Runtimes: req.Runtimes, Arch: r.target.Arch}
	inLock := make(map[string]bool, len(req.Hashes))
	for _, h := range req.Hashes {
		inLock[h] = true
	}
	bySum := map[string]index.File{}
	for _, f := range listed {
		if f.SHA256 == "" {
			sum, ok, err := r.hashUnlisted(ctx, f, reqTarget, req, inLock)
			if err != nil {
				return nil, nil, fmt.Errorf("%s: %w", where, err)
			}
			if !ok {
				continue
			}
			f.SHA256 = sum
		}
		if !inLock[f.SHA256] {
			continue
		}
		if prev, dup := bySum[f.SHA256]; !dup || f.Filename < prev.Filename {
			bySum[f.SHA256] = f
		}
	}
	var names []wheel.Filename
	var sdists int
	byName := map[string]index.File{}
	for _, f := range bySum {
		fn, err := wheel.ParseFilename(f.Filename)
		if err != nil {
			sdists++
			continue
		}
		if prev, dup := byName[f.Filename]; dup && prev.SHA256 < f.SHA256 {
			continue
		}
		if _, dup := byName[f.Filename]; !dup {
			names = append(names, fn)
		}
		byName[f.Filename] = f
	}
	if len(names) == 0 {
		msg := fmt.Sprintf("%s: none of the %d files the sources list has a sha256 the lock names", where, len(listed))
		if sdists > 0 {
			msg = fmt.Sprintf("%s: the lock's hashes match only a source distribution; lambdapack installs wheels only", where)
		}
		return nil, nil, errors.New(msg)
	}
	sel, err := wheel.Select(req.Name, req.Version, names, reqTarget)
	if err != nil {
		return nil, nil, fmt.Errorf("%s line %d: %w", r.lock.File, req.Line, err)
	}
	r.log("%s", sel.Why)
	var placed []placement
	var from []index.File
	add := func(fn wheel.Filename, path string) {
		f := byName[fn.Raw]
		placed = append(placed, placement{Name: req.Name, Version: req.Version, Wheel: fn.Raw, SHA256: f.SHA256, Path: path})
		from = append(from, f)
	}
	allRuntimes := len(req.Runtimes) == len(r.target.Runtimes)
	switch {
	case sel.Shared != nil && (allRuntimes || len(r.target.Runtimes) == 1):
		add(*sel.Shared, "python/")
	case len(r.target.Runtimes) == 1:
		for _, fn := range sel.PerRuntime {
			add(fn, "python/")
		}
	default:
		// A wheel that fits only some runtimes, or a package a marker limits
		// to some of them, must go where only those runtimes look.
		for _, rt := range req.Runtimes {
			fn, ok := sel.PerRuntime[rt]
			if sel.Shared != nil {
				fn, ok = *sel.Shared, true
			}
			if ok {
				add(fn, rt.SitePackages()+"/")
			}
		}
	}
	return placed, from, nil
}

// hashUnlisted learns the sha256 of a file whose source gave none (a
// find-links folder, an index without hash fragments), but only for a
// wheel that could be chosen: one of this version that fits the target.
// A file whose hash the lock names is kept in the cache, so it is read
// from its source only once.
func (r *resolver) hashUnlisted(ctx context.Context, f index.File, t target.Target, req lock.Applied, inLock map[string]bool) (string, bool, error) {
	fn, err := wheel.ParseFilename(f.Filename)
	if err != nil || fn.Name != req.Name {
		return "", false, nil
	}
	fits := false
	for _, rt := range t.Runtimes {
		if fn.Fit(rt, t.Arch).OK {
			fits = true
		}
	}
	if !fits {
		return "", false, nil
	}
	tmp, err := os.CreateTemp(r.cache.Dir(), ".hash-*")
	if err != nil {
		return "", false, fmt.Errorf("cache: %w", err)
	}
	defer removeQuietly(tmp.Name())
	defer tmp.Close()
	h := sha256.New()
	if err := r.sources.Download(ctx, f, io.MultiWriter(tmp, h)); err != nil {
		return "", false, fmt.Errorf("%s: %w", f.Filename, err)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if !inLock[sum] {
		return "", false, nil
	}
	_, err = r.cache.Put(sum, func(w io.Writer) error {
		if _, err := tmp.Seek(0, io.SeekStart); err != nil {
			return err
		}
		_, err := io.Copy(w, tmp)
		return err
	})
	if err != nil {
		return "", false, fmt.Errorf("%s: %w", f.Filename, err)
	}
	return sum, true, nil
}

// fetch makes sure every placed wheel is in the cache with its hash,
// downloading in parallel what is missing. files[i] lists, for the
// placements of requirement i, where each wheel can be downloaded from.
func (r *resolver) fetch(ctx context.Context, placed []placement, files [][]index.File) error {
	from := map[string]index.File{}
	for _, fs := range files {
		for _, f := range fs {
			from[f.SHA256] = f
		}
	}
	var missing []string
	paths := map[string]string{}
	for _, p := range placed {
		if _, seen := paths[p.SHA256]; seen || slices.Contains(missing, p.SHA256) {
			continue
		}
		path, ok, err := r.cache.Get(p.SHA256)
		if err != nil {
			return fmt.Errorf("cache: %w", err)
		}
		if ok {
			paths[p.SHA256] = path
			continue
		}
		missing = append(missing, p.SHA256)
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

// searched names the sources for a "not found" message.
func (r *resolver) searched() string {
	var s []string
	if !r.sources.NoIndex {
		s = append(s, redacted(cmp.Or(r.sources.IndexURL, index.DefaultIndexURL)))
		for _, u := range r.sources.ExtraIndexURLs {
			s = append(s, redacted(u))
		}
	}
	s = append(s, r.sources.FindLinks...)
	if len(s) == 0 {
		return "nothing: --no-index without --find-links"
	}
	return strings.Join(s, ", ")
}

// redacted returns an index URL without its credentials, for messages.
func redacted(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(an index URL that does not parse)"
	}
	u.User = nil
	return u.String()
}
