package main

import (
	"context"

	"github.com/galerly/galerly-lambda/build/layertest"
)

// runTest imports modules from a layer zip with a real interpreter, laid
// out as Lambda lays out /opt.
func runTest(ctx context.Context, args []string, e *env) error {
	fs := newFlagSet("test", "--zip FILE --python INTERPRETER --import MODULE [--import MODULE]...", e.stderr)
	zipPath := fs.String("zip", "", "the layer zip to test")
	python := fs.String("python", "", "the interpreter to import with (a path or a name on PATH)")
	var modules stringList
	fs.Var(&modules, "import", "a module to import (repeatable)")
	if err := parse(fs, args); err != nil {
		return err
	}
	switch {
	case fs.NArg() > 0:
		return usagef("unexpected argument %q", fs.Arg(0))
	case *zipPath == "":
		return usagef("--zip is required")
	case *python == "":
		return usagef("--python is required")
	case len(modules) == 0:
		return usagef("at least one --import is required")
	}
	return layertest.Run(ctx, layertest.Options{
		Zip:     *zipPath,
		Python:  *python,
		Modules: modules,
		Stdout:  e.stdout,
		Stderr:  e.stderr,
	})
}
