package sbom

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/galerly/galerly-lambda/build/internal/cdxschema"
	"github.com/galerly/galerly-lambda/build/license"
)

func mustExpr(t *testing.T, s string) *license.Expr {
	t.Helper()
	e, err := license.ParseExpression(s)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// sample is a layer with the shapes the SBOM must carry: a plain SPDX id,
// an expression, words that are not SPDX (with a whole license text), a
// vendored library, license files (one not UTF-8), an embedded SBOM, a
// URL, and a wheel installed in two folders.
func sample(t *testing.T) *Document {
	return &Document{
		Artifact: Artifact{Kind: "layer", Name: "galerly-image-processing", Key: strings.Repeat("ab", 32), SHA256: strings.Repeat("cd", 32),
			Runtimes: []string{"python3.11", "python3.12"}, Arch: "x86_64"},
		Licenses: "BSD-3-Clause AND LicenseRef-pypi-python-dateutil AND MIT-CMU",
		Wheels: []Wheel{
			{Name: "numpy", Version: "2.1.3", Filename: "numpy-2.1.3-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", SHA256: strings.Repeat("01", 32),
				URL:   "https://files.pythonhosted.org/packages/aa/bb/numpy-2.1.3-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
				Paths: []string{"python/lib/python3.12/site-packages/"}, Declared: license.Declared{Expression: mustExpr(t, "BSD-3-Clause"), Source: license.FromLicense},
				LicenseFiles: []LicenseFile{{Path: "numpy-2.1.3.dist-info/LICENSE.txt", Text: []byte("Copyright (c) 2005-2024, NumPy Developers.\n")}},
				Libraries: []Library{
					{Path: "numpy.libs/libquadmath-96973f99.so.0.0.0", SHA256: strings.Repeat("03", 32), Size: 250000},
					{Path: "numpy.libs/libgfortran-040039e1.so.5.0.0", SHA256: strings.Repeat("02", 32), Size: 2700000},
				},
				Concerns: []string{"vendors 2 shared libraries (libgfortran-040039e1.so.5.0.0, libquadmath-96973f99.so.0.0.0): their licenses are not in its declaration"}},
			{Name: "cryptography", Version: "48.0.0", Filename: "cryptography-48.0.0-cp311-abi3-manylinux_2_28_x86_64.whl", SHA256: strings.Repeat("04", 32),
				Paths: []string{"python/"}, Declared: license.Declared{Expression: mustExpr(t, "Apache-2.0 OR BSD-3-Clause"), Source: license.FromExpression},
				LicenseFiles:  []LicenseFile{{Path: "cryptography-48.0.0.dist-info/licenses/LICENSE.BSD", Text: []byte{0xff, 0xfe, 'B', 0}}, {Path: "cryptography-48.0.0.dist-info/licenses/LICENSE"}},
				EmbeddedSBOMs: []string{"cryptography-48.0.0.dist-info/sboms/sbom.json"}},
			{Name: "python_dateutil", Version: "2.9.0.post0", Filename: "python_dateutil-2.9.0.post0-py2.py3-none-any.whl", SHA256: strings.Repeat("05", 32),
				Paths:    []string{"python/lib/python3.11/site-packages/", "python/lib/python3.12/site-packages/"},
				Declared: license.Declared{Names: []string{"Dual License", "BSD License", "Apache Software License"}, Text: "Dual License\nsee LICENSE", Source: license.FromText}},
			{Name: "Pillow", Version: "11.0.0+local.1", Filename: "pillow-11.0.0-cp312-cp312-manylinux_2_28_x86_64.whl", SHA256: strings.Repeat("06", 32),
				Paths: []string{"python/"}, Declared: license.Declared{Expression: mustExpr(t, "MIT-CMU"), Source: license.FromExpression}},
			{Name: "x", Version: "1", Filename: "x-1-py3-none-any.whl", SHA256: strings.Repeat("07", 32), Paths: []string{"python/"},
				Declared: license.Declared{Expression: mustExpr(t, "LicenseRef-x OR GPL-3.0-or-later WITH GCC-exception-3.1"), Source: license.FromExpression}},
		},
	}
}

func encodeOK(t *testing.T, d *Document, spec Spec) []byte {
	t.Helper()
	doc, err := Encode(d, spec, "v1.2.3")
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// Both versions validate against CycloneDX's own schema, read from
// cyclonedx-go's module.
func TestValidAgainstSchema(t *testing.T) {
	for _, spec := range []Spec{Spec15, Spec16} {
		t.Run(string(spec), func(t *testing.T) {
			doc := encodeOK(t, sample(t), spec)
			cdxschema.Validate(t, doc, string(spec))
			var top struct {
				Schema      string `json:"$schema"`
				SpecVersion string `json:"specVersion"`
			}
			if err := json.Unmarshal(doc, &top); err != nil {
				t.Fatal(err)
			}
			if top.SpecVersion != string(spec) || !strings.Contains(top.Schema, "bom-"+string(spec)) {
				t.Errorf("specVersion %q, $schema %q: want %s", top.SpecVersion, top.Schema, spec)
			}
			func() {
				d := sample(t)
				d.Code = &Code{Name: "app", Key: strings.Repeat("ef", 32), Files: 12}
				d.Artifact.Kind = "function"
				d.Time = time.Unix(1700000000, 0)
				cdxschema.Validate(t, encodeOK(t, d, spec), string(spec))
			}()
		})
	}
}

// The bytes depend on the content alone: not on the order the wheels,
// paths, files and libraries come in; the serial number is derived from
// the content, the same for 1.5 and 1.6, and another for other content.
func TestReproducible(t *testing.T) {
	a := encodeOK(t, sample(t), Spec16)
	d := sample(t)
	slices.Reverse(d.Wheels)
	for i := range d.Wheels {
		slices.Reverse(d.Wheels[i].Libraries)
		slices.Reverse(d.Wheels[i].LicenseFiles)
		slices.Reverse(d.Wheels[i].Paths)
	}
	if b := encodeOK(t, d, Spec16); !bytes.Equal(a, b) {
		t.Errorf("the order of the input changed the SBOM:\n%s\n---\n%s", a, b)
	}
	serial := func(doc []byte) string {
		var v struct {
			SerialNumber string `json:"serialNumber"`
			Metadata     struct {
				Timestamp string `json:"timestamp"`
			} `json:"metadata"`
		}
		if err := json.Unmarshal(doc, &v); err != nil {
			t.Fatal(err)
		}
		if v.Metadata.Timestamp != "" {
			t.Errorf("timestamp %q with no SOURCE_DATE_EPOCH", v.Metadata.Timestamp)
		}
		return v.SerialNumber
	}
	s16, s15 := serial(a), serial(encodeOK(t, sample(t), Spec15))
	if !strings.HasPrefix(s16, "urn:uuid:") || s16 != s15 {
		t.Errorf("serial numbers %q (1.6) and %q (1.5): want one urn:uuid: for both", s16, s15)
	}
	other := sample(t)
	other.Artifact.SHA256 = strings.Repeat("ee", 32)
	if serial(encodeOK(t, other, Spec16)) == s16 {
		t.Error("another artifact got the same serial number")
	}
}

func TestTimestampFromSourceDateEpoch(t *testing.T) {
	when, err := SourceDateEpoch("1700000000")
	if err != nil {
		t.Fatal(err)
	}
	d := sample(t)
	d.Time = when
	if doc := encodeOK(t, d, Spec16); !bytes.Contains(doc, []byte(`"timestamp": "2023-11-14T22:13:20Z"`)) {
		t.Errorf("no UTC timestamp from SOURCE_DATE_EPOCH in\n%s", doc)
	}
	for _, bad := range []string{"yesterday", "-5", "1.5"} {
		if _, err := SourceDateEpoch(bad); err == nil || !strings.Contains(err.Error(), "SOURCE_DATE_EPOCH") {
			t.Errorf("SOURCE_DATE_EPOCH=%s: error %v", bad, err)
		}
	}
	if tm, err := SourceDateEpoch(""); err != nil || !tm.IsZero() {
		t.Errorf("unset SOURCE_DATE_EPOCH: %v %v", tm, err)
	}
}

// component is the part of a component the tests read.
type component struct {
	BOMRef   string `json:"bom-ref"`
	Name     string `json:"name"`
	Version  string `json:"version"`
	Purl     string `json:"purl"`
	Hashes   []struct{ Alg, Content string }
	Licenses []struct {
		Expression      string `json:"expression"`
		Acknowledgement string `json:"acknowledgement"`
		License         *struct {
			ID, Name string
			Text     *struct{ Content, Encoding string }
		} `json:"license"`
	} `json:"licenses"`
	ExternalReferences []struct{ URL, Type string } `json:"externalReferences"`
	Properties         []struct{ Name, Value string }
	Components         []component
	Evidence           *struct {
		Licenses []struct {
			License struct {
				Name string
				Text *struct{ Content, Encoding string }
			}
		}
	}
}

func (c component) props(name string) []string {
	var out []string
	for _, p := range c.Properties {
		if p.Name == name {
			out = append(out, p.Value)
		}
	}
	return out
}

type bomView struct {
	Metadata struct {
		Tools struct {
			Components []component
		}
		Component  component
		Properties []struct{ Name, Value string }
	}
	Components   []component
	Dependencies []struct {
		Ref       string
		DependsOn []string
	}
}

func decode(t *testing.T, doc []byte) bomView {
	t.Helper()
	var v bomView
	if err := json.Unmarshal(doc, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestContent(t *testing.T) {
	v := decode(t, encodeOK(t, sample(t), Spec16))
	m := v.Metadata
	if len(m.Tools.Components) != 1 || m.Tools.Components[0].Name != "lambdapack" || m.Tools.Components[0].Version != "v1.2.3" {
		t.Errorf("tools = %+v, want lambdapack v1.2.3", m.Tools.Components)
	}
	if len(m.Properties) != 1 || m.Properties[0].Name != "cdx:reproducible" || m.Properties[0].Value != "true" {
		t.Errorf("metadata properties = %+v, want cdx:reproducible", m.Properties)
	}
	a := m.Component
	if a.Name != "galerly-image-processing" || a.Version != strings.Repeat("ab", 32) || a.Hashes[0].Content != strings.Repeat("cd", 32) ||
		!slices.Equal(a.props(PropRuntime), []string{"python3.11", "python3.12"}) || !slices.Equal(a.props(PropArchitecture), []string{"x86_64"}) {
		t.Errorf("metadata.component = %+v", a)
	}
	var refs []string
	byName := map[string]component{}
	for _, c := range v.Components {
		refs = append(refs, c.BOMRef)
		byName[c.Name] = c
	}
	if !slices.IsSorted(refs) || len(refs) != 5 {
		t.Errorf("components %q: want 5, sorted", refs)
	}
	np := byName["numpy"]
	if np.Purl != "pkg:pypi/numpy@2.1.3" || np.Hashes[0].Alg != "SHA-256" || np.Hashes[0].Content != strings.Repeat("01", 32) ||
		np.props(PropWheel)[0] != "numpy-2.1.3-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl" {
		t.Errorf("numpy = %+v", np)
	}
	if len(np.ExternalReferences) != 1 || np.ExternalReferences[0].Type != "distribution" || !strings.HasPrefix(np.ExternalReferences[0].URL, "https://files.pythonhosted.org/") {
		t.Errorf("numpy's references = %+v, want its distribution URL", np.ExternalReferences)
	}
	if len(np.Licenses) != 1 || np.Licenses[0].License == nil || np.Licenses[0].License.ID != "BSD-3-Clause" {
		t.Errorf("numpy's licenses = %+v, want the id BSD-3-Clause", np.Licenses)
	}
	if len(np.Components) != 2 || np.Components[0].Name != "libgfortran-040039e1.so.5.0.0" || np.Components[0].Hashes[0].Content != strings.Repeat("02", 32) ||
		np.Components[0].props(PropPath)[0] != "numpy.libs/libgfortran-040039e1.so.5.0.0" {
		t.Errorf("numpy's vendored libraries = %+v", np.Components)
	}
	if len(np.props(PropLicenseConcern)) != 1 || np.Evidence == nil || np.Evidence.Licenses[0].License.Name != "numpy-2.1.3.dist-info/LICENSE.txt" ||
		!strings.Contains(np.Evidence.Licenses[0].License.Text.Content, "NumPy Developers") {
		t.Errorf("numpy's concern and evidence = %v %+v", np.props(PropLicenseConcern), np.Evidence)
	}
	cr := byName["cryptography"]
	if len(cr.Licenses) != 1 || cr.Licenses[0].Expression != "Apache-2.0 OR BSD-3-Clause" || cr.Licenses[0].Acknowledgement != "declared" {
		t.Errorf("cryptography's licenses = %+v, want the declared expression", cr.Licenses)
	}
	if ev := cr.Evidence.Licenses; len(ev) != 2 || ev[1].License.Text.Encoding != "base64" || ev[0].License.Text != nil {
		t.Errorf("cryptography's evidence = %+v: want the non-UTF-8 file in base64, the unread one by name", ev)
	}
	if cr.props(PropEmbeddedSBOM)[0] != "cryptography-48.0.0.dist-info/sboms/sbom.json" {
		t.Errorf("cryptography's embedded SBOM not named: %+v", cr.Properties)
	}
	du := byName["python_dateutil"]
	if du.Purl != "pkg:pypi/python-dateutil@2.9.0.post0" || len(du.Licenses) != 3 || du.Licenses[0].License.Name != "Dual License" ||
		du.Licenses[0].License.Text == nil || du.Licenses[1].License.Name != "BSD License" {
		t.Errorf("python_dateutil = %+v", du)
	}
	if paths := du.props(PropPath); len(paths) != 2 {
		t.Errorf("python_dateutil installed in %q, want both site-packages", paths)
	}
	if p := byName["Pillow"].Purl; p != "pkg:pypi/pillow@11.0.0%2Blocal.1" {
		t.Errorf("Pillow's purl = %s", p)
	}
	if len(v.Dependencies) != 6 || v.Dependencies[0].Ref != "artifact:layer:"+strings.Repeat("ab", 32) || len(v.Dependencies[0].DependsOn) != 5 {
		t.Errorf("dependencies = %+v", v.Dependencies)
	}
}

// 1.5 has no acknowledgement on a license or an expression; the rest of
// the content is the same.
func TestSpec15(t *testing.T) {
	doc := encodeOK(t, sample(t), Spec15)
	if bytes.Contains(doc, []byte(`"acknowledgement"`)) {
		t.Error("a 1.5 document holds acknowledgement, new in 1.6")
	}
	v15, v16 := decode(t, doc), decode(t, encodeOK(t, sample(t), Spec16))
	if len(v15.Components) != len(v16.Components) || v15.Components[0].Purl != v16.Components[0].Purl {
		t.Error("1.5 and 1.6 list different components")
	}
}

func TestPyPIPurl(t *testing.T) {
	for _, tc := range []struct{ name, version, want string }{
		{"Pillow", "11.0.0", "pkg:pypi/pillow@11.0.0"},
		{"pillow_heif", "0.18.0", "pkg:pypi/pillow-heif@0.18.0"},
		{"zope.interface", "7.1", "pkg:pypi/zope.interface@7.1"},
		{"numpy", "1!2.0.0rc1+cpu", "pkg:pypi/numpy@1%212.0.0rc1%2Bcpu"},
	} {
		if got := PyPIPurl(tc.name, tc.version); got != tc.want {
			t.Errorf("PyPIPurl(%q, %q) = %s, want %s", tc.name, tc.version, got, tc.want)
		}
	}
}

func TestParseSpec(t *testing.T) {
	for _, ok := range []string{"1.5", "1.6"} {
		if s, err := ParseSpec(ok); err != nil || string(s) != ok {
			t.Errorf("ParseSpec(%s) = %s, %v", ok, s, err)
		}
	}
	for _, bad := range []string{"", "1.4", "1.7", "2"} {
		if _, err := ParseSpec(bad); err == nil {
			t.Errorf("ParseSpec(%q) accepted", bad)
		}
	}
}

// In a test binary Go reports the version "(devel)": nothing from the
// checkout's VCS state gets into an SBOM.
func TestToolVersion(t *testing.T) {
	if v := ToolVersion(); v != "(devel)" {
		t.Errorf("ToolVersion() = %q in a test binary, want (devel)", v)
	}
}

func TestDescribe(t *testing.T) {
	d := sample(t)
	for _, spec := range []Spec{Spec15, Spec16} {
		s, err := Describe(encodeOK(t, d, spec))
		if err != nil {
			t.Fatal(err)
		}
		want := Summary{SpecVersion: string(spec), Kind: "layer", Name: d.Artifact.Name, Key: d.Artifact.Key, SHA256: d.Artifact.SHA256, Wheels: 5, Libraries: 2, Licenses: d.Licenses}
		if s != want {
			t.Errorf("Describe(%s) = %+v, want %+v", spec, s, want)
		}
	}
	for _, bad := range []string{"", "{}", `{"bomFormat":"CycloneDX","metadata":{"component":{"name":"x"}}}`, `{"spdxVersion":"SPDX-2.3"}`} {
		if _, err := Describe([]byte(bad)); err == nil {
			t.Errorf("Describe(%q) accepted it", bad)
		}
	}
}
