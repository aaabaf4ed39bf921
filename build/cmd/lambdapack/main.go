// Command lambdapack builds byte-reproducible AWS Lambda layers and function
// packages from hashed Python locks (and stores them in S3 by content with
// --upload), checks wheels against a Lambda target, imports a built layer
// with a real interpreter the way Lambda lays it out, verifies a deployed
// function against the layer it should use, and counts a function's cold
// starts per version from its logs.
//
// Usage:
//
//	lambdapack key   --lock FILE --runtime python3.X [--runtime ...] --arch x86_64|arm64 [lock flags]
//	lambdapack check --runtime ... --arch ... WHEEL_FILENAME...
//	lambdapack layer --lock FILE --runtime ... --arch ... --out FILE.zip [lock flags] [source and cache flags] [--upload s3://BUCKET/KEY] [--timeout 10m]
//	lambdapack function --src DIR [--lock FILE] --runtime python3.X --arch ... --out FILE.zip [lock flags]
//	                 [--exclude PAT]... [--include PAT]... [--with-layer-unzipped BYTES]... [source and cache flags] [--upload s3://BUCKET/KEY] [--timeout 10m]
//	lambdapack copy  --build-key KEY --from s3://BUCKET/KEY [--from-region REGION] --to s3://BUCKET/KEY [--timeout 10m]
//	lambdapack test  --zip FILE --python INTERPRETER --import MODULE [--import MODULE]... [--expect-bytecode[=false]] [--timeout 2m]
//	lambdapack verify --function NAME [--qualifier live] --expect-layer ARN [--invoke] [--sbom s3://BUCKET/KEY.cdx.json] [--timeout 10m]
//	lambdapack coldstarts --function NAME [--since 24h] [--json] [--timeout 10m]
//
// layer and function also write the artifact's CycloneDX SBOM with --sbom
// FILE [--sbom-spec 1.5|1.6] [--name NAME]; --upload stores it beside the
// zip as KEY.cdx.json either way, and their report gains licenses,
// licenseConcerns and sbom.
//
// layer and function compile each runtime's bytecode with its own CPython
// (--no-bytecode for none, --python 3.X=PATH to name one). --timeout bounds
// everything a command waits for (default 10m; 2m for test): the network,
// the interpreters it looks for and compiles with, test's imports. Past it
// the command fails, naming what it was waiting for, and every process it
// started is killed with whatever that process started.
//
// coldstarts reads the function's REPORT and INIT_REPORT lines (text log
// format) or platform.report and platform.initReport records (JSON log
// format) of the last --since (24h, 90m, 7d) from its log group
// /aws/lambda/NAME, and prints per version (from the log stream's name)
// the invocations, the cold starts, and the init and SnapStart restore
// durations at p50, p90, p99 and max; --json prints {"function", "since",
// "versions": [...]}.
//
// FILE is a pip requirements file with --hash=sha256 digests, or a PEP 751
// pylock.toml / pylock.NAME.toml; the lock flags choose a pylock's extras
// and dependency groups: --extra NAME, --group NAME (repeatable),
// --no-default-groups.
//
// Exit status: 0 on success, 1 when a check or build fails, 2 on bad usage.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/galerly/galerly-lambda/build/internal/clip"
)

// Exit codes of the CLI contract.
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
)

// usageError marks an error as the caller's misuse (exit 2), not a
// failed build (exit 1).
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{fmt.Sprintf(format, args...)}
}

// command is one subcommand.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, env *env) error
}

// env is what a command may touch of the outside world, so tests can run
// the CLI in process.
type env struct {
	stdout, stderr io.Writer
}

func commands() []command {
	return []command{
		{"key", "print the layer key of a lock for a target (no network)", runKey},
		{"check", "say whether wheel filenames fit a Lambda target, and why not", runCheck},
		{"layer", "build the layer zip of a lock for a target", runLayer},
		{"function", "build the function package: a source folder and its locked dependencies", runFunction},
		{"copy", "copy a stored artifact to another bucket or region inside S3 (nothing built or downloaded)", runCopy},
		{"test", "import modules from a layer zip with a real interpreter, as Lambda lays it out", runTest},
		{"verify", "check a deployed function against the stack's layer (and its self-test)", runVerify},
		{"coldstarts", "count a function's cold starts per version, with init and restore percentiles, from its logs", runColdstarts},
	}
}

// memoryLimit is the Go heap's soft limit, unless GOMEMLIMIT sets one:
// with it the collector runs before the heap doubles, so a build of an
// artifact with pack.MaxFiles files peaks under 150 MB of RSS.
const memoryLimit = 100 << 20

func main() {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(memoryLimit)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		// After the first signal, let a second one kill the process the
		// usual way, for a person who does not want to wait for cleanup.
		<-ctx.Done()
		stop()
	}()
	code := run(ctx, os.Args[1:], &env{stdout: os.Stdout, stderr: os.Stderr})
	stop()
	os.Exit(code)
}

// run executes one command line and returns the exit code.
func run(ctx context.Context, args []string, e *env) int {
	// Whatever quotes an argument on stderr (a message from any depth of
	// the build, or the flag package's own) quotes it clipped.
	e = &env{stdout: e.stdout, stderr: &clippingWriter{w: e.stderr, inputs: echoInputs(args)}}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		printUsage(e.stderr)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, args[1:], e)
		var ue *usageError
		switch {
		case err == nil:
			return exitOK
		case errors.Is(err, errHelp):
			return exitOK
		case errors.As(err, &ue):
			fmt.Fprintf(e.stderr, "lambdapack %s: %v\n", c.name, err)
			fmt.Fprintf(e.stderr, "run 'lambdapack %s -h' for usage\n", c.name)
			return exitUsage
		case errors.Is(err, errReported):
			return exitFail
		default:
			fmt.Fprintf(e.stderr, "lambdapack %s: %v\n", c.name, err)
			return exitFail
		}
	}
	fmt.Fprintf(e.stderr, "lambdapack: unknown command %s\n", clip.Quote(args[0]))
	printUsage(e.stderr)
	return exitUsage
}

// clippingWriter clips, in each write, the inputs it holds (clip.Inputs).
type clippingWriter struct {
	w      io.Writer
	inputs []string
}

func (c *clippingWriter) Write(p []byte) (int, error) {
	if len(c.inputs) == 0 {
		return c.w.Write(p)
	}
	if _, err := io.WriteString(c.w, clip.Inputs(string(p), c.inputs)); err != nil {
		return 0, err
	}
	return len(p), nil
}

// echoInputs is what a message may quote of args: each argument, the
// value of a --flag=VALUE or 3.X=PATH, and a flag's name as the flag
// package names an unknown one (-NAME).
func echoInputs(args []string) []string {
	var out []string
	for _, a := range args {
		if len(a) <= clip.Max {
			continue
		}
		out = append(out, a, strings.TrimLeft(a, "-"))
		if _, v, ok := strings.Cut(a, "="); ok {
			out = append(out, v)
		}
	}
	return out
}

// errReported is returned by a command that has already printed why it
// failed (check's "no" lines, test's traceback).
var errReported = errors.New("reported")

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "usage: lambdapack <command> [flags]")
	fmt.Fprintln(w)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'lambdapack <command> -h' for a command's flags.")
}
