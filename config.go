package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"

	"github.com/galerly/galerly-lambda/build"
	"github.com/galerly/galerly-lambda/build/lock"
	"github.com/galerly/galerly-lambda/build/source"
	"github.com/galerly/galerly-lambda/build/target"
)

// Config is a stack's settings, read once and validated before any
// resource is declared, so that bad config fails `pulumi preview` with a
// message naming the key instead of failing halfway through an update.
type Config struct {
	// Region is aws:region, passed to the build step so its upload goes
	// to the region the stack deploys to; "" when the stack leaves it to
	// the environment.
	Region string
	// ArtifactsBucket names an existing bucket for built artifacts; ""
	// creates one in the stack.
	ArtifactsBucket string
	// BuildEndpoint, when set, is the AWS endpoint URL the build steps
	// upload to (an emulator's); "" for AWS itself.
	BuildEndpoint string
	// Bytecode says whether the layer and the function packages ship
	// compiled .pyc files for their runtimes; off, each cold start
	// compiles every module it imports.
	Bytecode bool
	// Layer is the image-processing layer's settings.
	Layer LayerConfig
	// Function is the API function's settings (and the extra functions').
	Function FunctionConfig
	// Sharing says who besides this account may use the layer's versions.
	Sharing SharingConfig
	// Photos is the bucket the functions may read original photos from.
	Photos PhotosConfig
	// ColdStarts is how the functions' cold starts are shortened (SnapStart)
	// and watched (saved Logs Insights queries).
	ColdStarts ColdStartConfig
	// Regions says where the layer is published and for which
	// architectures (config_regions.go).
	Regions RegionsConfig
}

// KeyOptions are the build options that are part of the layer and code
// keys, as config sets them.
func (c *Config) KeyOptions() lock.Options {
	return lock.Options{NoBytecode: !c.Bytecode}
}

// LayerConfig is what the layer is built from and for.
type LayerConfig struct {
	// Name is the Lambda layer's name.
	Name string
	// LockPath is the lock as configured: relative to the project folder,
	// slash-separated. It goes into the build command as written, so the
	// command is the same on every machine.
	LockPath string
	// Lock is the parsed lock at LockPath, with Select.
	Lock *lock.Lock
	// Select names a pylock.toml's extras and dependency groups to
	// install; zero for a requirements lock.
	Select lock.Selection
	// Target is the runtimes and architecture the layer is built for.
	Target target.Target
	// KeepVersions keeps each published version when a new one replaces
	// it, and on `pulumi destroy` (the LayerVersion's skipDestroy).
	KeepVersions bool
}

// SharingConfig is who the layer's versions are shared with, besides the
// stack's own account.
type SharingConfig struct {
	// Accounts are 12-digit AWS account IDs, or "*" for every account, as
	// configured.
	Accounts []string
	// Organization is an AWS Organization ID (o-...), or "".
	Organization string
}

// Grants are the layer version permissions the sharing takes, one per
// principal: each account in order, then the organization.
func (s SharingConfig) Grants() []LayerGrant {
	var out []LayerGrant
	for _, a := range s.Accounts {
		if a == "*" {
			out = append(out, publicGrant())
		} else {
			out = append(out, accountGrant(a))
		}
	}
	if s.Organization != "" {
		out = append(out, organizationGrant(s.Organization))
	}
	return out
}

// Warnings are what a preview should say about the sharing: that "*" makes
// every version public. layer names the layer.
func (s SharingConfig) Warnings(namespace, layer string) []string {
	if slices.ContainsFunc(s.Grants(), LayerGrant.Public) {
		return []string{fmt.Sprintf("layer %s is public: %s:layerShareAccounts lists \"*\", so every AWS account may use (and download) each version; "+
			"remove \"*\" unless the layer is meant to be public", layer, namespace)}
	}
	return nil
}

