package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/galerly/galerly-lambda/build"
	"github.com/galerly/galerly-lambda/build/awsconfig"
	"github.com/galerly/galerly-lambda/build/sbom"
	"github.com/galerly/galerly-lambda/build/upload"
)

// uploadFlag is --upload s3://BUCKET/KEY. The URI is checked as the flag
// is parsed, so a bad one is a usage error before anything is built.
type uploadFlag struct {
	loc upload.Location
	set bool
}

func (u *uploadFlag) register(fs *flag.FlagSet) {
	fs.Var(u, "upload", "after the build, store the zip at `s3://BUCKET/KEY` (reused only if S3 shows the object there has the same bytes, refused "+
		"if it holds any other; an artifact already stored for the same key, its bytes shown to be the ones its report names, is not rebuilt). "+
		"Credentials, region and endpoint: the AWS SDK's defaults (AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL_S3, ...)")
}

func (u *uploadFlag) String() string {
	if u == nil || !u.set {
		return ""
	}
	return u.loc.String()
}

// Set parses and checks the URI.
func (u *uploadFlag) Set(s string) error {
	loc, err := upload.ParseURI(s)
	if ue := (*upload.URIError)(nil); errors.As(err, &ue) {
		return ue.Err // the flag package already quotes the value
	}
	if err != nil {
		return err
	}
	u.loc, u.set = loc, true
	return nil
}

// artifactJob is what buildAndPublish needs from a command that builds a
// zip: how to compute its key without building (with the warnings a build
// would log, printed when the build is skipped), how to build it, and how
// to check a stored report against this run's limits as the build would.
type artifactJob struct {
	kind  string // "layer" or "function package", for messages
	out   string // the --out path
	sbom  string // the --sbom path, "" for none
	key   func() (key string, warnings []string, err error)
	build func() (*build.Result, error)
	fits  func(*build.Result) error
}

// report is what the build commands print: the build's result and, with
// --upload, where it is in S3.
type report struct {
	*build.Result
	S3 *upload.Object `json:"s3,omitempty"`
}

// buildAndPublish builds the artifact, uploads it when --upload was given,
// and prints the report. With --upload it first asks S3 whether the
// artifact built from the same key is already stored with its report (what
// a revert to an old lock finds): then nothing is built, downloaded or
// sent, --out is not written, and the stored report is printed with
// "reused" and "buildSkipped" true.
//
// log receives notes (slow S3 requests among them); it is e.stderr made
// safe for concurrent writes.
func buildAndPublish(ctx context.Context, e *env, log io.Writer, up *uploadFlag, job artifactJob) error {
	if !up.set {
		res, err := job.build()
		if err != nil {
			return err
		}
		return printReport(e, report{Result: res}, job.out)
	}
	loc := up.loc
	cfg, err := awsconfig.Load(ctx)
	if err != nil {
		return fmt.Errorf("--upload %s: %w", loc, err)
	}
	cfg = awsconfig.WithLog(cfg, log)
	c := awsconfig.NewS3(cfg)
	key, warnings, err := job.key()
	if err != nil {
		return err
	}
	stored, miss, err := upload.Find(ctx, c, loc, key)
	if err != nil {
		return err
	}
	if stored != nil {
		res, err := storedResult(stored, key, job.fits)
		var why string
		if err == nil {
			if why, err = reuseSBOM(ctx, c, loc, res, job.sbom); err != nil {
				return err
			}
			if why != "" {
				err = errors.New(why)
			}
		}
		if err == nil {
			for _, w := range warnings {
				fmt.Fprintf(e.stderr, "warning: %s\n", w)
			}
			written := ""
			if job.sbom != "" {
				written = ", its SBOM written to " + job.sbom
			}
			fmt.Fprintf(e.stderr, "%s already holds the %s built from key %s (sha256 %s): nothing built or sent, %s not written%s\n",
				loc, job.kind, key, res.SHA256, job.out, written)
			return printReport(e, report{Result: res, S3: &upload.Object{Bucket: loc.Bucket, Key: loc.Key, Reused: true, BuildSkipped: true}}, job.out)
		}
		fmt.Fprintf(e.stderr, "note: not using the report stored with %s (%v); building\n", loc, err)
	} else if miss.Absent {
		// The usual case of a new key: find a missing bucket now rather
		// than after a build.
		if err := upload.CheckBucket(ctx, c, loc.Bucket); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(e.stderr, "note: not reusing %s: %s; building\n", loc, miss.Why)
	}
	res, err := job.build()
	if err != nil {
		return err
	}
	sbomStoredAt(res, loc)
	saved, err := json.Marshal(storedReport(res))
	if err != nil {
		return fmt.Errorf("encode the report of %s: %w", job.out, err)
	}
	obj, err := upload.UploadArtifact(ctx, c, loc, upload.Artifact{
		Path: job.out, SHA256: res.SHA256, BuildKey: res.Key, Report: append(saved, '\n'),
		SBOM: res.SBOMDocument(), SBOMType: sbom.MediaType,
	}, upload.Options{Progress: e.stderr}, e.stderr)
	if err != nil {
		return fmt.Errorf("%w\n(the %s was built: %s)", err, job.kind, job.out)
	}
	return printReport(e, report{Result: res, S3: obj}, job.out)
}

