// Package sbom writes the CycloneDX SBOM of a built artifact (a Lambda
// layer or function package): the artifact itself, one component per
// wheel with its declared licenses, license files and vendored shared
// libraries, and the function's own code.
//
// The document is byte-reproducible: it holds no time (unless
// SOURCE_DATE_EPOCH gives one) and no random serial number (the serial is
// a UUID derived from the content), its components are sorted, and it
// says so with the cdx:reproducible property. The same artifact built on
// two machines from two cold caches has the same SBOM, byte for byte.
package sbom

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	cdx "github.com/CycloneDX/cyclonedx-go"
	"github.com/google/uuid"

	"github.com/galerly/galerly-lambda/build/license"
)

// Spec is a CycloneDX specification version the SBOM can be written in.
type Spec string

// The versions written: 1.6 by default; 1.5 for consumers that take no
// newer one (AWS Inspector's ScanSbom).
const (
	Spec15 Spec = "1.5"
	Spec16 Spec = "1.6"
)

// ParseSpec checks a --sbom-spec value.
func ParseSpec(s string) (Spec, error) {
	switch Spec(s) {
	case Spec15, Spec16:
		return Spec(s), nil
	}
	return "", fmt.Errorf("CycloneDX %q: want 1.5 or 1.6", s)
}

func (s Spec) version() cdx.SpecVersion {
	if s == Spec15 {
		return cdx.SpecVersion1_5
	}
	return cdx.SpecVersion1_6
}

// MediaType is the SBOM's content type (its S3 object's Content-Type).
const MediaType = "application/vnd.cyclonedx+json"

// Property names this package writes. cdx:reproducible is CycloneDX's
// own taxonomy; the rest are lambdapack's.
const (
	PropReproducible   = "cdx:reproducible"
	PropKind           = "lambdapack:kind"
	PropKey            = "lambdapack:key"
	PropRuntime        = "lambdapack:runtime"
	PropArchitecture   = "lambdapack:architecture"
	PropWheel          = "lambdapack:wheel"
	PropPath           = "lambdapack:path"
	PropLicenseSource  = "lambdapack:license-source"
	PropLicenseConcern = "lambdapack:license-concern"
	PropLicenses       = "lambdapack:licenses"
	PropEmbeddedSBOM   = "lambdapack:embedded-sbom"
	PropFiles          = "lambdapack:files"
)

// Artifact is the zip an SBOM describes.
type Artifact struct {
	Kind     string   // "layer" or "function"
	Name     string   // e.g. the layer's name
	Key      string   // the layer or code key
	SHA256   string   // the zip's sha256, hex
	Runtimes []string // e.g. python3.11, python3.12
	Arch     string   // x86_64 or arm64
}

// Wheel is one wheel in the artifact.
type Wheel struct {
	Name, Version string // from its METADATA
	Filename      string
	SHA256        string   // the lock's (and the file's) sha256
	URL           string   // where it was downloaded from; "" when not known or local
	Paths         []string // the folders of the zip it is installed in ("python/")
	Declared      license.Declared
	// LicenseFiles are its license files, evidence of what it declares.
	LicenseFiles []LicenseFile
	// Libraries are the shared libraries it vendors.
	Libraries []Library
	// Concerns say what it carries beyond its declaration.
	Concerns []string
	// EmbeddedSBOMs are the SBOMs its .dist-info/sboms/ holds (PEP 770).
	EmbeddedSBOMs []string
}

// LicenseFile is a license file of a wheel.
type LicenseFile struct {
	Path string // in the wheel
	Text []byte // nil when too large to keep
}

// Library is a shared library vendored in a wheel.
type Library struct {
	Path   string // where the wheel installs it, e.g. numpy.libs/libgfortran-040039e1.so.5.0.0
	SHA256 string
	Size   int64
}

// Code is a function's own code.
type Code struct {
	Name  string // the source folder's name
	Key   string // the code key
	Files int    // how many files ship
}

// Document is what an SBOM says.
type Document struct {
	Artifact Artifact
	Wheels   []Wheel
	Code     *Code // a function's code; nil for a layer
	// Licenses is the artifact's license summary (the AND of the wheels' declarations, license.And).
	Licenses string
	// Time is the document's timestamp; the zero Time writes none.
	Time time.Time
}

