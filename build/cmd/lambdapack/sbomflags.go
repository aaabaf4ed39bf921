package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/galerly/galerly-lambda/build"
	"github.com/galerly/galerly-lambda/build/internal/atomicfile"
	"github.com/galerly/galerly-lambda/build/sbom"
	"github.com/galerly/galerly-lambda/build/upload"
)

// sbomFlags are --sbom, --sbom-spec and --name, which layer and function
// share.
type sbomFlags struct {
	path, spec, name string
}

func (s *sbomFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&s.path, "sbom", "", "also write the artifact's CycloneDX SBOM (JSON) to `FILE`; --upload stores it beside the zip (KEY.cdx.json) either way")
	fs.StringVar(&s.spec, "sbom-spec", string(sbom.Spec16), "CycloneDX `VERSION` of the --sbom file: 1.6, or 1.5 (what AWS Inspector's ScanSbom takes); the SBOM stored by --upload is 1.6")
	fs.StringVar(&s.name, "name", "", "the artifact's `NAME` in its SBOM, e.g. the layer's name (default: the --out file's name without .zip)")
}

// options validates the flags into a build's SBOMOptions; fs says which
// were given, uploading whether --upload was, out and in are the build's
// zip and inputs, which the SBOM may not overwrite.
func (s *sbomFlags) options(fs *flag.FlagSet, uploading bool, out string, in build.Inputs) (build.SBOMOptions, error) {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	spec, err := sbom.ParseSpec(s.spec)
	if err != nil {
		return build.SBOMOptions{}, usagef("--sbom-spec: %v", err)
	}
	switch {
	case given["sbom-spec"] && s.path == "":
		return build.SBOMOptions{}, usagef("--sbom-spec %s: give --sbom FILE to write it to", s.spec)
	case spec != sbom.Spec16 && uploading:
		return build.SBOMOptions{}, usagef("--sbom-spec %s with --upload: the SBOM stored beside an upload is CycloneDX 1.6, and the report names one document; "+
			"write a %s file in a run without --upload (a warm build takes seconds)", s.spec, s.spec)
	case given["name"] && s.name == "":
		return build.SBOMOptions{}, usagef("--name: give the artifact's name")
	}
	when, err := sbom.SourceDateEpoch(os.Getenv("SOURCE_DATE_EPOCH"))
	if err != nil {
		return build.SBOMOptions{}, usagef("%v", err)
	}
	o := build.SBOMOptions{Path: s.path, Spec: spec, Name: s.name, Time: when}
	if err := build.CheckSBOMOut(o, out, in); err != nil {
		return build.SBOMOptions{}, usagef("--sbom: %v", err)
	}
	return o, nil
}

// reuseSBOM checks, for an artifact found stored at loc with its report
// res, that its SBOM is stored beside it as the report says, and writes
// it to sbomPath when one is given. reason says why the stored artifact
// cannot be reused as it is (a report from before SBOMs, a missing or
// different SBOM): the artifact is then built. err is a failure to talk
// to S3 or to write the file.
func reuseSBOM(ctx context.Context, c *s3.Client, loc upload.Location, res *build.Result, sbomPath string) (reason string, err error) {
	if res.SBOM == nil || res.SBOM.S3 == "" || res.SBOM.SHA256 == "" {
		return "its report names no SBOM (it was stored by a lambdapack from before SBOMs)", nil
	}
	sloc := upload.SBOMLocation(loc)
	if res.SBOM.S3 != sloc.String() {
		return fmt.Sprintf("its report names the SBOM %s, not %s", res.SBOM.S3, sloc), nil
	}
	if sbomPath == "" {
		ok, why, err := upload.HasSBOM(ctx, c, loc, res.SBOM.SHA256)
		if err != nil || !ok {
			return why, err
		}
		return "", nil
	}
	// Read to be written, it is read once: its bytes show it is there.
	data, why, err := upload.ReadSBOM(ctx, c, sloc, res.SBOM.SHA256)
	if err != nil || why != "" {
		return why, err
	}
	err = atomicfile.Write(sbomPath, 0o644, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("SBOM %s: %w", sbomPath, err)
	}
	res.SBOM.File = sbomPath
	return "", nil
}

// sbomStoredAt records in res that its SBOM is stored beside loc (by
// UploadArtifact, before the report that says so).
func sbomStoredAt(res *build.Result, loc upload.Location) {
	if res.SBOM == nil {
		res.SBOM = &build.SBOMReport{SpecVersion: sbom.Spec16, SHA256: sbom.Hash(res.SBOMDocument())}
	}
	res.SBOM.S3 = upload.SBOMLocation(loc).String()
}

// storedReport is the report stored beside an upload: res without the
// local SBOM file's path, which means nothing on another machine.
func storedReport(res *build.Result) *build.Result {
	r := *res
	if res.SBOM != nil {
		s := *res.SBOM
		s.File = ""
		r.SBOM = &s
	}
	return &r
}
