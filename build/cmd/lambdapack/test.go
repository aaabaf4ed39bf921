package main

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/galerly/galerly-lambda/build/internal/clip"
	"github.com/galerly/galerly-lambda/build/layertest"
)

// runTest imports modules from a layer zip with a real interpreter, laid
// out as Lambda lays out /opt.
func runTest(ctx context.Context, args []string, e *env) error {
	fs := newFlagSet("test", "--zip FILE --python INTERPRETER --import MODULE [--import MODULE]... [--expect-bytecode[=false]] [--timeout 2m]", e.stderr)
	zipPath := fs.String("zip", "", "the layer zip to test")
	python := fs.String("python", "", "the interpreter to import with (a path or a name on PATH)")
	var modules stringList
	fs.Var(&modules, "import", "a module to import (repeat the flag for each module)")
	var bytecode bytecodeFlag
	fs.Var(&bytecode, "expect-bytecode", "fail when any module of the layer is compiled from source at import; =false never fails for it "+
		"(default: fail only when the zip ships bytecode for the interpreter)")
	var timeout timeoutFlag
	fs.DurationVar(&timeout.d, "timeout", defaultTestTimeout, "fail after `DURATION` (e.g. 2m, 30s) if the interpreter has not started and imported every module: "+
		"it is killed with every process it started, and the error names the module being imported")
	if err := parse(fs, args); err != nil {
		return err
	}
	switch {
	case fs.NArg() > 0:
		return usagef("unexpected argument %s (give each module with its own --import)", clip.Quote(fs.Arg(0)))
	case *zipPath == "":
		return usagef("--zip is required")
	case *python == "":
		return usagef("--python is required")
	case len(modules) == 0:
		return usagef("at least one --import is required")
	}
	for _, m := range modules {
		if err := layertest.CheckModule(m); err != nil {
			return usagef("--import %v", err)
		}
	}
	ctx, cancel, err := timeout.bound(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	return layertest.Run(ctx, layertest.Options{
		Zip:      *zipPath,
		Python:   *python,
		Modules:  modules,
		Bytecode: bytecode.rule,
		Stdout:   e.stdout,
		Stderr:   e.stderr,
	})
}

// defaultTestTimeout is test's --timeout: far above the import of a real
// layer's packages (seconds), far below a CI job's limit.
const defaultTestTimeout = 2 * time.Minute

// bytecodeFlag is --expect-bytecode, which has three states: not given
// (layertest.BytecodeIfShipped), given or =true (BytecodeRequired), and
// =false (BytecodeOptional).
type bytecodeFlag struct{ rule layertest.BytecodeRule }

// IsBoolFlag lets the flag be given without a value.
func (f *bytecodeFlag) IsBoolFlag() bool { return true }

func (f *bytecodeFlag) String() string {
	switch f.rule {
	case layertest.BytecodeRequired:
		return "true"
	case layertest.BytecodeOptional:
		return "false"
	}
	return ""
}

// Set reads true or false, as a bool flag does.
func (f *bytecodeFlag) Set(v string) error {
	b, err := strconv.ParseBool(v)
	if err != nil {
		return fmt.Errorf("want true or false, not %s", clip.Quote(v))
	}
	f.rule = layertest.BytecodeOptional
	if b {
		f.rule = layertest.BytecodeRequired
	}
	return nil
}