// SourceDateEpoch returns the time SOURCE_DATE_EPOCH (reproducible-
// builds.org) gives, given its value; the zero Time when it is unset.
func SourceDateEpoch(v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH=%q: want seconds since 1970 as a whole number", v)
	}
	return time.Unix(n, 0).UTC(), nil
}

// ToolVersion is lambdapack's version as the SBOM records it: its module's
// version when it was built from one (go install ...@v1.2.3), else
// "(devel)". A version Go derived from the checkout it was built in (Go
// 1.24 stamps the commit, and +dirty) is not used: it changes with every
// commit while the artifact does not, and the SBOM stored beside an
// artifact must be the same bytes whenever that artifact is built again.
func ToolVersion() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "(devel)"
	}
	for _, s := range info.Settings {
		if strings.HasPrefix(s.Key, "vcs") {
			return "(devel)"
		}
	}
	if v := info.Main.Version; v != "" {
		return v
	}
	return "(devel)"
}

// Encode writes d as CycloneDX JSON of the given version, with toolVersion
// as lambdapack's.
func Encode(d *Document, spec Spec, toolVersion string) ([]byte, error) {
	bom := d.bom(toolVersion)
	// The serial number is derived from the document without it, written
	// as 1.6, so the 1.5 and 1.6 documents of one artifact share it.
	plain, err := encode(bom, Spec16)
	if err != nil {
		return nil, err
	}
	bom.SerialNumber = "urn:uuid:" + uuid.NewSHA1(serialSpace, plain).String()
	return encode(bom, spec)
}

// serialSpace is the UUID namespace of serial numbers: the UUID derived
// from lambdapack's module path in the URL namespace.
var serialSpace = uuid.NewSHA1(uuid.NameSpaceURL, []byte("https://github.com/galerly/galerly-lambda/build/sbom"))

func encode(bom *cdx.BOM, spec Spec) ([]byte, error) {
	var buf bytes.Buffer
	enc := cdx.NewBOMEncoder(&buf, cdx.BOMFileFormatJSON)
	enc.SetPretty(true)
	enc.SetEscapeHTML(false)
	b := *bom
	var err error
	if spec == Spec16 {
		// The model is 1.6: no conversion (and its deep copy) is needed.
		err = enc.Encode(&b)
	} else {
		// cyclonedx-go keeps an expression's acknowledgement (new in 1.6)
		// when converting to 1.5, which 1.5's schema refuses.
		b.Components = withoutExpressionAcks(b.Components)
		err = enc.EncodeVersion(&b, spec.version())
	}
	if err != nil {
		return nil, fmt.Errorf("encode the SBOM as CycloneDX %s: %w", spec, err)
	}
	return buf.Bytes(), nil
}

// withoutExpressionAcks copies components, dropping the acknowledgement
// of license expressions, nested components included.
func withoutExpressionAcks(cs *[]cdx.Component) *[]cdx.Component {
	if cs == nil {
		return nil
	}
	out := slices.Clone(*cs)
	for i := range out {
		if out[i].Licenses != nil {
			ls := slices.Clone(*out[i].Licenses)
			for j := range ls {
				if ls[j].Expression != "" {
					ls[j].Acknowledgement = nil
				}
			}
			out[i].Licenses = &ls
		}
		out[i].Components = withoutExpressionAcks(out[i].Components)
	}
	return &out
}

