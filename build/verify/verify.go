// Package verify checks a deployed Lambda function against the layer the
// stack says it should run: the layers attached, the expected version, a
// newer version left unused, runtime and architecture against the layer's
// compatible ones, the code size, and the function's own self-test.
//
// The checks are pure functions of Facts, which Gather reads from the Lambda
// API; each Result is one line a person can act on.
package verify

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/galerly/galerly-lambda/build/target"
)

// Status is a check's verdict.
type Status int

// The verdicts. Skip means the check could not be made (it says why) and
// does not fail the run on its own; another check has then already failed
// or the layer declares nothing to compare against.
const (
	OK Status = iota
	Fail
	Skip
)

// String is the verdict as printed.
func (s Status) String() string {
	switch s {
	case OK:
		return "ok"
	case Fail:
		return "FAIL"
	default:
		return "skip"
	}
}

// Result is one check's outcome.
type Result struct {
	Check  string // "layers", "expected layer", ...
	Status Status
	Detail string // what was found
	Fix    string // for a failure: what a person would do about it
}

// String formats r as its one printed line:
// "FAIL expected layer: function points at ... version 4: run pulumi up".
func (r Result) String() string {
	s := fmt.Sprintf("%-4s %s: %s", r.Status, r.Check, r.Detail)
	if r.Fix != "" {
		s += ": " + r.Fix
	}
	return s
}

// Failed reports whether any result is a failure.
func Failed(rs []Result) bool {
	return slices.ContainsFunc(rs, func(r Result) bool { return r.Status == Fail })
}

// Function is what the Lambda API says about the function at the qualifier.
type Function struct {
	Name      string // as asked for
	Qualifier string // as asked for; "" is $LATEST
	ARN       string
	Version   string // the version the qualifier resolves to
	// Runtime is empty for a container image function.
	Runtime       string
	Architectures []string
	PackageType   string // "Zip" or "Image"
	CodeSize      int64  // the function's own package, zipped
	Layers        []AttachedLayer

	State, StateReason                       string
	LastUpdateStatus, LastUpdateStatusReason string
}

// AttachedLayer is one entry of a function's Layers.
type AttachedLayer struct {
	ARN      string
	CodeSize int64 // zipped
}

// LayerVersion is what the Lambda API says about one layer version.
type LayerVersion struct {
	ARN                     LayerARN
	CompatibleRuntimes      []string
	CompatibleArchitectures []string
	LicenseInfo             string // as published; "" for none
	CodeSHA256              string // of its zip, hex; "" if not given
	// S3Object is the s3://BUCKET/KEY it was published from, when Lambda
	// says (ResolvedS3Object); "" otherwise.
	S3Object string
}

// Facts is everything the checks read.
type Facts struct {
	Function Function
	// Expected is the layer version the stack deployed (its layerArn output).
	Expected LayerARN
	// ExpectedVersion describes Expected; nil when that version does not
	// exist (deleted, or never published in this account and region).
	ExpectedVersion *LayerVersion
	// Versions are the versions of the expected layer that exist.
	Versions []int64
	// SelfTest is the self-test invocation; nil when not asked for.
	SelfTest *Invocation
}

// checks are run in this order, one Result each.
var checks = []func(Facts) Result{
	checkState,
	checkLayers,
	checkExpected,
	checkNewest,
	checkRuntime,
	checkArchitecture,
	checkSize,
}

// Check runs every check on f, and the self-test's when f has one.
func Check(f Facts) []Result {
	var rs []Result
	for _, c := range checks {
		rs = append(rs, c(f))
	}
	if f.SelfTest != nil {
		r, st := checkSelfTest(f)
		rs = append(rs, r)
		if st != nil {
			rs = append(rs, selfTestDetails(*st, f.Function)...)
		}
	}
	return rs
}

// display names the function and qualifier as a person would type them.
func (fn Function) display() string {
	if fn.Qualifier == "" {
		return fn.Name + " ($LATEST)"
	}
	return fn.Name + ":" + fn.Qualifier
}

// redeploy is the fix when the function does not point at the stack's
// layer. Behind an alias, the alias moves only after the smoke test passed,
// so a deploy that ran but failed its smoke test leaves the alias behind.
func (fn Function) redeploy() string {
	if fn.Qualifier == "" || fn.Qualifier == "$LATEST" {
		return "run pulumi up"
	}
	return fmt.Sprintf("run pulumi up (if it ran and %s did not move, the new version failed its smoke test: see the deploy's output)", fn.Qualifier)
}