// FunctionConfig is the API function's settings, and what the extra
// functions that share its code and layer inherit.
type FunctionConfig struct {
	// Name is the API function's name.
	Name string
	// Runtime is the function's runtime, one of the layer's.
	Runtime target.Runtime
	// Arch is the function's architecture, the layer's.
	Arch target.Arch
	// Source is the folder of the function's code, relative to the
	// project folder, slash-separated; it goes into the build command as
	// written.
	Source string
	// LockPath is the function's own hashed lock, like Source; "" when
	// the function has no dependencies of its own.
	LockPath string
	// Select names a pylock.toml's extras and dependency groups to
	// install; zero for a requirements lock.
	Select lock.Selection
	Lock   *lock.Lock // nil when LockPath is ""
	// CodeKey is the code key of Source and Lock for Runtime and Arch
	// (build.CodeKey): it names the package in S3 and triggers its build.
	CodeKey string
	// Handler is the Lambda handler, "module.function".
	Handler string
	// MemorySize is in MB, Timeout in seconds, within Lambda's limits.
	MemorySize int
	Timeout    int
	// LogRetentionDays is the log group's retention; 0 keeps logs forever.
	LogRetentionDays int
	// SmokeTest says whether each new version is invoked with the
	// self-test before the live alias moves to it.
	SmokeTest bool
	// ExtraLayerArns are layer versions the function uses after the
	// stack's own layer, in order.
	ExtraLayerArns []string
	// PolicyArns are IAM policies attached to each function's role beyond
	// basic execution (CloudWatch Logs).
	PolicyArns []string
	// StripeSecretKey is the Stripe API key, "" when not set. It is read
	// from a secret config value and only ever leaves the program wrapped
	// as a Pulumi secret.
	StripeSecretKey Secret
	// Extra are further functions that run the same code with another
	// handler and share the layer.
	Extra []ExtraFunction
}

// ExtraFunction is one more function deployed from the API function's code
// and layer, with its own handler, role, log group, smoke test and live
// alias.
type ExtraFunction struct {
	Name       string
	Handler    string
	MemorySize int // the API function's when not configured
	Timeout    int // the API function's when not configured
}

// Secret is a config value that must not be printed: formatting it with
// %v, %s or %+v shows a placeholder, so a failing test or a debug print of
// a Config does not leak it.
type Secret string

// String returns a placeholder, never the value.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "[secret]"
}

// GoString returns a placeholder, never the value.
func (s Secret) GoString() string { return s.String() }

// setting is one key of the project's config namespace. Pulumi.yaml
// declares the same keys with the same types and defaults (a test holds
// them equal); the program applies the defaults itself too, so that it
// behaves the same whether or not the CLI filled them in.
type setting struct {
	Key  string
	Type string // string, integer, boolean, array or object
	// Items is the type of an array's items: string or object.
	Items   string
	Default any // string, int, bool, []string, []map[string]any or map[string]string
	// Secret says the value must be stored encrypted (`pulumi config set
	// --secret`); the program refuses a plain one. Pulumi.yaml does not
	// declare it `secret: true`: the CLI merges a declared default into
	// the stack as plain text and then refuses that very default, so an
	// optional secret would fail every stack that leaves it unset.
	Secret bool
}

// settings lists every key the program reads from its own namespace.
func settings() []setting {
	return []setting{
		{Key: "layerName", Type: "string", Default: "galerly-image-processing"},
		{Key: "layerLock", Type: "string", Default: "locks/image-processing.txt"},
		{Key: "layerLockExtras", Type: "array", Items: "string", Default: []string{}},
		{Key: "layerLockGroups", Type: "array", Items: "string", Default: []string{}},
		{Key: "layerRuntimes", Type: "array", Items: "string", Default: []string{"python3.11", "python3.12"}},
		{Key: "architecture", Type: "string", Default: "x86_64"},
		{Key: "bytecode", Type: "boolean", Default: true},
		{Key: "keepLayerVersions", Type: "boolean", Default: true},
		{Key: "layerShareAccounts", Type: "array", Items: "string", Default: []string{}},
		{Key: "layerShareOrganization", Type: "string", Default: ""},
		{Key: "layerRegions", Type: "array", Items: "string", Default: []string{}},
		{Key: "layerArchitectures", Type: "array", Items: "string", Default: []string{}},
		{Key: "artifactsBuckets", Type: "object", Default: map[string]string{}},
		{Key: "artifactsBucket", Type: "string", Default: ""},
		{Key: "buildEndpointUrl", Type: "string", Default: ""},
		{Key: "functionName", Type: "string", Default: ""},
		{Key: "functionRuntime", Type: "string", Default: "python3.11"},
		{Key: "functionSource", Type: "string", Default: "app"},
		{Key: "functionLock", Type: "string", Default: "locks/function.txt"},
		{Key: "functionLockExtras", Type: "array", Items: "string", Default: []string{}},
		{Key: "functionLockGroups", Type: "array", Items: "string", Default: []string{}},
		{Key: "functionHandler", Type: "string", Default: "api.handler"},
		{Key: "memorySize", Type: "integer", Default: 1024},
		{Key: "timeout", Type: "integer", Default: 30},
		{Key: "logRetentionDays", Type: "integer", Default: 30},
		{Key: "smokeTest", Type: "boolean", Default: true},
		{Key: "extraLayerArns", Type: "array", Items: "string", Default: []string{}},
		{Key: "functionPolicyArns", Type: "array", Items: "string", Default: []string{}},
		{Key: "extraFunctions", Type: "array", Items: "object", Default: []map[string]any{}},
		{Key: "stripeSecretKey", Type: "string", Default: "", Secret: true},
		{Key: "photosBucket", Type: "string", Default: ""},
		{Key: "snapStart", Type: "boolean", Default: false},
		{Key: "logQueries", Type: "boolean", Default: true},
	}
}

