package lock

import (
	"fmt"
	"strings"

	"github.com/galerly/galerly-lambda/build/internal/clip"
	"github.com/galerly/galerly-lambda/build/internal/pep440"
	"github.com/galerly/galerly-lambda/build/internal/pyname"
)

// NormalizeName returns the PEP 503 normalized form of a project name, as
// package pyname does; Requirement.Name is in this form.
func NormalizeName(name string) string { return pyname.Normalize(name) }

// parseRequirement parses the part of a requirement line before its
// options: NAME[EXTRAS]==VERSION[; MARKER]. Extras are checked and dropped:
// they only decided which dependencies the lock generator listed, and
// those are in the lock as requirements of their own.
func parseRequirement(s string) (*Requirement, error) {
	if err := refuseReference(s); err != nil {
		return nil, err
	}
	end := strings.IndexAny(s, " \t[(=!<>~;@")
	if end < 0 {
		end = len(s)
	}
	spelled := s[:end]
	if spelled == "" {
		return nil, fmt.Errorf("%s: expected a package name", clip.Quote(s))
	}
	if !pyname.Valid(spelled) {
		return nil, fmt.Errorf("invalid package name %s: a name is ASCII letters, digits, '.', '_' and '-', starting and ending with a letter or digit", clip.Quote(spelled))
	}
	rest := strings.TrimSpace(s[end:])
	if strings.HasPrefix(rest, "[") {
		close := strings.IndexByte(rest, ']')
		if close < 0 {
			return nil, fmt.Errorf("%s: the extras have no closing ]", clip.String(spelled+rest))
		}
		if extras := strings.TrimSpace(rest[1:close]); extras != "" {
			for _, e := range strings.Split(extras, ",") {
				if !pyname.Valid(strings.TrimSpace(e)) {
					return nil, fmt.Errorf("%s: invalid extra %s", clip.String(spelled), clip.Quote(strings.TrimSpace(e)))
				}
			}
		}
		rest = strings.TrimSpace(rest[close+1:])
	}
	spec, markerText, hasMarker := strings.Cut(rest, ";")
	version, err := parsePin(spelled, strings.TrimSpace(spec))
	if err != nil {
		return nil, err
	}
	// Spelled is for messages only, so it is kept short.
	req := &Requirement{Name: NormalizeName(spelled), Spelled: clip.String(spelled), Version: version}
	if hasMarker {
		m, err := ParseMarker(markerText)
		if err != nil {
			return nil, fmt.Errorf("%s: marker %s: %w", clip.String(spelled), clip.Quote(strings.TrimSpace(markerText)), err)
		}
		req.Marker = m
	}
	return req, nil
}

// parsePin checks that spec is exactly "==VERSION" and returns VERSION.
func parsePin(name, spec string) (string, error) {
	if strings.HasPrefix(spec, "(") && strings.HasSuffix(spec, ")") {
		spec = strings.TrimSpace(spec[1 : len(spec)-1])
	}
	// Both are echoed, perhaps twice: a hostile or corrupted lock may
	// hold megabytes on one line.
	name, shown := clip.String(name), clip.String(spec)
	want := fmt.Sprintf("a lock pins every requirement as %s==VERSION", name)
	if spec == "" {
		return "", fmt.Errorf("%s is not pinned: %s", name, want)
	}
	if strings.Contains(spec, ",") {
		return "", fmt.Errorf("%s%s is a range, not an exact pin: %s", name, shown, want)
	}
	var op string
	for _, o := range []string{"===", "==", "!=", "~=", "<=", ">=", "<", ">"} {
		if strings.HasPrefix(spec, o) {
			op = o
			break
		}
	}
	version := strings.TrimSpace(strings.TrimPrefix(spec, op))
	switch {
	case op == "":
		return "", fmt.Errorf("%s %s: expected ==VERSION after the name: %s", name, shown, want)
	case op == "===":
		return "", fmt.Errorf("%s%s: arbitrary equality (===) is not supported: %s", name, shown, want)
	case op != "==":
		return "", fmt.Errorf("%s%s is a range, not an exact pin: %s", name, shown, want)
	case strings.HasSuffix(version, ".*"):
		return "", fmt.Errorf("%s%s is a wildcard, not an exact pin: %s", name, shown, want)
	case !isVersion(version):
		return "", fmt.Errorf("%s%s: %s is not a valid version (PEP 440)", name, shown, clip.Quote(version))
	}
	return version, nil
}

// refuseReference refuses the requirement forms that name files rather
// than versions: direct references (NAME @ URL), bare URLs, VCS
// checkouts and local paths. Their contents are not described by the
// lock, so the key could not follow them.
func refuseReference(s string) error {
	if at := strings.IndexByte(s, '@'); at >= 0 {
		head := strings.TrimSpace(s[:at])
		if name, _, _ := strings.Cut(head, "["); pyname.Valid(strings.TrimSpace(name)) {
			ref := strings.TrimSpace(s[at+1:])
			if u, _, ok := strings.Cut(ref, " ;"); ok {
				ref = strings.TrimSpace(u)
			}
			name = strings.TrimSpace(name)
			switch {
			case isVCS(ref):
				return vcsError(ref)
			case strings.HasPrefix(strings.ToLower(ref), "file:"),
				!strings.Contains(ref, "://") && looksLikePath(ref):
				return pathError(ref)
			}
			name = clip.String(name)
			return fmt.Errorf("%s @ %s: direct references (NAME @ URL) are not supported: pin %s==VERSION with its --hash and give the index on the lambdapack command line", name, clip.String(ref), name)
		}
	}
	first, _, _ := strings.Cut(s, ";")
	if f := strings.Fields(first); len(f) > 0 {
		first = f[0]
	}
	switch {
	case isVCS(first):
		return vcsError(first)
	case strings.HasPrefix(strings.ToLower(first), "file:"):
		return pathError(first)
	case strings.Contains(first, "://"):
		return fmt.Errorf("%s: URLs are not supported: pin NAME==VERSION with its --hash and pass the index with --index-url or --find-links", clip.String(first))
	case looksLikePath(first):
		return pathError(first)
	}
	return nil
}

func isVCS(s string) bool {
	s = strings.ToLower(s)
	for _, p := range []string{"git+", "hg+", "svn+", "bzr+"} {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

func vcsError(ref string) error {
	return fmt.Errorf("%s: VCS requirements are not supported: build a wheel, publish it to an index or a --find-links folder, and pin NAME==VERSION with its --hash", clip.String(ref))
}

func pathError(ref string) error {
	return fmt.Errorf("%s: local paths are not supported: put the wheel in a --find-links folder and pin NAME==VERSION with its --hash", clip.String(ref))
}

// looksLikePath reports whether a requirement token is a file or folder
// rather than a project name: it has a path separator, starts like a
// path, or ends like an archive.
func looksLikePath(s string) bool {
	if strings.ContainsAny(s, `/\`) || strings.HasPrefix(s, ".") || strings.HasPrefix(s, "~") {
		return true
	}
	lower := strings.ToLower(s)
	for _, ext := range []string{".whl", ".zip", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".tar"} {
		if strings.HasSuffix(lower, ext) {
			return true
		}
	}
	return false
}

func isVersion(s string) bool {
	_, err := pep440.Parse(s)
	return err == nil
}
