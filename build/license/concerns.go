package license

import (
	"bytes"
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/galerly/galerly-lambda/build/internal/pyname"
)

// File is a license file found in a wheel: its path in the wheel and its
// text.
type File struct {
	Path string
	Text []byte
}

// Package is what is known of one distribution's licensing: its
// declaration and what its wheel carries besides.
type Package struct {
	Name        string // as METADATA spells it
	Declared    Declared
	Classifiers []string // its "License ::" classifiers
	Files       []File   // its license files
	// Libraries are the paths of the shared libraries vendored in its
	// wheel (auditwheel's NAME.libs/ and others bundled beside the code).
	Libraries []string
}

// SPDX is p's declaration as an SPDX expression for a summary: its
// declared expression, or, when it declares none in SPDX,
// LicenseRef-pypi-NAME (the SBOM has the words it declares).
func (p Package) SPDX() *Expr {
	if p.Declared.Expression != nil {
		return p.Declared.Expression
	}
	return &Expr{License: "LicenseRef-pypi-" + pyname.Normalize(p.Name)}
}

// Concern is a package whose wheel carries more than its declaration says,
// or that declares copyleft terms, and why. Sharing an artifact
// distributes its binaries, and GPL or LGPL terms then apply to whoever
// shares it.
type Concern struct {
	Package string `json:"package"`
	Why     string `json:"why"`
}

// maxListed bounds the libraries named in one concern.
const maxListed = 8

// Concerns says what p carries beyond a permissive declaration, one
// Concern per reason: copyleft licenses it declares; a GNU license
// classifier its declaration does not state; license files whose text
// names a GNU license it does not declare; bundled-licenses files; the
// shared libraries it vendors; and no declaration at all.
func Concerns(p Package) []Concern {
	var whys []string
	declared := copyleft(p.Declared.Expression)
	if len(declared) > 0 {
		whys = append(whys, "declares "+strings.Join(declared, ", "))
	}
	if p.Declared.Source == FromNothing {
		whys = append(whys, "declares no license (no License-Expression, License or license classifier)")
	}
	for _, c := range p.Classifiers {
		if gnuClassifier(c) && len(declared) == 0 {
			whys = append(whys, fmt.Sprintf("classifier %q names a GNU license its SPDX declaration does not state", c))
		}
	}
	for _, f := range p.Files {
		if names := gnuNamed(f.Text); len(names) > 0 && len(declared) == 0 {
			whys = append(whys, fmt.Sprintf("license file %s names the GNU %s", f.Path, strings.Join(names, " and ")))
		}
		if bundledFile(f.Path) {
			whys = append(whys, fmt.Sprintf("carries a bundled-licenses file, %s: the wheel ships software under other licenses", f.Path))
		}
	}
	if n := len(p.Libraries); n > 0 {
		libs := make([]string, 0, min(n, maxListed))
		for _, l := range p.Libraries[:min(n, maxListed)] {
			libs = append(libs, path.Base(l))
		}
		more := ""
		if n > maxListed {
			more = fmt.Sprintf(" and %d more", n-maxListed)
		}
		whys = append(whys, fmt.Sprintf("vendors %d shared %s (%s%s): their licenses are not in its declaration",
			n, plural(n, "library", "libraries"), strings.Join(libs, ", "), more))
	}
	out := make([]Concern, 0, len(whys))
	for _, w := range whys {
		out = append(out, Concern{Package: p.Name, Why: w})
	}
	return out
}