// Lambda's limits on a function's memory (MB) and timeout (seconds).
const (
	minMemoryMB = 128
	maxMemoryMB = 10240
	minTimeout  = 1
	maxTimeout  = 900
)

// logRetentionChoices lists the retention periods CloudWatch Logs accepts,
// in days; 0 is Pulumi's "never expire".
func logRetentionChoices() []int {
	return []int{0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}
}

var (
	// Lambda layer names: letters, digits, hyphens and underscores, 64 at
	// most.
	lambdaName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	// Function names: the same, but 56 at most, Lambda allowing 64: the
	// function's IAM role is auto-named after it with Pulumi's 8-character
	// suffix, and IAM allows role names of 64.
	functionName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,56}$`)
	// The lock path goes into a shell command line; keeping it to these
	// characters means it needs no quoting.
	safePath = regexp.MustCompile(`^[A-Za-z0-9._/-]+$`)
	// A Python handler as Lambda resolves it: a dotted module path, then
	// the function.
	pythonHandler = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$`)
	// A Lambda layer version ARN: partition, region, account, layer name,
	// version.
	layerVersionArn = regexp.MustCompile(`^arn:(aws[a-z-]*):lambda:([a-z0-9-]+):([0-9]{12}):layer:([A-Za-z0-9_-]{1,140}):([1-9][0-9]*)$`)
	// An IAM managed policy ARN, AWS-managed ("aws") or an account's own,
	// with an optional path.
	policyArn = regexp.MustCompile(`^arn:aws[a-z-]*:iam::(aws|[0-9]{12}):policy/([A-Za-z0-9+=,.@_-]+/)*[A-Za-z0-9+=,.@_-]{1,128}$`)
	// An AWS account ID and an AWS Organization ID.
	awsAccountID = regexp.MustCompile(`^[0-9]{12}$`)
	awsOrgID     = regexp.MustCompile(`^o-[a-z0-9]{10,32}$`)
	// Stripe's secret (sk_) and restricted (rk_) API keys; a publishable
	// key (pk_) is a mistake worth catching before it reaches the function.
	stripeKey = regexp.MustCompile(`^[sr]k_(live|test)_[A-Za-z0-9]+$`)
)

// basicExecutionPolicy is the managed policy every function's role gets:
// writing its own CloudWatch logs, nothing else. The partition is filled
// in per stack.
const basicExecutionPolicy = "arn:%s:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"

