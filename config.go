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
	// Layer is the image-processing layer's settings.
	Layer LayerConfig
	// Function is the API function's settings (and the extra functions').
	Function FunctionConfig
}

// LayerConfig is what the layer is built from and for.
type LayerConfig struct {
	// Name is the Lambda layer's name.
	Name string
	// LockPath is the lock as configured: relative to the project folder,
	// slash-separated. It goes into the build command as written, so the
	// command is the same on every machine.
	LockPath string
	// Lock is the parsed lock at LockPath.
	Lock *lock.Lock
	// Target is the runtimes and architecture the layer is built for.
	Target target.Target
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
	Lock     *lock.Lock // nil when LockPath is ""
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
	Type string // string, integer, boolean or array
	// Items is the type of an array's items: string or object.
	Items   string
	Default any // string, int, bool, []string or []map[string]any
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
		{Key: "layerRuntimes", Type: "array", Items: "string", Default: []string{"python3.11", "python3.12"}},
		{Key: "architecture", Type: "string", Default: "x86_64"},
		{Key: "artifactsBucket", Type: "string", Default: ""},
		{Key: "buildEndpointUrl", Type: "string", Default: ""},
		{Key: "functionName", Type: "string", Default: ""},
		{Key: "functionRuntime", Type: "string", Default: "python3.11"},
		{Key: "functionSource", Type: "string", Default: "app"},
		{Key: "functionLock", Type: "string", Default: "locks/function.txt"},
		{Key: "functionHandler", Type: "string", Default: "api.handler"},
		{Key: "memorySize", Type: "integer", Default: 1024},
		{Key: "timeout", Type: "integer", Default: 30},
		{Key: "logRetentionDays", Type: "integer", Default: 30},
		{Key: "smokeTest", Type: "boolean", Default: true},
		{Key: "extraLayerArns", Type: "array", Items: "string", Default: []string{}},
		{Key: "functionPolicyArns", Type: "array", Items: "string", Default: []string{}},
		{Key: "extraFunctions", Type: "array", Items: "object", Default: []map[string]any{}},
		{Key: "stripeSecretKey", Type: "string", Default: "", Secret: true},
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
	// S3 bucket names, as far as a typo is concerned; S3 itself has the
	// last word on the rest (reserved prefixes, IP-address forms).
	bucketName = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
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
	r := &configReader{
		cfg:       config.New(ctx, ""),
		namespace: ctx.Project(),
		defaults:  settings(),
		isSecret:  ctx.IsConfigSecret,
	}
	c := &Config{
		Region:          config.New(ctx, "aws").Get("region"),
		ArtifactsBucket: r.str("artifactsBucket"),
	}
	if c.ArtifactsBucket != "" && (!bucketName.MatchString(c.ArtifactsBucket) || strings.Contains(c.ArtifactsBucket, "..")) {
		r.fail("artifactsBucket", "%q is not an S3 bucket name (3 to 63 lowercase letters, digits, dots and hyphens)", c.ArtifactsBucket)
	}
	c.BuildEndpoint = r.str("buildEndpointUrl")
	if err := checkEndpoint(c.BuildEndpoint); err != nil {
		r.fail("buildEndpointUrl", "%v", err)
	}

	// The layer.
	c.Layer.Name = r.str("layerName")
	if !lambdaName.MatchString(c.Layer.Name) {
		r.fail("layerName", "%q: want 1 to 64 letters, digits, hyphens or underscores", c.Layer.Name)
	}
	runtimeNames := r.list("layerRuntimes")
	var runtimes []target.Runtime
	for _, s := range runtimeNames {
		rt, err := target.ParseRuntime(s)
		if err != nil {
			r.fail("layerRuntimes", "%v", err)
			continue
		}
		runtimes = append(runtimes, rt)
	}
	arch, err := target.ParseArch(r.str("architecture"))
	if err != nil {
		r.fail("architecture", "%v", err)
	}
	runtimeOK := len(runtimes) > 0 && !r.failed("layerRuntimes")
	if runtimeOK && err == nil {
		c.Layer.Target, err = target.New(runtimeNames, string(arch))
		if err != nil {
			r.fail("layerRuntimes", "%v", err)
		}
	}
	c.Layer.LockPath = r.str("layerLock")
	if l, err := readLock(root, c.Layer.LockPath); err != nil {
		r.fail("layerLock", "%v", err)
	} else {
		c.Layer.Lock = l
		if len(c.Layer.Target.Runtimes) > 0 {
			if err := l.Check(c.Layer.Target); err != nil {
				r.fail("layerLock", "%v", err)
			} else if len(l.For(c.Layer.Target)) == 0 {
				r.fail("layerLock", "%s has no requirement for %s: the layer would be empty", c.Layer.LockPath, c.Layer.Target)
			}
		}
	}

	// The function.
	f := &c.Function
	f.Arch = arch
	f.Name = r.str("functionName")
	if f.Name == "" {
		f.Name = "galerly-api-" + ctx.Stack()
	}
	if !functionName.MatchString(f.Name) {
		r.fail("functionName", "%q: want 1 to 56 letters, digits, hyphens or underscores (the role named after it takes 8 more, IAM allows 64)", f.Name)
	}
	if rt, err := target.ParseRuntime(r.str("functionRuntime")); err != nil {
		r.fail("functionRuntime", "%v", err)
	} else {
		f.Runtime = rt
		if runtimeOK && !slices.Contains(runtimes, rt) {
			r.fail("functionRuntime", "%s is not one of %s (%s): the layer would not be compatible with the function",
				rt, r.full("layerRuntimes"), strings.Join(runtimeNames, ", "))
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
		r.fail("functionSource", "%v", err)
	} else if err := isDir(root, f.Source); err != nil {
		r.fail("functionSource", "%v", err)
	} else if tree, err = walkSource(root, f.Source); err != nil {
		r.fail("functionSource", "%v", err)
	}
	f.LockPath = r.str("functionLock")
	ft := target.Target{Runtimes: []target.Runtime{f.Runtime}, Arch: f.Arch}.Canonical()
	if f.LockPath != "" {
		if l, err := readLock(root, f.LockPath); err != nil {
			r.fail("functionLock", "%v", err)
		} else {
			f.Lock = l
			if f.Runtime.Minor != 0 && f.Arch != "" {
				if err := l.Check(ft); err != nil {
					r.fail("functionLock", "%v", err)
				} else if len(l.For(ft)) == 0 {
					r.fail("functionLock", "%s has no requirement for %s; set it to \"\" for a function without dependencies of its own", f.LockPath, ft)
				}
			}
		}
	}
	if tree != nil && !r.failed("functionLock") && !r.failed("functionRuntime") && !r.failed("architecture") {
		// The key build.CodeKey computes, from the lock already read.
		lockKey := ""
		if f.Lock != nil {
			lockKey = lock.Key(f.Lock, ft, lock.Options{})
		}
		f.CodeKey = build.CodeKeyOf(tree, lockKey, ft, lock.Options{})
	}
	f.Handler = r.str("functionHandler")
	if err := checkHandler(tree, f.Source, f.Handler); err != nil {
		r.fail("functionHandler", "%v", err)
	}
	f.ExtraLayerArns = r.optionalList("extraLayerArns")
	r.checkLayers(c.Region, f.ExtraLayerArns)
	f.PolicyArns = r.optionalList("functionPolicyArns")
	r.checkPolicies(c.Region, f.PolicyArns)
	f.StripeSecretKey = r.secret("stripeSecretKey")
	if f.StripeSecretKey != "" && !stripeKey.MatchString(string(f.StripeSecretKey)) {
		// The message must not echo the value.
		r.fail("stripeSecretKey", "does not look like a Stripe secret key (sk_live_..., sk_test_...) or restricted key (rk_...); a publishable key (pk_...) does not belong on the server")
	}
	f.Extra = r.extraFunctions(f, tree)

	if len(r.errs) > 0 {
		return nil, errors.Join(r.errs...)
	}
	return c, nil
}

// readLock reads and parses the lock at rel, a slash-separated path
// relative to root. Errors name the lock by rel, so a message reads the
// same on every machine and links to "locks/x.txt:12" in a CI log.
func readLock(root, rel string) (*lock.Lock, error) {
	if rel == "" {
		return nil, errors.New("no lock file given")
	}
	if err := checkRelPath(rel, "lock"); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(rel)))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("lock file %s does not exist (paths are relative to the project folder)", rel)
	}
	if err != nil {
		return nil, fmt.Errorf("read lock %s: %w", rel, causeOnly(err))
	}
	return lock.Parse(rel, data)
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

