package license

import (
	"regexp"
	"slices"
	"strings"
)

// Source says which part of METADATA a declaration was read from.
type Source string

// The sources of a declaration, in the order they are tried.
const (
	FromExpression  Source = "License-Expression"
	FromLicense     Source = "License"
	FromClassifiers Source = "classifiers"
	FromText        Source = "text" // not SPDX: kept as names
	FromNothing     Source = "none"
)

// Declared is what one distribution declares about its license.
type Declared struct {
	// Expression is the declared SPDX expression; nil when the
	// declaration is not SPDX (then Names holds it) or there is none.
	Expression *Expr
	// Names are the license names declared in words, as written, when
	// there is no SPDX expression: the License field's text (its first
	// line when it holds a whole license text), then the names of the
	// license classifiers.
	Names []string
	// Text is the License field's full text when it holds more than one
	// line (a license pasted whole); "" otherwise.
	Text   string
	Source Source
}

// Declare reads a declaration from m, trying in order (PEP 639):
//  1. License-Expression, when it parses as SPDX;
//  2. the License field, when it is an SPDX id or expression;
//  3. the license classifiers, when they all name the same SPDX license
//     (several distinct ones do not say whether they are AND or OR);
//  4. otherwise the License field's text and the classifiers' names, as
//     license names: never guessed into an id.
func Declare(m *Metadata) Declared {
	if m.LicenseExpression != "" {
		if e, err := ParseExpression(m.LicenseExpression); err == nil {
			return Declared{Expression: e, Source: FromExpression}
		}
		return Declared{Names: []string{m.LicenseExpression}, Source: FromText}
	}
	if m.License != "" && !strings.Contains(m.License, "\n") {
		if e, err := ParseExpression(m.License); err == nil {
			return Declared{Expression: e, Source: FromLicense}
		}
	}
	if id := classifiersID(m.Classifiers); id != "" {
		return Declared{Expression: &Expr{License: id}, Source: FromClassifiers}
	}
	if m.License == "" && len(m.Classifiers) == 0 {
		return Declared{Source: FromNothing}
	}
	d := Declared{Source: FromText}
	if m.License != "" {
		first, _, multi := strings.Cut(m.License, "\n")
		d.Names = append(d.Names, strings.TrimSpace(first))
		if multi {
			d.Text = m.License
		}
	}
	for _, c := range m.Classifiers {
		if n := classifierName(c); !slices.Contains(d.Names, n) {
			d.Names = append(d.Names, n)
		}
	}
	return d
}

// String is the declaration as one line: the expression, or the names
// joined by "; ", or "" for none.
func (d Declared) String() string {
	if d.Expression != nil {
		return d.Expression.String()
	}
	return strings.Join(d.Names, "; ")
}

// classifiersID returns the SPDX id every license classifier names, or ""
// when there is none, one names none, or they name different ones.
func classifiersID(cs []string) string {
	id := ""
	for _, c := range cs {
		got, ok := classifierSPDX[c]
		if !ok || id != "" && got != id {
			return ""
		}
		id = got
	}
	return id
}

// classifierName is the license a classifier names: its last segment,
// "License :: OSI Approved :: BSD License" -> "BSD License".
func classifierName(c string) string {
	parts := strings.Split(c, "::")
	return strings.TrimSpace(parts[len(parts)-1])
}

// classifierSPDX maps the Trove license classifiers that name exactly one
// SPDX license. Those that do not are left out on purpose: "BSD License"
// (2-, 3- or 4-clause?), "Apache Software License" (1.0, 1.1 or 2.0?),
// "GNU General Public License (GPL)" (which version?), "Python Software
// Foundation License", "zlib/libpng License", "Artistic License".
var classifierSPDX = map[string]string{
	"License :: OSI Approved :: MIT License":                                                "MIT",
	"License :: OSI Approved :: MIT No Attribution License (MIT-0)":                         "MIT-0",
	"License :: OSI Approved :: ISC License (ISCL)":                                         "ISC",
	"License :: OSI Approved :: The Unlicense (Unlicense)":                                  "Unlicense",
	"License :: OSI Approved :: Boost Software License 1.0 (BSL-1.0)":                       "BSL-1.0",
	"License :: OSI Approved :: Universal Permissive License (UPL)":                         "UPL-1.0",
	"License :: OSI Approved :: PostgreSQL License":                                         "PostgreSQL",
	"License :: OSI Approved :: Historical Permission Notice and Disclaimer (HPND)":         "HPND",
	"License :: OSI Approved :: Blue Oak Model License (BlueOak-1.0.0)":                     "BlueOak-1.0.0",
	"License :: OSI Approved :: Mozilla Public License 1.0 (MPL)":                           "MPL-1.0",
	"License :: OSI Approved :: Mozilla Public License 1.1 (MPL 1.1)":                       "MPL-1.1",
	"License :: OSI Approved :: Mozilla Public License 2.0 (MPL 2.0)":                       "MPL-2.0",
	"License :: OSI Approved :: Eclipse Public License 1.0 (EPL-1.0)":                       "EPL-1.0",
	"License :: OSI Approved :: Eclipse Public License 2.0 (EPL-2.0)":                       "EPL-2.0",
	"License :: OSI Approved :: European Union Public Licence 1.0 (EUPL 1.0)":               "EUPL-1.0",
	"License :: OSI Approved :: European Union Public Licence 1.1 (EUPL 1.1)":               "EUPL-1.1",
	"License :: OSI Approved :: European Union Public Licence 1.2 (EUPL 1.2)":               "EUPL-1.2",
	"License :: OSI Approved :: Common Development and Distribution License 1.0 (CDDL-1.0)": "CDDL-1.0",
	"License :: OSI Approved :: GNU General Public License v2 (GPLv2)":                      "GPL-2.0-only",
	"License :: OSI Approved :: GNU General Public License v2 or later (GPLv2+)":            "GPL-2.0-or-later",
	"License :: OSI Approved :: GNU General Public License v3 (GPLv3)":                      "GPL-3.0-only",
	"License :: OSI Approved :: GNU General Public License v3 or later (GPLv3+)":            "GPL-3.0-or-later",
	"License :: OSI Approved :: GNU Lesser General Public License v2 (LGPLv2)":              "LGPL-2.0-only",
	"License :: OSI Approved :: GNU Lesser General Public License v2 or later (LGPLv2+)":    "LGPL-2.0-or-later",
	"License :: OSI Approved :: GNU Lesser General Public License v3 (LGPLv3)":              "LGPL-3.0-only",
	"License :: OSI Approved :: GNU Lesser General Public License v3 or later (LGPLv3+)":    "LGPL-3.0-or-later",
	"License :: OSI Approved :: GNU Affero General Public License v3":                       "AGPL-3.0-only",
	"License :: OSI Approved :: GNU Affero General Public License v3 or later (AGPLv3+)":    "AGPL-3.0-or-later",
	"License :: CC0 1.0 Universal (CC0 1.0) Public Domain Dedication":                       "CC0-1.0",
}

// copyleftID matches the SPDX ids of the GNU licenses (GPL, LGPL, AGPL
// and their deprecated spellings).
var copyleftID = regexp.MustCompile(`^(A|L)?GPL-`)

// copyleft returns the GNU license ids e declares, sorted.
func copyleft(e *Expr) []string {
	if e == nil {
		return nil
	}
	var out []string
	for _, id := range e.IDs() {
		if copyleftID.MatchString(id) && !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}
