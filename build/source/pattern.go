package source

import (
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/galerly/galerly-lambda/build/internal/clip"
)

// DefaultExcludes returns the patterns every walk starts with: what must
// never ship in a function package (bytecode, version control, virtualenvs,
// environment files, editor and OS litter, tests and tool caches). An
// --include pattern re-includes any of them. It is a function so no caller
// can change what every other walk excludes.
func DefaultExcludes() []string {
	return []string{
		// Bytecode: Lambda compiles what it imports, and a .pyc made on a
		// developer's machine would make the package depend on that machine.
		"__pycache__/",
		"*.pyc",
		"*.pyo",
		// Version control and virtualenvs.
		".git",
		".hg",
		".svn",
		".venv",
		"venv/",
		// Environment files hold secrets.
		".env",
		".env.*",
		// Editor and OS litter (.#* are Emacs lock files, which are symlinks).
		".DS_Store",
		"Thumbs.db",
		"desktop.ini",
		"*.swp",
		"*.swo",
		"*~",
		".#*",
		".idea/",
		".vscode/",
		// Tests and the caches test and lint tools leave.
		"tests/",
		"test_*.py",
		"*_test.py",
		"conftest.py",
		".pytest_cache/",
		".mypy_cache/",
		".ruff_cache/",
		".tox/",
	}
}

// pattern is one compiled exclude or include pattern.
type pattern struct {
	text     string   // as given, for messages
	include  bool     // an --include (re-includes what it matches)
	anchored bool     // matched against the whole relative path, not the name
	dirOnly  bool     // ends in "/": matches folders only
	segs     []string // slash-separated elements; "**" is any number of folders
}

// compile parses one pattern, in the syntax [Filter] documents.
func compile(text string, include bool) (pattern, error) {
	p := pattern{text: text, include: include}
	s := text
	switch {
	case s == "":
		return p, errors.New("empty pattern")
	case strings.HasPrefix(s, "!"):
		return p, errors.New(`"!" negation is not supported: re-include with an include pattern instead`)
	case strings.Contains(s, `\`):
		return p, errors.New(`backslash: separate folders with "/"; escapes are not supported`)
	}
	if strings.HasSuffix(s, "/") {
		p.dirOnly = true
		s = strings.TrimSuffix(s, "/")
	}
	if strings.HasPrefix(s, "/") {
		p.anchored = true
		s = strings.TrimPrefix(s, "/")
	}
	if strings.Contains(s, "/") {
		p.anchored = true
	}
	if s == "" {
		return p, errors.New("pattern matches nothing but the source folder itself")
	}
	p.segs = strings.Split(s, "/")
	for _, seg := range p.segs {
		switch seg {
		case "":
			return p, errors.New(`empty folder name ("//")`)
		case ".", "..":
			return p, fmt.Errorf("%s element: patterns are relative to the source folder and stay inside it", clip.Quote(seg))
		}
		if _, err := path.Match(seg, ""); err != nil {
			return p, fmt.Errorf("bad pattern element %s: %w", clip.Quote(seg), err)
		}
	}
	return p, nil
}

// match reports whether p matches the path rel (slash-separated, relative
// to the source folder), a folder when isDir.
func (p *pattern) match(rel string, isDir bool) bool {
	if p.dirOnly && !isDir {
		return false
	}
	if !p.anchored {
		name := rel[strings.LastIndexByte(rel, '/')+1:]
		ok, _ := path.Match(p.segs[0], name) // checked by compile
		return ok
	}
	return matchSegs(p.segs, strings.Split(rel, "/"))
}

// matchSegs matches pattern elements against path elements. A trailing
// "**" needs at least one element, as in gitignore: "a/**" matches what is
// inside a, not a itself.
func matchSegs(pat, name []string) bool {
	for len(pat) > 0 {
		if pat[0] == "**" {
			if len(pat) == 1 {
				return len(name) > 0
			}
			for i := 0; i <= len(name); i++ {
				if matchSegs(pat[1:], name[i:]) {
					return true
				}
			}
			return false
		}
		if len(name) == 0 {
			return false
		}
		if ok, _ := path.Match(pat[0], name[0]); !ok {
			return false
		}
		pat, name = pat[1:], name[1:]
	}
	return len(name) == 0
}

// rules is a filter compiled: the default excludes, then the caller's
// excludes, then the includes.
type rules []pattern

// compileFilter compiles f after the default excludes.
func compileFilter(f Filter) (rules, error) {
	var rs rules
	add := func(list []string, include bool, kind string) error {
		for _, text := range list {
			p, err := compile(text, include)
			if err != nil {
				return fmt.Errorf("%s pattern %s: %w", kind, clip.Quote(text), err)
			}
			rs = append(rs, p)
		}
		return nil
	}
	if err := add(DefaultExcludes(), false, "default exclude"); err != nil {
		return nil, err // a bug in DefaultExcludes, caught by the tests
	}
	if err := add(f.Exclude, false, "exclude"); err != nil {
		return nil, err
	}
	if err := add(f.Include, true, "include"); err != nil {
		return nil, err
	}
	return rs, nil
}

// decide returns the verdict of the rules on one path, at its own level:
// the last rule that matches wins, so an include beats any exclude. ok is
// false when no rule matches, and the path inherits its folder's verdict.
func (rs rules) decide(rel string, isDir bool) (excluded, ok bool, by *pattern) {
	for i := len(rs) - 1; i >= 0; i-- {
		if rs[i].match(rel, isDir) {
			return !rs[i].include, true, &rs[i]
		}
	}
	return false, false, nil
}

// hasIncludes reports whether any include pattern was given: only then can
// a path under an excluded folder be packed.
func (rs rules) hasIncludes() bool {
	for _, r := range rs {
		if r.include {
			return true
		}
	}
	return false
}

// Check reports the first bad pattern of f, naming it, so a command line
// can refuse it as a usage error before any work.
func (f Filter) Check() error {
	_, err := compileFilter(f)
	return err
}