func checkState(f Facts) Result {
	fn := f.Function
	r := Result{Check: "state"}
	state, update := orDash(fn.State), orDash(fn.LastUpdateStatus)
	r.Detail = fmt.Sprintf("%s, %s, last update %s", fn.display(), state, update)
	if fn.Version != "" && fn.Version != fn.Qualifier && fn.Version != "$LATEST" {
		r.Detail = fmt.Sprintf("%s is version %s, %s, last update %s", fn.display(), fn.Version, state, update)
	}
	switch {
	case fn.State == "Failed":
		r.Status = Fail
		r.Detail = fmt.Sprintf("%s is Failed: %s", fn.display(), orDash(fn.StateReason))
		r.Fix = "fix the cause named, then run pulumi up"
	case fn.LastUpdateStatus == "Failed":
		r.Status = Fail
		r.Detail = fmt.Sprintf("the last update of %s failed: %s", fn.display(), orDash(fn.LastUpdateStatusReason))
		r.Fix = "fix the cause named, then run pulumi up"
	case fn.State == "Pending" || fn.LastUpdateStatus == "InProgress":
		r.Status = Fail
		r.Detail = fmt.Sprintf("%s is still being updated (state %s, last update %s)", fn.display(), state, update)
		r.Fix = "wait a minute and run verify again"
	case fn.State == "Inactive":
		// Normal for a function idle for weeks; the next invoke
		// reactivates it.
		r.Detail += " (idle; the next invocation reactivates it)"
	}
	return r
}

func checkLayers(f Facts) Result {
	fn := f.Function
	if len(fn.Layers) == 0 {
		return Result{Check: "layers", Status: Fail,
			Detail: fmt.Sprintf("%s has no layers attached; the stack attaches %s", fn.display(), f.Expected),
			Fix:    fn.redeploy()}
	}
	arns := make([]string, len(fn.Layers))
	for i, l := range fn.Layers {
		arns[i] = l.ARN
	}
	r := Result{Check: "layers", Detail: strings.Join(arns, ", ")}
	if len(fn.Layers) > target.MaxLayers {
		r.Status = Fail
		r.Detail = fmt.Sprintf("%d attached, Lambda allows %d: %s", len(fn.Layers), target.MaxLayers, r.Detail)
		r.Fix = "remove layers the function does not need"
	}
	return r
}

// attachedVersions are the versions of the expected layer the function
// uses (Lambda allows one; more are reported as they are).
func attachedVersions(f Facts) []int64 {
	var vs []int64
	for _, l := range f.Function.Layers {
		a, err := ParseLayerARN(l.ARN)
		if err == nil && a.SameLayer(f.Expected) {
			vs = append(vs, a.Version)
		}
	}
	return vs
}

func joinVersions(vs []int64) string {
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = strconv.FormatInt(v, 10)
	}
	return strings.Join(s, " and ")
}

func checkExpected(f Facts) Result {
	fn, want := f.Function, f.Expected
	r := Result{Check: "expected layer"}
	attached := attachedVersions(f)
	switch {
	case f.ExpectedVersion == nil && !(len(attached) == 1 && attached[0] == want.Version):
		uses := "no version of it"
		if len(attached) > 0 {
			uses = "version " + joinVersions(attached)
		}
		r.Status = Fail
		r.Detail = fmt.Sprintf("%s does not exist (deleted, or never published here); the function uses %s", want, uses)
		r.Fix = "check that --expect-layer is the stack's current output (pulumi stack output layerArn); if it is, run pulumi refresh, then pulumi up"
	case len(attached) == 0:
		r.Status = Fail
		r.Detail = fmt.Sprintf("%s uses no version of layer %s, stack output is version %d", fn.display(), want.Name, want.Version)
		r.Fix = fn.redeploy()
	case len(attached) > 1 || attached[0] < want.Version:
		r.Status = Fail
		r.Detail = fmt.Sprintf("function points at layer version %s, stack output is version %d", joinVersions(attached), want.Version)
		r.Fix = fn.redeploy()
	case attached[0] > want.Version:
		r.Status = Fail
		r.Detail = fmt.Sprintf("function points at layer version %d, stack output is version %d", attached[0], want.Version)
		r.Fix = "the function was changed outside the stack, or --expect-layer is not the current stack output: run pulumi refresh, then pulumi up"
	case f.ExpectedVersion == nil:
		// Lambda keeps a deleted version's content for the functions that
		// use it, so this still runs; a new function version cannot.
		r.Status = Fail
		r.Detail = fmt.Sprintf("%s is attached but was deleted: functions that use it keep it, but none can be newly configured with it", want)
		r.Fix = "run pulumi refresh, then pulumi up (the stack publishes the layer again)"
	default:
		r.Detail = fmt.Sprintf("version %d of %s is attached", want.Version, want.Name)
	}
	return r
}

