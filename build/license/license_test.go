package license

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func readMetadata(t *testing.T, name string) *Metadata {
	t.Helper()
	file := filepath.Join("testdata", name+".METADATA")
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	m, err := ParseMetadata(file, data)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestDeclareRealMetadata reads METADATA files copied from real wheels
// and installed distributions on the build machine (pyenv's ensurepip
// wheels and site-packages, Debian's dist-packages): every form a
// declaration takes.
func TestDeclareRealMetadata(t *testing.T) {
	tests := []struct {
		file   string
		name   string
		source Source
		expr   string   // the SPDX expression, when declared as one
		names  []string // the names, when not
	}{
		// PEP 639 License-Expression (Metadata-Version 2.4).
		{"attrs-26.1.0", "attrs", FromExpression, "MIT", nil},
		{"cryptography-48.0.0", "cryptography", FromExpression, "Apache-2.0 OR BSD-3-Clause", nil},
		{"regex-2026.5.9", "regex", FromExpression, "Apache-2.0 AND CNRI-Python", nil},
		{"typing_extensions-4.15.0", "typing_extensions", FromExpression, "PSF-2.0", nil},
		// An SPDX id or expression in the License field.
		{"boto3-1.43.11", "boto3", FromLicense, "Apache-2.0", nil},
		{"certifi-2026.5.20", "certifi", FromLicense, "MPL-2.0", nil},
		{"orjson-3.8.3", "orjson", FromLicense, "Apache-2.0 OR MIT", nil},
		{"pip-24.2", "pip", FromLicense, "MIT", nil},
		// No License field (or UNKNOWN), one unambiguous classifier.
		{"annotated_types-0.7.0", "annotated-types", FromClassifiers, "MIT", nil},
		{"setuptools-58.1.0", "setuptools", FromClassifiers, "MIT", nil},
		// Free text the classifier confirms: the classifier is SPDX.
		{"libcst-1.0.1", "libcst", FromClassifiers, "MIT", nil},
		// Free text with an ambiguous classifier: kept as written.
		{"cloudpickle-2.1.0", "cloudpickle", FromText, "", []string{"BSD 3-Clause License", "BSD License"}},
		{"jsonpatch-1.33", "jsonpatch", FromText, "", []string{"Modified BSD License", "BSD License"}},
		{"rsa-4.7.2", "rsa", FromText, "", []string{"ASL 2", "Apache Software License"}},
		{"backcall-0.2.0", "backcall", FromText, "", []string{"BSD License"}},
		// "Dual License" with two classifiers: neither which two nor
		// whether AND or OR is SPDX, so nothing is guessed.
		{"python_dateutil-2.9.0.post0", "python-dateutil", FromText, "", []string{"Dual License", "BSD License", "Apache Software License"}},
		{"docutils-0.19", "docutils", FromText, "", []string{"public domain, Python, 2-Clause BSD, GPL 3 (see COPYING.txt)",
			"Public Domain", "Python Software Foundation License", "BSD License", "GNU General Public License (GPL)"}},
		// A whole license text in the License field (Debian's scipy).
		{"scipy-1.10.1", "scipy", FromText, "", []string{"Copyright (c) 2001-2002 Enthought, Inc. 2003-2022, SciPy Developers.", "BSD License"}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			m := readMetadata(t, tc.file)
			if m.Name != tc.name {
				t.Errorf("Name = %q, want %q", m.Name, tc.name)
			}
			d := Declare(m)
			if d.Source != tc.source {
				t.Errorf("source = %s, want %s", d.Source, tc.source)
			}
			got := ""
			if d.Expression != nil {
				got = d.Expression.String()
			}
			if got != tc.expr {
				t.Errorf("expression = %q, want %q", got, tc.expr)
			}
			if !slices.Equal(d.Names, tc.names) {
				t.Errorf("names = %q, want %q", d.Names, tc.names)
			}
		})
	}
}