// configReader reads typed values from the project's namespace, falling
// back to the defaults, and collects one error per bad key.
type configReader struct {
	cfg       *config.Config
	namespace string
	defaults  []setting
	// isSecret reports whether a full key's value was stored encrypted.
	isSecret func(fullKey string) bool
	errs     []error
	bad      []string // keys that failed
}

// full returns the key as a user types it: "galerly-lambda:memorySize".
func (r *configReader) full(key string) string { return r.namespace + ":" + key }

func (r *configReader) fail(key, format string, args ...any) {
	r.bad = append(r.bad, key)
	r.errs = append(r.errs, fmt.Errorf("config %s: %s", r.full(key), fmt.Sprintf(format, args...)))
}

func (r *configReader) failed(key string) bool { return slices.Contains(r.bad, key) }

func (r *configReader) def(key string) any {
	for _, s := range r.defaults {
		if s.Key == key {
			return s.Default
		}
	}
	return nil
}

// raw returns the configured text of key, or "" and false when unset.
func (r *configReader) raw(key string) (string, bool) {
	v, err := r.cfg.Try(key)
	return v, err == nil
}

func (r *configReader) str(key string) string {
	if v, ok := r.raw(key); ok {
		return v
	}
	s, _ := r.def(key).(string)
	return s
}