func checkNewest(f Facts) Result {
	want := f.Expected
	r := Result{Check: "newest layer"}
	attached := attachedVersions(f)
	if len(attached) == 0 {
		r.Status = Skip
		r.Detail = fmt.Sprintf("the function uses no version of %s to compare", want.Name)
		return r
	}
	if len(f.Versions) == 0 {
		r.Status = Skip
		r.Detail = fmt.Sprintf("no version of %s exists in %s account %s", want.Name, want.Region, want.Account)
		return r
	}
	newest := slices.Max(f.Versions)
	using := slices.Max(attached)
	switch {
	case using >= newest:
		r.Detail = fmt.Sprintf("the function uses version %d, the newest of %s", using, want.Name)
	case newest <= want.Version:
		r.Status = Fail
		r.Detail = fmt.Sprintf("%s has version %d, the function uses %d", want.Name, newest, using)
		r.Fix = f.Function.redeploy()
	default:
		r.Status = Fail
		r.Detail = fmt.Sprintf("%s has version %d, newer than the stack output (%d) and unused by the function", want.Name, newest, want.Version)
		r.Fix = fmt.Sprintf("it was published outside the stack: to ship it, change the lock and run pulumi up; otherwise delete it with aws lambda delete-layer-version --layer-name %s --version-number %d", want.Name, newest)
	}
	return r
}

func checkRuntime(f Facts) Result {
	r := Result{Check: "runtime"}
	lv := f.ExpectedVersion
	rt := f.Function.Runtime
	switch {
	case rt == "":
		r.Status = Fail
		r.Detail = fmt.Sprintf("%s has no runtime (package type %s): a container image cannot use layers", f.Function.display(), orDash(f.Function.PackageType))
		r.Fix = "deploy the function as a zip package (the stack does)"
	case lv == nil:
		r.Status = Skip
		r.Detail = fmt.Sprintf("%s: version %d of %s does not exist to compare with", rt, f.Expected.Version, f.Expected.Name)
	case len(lv.CompatibleRuntimes) == 0:
		r.Status = Skip
		r.Detail = fmt.Sprintf("%s: layer version %d declares no compatible runtimes", rt, lv.ARN.Version)
	case slices.Contains(lv.CompatibleRuntimes, rt):
		r.Detail = fmt.Sprintf("%s is one of layer version %d's compatible runtimes (%s)", rt, lv.ARN.Version, strings.Join(lv.CompatibleRuntimes, ", "))
	default:
		r.Status = Fail
		r.Detail = fmt.Sprintf("the function runs %s, layer version %d is built for %s", rt, lv.ARN.Version, strings.Join(lv.CompatibleRuntimes, ", "))
		r.Fix = fmt.Sprintf("set galerly-lambda:functionRuntime to one of those, or add %s to galerly-lambda:layerRuntimes (a new layer build), then run pulumi up", rt)
	}
	return r
}

func checkArchitecture(f Facts) Result {
	r := Result{Check: "architecture"}
	lv := f.ExpectedVersion
	arch := "x86_64" // Lambda's default when none is set
	if len(f.Function.Architectures) > 0 {
		arch = f.Function.Architectures[0]
	}
	switch {
	case lv == nil:
		r.Status = Skip
		r.Detail = fmt.Sprintf("%s: version %d of %s does not exist to compare with", arch, f.Expected.Version, f.Expected.Name)
	case len(lv.CompatibleArchitectures) == 0:
		r.Status = Skip
		r.Detail = fmt.Sprintf("%s: layer version %d declares no compatible architectures", arch, lv.ARN.Version)
	case slices.Contains(lv.CompatibleArchitectures, arch):
		r.Detail = fmt.Sprintf("%s is one of layer version %d's compatible architectures (%s)", arch, lv.ARN.Version, strings.Join(lv.CompatibleArchitectures, ", "))
	default:
		r.Status = Fail
		r.Detail = fmt.Sprintf("the function runs on %s, layer version %d is built for %s: its compiled libraries cannot load", arch, lv.ARN.Version, strings.Join(lv.CompatibleArchitectures, ", "))
		r.Fix = "the stack sets both from galerly-lambda:architecture, so the function was changed outside it: run pulumi up"
	}
	return r
}

func checkSize(f Facts) Result {
	fn := f.Function
	r := Result{Check: "code size"}
	if fn.PackageType == "Image" {
		r.Status = Skip
		r.Detail = "a container image function has no zip size"
		return r
	}
	total, layers := fn.CodeSize, int64(0)
	for _, l := range fn.Layers {
		layers += l.CodeSize
	}
	total += layers
	parts := fmt.Sprintf("%s bytes zipped (function %s + %s %s)", Bytes(total), Bytes(fn.CodeSize), plural(len(fn.Layers), "layer"), Bytes(layers))
	if total > target.MaxUnzippedBytes {
		// Unzipped is never smaller than zipped, so this is certain.
		r.Status = Fail
		r.Detail = fmt.Sprintf("%s is over Lambda's %s-byte limit, and unzipped it is larger still", parts, Bytes(target.MaxUnzippedBytes))
		r.Fix = "make the layer smaller: lambdapack layer reports unzippedBytes; drop packages the function does not import"
		return r
	}
	r.Detail = fmt.Sprintf("%s; Lambda's %s-byte limit is on the unzipped size, which lambdapack checks at build time", parts, Bytes(target.MaxUnzippedBytes))
	return r
}

// Bytes formats n with thousands separators: 262,144,000.
func Bytes(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
