package build

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/galerly/galerly-lambda/build/internal/atomicfile"
	"github.com/galerly/galerly-lambda/build/license"
	"github.com/galerly/galerly-lambda/build/sbom"
	"github.com/galerly/galerly-lambda/build/target"
)

// SBOMOptions says how to describe an artifact in its SBOM.
type SBOMOptions struct {
	// Path is the file to write the SBOM to; "" for none (the report's
	// licenses are computed, and Result.SBOMDocument holds the document,
	// either way).
	Path string
	// Spec is the CycloneDX version of the file at Path; 1.6 if "".
	Spec sbom.Spec
	// Name names the artifact (metadata.component); the base name of the
	// zip without .zip if "".
	Name string
	// Time is the document's timestamp (SOURCE_DATE_EPOCH); none if zero.
	Time time.Time
	// ToolVersion is lambdapack's version as recorded;
	// sbom.ToolVersion() if "".
	ToolVersion string
}

// SBOMReport says where a build's SBOM is; its JSON form is the report's
// "sbom" member.
type SBOMReport struct {
	// SpecVersion and SHA256 describe the document at File, or at S3
	// (always CycloneDX 1.6) when there is no File.
	SpecVersion sbom.Spec `json:"specVersion"`
	SHA256      string    `json:"sha256"`
	// File is where --sbom wrote it; never part of a report stored in S3.
	File string `json:"file,omitempty"`
	// S3 is where --upload stored it: s3://BUCKET/KEY.cdx.json.
	S3 string `json:"s3,omitempty"`
}

// SBOMDocument is the artifact's SBOM as CycloneDX 1.6 JSON, the document
// stored beside an upload; nil for a report read back from S3.
func (r *Result) SBOMDocument() []byte { return r.sbomDoc }

// CheckSBOMOut refuses an SBOM path the build could not write or that
// is one of its inputs or its zip (out), before anything is built.
func CheckSBOMOut(o SBOMOptions, out string, in Inputs) error {
	if o.Path == "" {
		return nil
	}
	if o.Spec != "" {
		if _, err := sbom.ParseSpec(string(o.Spec)); err != nil {
			return err
		}
	}
	if err := CheckOut(o.Path); err != nil {
		return fmt.Errorf("SBOM: %w", err)
	}
	a, errA := realOut(o.Path)
	b, errB := realOut(out)
	if errA == nil && errB == nil && a == b {
		return fmt.Errorf("the SBOM %s and the zip %s are the same file", o.Path, out)
	}
	if err := CheckOutNotInput(o.Path, in); err != nil {
		return fmt.Errorf("SBOM: %w", err)
	}
	return nil
}

// described is what the SBOM and the report say of an artifact's wheels.
type described struct {
	wheels   []sbom.Wheel
	licenses string            // the AND of their declarations
	concerns []license.Concern // sorted by package
}

// describe turns each placed wheel's inventory (checkWheels took it) into
// the SBOM's wheels and the license summary.
func describe(placed []placement) (*described, error) {
	d := &described{}
	var exprs []*license.Expr
	var concerns []license.Concern
	index := map[string]int{} // sha256 -> wheels index: one component per wheel file
	for _, p := range placed {
		if i, ok := index[p.SHA256]; ok {
			d.wheels[i].Paths = append(d.wheels[i].Paths, p.Path)
			continue
		}
		inv := p.inv
		m, err := license.ParseMetadata(p.Wheel+" METADATA", []byte(inv.Metadata))
		if err != nil {
			return nil, err
		}
		lp := license.Package{Name: m.Name, Declared: license.Declare(m), Classifiers: m.Classifiers}
		for _, f := range inv.LicenseFiles {
			lp.Files = append(lp.Files, license.File{Path: f.Path, Text: f.Text})
		}
		for _, l := range inv.Libraries {
			lp.Libraries = append(lp.Libraries, l.Path)
		}
		cs := license.Concerns(lp)
		whys := make([]string, len(cs))
		for i, cn := range cs {
			whys[i] = cn.Why
		}
		index[p.SHA256] = len(d.wheels)
		d.wheels = append(d.wheels, sbom.Wheel{
			Name: m.Name, Version: m.Version, Filename: p.Wheel, SHA256: p.SHA256, URL: p.URL,
			Paths: []string{p.Path}, Declared: lp.Declared, LicenseFiles: inv.LicenseFiles,
			Libraries: inv.Libraries, Concerns: whys, EmbeddedSBOMs: inv.EmbeddedSBOMs,
		})
		exprs = append(exprs, lp.SPDX())
		concerns = append(concerns, cs...)
	}
	d.licenses, d.concerns = license.And(exprs...), license.SortConcerns(concerns)
	return d, nil
}

// finishSBOM sets the report's license summary, encodes the SBOM and
// writes it where o says. The zip at out is already written: when the
// SBOM cannot be, the zip is removed too, so a failed build leaves no
// output behind.
func finishSBOM(res *Result, o SBOMOptions, kind, out string, t target.Target, d *described, code *sbom.Code) (err error) {
	defer func() {
		if err != nil {
			removeQuietly(out)
		}
	}()
	res.Licenses, res.LicenseConcerns = d.licenses, d.concerns
	t = t.Canonical()
	runtimes := make([]string, len(t.Runtimes))
	for i, rt := range t.Runtimes {
		runtimes[i] = rt.String()
	}
	name := o.Name
	if name == "" {
		name = strings.TrimSuffix(filepath.Base(out), ".zip")
	}
	doc := &sbom.Document{
		Artifact: sbom.Artifact{Kind: kind, Name: name, Key: res.Key, SHA256: res.SHA256, Runtimes: runtimes, Arch: string(t.Arch)},
		Wheels:   d.wheels,
		Code:     code,
		Licenses: res.Licenses,
		Time:     o.Time,
	}
	tool := o.ToolVersion
	if tool == "" {
		tool = sbom.ToolVersion()
	}
	if res.sbomDoc, err = sbom.Encode(doc, sbom.Spec16, tool); err != nil {
		return err
	}
	if o.Path == "" {
		return nil
	}
	spec := o.Spec
	if spec == "" {
		spec = sbom.Spec16
	}
	data := res.sbomDoc
	if spec != sbom.Spec16 {
		if data, err = sbom.Encode(doc, spec, tool); err != nil {
			return err
		}
	}
	err = atomicfile.Write(o.Path, 0o644, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
	if err != nil {
		return fmt.Errorf("SBOM %s: %w", o.Path, err)
	}
	res.SBOM = &SBOMReport{SpecVersion: spec, SHA256: sbom.Hash(data), File: o.Path}
	return nil
}