// loadConfig reads the stack's config. root is the project folder the
// lock path is relative to. Every problem is reported, not just the first,
// each naming its key.
func loadConfig(ctx *pulumi.Context, root string) (*Config, error) {
	r := newConfigReader(ctx)
	c := &Config{
		Region:          config.New(ctx, "aws").Get("region"),
		ArtifactsBucket: r.str("artifactsBucket"),
		BuildEndpoint:   r.str("buildEndpointUrl"),
		Bytecode:        r.boolean("bytecode"),
	}
	if c.ArtifactsBucket != "" {
		if err := checkBucketName(c.ArtifactsBucket); err != nil {
			r.failErr("artifactsBucket", err)
		}
	}
	if err := checkEndpoint(c.BuildEndpoint); err != nil {
		r.failErr("buildEndpointUrl", err)
	}
	// The layer and the functions share one architecture; "" when it is
	// bad, so neither is checked against it.
	arch, err := target.ParseArch(r.str("architecture"))
	if err != nil {
		r.failErr("architecture", err)
	}
	var layerRuntimes []target.Runtime
	c.Layer, layerRuntimes = readLayerConfig(r, root, arch)
	c.Function = readFunctionConfig(r, root, functionContext{
		stack:         ctx.Stack(),
		region:        c.Region,
		arch:          arch,
		layerRuntimes: layerRuntimes,
		options:       c.KeyOptions(),
	})
	c.Sharing = readSharingConfig(r)
	c.Photos = readPhotosConfig(r)
	c.ColdStarts = readColdStartConfig(r, c.Function.Runtime, layerRuntimes)
	c.Regions = readRegionsConfig(ctx, r, c.Region, arch, c.Layer)
	if err := r.err(); err != nil {
		return nil, err
	}
	return c, nil
}

// readLayerConfig reads the layer's keys: its name, runtimes, lock and
// whether old versions are kept. It also returns the runtimes, nil when
// layerRuntimes is bad, for the function's runtime to be checked against.
func readLayerConfig(r *configReader, root string, arch target.Arch) (LayerConfig, []target.Runtime) {
	var l LayerConfig
	l.Name = r.str("layerName")
	if !lambdaName.MatchString(l.Name) {
		r.fail("layerName", "%q: want 1 to 64 letters, digits, hyphens or underscores", l.Name)
	}
	names := r.list("layerRuntimes")
	var runtimes []target.Runtime
	for _, s := range names {
		rt, err := target.ParseRuntime(s)
		if err != nil {
			r.failErr("layerRuntimes", err)
			continue
		}
		runtimes = append(runtimes, rt)
	}
	if len(runtimes) == 0 || r.failed("layerRuntimes") {
		runtimes = nil
	}
	if runtimes != nil && arch != "" {
		t, err := target.New(names, string(arch))
		if err != nil {
			r.failErr("layerRuntimes", err)
		}
		l.Target = t
	}
	l.LockPath = r.str("layerLock")
	l.Select = readSelection(r, "layerLockExtras", "layerLockGroups")
	if lk, err := readLock(root, l.LockPath, l.Select); err != nil {
		r.failErr("layerLock", err)
	} else {
		l.Lock = lk
		if len(l.Target.Runtimes) > 0 {
			if err := lk.Check(l.Target); err != nil {
				r.failErr("layerLock", err)
			} else if len(lk.For(l.Target)) == 0 {
				r.fail("layerLock", "%s has no requirement for %s: the layer would be empty", l.LockPath, l.Target)
			}
		}
	}
	l.KeepVersions = r.boolean("keepLayerVersions")
	return l, runtimes
}

// functionContext is what the function's keys are checked against.
type functionContext struct {
	stack  string // the stack's name, for the default function name
	region string // "" when aws:region is unset
	arch   target.Arch
	// layerRuntimes are the layer's runtimes, nil when they are bad.
	layerRuntimes []target.Runtime
	// options are the build options of the code key.
	options lock.Options
}