// bom builds the CycloneDX model of d.
func (d *Document) bom(toolVersion string) *cdx.BOM {
	a := d.Artifact
	artifactRef := "artifact:" + a.Kind + ":" + a.Key
	artifact := cdx.Component{
		BOMRef:  artifactRef,
		Type:    cdx.ComponentTypeApplication,
		Name:    a.Name,
		Version: a.Key,
		Hashes:  &[]cdx.Hash{{Algorithm: cdx.HashAlgoSHA256, Value: a.SHA256}},
	}
	if a.Kind == "layer" {
		artifact.Type = cdx.ComponentTypeLibrary
	}
	props := []cdx.Property{{Name: PropKind, Value: a.Kind}, {Name: PropKey, Value: a.Key}}
	for _, rt := range a.Runtimes {
		props = append(props, cdx.Property{Name: PropRuntime, Value: rt})
	}
	props = append(props, cdx.Property{Name: PropArchitecture, Value: a.Arch})
	if d.Licenses != "" {
		props = append(props, cdx.Property{Name: PropLicenses, Value: d.Licenses})
	}
	artifact.Properties = &props

	var comps []cdx.Component
	var refs []string
	if d.Code != nil {
		c := codeComponent(d.Code)
		comps = append(comps, c)
		refs = append(refs, c.BOMRef)
	}
	for _, w := range d.Wheels {
		c := wheelComponent(w)
		comps = append(comps, c)
		refs = append(refs, c.BOMRef)
	}
	slices.SortFunc(comps, func(x, y cdx.Component) int { return strings.Compare(x.BOMRef, y.BOMRef) })
	slices.Sort(refs)

	meta := &cdx.Metadata{
		Lifecycles: &[]cdx.Lifecycle{{Phase: cdx.LifecyclePhaseBuild}},
		Tools: &cdx.ToolsChoice{Components: &[]cdx.Component{{
			Type:    cdx.ComponentTypeApplication,
			Name:    "lambdapack",
			Version: toolVersion,
			ExternalReferences: &[]cdx.ExternalReference{{
				Type: cdx.ERTypeVCS, URL: "https://github.com/galerly/galerly-lambda",
			}},
		}}},
		Component:  &artifact,
		Properties: &[]cdx.Property{{Name: PropReproducible, Value: "true"}},
	}
	if !d.Time.IsZero() {
		meta.Timestamp = d.Time.UTC().Format(time.RFC3339)
	}
	bom := &cdx.BOM{
		JSONSchema:  "http://cyclonedx.org/schema/bom-1.6.schema.json",
		BOMFormat:   cdx.BOMFormat,
		SpecVersion: cdx.SpecVersion1_6,
		Version:     1,
		Metadata:    meta,
	}
	if len(comps) > 0 {
		bom.Components = &comps
		deps := []cdx.Dependency{{Ref: artifactRef, Dependencies: &refs}}
		for _, r := range refs {
			deps = append(deps, cdx.Dependency{Ref: r})
		}
		bom.Dependencies = &deps
	}
	return bom
}

func codeComponent(c *Code) cdx.Component {
	return cdx.Component{
		BOMRef:     "code:" + c.Key,
		Type:       cdx.ComponentTypeApplication,
		Name:       c.Name,
		Version:    c.Key,
		Properties: &[]cdx.Property{{Name: PropKey, Value: c.Key}, {Name: PropFiles, Value: strconv.Itoa(c.Files)}},
	}
}