func (r *configReader) integer(key string, lo, hi int, unit string) int {
	v, ok := r.raw(key)
	if !ok {
		n, _ := r.def(key).(int)
		return n
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		r.fail(key, "%q is not a whole number of %s", v, unit)
		return 0
	}
	if n < lo || n > hi {
		r.fail(key, "%d is out of range: want %d to %d %s", n, lo, hi, unit)
	}
	return n
}

func (r *configReader) boolean(key string) bool {
	v, ok := r.raw(key)
	if !ok {
		b, _ := r.def(key).(bool)
		return b
	}
	b, err := strconv.ParseBool(strings.TrimSpace(v))
	if err != nil {
		r.fail(key, "%q: want true or false", v)
	}
	return b
}

// list reads a list of strings, which the CLI passes as JSON.
func (r *configReader) list(key string) []string {
	v, ok := r.raw(key)
	if !ok {
		d, _ := r.def(key).([]string)
		return slices.Clone(d)
	}
	var out []string
	if err := json.Unmarshal([]byte(v), &out); err != nil {
		if !r.failed(key) {
			r.fail(key, "%q is not a list of strings (set items with `pulumi config set --path '%s[0]' VALUE`)", v, key)
		}
		return nil
	}
	if len(out) == 0 && !r.failed(key) {
		r.fail(key, "the list is empty")
	}
	return out
}

// optionalList reads a list of strings that may be empty; an empty list
// is returned as nil.
func (r *configReader) optionalList(key string) []string {
	v, ok := r.raw(key)
	if !ok {
		d, _ := r.def(key).([]string)
		if len(d) == 0 {
			return nil
		}
		return slices.Clone(d)
	}
	var out []string
	if err := json.Unmarshal([]byte(v), &out); err != nil {
		r.fail(key, "%q is not a list of strings (set items with `pulumi config set --path '%s[0]' VALUE`)", v, key)
		return nil
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// secret reads a value that must have been stored encrypted; "" when
// unset. A plain value is refused rather than used: it sits unencrypted
// in Pulumi.<stack>.yaml and in the stack's config.
func (r *configReader) secret(key string) Secret {
	v, ok := r.raw(key)
	if !ok || v == "" {
		return ""
	}
	if r.isSecret == nil || !r.isSecret(r.full(key)) {
		r.fail(key, "is stored in plain text; remove it and set it with `pulumi config set --secret %s VALUE`", key)
		return ""
	}
	return Secret(v)
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

// partition is the AWS partition of a region: "aws" unless the region is
// in China or GovCloud. It goes into AWS-managed policy ARNs.
func partition(region string) string {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return "aws-cn"
	case strings.HasPrefix(region, "us-gov-"):
		return "aws-us-gov"
	}
	return "aws"
}

func joinInts(ns []int) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ", ")
}