func TestMultilineLicenseKeepsText(t *testing.T) {
	d := Declare(readMetadata(t, "scipy-1.10.1"))
	if !strings.Contains(d.Text, "Redistribution and use in source and binary forms") || !strings.Contains(d.Text, "\n\n") {
		t.Errorf("the License field's whole text (with its blank lines) is not kept: %q", d.Text)
	}
	if strings.Contains(d.Text, "        ") {
		t.Errorf("the folding indent is left in the text: %q", d.Text)
	}
}

func TestLicenseFilesRead(t *testing.T) {
	m := readMetadata(t, "cryptography-48.0.0")
	want := []string{"LICENSE", "LICENSE.APACHE", "LICENSE.BSD"}
	if !slices.Equal(m.LicenseFiles, want) {
		t.Errorf("License-File = %q, want %q", m.LicenseFiles, want)
	}
}

func TestParseMetadataErrors(t *testing.T) {
	for _, tc := range []struct{ data, want string }{
		{"Metadata-Version: 2.1\nName: x\n", "no Name or Version"},
		{" folded\nName: x\n", "line 1: a continuation line"},
		{"Name: x\nVersion 1\n", "line 2:"},
	} {
		_, err := ParseMetadata("pkg.dist-info/METADATA", []byte(tc.data))
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "pkg.dist-info/METADATA") {
			t.Errorf("%q: error %v, want one naming the file and %q", tc.data, err, tc.want)
		}
	}
}

func TestParseExpression(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"mit", "MIT"},
		{"apache-2.0 or mit", "Apache-2.0 OR MIT"},
		{"(MIT OR Apache-2.0) AND BSD-3-Clause", "(MIT OR Apache-2.0) AND BSD-3-Clause"},
		{"MIT AND (BSD-2-Clause AND ISC)", "MIT AND BSD-2-Clause AND ISC"},
		{"MIT OR BSD-2-Clause AND ISC", "MIT OR BSD-2-Clause AND ISC"},
		{"gpl-3.0-or-later with gcc-exception-3.1", "GPL-3.0-or-later WITH GCC-exception-3.1"},
		{"LGPL-2.1+", "LGPL-2.1+"},
		{"GPL-2.0+", "GPL-2.0+"},
		{"LicenseRef-Vendor-1 OR MIT", "LicenseRef-Vendor-1 OR MIT"},
		{"DocumentRef-x:LicenseRef-y", "DocumentRef-x:LicenseRef-y"},
	} {
		e, err := ParseExpression(tc.in)
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		if got := e.String(); got != tc.want {
			t.Errorf("%q = %q, want %q", tc.in, got, tc.want)
		}
	}
	for _, bad := range []string{"", "BSD", "Apache 2.0", "MIT license", "MIT AND", "(MIT", "MIT)", "MIT WITH MIT", "LicenseRef-x WITH Classpath-exception-2.0", "MIT/X11", "Dual License"} {
		if e, err := ParseExpression(bad); err == nil {
			t.Errorf("%q parsed as %q; it is not SPDX", bad, e)
		}
	}
}