// readFunctionConfig reads the API function's keys and what the extra
// functions inherit from it: name, runtime, size, logs, code, lock, code
// key, handler, extra layers and policies, the Stripe key and the extra
// functions.
func readFunctionConfig(r *configReader, root string, fc functionContext) FunctionConfig {
	f := FunctionConfig{Arch: fc.arch}
	f.Name = r.str("functionName")
	if f.Name == "" {
		f.Name = "galerly-api-" + fc.stack
	}
	if !functionName.MatchString(f.Name) {
		r.fail("functionName", "%q: want 1 to 56 letters, digits, hyphens or underscores (the role named after it takes 8 more, IAM allows 64)", f.Name)
	}
	if rt, err := target.ParseRuntime(r.str("functionRuntime")); err != nil {
		r.failErr("functionRuntime", err)
	} else {
		f.Runtime = rt
		if fc.layerRuntimes != nil && !slices.Contains(fc.layerRuntimes, rt) {
			names := make([]string, len(fc.layerRuntimes))
			for i, lr := range fc.layerRuntimes {
				names[i] = lr.String()
			}
			r.fail("functionRuntime", "%s is not one of %s (%s): the layer would not be compatible with the function",
				rt, r.full("layerRuntimes"), strings.Join(names, ", "))
		}
	}
	f.MemorySize = r.integer("memorySize", minMemoryMB, maxMemoryMB, "MB")
	f.Timeout = r.integer("timeout", minTimeout, maxTimeout, "seconds")
	days := logRetentionChoices()
	f.LogRetentionDays = r.integer("logRetentionDays", 0, days[len(days)-1], "days")
	if !r.failed("logRetentionDays") && !slices.Contains(days, f.LogRetentionDays) {
		r.fail("logRetentionDays", "%d is not a retention CloudWatch Logs accepts (0 for never, or one of %s)",
			f.LogRetentionDays, joinInts(days[1:]))
	}
	f.SmokeTest = r.boolean("smokeTest")

	f.Source = r.str("functionSource")
	// The source folder is walked once: its files give the code key and
	// tell whether a handler's module ships.
	var tree *source.Tree
	if err := checkRelPath(f.Source, "source folder"); err != nil {
		r.failErr("functionSource", err)
	} else if err := isDir(root, f.Source); err != nil {
		r.failErr("functionSource", err)
	} else if tree, err = walkSource(root, f.Source); err != nil {
		r.failErr("functionSource", err)
	}
	f.LockPath = r.str("functionLock")
	ft := target.Target{Runtimes: []target.Runtime{f.Runtime}, Arch: f.Arch}.Canonical()
	f.Select = readSelection(r, "functionLockExtras", "functionLockGroups")
	if f.LockPath == "" && !f.Select.IsZero() {
		key := "functionLockExtras"
		if len(f.Select.Extras) == 0 {
			key = "functionLockGroups"
		}
		r.fail(key, "set with no functionLock: extras and groups choose what a pylock.toml installs")
	}
	if f.LockPath != "" {
		if l, err := readLock(root, f.LockPath, f.Select); err != nil {
			r.failErr("functionLock", err)
		} else {
			f.Lock = l
			if f.Runtime.Minor != 0 && f.Arch != "" {
				if err := l.Check(ft); err != nil {
					r.failErr("functionLock", err)
				} else if len(l.For(ft)) == 0 {
					r.fail("functionLock", "%s has no requirement for %s; set it to \"\" for a function without dependencies of its own", f.LockPath, ft)
				}
			}
		}
	}
	if tree != nil && !r.failed("functionLock") && f.Runtime.Minor != 0 && f.Arch != "" {
		// What build.CodeKey computes, from the lock already read.
		lockKey := ""
		if f.Lock != nil {
			lockKey = lock.Key(f.Lock, ft, fc.options)
		}
		f.CodeKey = build.CodeKeyOf(tree, lockKey, ft, fc.options)
	}
	f.Handler = r.str("functionHandler")
	if err := checkHandler(tree, f.Source, f.Handler); err != nil {
		r.failErr("functionHandler", err)
	}
	f.ExtraLayerArns = r.optionalList("extraLayerArns")
	r.checkLayers(fc.region, f.ExtraLayerArns)
	f.PolicyArns = r.optionalList("functionPolicyArns")
	r.checkPolicies(fc.region, f.PolicyArns)
	f.StripeSecretKey = r.secret("stripeSecretKey")
	if f.StripeSecretKey != "" && !stripeKey.MatchString(string(f.StripeSecretKey)) {
		// The message must not echo the value.
		r.fail("stripeSecretKey", "does not look like a Stripe secret key (sk_live_..., sk_test_...) or restricted key (rk_...); a publishable key (pk_...) does not belong on the server")
	}
	f.Extra = r.extraFunctions(&f, tree)
	return f
}

