package build

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/galerly/galerly-lambda/build/index"
	"github.com/galerly/galerly-lambda/build/lock"
)

// This file holds how a requirements lock's index lines (--index-url,
// --extra-index-url, --find-links, --no-index, as pip-compile writes them)
// join the command line's: they say where to look for the files the
// hashes pin, so they are not part of the key.

// sourcesFor returns where a build from l looks for wheels: s, from the
// command line, with the lock's index options of each kind the command
// line gives none of. The kinds are the indexes (--index-url,
// --extra-index-url, --no-index) and the --find-links folders. pip lets a
// file's --index-url override the command line's; here the command line
// wins, so a CI job can point every build at its mirror whatever a lock
// says. notes say which index options were used, from where, and which
// lock lines were not; they show no credentials.
func sourcesFor(s index.Sources, l *lock.Lock) (index.Sources, []string, error) {
	ix := l.Index
	if ix.IsZero() {
		return s, nil, nil
	}
	var indexLines []lock.Option
	if ix.IndexURL != nil {
		indexLines = append(indexLines, *ix.IndexURL)
	}
	indexLines = append(indexLines, ix.ExtraIndexURLs...)
	if ix.NoIndex != nil {
		indexLines = append(indexLines, *ix.NoIndex)
	}
	out := s
	var notes []string
	switch {
	case len(indexLines) == 0:
	case s.IndexURL != "" || len(s.ExtraIndexURLs) > 0 || s.NoIndex:
		notes = append(notes, "the command line's index options are used, not the lock's "+describeLines(indexLines))
	default:
		for _, o := range indexLines {
			v := o.Expanded()
			switch o.Name {
			case "--no-index":
				out.NoIndex = true
				continue
			case "--extra-index-url":
				out.ExtraIndexURLs = append(out.ExtraIndexURLs, v)
			default:
				out.IndexURL = v
			}
			if err := index.CheckIndexURL(v); err != nil {
				return s, nil, fmt.Errorf("%s: %w", o.Where(), err)
			}
		}
		notes = append(notes, "index options from the lock: "+describeLines(indexLines))
	}
	switch {
	case len(ix.FindLinks) == 0:
	case len(s.FindLinks) > 0:
		notes = append(notes, "the command line's --find-links are used, not the lock's "+describeLines(ix.FindLinks))
	default:
		for _, o := range ix.FindLinks {
			fl, err := findLinksOf(o)
			if err != nil {
				return s, nil, err
			}
			out.FindLinks = append(out.FindLinks, fl)
		}
		notes = append(notes, "find-links from the lock: "+describeLines(ix.FindLinks))
	}
	if out.NoIndex && len(out.FindLinks) == 0 {
		return s, nil, fmt.Errorf("%s: --no-index, and no --find-links folder: there is nowhere to get wheels from", ix.NoIndex.Where())
	}
	notes = append(notes, "wheels are looked up on "+out.Describe())
	return out, notes, nil
}

// findLinksOf is the --find-links value o gives: a URL as it is, a folder
// relative to the folder of the file that names it (as in pip), which
// must exist.
func findLinksOf(o lock.Option) (string, error) {
	v := o.Expanded()
	if strings.Contains(v, "://") {
		return v, nil
	}
	p := filepath.FromSlash(v)
	if !filepath.IsAbs(p) {
		p = filepath.Join(o.Dir, p)
	}
	if st, err := os.Stat(p); err != nil || !st.IsDir() {
		return "", fmt.Errorf("%s: %s: no such folder (a relative --find-links is relative to the file that names it)", o.Where(), o.Display())
	}
	return p, nil
}

// describeLines lists lock lines for a note: "--index-url
// https://host/simple/ (locks/x.txt:3), ...".
func describeLines(opts []lock.Option) string {
	parts := make([]string, len(opts))
	for i, o := range opts {
		parts[i] = fmt.Sprintf("%s (%s)", o.Display(), o.Where())
	}
	return strings.Join(parts, ", ")
}

// useLockSources makes *s the sources a build from l uses (sourcesFor),
// logs the notes, and checks that out is none of the inputs the lock
// adds: a file it includes, a find-links folder it names.
func useLockSources(s *index.Sources, l *lock.Lock, out string, in Inputs, log func(string, ...any)) error {
	src, notes, err := sourcesFor(*s, l)
	if err != nil {
		return err
	}
	for _, n := range notes {
		log("note: %s", n)
	}
	in.FindLinks, in.Includes = src.FindLinks, l.Includes
	if err := CheckOutNotInput(out, in); err != nil {
		return err
	}
	*s = src
	return nil
}