// wheelComponent is one wheel: its identity, hash, where it came from,
// its declared licenses, its license files as evidence, and its vendored
// libraries as nested components.
func wheelComponent(w Wheel) cdx.Component {
	c := cdx.Component{
		BOMRef:     "wheel:" + w.Filename,
		Type:       cdx.ComponentTypeLibrary,
		Name:       w.Name,
		Version:    w.Version,
		PackageURL: PyPIPurl(w.Name, w.Version),
		Hashes:     &[]cdx.Hash{{Algorithm: cdx.HashAlgoSHA256, Value: w.SHA256}},
	}
	if w.URL != "" {
		c.ExternalReferences = &[]cdx.ExternalReference{{Type: cdx.ERTypeDistribution, URL: w.URL,
			Hashes: &[]cdx.Hash{{Algorithm: cdx.HashAlgoSHA256, Value: w.SHA256}}}}
	}
	if ls := declaredLicenses(w.Declared); ls != nil {
		c.Licenses = ls
	}
	props := []cdx.Property{{Name: PropWheel, Value: w.Filename}}
	for _, p := range sortedCopy(w.Paths) {
		props = append(props, cdx.Property{Name: PropPath, Value: p})
	}
	props = append(props, cdx.Property{Name: PropLicenseSource, Value: string(w.Declared.Source)})
	for _, why := range w.Concerns {
		props = append(props, cdx.Property{Name: PropLicenseConcern, Value: why})
	}
	for _, s := range sortedCopy(w.EmbeddedSBOMs) {
		props = append(props, cdx.Property{Name: PropEmbeddedSBOM, Value: s})
	}
	c.Properties = &props

	files := slices.Clone(w.LicenseFiles)
	slices.SortFunc(files, func(x, y LicenseFile) int { return strings.Compare(x.Path, y.Path) })
	if len(files) > 0 {
		ev := make(cdx.Licenses, 0, len(files))
		for _, f := range files {
			l := &cdx.License{Name: f.Path}
			if f.Text != nil {
				l.Text = attached(f.Text)
			}
			ev = append(ev, cdx.LicenseChoice{License: l})
		}
		c.Evidence = &cdx.Evidence{Licenses: &ev}
	}

	libs := slices.Clone(w.Libraries)
	slices.SortFunc(libs, func(x, y Library) int { return strings.Compare(x.Path, y.Path) })
	if len(libs) > 0 {
		nested := make([]cdx.Component, 0, len(libs))
		for _, l := range libs {
			nested = append(nested, cdx.Component{
				BOMRef: c.BOMRef + "#" + l.Path,
				Type:   cdx.ComponentTypeLibrary,
				Name:   baseName(l.Path),
				Hashes: &[]cdx.Hash{{Algorithm: cdx.HashAlgoSHA256, Value: l.SHA256}},
				Properties: &[]cdx.Property{
					{Name: PropPath, Value: l.Path},
					{Name: "lambdapack:size", Value: strconv.FormatInt(l.Size, 10)},
				},
			})
		}
		c.Components = &nested
	}
	return c
}

// declaredLicenses says what a wheel declares: its SPDX expression, or
// its license names (the first with the License field's whole text).
func declaredLicenses(d license.Declared) *cdx.Licenses {
	ack := cdx.LicenseAcknowledgementDeclared
	if d.Expression != nil {
		e := d.Expression
		if e.Op == "" && e.Exception == "" && !strings.HasSuffix(e.License, "+") && !strings.HasPrefix(e.License, "LicenseRef-") && !strings.Contains(e.License, ":") {
			return &cdx.Licenses{{License: &cdx.License{ID: e.License, Acknowledgement: ack}}}
		}
		return &cdx.Licenses{{Expression: e.String(), Acknowledgement: &ack}}
	}
	if len(d.Names) == 0 {
		return nil
	}
	ls := make(cdx.Licenses, 0, len(d.Names))
	for i, n := range d.Names {
		l := &cdx.License{Name: n, Acknowledgement: ack}
		if i == 0 && d.Text != "" {
			l.Text = attached([]byte(d.Text))
		}
		ls = append(ls, cdx.LicenseChoice{License: l})
	}
	return &ls
}

// attached is a text as CycloneDX attaches it: as is when it is UTF-8,
// else in base64.
func attached(b []byte) *cdx.AttachedText {
	if utf8.Valid(b) {
		return &cdx.AttachedText{Content: string(b), ContentType: "text/plain"}
	}
	return &cdx.AttachedText{Content: base64.StdEncoding.EncodeToString(b), ContentType: "text/plain", Encoding: "base64"}
}

// PyPIPurl is the package URL of a PyPI distribution, as the purl spec
// says for type pypi: the name lowercased with "_" replaced by "-", name
// and version percent-encoded. "Pillow", "11.0.0" gives
// pkg:pypi/pillow@11.0.0.
func PyPIPurl(name, version string) string {
	n := strings.ReplaceAll(strings.ToLower(name), "_", "-")
	return "pkg:pypi/" + purlEscape(n) + "@" + purlEscape(version)
}

// purlEscape percent-encodes all but the purl spec's unreserved
// characters.
func purlEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_' || c == '~' {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

func sortedCopy(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return slices.Compact(out)
}

func baseName(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[i+1:]
	}
	return p
}

// Hash is the hex sha256 of an encoded SBOM, as reports name it.
func Hash(doc []byte) string {
	return fmt.Sprintf("%x", sha256.Sum256(doc))
}