// readSharingConfig reads who the layer is shared with: account IDs, "*"
// (every account, which has to be written out) and an organization.
func readSharingConfig(r *configReader) SharingConfig {
	const accountsKey, orgKey = "layerShareAccounts", "layerShareOrganization"
	var s SharingConfig
	for i, a := range r.optionalList(accountsKey) {
		switch {
		case a != "*" && !awsAccountID.MatchString(a):
			r.fail(accountsKey, "[%d] %q is not an AWS account ID (12 digits) or \"*\" (every account)", i, a)
		case slices.Contains(s.Accounts, a):
			r.fail(accountsKey, "[%d] %s is listed twice", i, a)
		default:
			s.Accounts = append(s.Accounts, a)
		}
	}
	s.Organization = r.str(orgKey)
	if s.Organization != "" && !awsOrgID.MatchString(s.Organization) {
		r.fail(orgKey, "%q is not an AWS Organization ID (o- then 10 to 32 lowercase letters or digits, as `aws organizations describe-organization` prints it)", s.Organization)
	}
	return s
}

// selectionName is an extra's or dependency group's name as it may go
// into a build command: PEP 685 / PEP 735 normalized names need no more.
var selectionName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$`)

// readSelection reads the extras and dependency groups a pylock.toml lock
// is installed with (lambdapack --extra and --group). Whether the lock
// declares them, and is a pylock at all, readLock checks.
func readSelection(r *configReader, extrasKey, groupsKey string) lock.Selection {
	var sel lock.Selection
	for key, dst := range map[string]*[]string{extrasKey: &sel.Extras, groupsKey: &sel.Groups} {
		for _, name := range r.optionalList(key) {
			if !selectionName.MatchString(name) {
				r.fail(key, "%q: want a name of letters, digits, '.', '-' and '_'", name)
				continue
			}
			*dst = append(*dst, name)
		}
	}
	return sel
}

// readLock reads and parses the lock at rel, a slash-separated path
// relative to root. Errors name the lock by rel, so a message reads the
// same on every machine and links to "locks/x.txt:12" in a CI log.
func readLock(root, rel string, sel lock.Selection) (*lock.Lock, error) {
	if rel == "" {
		return nil, errors.New("no lock file given")
	}
	if err := checkRelPath(rel, "lock"); err != nil {
		return nil, err
	}
	// Read as the build steps read it, so the preview neither blocks on a
	// FIFO nor accepts a lock over the size they refuse.
	abs := filepath.Join(root, filepath.FromSlash(rel))
	data, err := lock.ReadData(abs)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("lock file %s does not exist (paths are relative to the project folder)", rel)
	}
	if err != nil {
		return nil, fmt.Errorf("read lock %s: %s", rel, strings.ReplaceAll(causeOnly(err).Error(), abs, rel))
	}
	// In the project, so the files it includes (-r, -c) are read too:
	// the preview reads all the build will.
	return lock.ParseInProject(root, rel, data, sel)
}

// checkRelPath checks a path from config that goes into a build command:
// relative to the project folder, clean, slash-separated and free of
// characters a shell would need quoted, so the command is the same on
// every machine. what names the path in messages ("lock").
func checkRelPath(rel, what string) error {
	switch {
	case rel == "":
		return fmt.Errorf("no %s given", what)
	case strings.HasPrefix(rel, "/") || filepath.IsAbs(rel) || filepath.VolumeName(rel) != "":
		return fmt.Errorf("%q is absolute: give the %s relative to the project folder, so every machine runs the same build command", rel, what)
	case strings.Contains(rel, `\`):
		return fmt.Errorf("%q: separate folders with /", rel)
	case path.Clean(rel) != rel || rel == ".." || strings.HasPrefix(rel, "../"):
		return fmt.Errorf("%q: want a clean path inside the project folder (no ., .. or doubled /)", rel)
	case !safePath.MatchString(rel):
		return fmt.Errorf("%q: use only letters, digits, '.', '_', '-' and '/' in the %s path", rel, what)
	}
	return nil
}

// isDir checks that rel, relative to root, is a folder. Errors name rel,
// never root.
func isDir(root, rel string) error {
	info, err := os.Stat(filepath.Join(root, filepath.FromSlash(rel)))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("folder %s does not exist (paths are relative to the project folder)", rel)
	case err != nil:
		return fmt.Errorf("%s: %w", rel, causeOnly(err))
	case !info.IsDir():
		return fmt.Errorf("%s is not a folder", rel)
	}
	return nil
}

// causeOnly drops the path from a *fs.PathError, which would name the
// absolute folder; the cause is what the reader needs.
func causeOnly(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// checkEndpoint checks an AWS endpoint URL for the build steps: "" or
// http(s)://HOST[:PORT] with nothing else. It is stored in the stack's
// state in plain text, so credentials in it are refused.
func checkEndpoint(endpoint string) error {
	if endpoint == "" {
		return nil
	}
	u, err := url.Parse(endpoint)
	switch {
	case err != nil:
		return fmt.Errorf("%q is not a URL: %v", endpoint, errors.Unwrap(err))
	case u.Scheme != "http" && u.Scheme != "https", u.Host == "":
		return fmt.Errorf("%q: want http://HOST:PORT or https://HOST, an emulator's endpoint", endpoint)
	case u.User != nil:
		return fmt.Errorf("%q holds credentials; the build steps take them from the environment (AWS_ACCESS_KEY_ID, a profile)", u.Redacted())
	case (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "":
		return fmt.Errorf("%q: want only the scheme, host and port", endpoint)
	}
	return nil
}

// checkHandler checks a Python handler ("module.function") and, when the
// source folder could be walked (tree is not nil), that the module is
// among the files that ship: a module the excludes leave out (tests/, say)
// would fail at the first invocation.
func checkHandler(tree *source.Tree, src, handler string) error {
	if !pythonHandler.MatchString(handler) {
		return fmt.Errorf("%q: want module.function, e.g. api.handler (a dotted module path inside the source folder, then the function)", handler)
	}
	if tree == nil {
		return nil
	}
	module := strings.ReplaceAll(handler[:strings.LastIndex(handler, ".")], ".", "/")
	for _, f := range tree.Files {
		if f.Path == module+".py" || f.Path == module+"/__init__.py" {
			return nil
		}
	}
	return fmt.Errorf("%s: module %s is not in %s (no %s/%s.py or %s/%s/__init__.py among the files that ship)", handler, module, src, src, module, src, module)
}

// walkSource walks the source folder src, relative to root, as the build
// step will. Errors name the folder as configured, not by the machine's
// absolute path, so a message reads the same on every machine.
func walkSource(root, src string) (*source.Tree, error) {
	abs := filepath.Join(root, filepath.FromSlash(src))
	tree, err := source.Walk(abs, source.Filter{})
	if err != nil {
		return nil, errors.New(strings.ReplaceAll(err.Error(), abs, src))
	}
	return tree, nil
}

// checkLayers checks the extra layer version ARNs: each a layer version in
// the stack's region, one version per layer, and with the stack's own
// layer at most Lambda's five in all.
func (r *configReader) checkLayers(region string, arns []string) {
	const key = "extraLayerArns"
	if n := 1 + len(arns); n > target.MaxLayers {
		r.fail(key, "%d extra layers plus the stack's own make %d; Lambda allows at most %d layers per function", len(arns), n, target.MaxLayers)
	}
	seen := map[string]string{}
	for i, arn := range arns {
		m := layerVersionArn.FindStringSubmatch(arn)
		if m == nil {
			r.fail(key, "[%d] %q is not a layer version ARN (arn:aws:lambda:REGION:ACCOUNT:layer:NAME:VERSION)", i, arn)
			continue
		}
		if region != "" && m[2] != region {
			r.fail(key, "[%d] %s is in %s, but the stack deploys to %s: a function can only use layers from its own region", i, arn, m[2], region)
		}
		unversioned := arn[:strings.LastIndex(arn, ":")]
		if prev, dup := seen[unversioned]; dup {
			r.fail(key, "[%d] %s and %s are versions of one layer; a function takes one version of each", i, prev, arn)
		}
		seen[unversioned] = arn
	}
}

// checkPolicies checks the extra policy ARNs: IAM managed policies, each
// once, not the basic execution policy every role has already.
func (r *configReader) checkPolicies(region string, arns []string) {
	const key = "functionPolicyArns"
	basic := fmt.Sprintf(basicExecutionPolicy, partition(region))
	for i, arn := range arns {
		switch {
		case !policyArn.MatchString(arn):
			r.fail(key, "[%d] %q is not an IAM managed policy ARN (arn:aws:iam::ACCOUNT:policy/NAME or arn:aws:iam::aws:policy/NAME)", i, arn)
		case arn == basic:
			r.fail(key, "[%d] %s is attached to every function's role already", i, arn)
		case slices.Contains(arns[:i], arn):
			r.fail(key, "[%d] %s is listed twice", i, arn)
		}
	}
}

// extraFunctions reads extraFunctions: a list of objects, which is what
// `pulumi config set --path 'extraFunctions[0].name' NAME` writes, each
// with a name and a handler and optionally memorySize and timeout.
func (r *configReader) extraFunctions(f *FunctionConfig, tree *source.Tree) []ExtraFunction {
	const key = "extraFunctions"
	v, ok := r.raw(key)
	if !ok {
		return nil
	}
	var items []map[string]json.RawMessage
	if err := json.Unmarshal([]byte(v), &items); err != nil {
		r.fail(key, "%q is not a list of objects (set items with `pulumi config set --path 'extraFunctions[0].name' NAME` and `... 'extraFunctions[0].handler' module.function`)", v)
		return nil
	}
	var out []ExtraFunction
	names := map[string]int{}
	for i, item := range items {
		at := fmt.Sprintf("[%d]", i)
		bad := func(format string, args ...any) { r.fail(key, at+" "+format, args...) }
		for _, k := range slices.Sorted(maps.Keys(item)) {
			if !slices.Contains([]string{"name", "handler", "memorySize", "timeout"}, k) {
				bad("has an unknown field %q (want name, handler, memorySize, timeout)", k)
			}
		}
		e := ExtraFunction{MemorySize: f.MemorySize, Timeout: f.Timeout}
		e.Name = itemString(item, "name", bad)
		if e.Name != "" {
			at = fmt.Sprintf("[%d] (%s)", i, e.Name)
		}
		e.Handler = itemString(item, "handler", bad)
		if e.Name != "" {
			switch {
			case !functionName.MatchString(e.Name):
				bad("name %q: want 1 to 56 letters, digits, hyphens or underscores (the role named after it takes 8 more, IAM allows 64)", e.Name)
			case e.Name == f.Name:
				bad("name %s is the API function's (%s)", e.Name, r.full("functionName"))
			default:
				if j, dup := names[e.Name]; dup {
					bad("name %s is taken by [%d]; function names must be unique", e.Name, j)
				}
				names[e.Name] = i
			}
		}
		if e.Handler != "" {
			if err := checkHandler(tree, f.Source, e.Handler); err != nil {
				bad("handler %v", err)
			}
		}
		if n, ok := itemInt(item, "memorySize", bad); ok {
			e.MemorySize = n
			if n < minMemoryMB || n > maxMemoryMB {
				bad("memorySize %d is out of range: want %d to %d MB", n, minMemoryMB, maxMemoryMB)
			}
		}
		if n, ok := itemInt(item, "timeout", bad); ok {
			e.Timeout = n
			if n < minTimeout || n > maxTimeout {
				bad("timeout %d is out of range: want %d to %d seconds", n, minTimeout, maxTimeout)
			}
		}
		out = append(out, e)
	}
	return out
}

// itemString reads a required string field of a config object.
func itemString(item map[string]json.RawMessage, field string, bad func(string, ...any)) string {
	raw, ok := item[field]
	if !ok {
		bad("has no %s", field)
		return ""
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil || s == "" {
		bad("%s %s: want a non-empty string", field, raw)
		return ""
	}
	return s
}

// itemInt reads an optional whole-number field of a config object, given
// as a JSON number (what `pulumi config set --path` writes for digits) or
// as a string of digits.
func itemInt(item map[string]json.RawMessage, field string, bad func(string, ...any)) (int, bool) {
	raw, ok := item[field]
	if !ok {
		return 0, false
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		s = string(raw)
	}
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		bad("%s %s: want a whole number", field, raw)
		return 0, false
	}
	return n, true
}

func joinInts(ns []int) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ", ")
}