// storedResult decodes a stored report and checks it describes the object
// it was found with, for this key and, unless fits is nil, within this
// run's limits.
func storedResult(st *upload.Stored, key string, fits func(*build.Result) error) (*build.Result, error) {
	var res build.Result
	dec := json.NewDecoder(bytes.NewReader(st.Report))
	if err := dec.Decode(&res); err != nil {
		return nil, fmt.Errorf("the report does not decode: %w", err)
	}
	switch {
	case res.Key != key:
		return nil, fmt.Errorf("the report is for key %s, not %s", res.Key, key)
	case res.SHA256 != st.SHA256:
		return nil, fmt.Errorf("the report gives sha256 %s but the object's is %s", res.SHA256, st.SHA256)
	case res.ZipBytes != st.Size:
		return nil, fmt.Errorf("the report gives %d zip bytes but the object has %d", res.ZipBytes, st.Size)
	}
	if fits != nil {
		if err := fits(&res); err != nil {
			return nil, err
		}
	}
	return &res, nil
}

func printReport(e *env, r report, out string) error {
	if err := json.NewEncoder(e.stdout).Encode(r); err != nil {
		return fmt.Errorf("print the report (the zip %s was written): %w", out, err)
	}
	return nil
}

// layerJob builds a layer.
func layerJob(ctx context.Context, opts build.LayerOptions) artifactJob {
	max := opts.MaxUnzipped
	if max == 0 {
		max = build.MaxUnzipped
	}
	return artifactJob{
		kind: "layer",
		out:  opts.Out,
		sbom: opts.SBOM.Path,
		key: func() (string, []string, error) {
			if err := build.CheckOut(opts.Out); err != nil {
				return "", nil, err
			}
			if err := build.CheckSBOMOut(opts.SBOM, opts.Out, opts.Inputs()); err != nil {
				return "", nil, err
			}
			key, err := build.LayerKeyOf(opts)
			return key, nil, err
		},
		build: func() (*build.Result, error) { return build.Layer(ctx, opts) },
		fits: func(r *build.Result) error {
			if r.UnzippedBytes > max {
				return fmt.Errorf("the stored layer is %d bytes unzipped, over --max-unzipped %d", r.UnzippedBytes, max)
			}
			return nil
		},
	}
}

// functionJob builds a function package.
func functionJob(ctx context.Context, opts build.FunctionOptions) artifactJob {
	return artifactJob{
		kind:  "function package",
		out:   opts.Out,
		sbom:  opts.SBOM.Path,
		key:   func() (string, []string, error) { return build.FunctionKey(opts) },
		build: func() (*build.Result, error) { return build.Function(ctx, opts) },
		fits:  func(r *build.Result) error { return build.FunctionFits(r.UnzippedBytes, opts.LayerUnzipped) },
	}
}
