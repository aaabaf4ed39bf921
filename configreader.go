package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"
)

// configReader reads typed values from the project's namespace, falling
// back to the defaults, and collects one error per bad key.
//
// It reads values as the CLI hands them to the program: text, with lists
// and objects as JSON. A value Pulumi.<stack>.yaml holds as a YAML boolean
// or number arrives as the same text as the quoted string `pulumi stack
// init` rewrites it to ("true", "1024"), so both forms read alike.
type configReader struct {
	cfg       *config.Config
	namespace string
	defaults  []setting
	// isSecret reports whether a full key's value was stored encrypted.
	isSecret func(fullKey string) bool
	errs     []error
	bad      []string // keys that failed
}

// newConfigReader reads the project's namespace of ctx's config.
func newConfigReader(ctx *pulumi.Context) *configReader {
	return &configReader{
		cfg:       config.New(ctx, ""),
		namespace: ctx.Project(),
		defaults:  settings(),
		isSecret:  ctx.IsConfigSecret,
	}
}

// full returns the key as a user types it: "galerly-lambda:memorySize".
func (r *configReader) full(key string) string { return r.namespace + ":" + key }

func (r *configReader) fail(key, format string, args ...any) {
	r.bad = append(r.bad, key)
	r.errs = append(r.errs, fmt.Errorf("config %s: %s", r.full(key), fmt.Sprintf(format, args...)))
}

// failErr records err as key's problem, keeping it for errors.As: a bad
// lock's *lock.Error, with its file and line.
func (r *configReader) failErr(key string, err error) {
	r.bad = append(r.bad, key)
	r.errs = append(r.errs, fmt.Errorf("config %s: %w", r.full(key), err))
}

func (r *configReader) failed(key string) bool { return slices.Contains(r.bad, key) }

// err is every problem found, as one error; nil when there is none.
func (r *configReader) err() error {
	if len(r.errs) == 0 {
		return nil
	}
	return configProblems(slices.Clone(r.errs))
}

// configProblems is every problem found in a stack's config, each naming
// its key, as one error. Its message counts them: the Pulumi SDK reports
// a program's error under the header "1 error occurred:", which alone
// would hide that there are several to fix.
type configProblems []error

func (p configProblems) Error() string {
	if len(p) == 1 {
		return p[0].Error()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "the stack's config has %d problems:", len(p))
	for _, e := range p {
		b.WriteString("\n  - " + e.Error())
	}
	return b.String()
}

// Unwrap gives errors.Is and errors.As each problem, such as a lock's
// *lock.Error with its file and line.
func (p configProblems) Unwrap() []error { return p }

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

// boolean reads true or false, written as a YAML boolean or as the quoted
// string `pulumi stack init` rewrites it to.
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

// list reads a list of strings that must not be empty.
func (r *configReader) list(key string) []string {
	out, set := r.strings(key)
	if set && len(out) == 0 && !r.failed(key) {
		r.fail(key, "the list is empty")
	}
	return out
}

// optionalList reads a list of strings that may be empty; an empty list
// is returned as nil.
func (r *configReader) optionalList(key string) []string {
	out, _ := r.strings(key)
	if len(out) == 0 {
		return nil
	}
	return out
}

// strings reads a list of strings, or the default when key is unset; set
// says whether key was set. A list in Pulumi.<stack>.yaml (written by
// hand, item by item with `pulumi config set --path`, or whole with
// `pulumi config set-all --json`) reaches the program as a JSON array.
// The CLI refuses the other forms before the program runs, when
// Pulumi.yaml declares the key a list of strings; should one arrive
// anyway, the error says how it came about and how to set the list.
func (r *configReader) strings(key string) (items []string, set bool) {
	v, ok := r.raw(key)
	if !ok {
		d, _ := r.def(key).([]string)
		return slices.Clone(d), false
	}
	dec := json.NewDecoder(strings.NewReader(v))
	dec.UseNumber()
	var raw []any
	if err := dec.Decode(&raw); err != nil || dec.More() || !strings.HasPrefix(strings.TrimSpace(v), "[") {
		r.fail(key, "%q is a single string, not a list: `pulumi config set %s VALUE` without --path stores its value as text. %s", v, key, listHowTo(key))
		return nil, true
	}
	out := make([]string, 0, len(raw))
	for i, item := range raw {
		switch item := item.(type) {
		case string:
			out = append(out, item)
		case nil:
			r.fail(key, "[%d] is empty (null): `pulumi config set --path` fills the items before the index it sets with null, so items must be set from [0] in order. %s", i, listHowTo(key))
			return nil, true
		case json.Number:
			r.fail(key, "[%d] is the number %s, not a string: `pulumi config set --path` stores digits as a number unless it is given --type string. %s", i, item, listHowTo(key))
			return nil, true
		default:
			text, _ := json.Marshal(item)
			r.fail(key, "[%d] is %s, not a string. %s", i, bytes.TrimSpace(text), listHowTo(key))
			return nil, true
		}
	}
	return out, true
}

// listHowTo says how to set the list key in a form the Pulumi CLI
// accepts: item by item with --path from [0] in order (the first item
// replaces the default list, and a gap is stored as null), with --type
// string so digits stay text. docs/configuration.md shows the one-command form too.
func listHowTo(key string) string {
	return fmt.Sprintf("Set a list item by item from [0], in order: `pulumi config rm %[1]s`, then "+
		"`pulumi config set --path --type string '%[1]s[0]' FIRST`, `pulumi config set --path --type string '%[1]s[1]' SECOND`, ... "+
		"(docs/configuration.md, Lists, also shows how to set it in one command)", key)
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