func TestAnd(t *testing.T) {
	parse := func(s string) *Expr {
		e, err := ParseExpression(s)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	for _, tc := range []struct {
		in   []string
		want string
	}{
		{nil, ""},
		{[]string{"MIT"}, "MIT"},
		{[]string{"MIT", "mit"}, "MIT"},
		{[]string{"MIT OR Apache-2.0"}, "MIT OR Apache-2.0"},
		{[]string{"MIT-CMU", "BSD-3-Clause", "MIT OR Apache-2.0"}, "BSD-3-Clause AND (MIT OR Apache-2.0) AND MIT-CMU"},
		{[]string{"BSD-3-Clause AND 0BSD AND MIT", "MIT", "BSD-3-Clause"}, "0BSD AND BSD-3-Clause AND MIT"},
		{[]string{"Apache-2.0 OR BSD-3-Clause", "BSD-3-Clause OR Apache-2.0"}, "(Apache-2.0 OR BSD-3-Clause) AND (BSD-3-Clause OR Apache-2.0)"},
	} {
		var es []*Expr
		for _, s := range tc.in {
			es = append(es, parse(s))
		}
		if got := And(es...); got != tc.want {
			t.Errorf("And(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if tc.want != "" {
			if _, err := ParseExpression(tc.want); err != nil {
				t.Errorf("And(%q) = %q is not a valid expression: %v", tc.in, tc.want, err)
			}
		}
	}
}

func TestConcerns(t *testing.T) {
	typingLicense, err := os.ReadFile("testdata/typing_extensions-4.15.0.LICENSE")
	if err != nil {
		t.Fatal(err)
	}
	docutilsCopying, err := os.ReadFile("testdata/docutils-0.19.COPYING.txt")
	if err != nil {
		t.Fatal(err)
	}
	numpyLicense := []byte("Copyright (c) 2005-2024, NumPy Developers.\n...\n----\n\nThis binary distribution of NumPy also bundles the following software:\n\n" +
		"Name: GCC runtime library\nFiles: numpy.libs/libgfortran*.so\nLicense: GPL-3.0-with-GCC-exception\n" +
		"  it under the terms of the GNU General Public License as published by\n")
	pkg := func(name string, files []File, libs []string) Package {
		return Package{Name: name, Declared: Declare(readMetadata(t, name)), Classifiers: readMetadata(t, name).Classifiers, Files: files, Libraries: libs}
	}
	tests := []struct {
		name string
		p    Package
		want []string // substrings of the whys, in order
	}{
		{"permissive, PSF text that mentions the GPL", pkg("typing_extensions-4.15.0", []File{{"typing_extensions-4.15.0.dist-info/licenses/LICENSE", typingLicense}}, nil), nil},
		{"GPL classifier beyond free text", pkg("docutils-0.19", []File{{"docutils-0.19.dist-info/COPYING.txt", docutilsCopying}}, nil),
			[]string{`classifier "License :: OSI Approved :: GNU General Public License (GPL)" names a GNU license`, "license file docutils-0.19.dist-info/COPYING.txt names the GNU GPL"}},
		{"bundled GPL runtime and vendored libraries", Package{Name: "numpy", Declared: Declared{Expression: &Expr{License: "BSD-3-Clause"}, Source: FromExpression},
			Files:     []File{{"numpy-2.1.3.dist-info/LICENSE.txt", numpyLicense}, {"numpy-2.1.3.dist-info/LICENSES_bundled.txt", []byte("x265: GNU LESSER GENERAL PUBLIC LICENSE\n Version 2.1")}},
			Libraries: []string{"numpy.libs/libgfortran-040039e1.so.5.0.0", "numpy.libs/libquadmath-96973f99.so.0.0.0", "numpy.libs/libscipy_openblas64_-ff651d7f.so"}},
			[]string{"license file numpy-2.1.3.dist-info/LICENSE.txt names the GNU GPL", "license file numpy-2.1.3.dist-info/LICENSES_bundled.txt names the GNU LGPL",
				"carries a bundled-licenses file, numpy-2.1.3.dist-info/LICENSES_bundled.txt", "vendors 3 shared libraries (libgfortran-040039e1.so.5.0.0, libquadmath-96973f99.so.0.0.0, libscipy_openblas64_-ff651d7f.so)"}},
		{"declared copyleft", Package{Name: "x", Declared: Declared{Expression: &Expr{Op: "OR", Args: []*Expr{{License: "LGPL-2.1-or-later"}, {License: "CDDL-1.0"}}}, Source: FromExpression},
			Files: []File{{"x.dist-info/COPYING", []byte("GNU LESSER GENERAL PUBLIC LICENSE\nVersion 2.1")}}},
			[]string{"declares LGPL-2.1-or-later"}},
		{"nothing declared", Package{Name: "y", Declared: Declare(&Metadata{Name: "y", Version: "1"})}, []string{"declares no license"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Concerns(tc.p)
			if len(got) != len(tc.want) {
				t.Fatalf("concerns = %+v, want %d: %q", got, len(tc.want), tc.want)
			}
			for i, c := range got {
				if c.Package != tc.p.Name || !strings.Contains(c.Why, tc.want[i]) {
					t.Errorf("concern %d = %+v, want package %s and %q", i, c, tc.p.Name, tc.want[i])
				}
			}
		})
	}
}

// The summary of an artifact's packages: the AND of their declarations
// (And of each SPDX), and their concerns sorted (SortConcerns), the same
// package placed twice counted once.
func TestSummary(t *testing.T) {
	pkgs := []Package{
		{Name: "Pillow", Declared: Declared{Expression: &Expr{License: "MIT-CMU"}, Source: FromExpression}},
		{Name: "python_dateutil", Declared: Declare(readMetadata(t, "python_dateutil-2.9.0.post0"))},
		{Name: "numpy", Declared: Declared{Expression: &Expr{License: "BSD-3-Clause"}, Source: FromLicense}, Libraries: []string{"numpy.libs/libgfortran.so.5"}},
		{Name: "cryptography", Declared: Declare(readMetadata(t, "cryptography-48.0.0"))},
		{Name: "numpy", Declared: Declared{Expression: &Expr{License: "BSD-3-Clause"}, Source: FromLicense}, Libraries: []string{"numpy.libs/libgfortran.so.5"}},
	}
	var exprs []*Expr
	var all []Concern
	for _, p := range pkgs {
		exprs = append(exprs, p.SPDX())
		all = append(all, Concerns(p)...)
	}
	expr, concerns := And(exprs...), SortConcerns(all)
	want := "(Apache-2.0 OR BSD-3-Clause) AND BSD-3-Clause AND LicenseRef-pypi-python-dateutil AND MIT-CMU"
	if expr != want {
		t.Errorf("summary = %q, want %q", expr, want)
	}
	if _, err := ParseExpression(expr); err != nil {
		t.Errorf("summary %q does not parse: %v", expr, err)
	}
	if len(concerns) != 1 || concerns[0].Package != "numpy" {
		t.Errorf("concerns = %+v, want numpy's vendored library", concerns)
	}
}

func TestLayerInfo(t *testing.T) {
	short := "BSD-3-Clause AND MIT-CMU"
	if got := LayerInfo(short, "s3://b/layers/x/k.cdx.json"); got != short {
		t.Errorf("LayerInfo(short) = %q", got)
	}
	var terms []string
	for i := range 60 {
		terms = append(terms, "LicenseRef-pypi-package-number-"+strings.Repeat("x", i%5)+string(rune('a'+i%26)))
	}
	long := strings.Join(terms, " AND ")
	uri := "s3://artifacts-bucket/layers/galerly-image-processing/" + strings.Repeat("0", 64) + ".cdx.json"
	if got := LayerInfo(long, uri); got != "see "+uri {
		t.Errorf("LayerInfo(long, uri) = %q, want see and the SBOM's URI", got)
	}
	got := LayerInfo(long, "")
	if len(got) > MaxInfo || !strings.HasSuffix(got, " AND ...") || !strings.HasPrefix(long, strings.TrimSuffix(got, " AND ...")) {
		t.Errorf("LayerInfo(long, no SBOM) = %q (%d chars), want whole terms within %d and \"AND ...\"", got, len(got), MaxInfo)
	}
	exactly := strings.Repeat("a", MaxInfo-len("LicenseRef-")) // 512 characters fit as they are
	if got := LayerInfo("LicenseRef-"+exactly, uri); got != "LicenseRef-"+exactly {
		t.Errorf("a 512-character summary was replaced: %q", got)
	}
}
