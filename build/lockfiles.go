package build

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"

	"github.com/galerly/galerly-lambda/build/index"
	"github.com/galerly/galerly-lambda/build/lock"
	"github.com/galerly/galerly-lambda/build/target"
)

// This file holds what the builder does differently for a pylock.toml
// (PEP 751) lock, which names every wheel file and where to get it: the
// resolver lists those files instead of asking an index, and holds each
// download to the size the lock declares.

// readLock reads the lock at path with the extras and dependency groups
// sel names, and refuses it when it cannot be used for t (lock.Check):
// every key and build reads its lock this way, so a preview refuses what a
// build would. The lock's notes go to log, when there is one.
func readLock(path string, sel lock.Selection, t target.Target, log func(string, ...any)) (*lock.Lock, error) {
	l, err := lock.ReadFileSelected(path, sel)
	if err != nil {
		return nil, err
	}
	if err := l.Check(t); err != nil {
		return nil, err
	}
	if log != nil {
		for _, n := range l.Notes {
			log("note: %s", n)
		}
	}
	return l, nil
}

// LayerKeyOf computes, in process and with no network, the key a layer
// built with opts is stored under: that of opts.Lock with opts.Select for
// opts.Target, built with opts.KeyOptions(). It refuses what the build
// would refuse of the lock, so a preview never accepts what an update will
// reject.
func LayerKeyOf(opts LayerOptions) (string, error) {
	l, err := readLock(opts.Lock, opts.Select, opts.Target, nil)
	if err != nil {
		return "", err
	}
	if _, err := applying(l, opts.Target); err != nil {
		return "", err
	}
	return lock.Key(l, opts.Target, opts.KeyOptions()), nil
}

// listFiles lists the files choose picks a requirement's wheels from.
//
// For a requirements lock that is what the sources list. A pylock.toml
// names each wheel with its sha256 and where it is (a url, or a path
// relative to the lock), so no index is asked: those are listed as they
// are, after any file of the same project in a --find-links folder (used
// instead of a download when its bytes are the locked ones; choose hashes
// it). Only a wheel with neither url nor path is looked up on the sources
// (--index-url and its kind: the lock's packages.index is not used, since
// the credentials and mirrors for it are the command line's).
func (r *resolver) listFiles(ctx context.Context, req lock.Applied) ([]index.File, error) {
	if req.Wheels == nil {
		return r.sources.Files(ctx, req.Name)
	}
	var locked []index.File
	needIndex := false
	for _, w := range req.Wheels {
		if w.URL == "" && w.Path == "" {
			needIndex = true
			continue
		}
		f, err := r.lockedFile(w)
		if err != nil {
			return nil, err
		}
		locked = append(locked, f)
	}
	var listed []index.File
	switch {
	case needIndex:
		files, err := r.sources.Files(ctx, req.Name)
		if err != nil {
			return nil, err
		}
		listed = files
	case len(r.sources.FindLinks) > 0:
		folders := *r.sources
		folders.NoIndex, folders.IndexURL, folders.ExtraIndexURLs = true, "", nil
		files, err := folders.Files(ctx, req.Name)
		if err != nil {
			return nil, err
		}
		listed = files
	}
	// Listed first: of two files with one name and digest, choose keeps
	// the first, and a find-links copy costs no download.
	return append(listed, locked...), nil
}

// lockedFile is the index.File a pylock.toml wheel entry describes: its
// url, or its path (relative to the lock's folder) as a file:// URL,
// which Download copies from disk.
func (r *resolver) lockedFile(w lock.WheelFile) (index.File, error) {
	f := index.File{
		Filename: w.Filename,
		URL:      w.URL,
		SHA256:   w.SHA256,
		Source:   fmt.Sprintf("%s:%d (%s)", r.lock.File, w.Line, w.Where),
		// The download stops at the size the lock declares; a file of
		// another size cannot have the lock's sha256 either.
		Size: w.Size,
	}
	if w.Path != "" {
		p, err := filepath.Abs(w.LocalPath(r.lock.File))
		if err != nil {
			return index.File{}, fmt.Errorf("%s: path %s: %w", f.Source, w.Path, err)
		}
		f.URL = (&url.URL{Scheme: "file", Path: filepath.ToSlash(p)}).String()
	}
	return f, nil
}

// checkLockedSizes refuses a placed wheel whose file has another size than
// its pylock.toml entry declares. The file has the sha256 the lock names
// for it, so it is the locked file and the lock contradicts itself: a
// larger download is already cut off at the declared size, this catches a
// smaller one. It runs on every build (a stat per wheel), so a warm build
// refuses what a cold one does.
func checkLockedSizes(l *lock.Lock, placed []placement) error {
	for _, p := range placed {
		for _, req := range l.Requirements {
			for _, w := range req.Wheels {
				if w.SHA256 != p.SHA256 || w.Size <= 0 {
					continue
				}
				st, err := os.Stat(p.file)
				if err != nil {
					return fmt.Errorf("%s: %w", p.Wheel, err)
				}
				if st.Size() != w.Size {
					return fmt.Errorf("%s:%d (%s): declares size %d for %s, but the file with the sha256 it names has %d bytes: the lock contradicts itself; fix its size",
						l.File, w.Line, w.Where, w.Size, p.Wheel, st.Size())
				}
			}
		}
	}
	return nil
}
