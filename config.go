package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/galerly/galerly-lambda/build/lock"
	"github.com/galerly/galerly-lambda/build/target"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"
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
	Layer           LayerConfig
	Function        FunctionConfig
}

// LayerConfig is what the layer is built from and for.
type LayerConfig struct {
	Name string
	// LockPath is the lock as configured: relative to the project folder,
	// slash-separated. It goes into the build command as written, so the
	// command is the same on every machine.
	LockPath string
	Lock     *lock.Lock
	Target   target.Target
}

// FunctionConfig is the API function's settings. The function itself is
// not declared yet (function.go comes with the function package); the
// settings are read and checked now so that a bad value fails the preview
// like any other.
type FunctionConfig struct {
	Name             string
	Runtime          target.Runtime
	Arch             target.Arch
	MemorySize       int
	Timeout          int
	LogRetentionDays int
	SmokeTest        bool
}

// setting is one key of the project's config namespace. Pulumi.yaml
// declares the same keys with the same types and defaults (a test holds
// them equal); the program applies the defaults itself too, so that it
// behaves the same whether or not the CLI filled them in.
type setting struct {
	Key     string
	Type    string // string, integer, boolean or array (of strings)
	Default any    // string, int, bool or []string
}

// settings lists every key the program reads from its own namespace.
func settings() []setting {
	return []setting{
		{"layerName", "string", "galerly-image-processing"},
		{"layerLock", "string", "locks/image-processing.txt"},
		{"layerRuntimes", "array", []string{"python3.11", "python3.12"}},
		{"architecture", "string", "x86_64"},
		{"artifactsBucket", "string", ""},
		{"functionName", "string", ""},
		{"functionRuntime", "string", "python3.11"},
		{"memorySize", "integer", 1024},
		{"timeout", "integer", 30},
		{"logRetentionDays", "integer", 30},
		{"smokeTest", "boolean", true},
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
	// Lambda function and layer names: letters, digits, hyphens and
	// underscores. 64 is the function-name limit; layers share it here so
	// one rule covers both.
	lambdaName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	// S3 bucket names, as far as a typo is concerned; S3 itself has the
	// last word on the rest (reserved prefixes, IP-address forms).
	bucketName = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
	// The lock path goes into a shell command line; keeping it to these
	// characters means it needs no quoting.
	safePath = regexp.MustCompile(`^[A-Za-z0-9._/-]+$`)
)

// loadConfig reads the stack's config. root is the project folder the
// lock path is relative to. Every problem is reported, not just the first,
// each naming its key.
func loadConfig(ctx *pulumi.Context, root string) (*Config, error) {
	r := &configReader{
		cfg:       config.New(ctx, ""),
		namespace: ctx.Project(),
		defaults:  settings(),
	}
	c := &Config{
		Region:          config.New(ctx, "aws").Get("region"),
		ArtifactsBucket: r.str("artifactsBucket"),
	}
	if c.ArtifactsBucket != "" && (!bucketName.MatchString(c.ArtifactsBucket) || strings.Contains(c.ArtifactsBucket, "..")) {
		r.fail("artifactsBucket", "%q is not an S3 bucket name (3 to 63 lowercase letters, digits, dots and hyphens)", c.ArtifactsBucket)
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
		if len(c.Layer.Target.Runtimes) > 0 && len(l.For(c.Layer.Target)) == 0 {
			r.fail("layerLock", "%s has no requirement for %s: the layer would be empty", c.Layer.LockPath, c.Layer.Target)
		}
	}

	// The function.
	f := &c.Function
	f.Arch = arch
	f.Name = r.str("functionName")
	if f.Name == "" {
		f.Name = "galerly-api-" + ctx.Stack()
	}
	if !lambdaName.MatchString(f.Name) {
		r.fail("functionName", "%q: want 1 to 64 letters, digits, hyphens or underscores", f.Name)
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

	if len(r.errs) > 0 {
		return nil, errors.Join(r.errs...)
	}
	return c, nil
}

// readLock reads and parses the lock at rel, a slash-separated path
// relative to root. Errors name the lock by rel, so a message reads the
// same on every machine and links to "locks/x.txt:12" in a CI log.
func readLock(root, rel string) (*lock.Lock, error) {
	switch {
	case rel == "":
		return nil, errors.New("no lock file given")
	case strings.HasPrefix(rel, "/") || filepath.IsAbs(rel) || filepath.VolumeName(rel) != "":
		return nil, fmt.Errorf("%q is absolute: give the lock relative to the project folder, so every machine runs the same build command", rel)
	case strings.Contains(rel, `\`):
		return nil, fmt.Errorf("%q: separate folders with /", rel)
	case path.Clean(rel) != rel || rel == ".." || strings.HasPrefix(rel, "../"):
		return nil, fmt.Errorf("%q: want a clean path inside the project folder (no ., .. or doubled /)", rel)
	case !safePath.MatchString(rel):
		return nil, fmt.Errorf("%q: use only letters, digits, '.', '_', '-' and '/' in the lock path", rel)
	}
	data, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(rel)))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("lock file %s does not exist (paths are relative to the project folder)", rel)
	}
	if err != nil {
		// The path error would name the absolute path; the cause is what
		// the reader needs.
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, fmt.Errorf("read lock %s: %w", rel, err)
	}
	return lock.Parse(rel, data)
}

// configReader reads typed values from the project's namespace, falling
// back to the defaults, and collects one error per bad key.
type configReader struct {
	cfg       *config.Config
	namespace string
	defaults  []setting
	errs      []error
	bad       []string // keys that failed
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

func joinInts(ns []int) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ", ")
}