// SortConcerns sorts concerns by package, dropping repeats (one wheel
// placed in two folders has its concerns twice), for a summary beside the
// AND of the packages' declarations (And of each Package's SPDX).
func SortConcerns(concerns []Concern) []Concern {
	concerns = append([]Concern{}, concerns...) // never nil: the report lists none as []
	slices.SortStableFunc(concerns, func(a, b Concern) int {
		return strings.Compare(pyname.Normalize(a.Package), pyname.Normalize(b.Package))
	})
	return slices.CompactFunc(concerns, func(a, b Concern) bool { return a == b })
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// gnuClassifier reports whether a license classifier names a GNU license.
func gnuClassifier(c string) bool {
	return strings.Contains(c, "GNU ") || strings.Contains(c, "GPL")
}

// gnuSignals are what shows a text puts something under a GNU license,
// each with a group naming which (empty, "L"/"Lesser"/"Library" or
// "A"/"Affero"): an SPDX-style id (numpy's "GPL-3.0-with-GCC-exception",
// "LGPLv2.1+"), a license's own title ("GNU LESSER GENERAL PUBLIC LICENSE
// Version 3"), or a grant ("released under the GNU General Public
// License", "under the terms of the GNU Lesser General Public License").
// A mere mention is not one: the PSF license's history says Python was
// "previously distributed under the GNU General Public License (GPL)", and
// many texts call themselves "GPL-compatible".
var gnuSignals = []*regexp.Regexp{
	regexp.MustCompile(`\b(A|L)?GPL(?:-[123](?:\.\d)?|v[123](?:\.\d)?)\b`),
	regexp.MustCompile(`(?i)\bGNU\s+(?:(LESSER|LIBRARY|AFFERO)\s+)?GENERAL\s+PUBLIC\s+LICEN[CS]E\W+Version\s+\d`),
	regexp.MustCompile(`(?i)(?:(?:licensed|released|available)\s+under\s+the|under\s+the\s+terms\s+of\s+the)\W+GNU\s+(?:(Lesser|Library|Affero)\s+)?General\s+Public\s+Licen[cs]e`),
}

// gnuNamed returns which GNU licenses text puts something under: "GPL",
// "LGPL", "AGPL".
func gnuNamed(text []byte) []string {
	// Every signal holds "GPL" or "general public": most license files
	// hold neither and need no regexp.
	lower := bytes.ToLower(text)
	if !bytes.Contains(lower, []byte("gpl")) && !bytes.Contains(lower, []byte("general")) {
		return nil
	}
	found := map[string]bool{}
	for _, re := range gnuSignals {
		for _, m := range re.FindAllSubmatch(text, -1) {
			switch strings.ToLower(string(m[1])) {
			case "l", "lesser", "library":
				found["LGPL"] = true
			case "a", "affero":
				found["AGPL"] = true
			default:
				found["GPL"] = true
			}
		}
	}
	var out []string
	for _, k := range []string{"GPL", "LGPL", "AGPL"} {
		if found[k] {
			out = append(out, k)
		}
	}
	return out
}

// bundledFile reports whether a license file's name says it holds the
// licenses of software bundled in the wheel (numpy's and pillow-heif's
// LICENSES_bundled.txt, third-party notices).
func bundledFile(p string) bool {
	base := strings.ToLower(path.Base(p))
	for _, w := range []string{"bundled", "third-party", "third_party", "thirdparty", "3rdparty", "vendored"} {
		if strings.Contains(base, w) {
			return true
		}
	}
	return false
}

// MaxInfo is Lambda's limit on a layer version's LicenseInfo.
const MaxInfo = 512

// LayerInfo is the LicenseInfo of a layer version whose license summary
// is licenses and whose SBOM is at sbomURI: the summary when it fits in
// MaxInfo characters, else "see " and the SBOM's URI (or, with no SBOM,
// the summary cut at a term boundary with "AND ..." to say so).
func LayerInfo(licenses, sbomURI string) string {
	if len(licenses) <= MaxInfo {
		return licenses
	}
	if sbomURI != "" && len("see ")+len(sbomURI) <= MaxInfo {
		return "see " + sbomURI
	}
	// No SBOM to point at: keep the whole terms that fit and say more
	// follow.
	const more = " AND ..."
	e, err := ParseExpression(licenses)
	if err != nil || e.Op != "AND" {
		return licenses[:MaxInfo-len(" ...")] + " ..."
	}
	var kept []string
	n := len(more)
	for _, t := range e.Args {
		s := andTerm(t)
		if n+len(s)+len(" AND ") > MaxInfo {
			break
		}
		kept = append(kept, s)
		n += len(s) + len(" AND ")
	}
	return strings.Join(kept, " AND ") + more
}
