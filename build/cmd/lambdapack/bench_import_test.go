//go:build unix

package main

// BenchmarkColdImport measures what a user feels at run time: how long a
// cold start spends importing a layer's packages. Lambda mounts a layer
// read-only at /opt, so Python can write no __pycache__ there, and every
// module without usable bytecode is compiled from source at each cold
// start.
//
// The same real wheels (the pip and setuptools wheels that CPython 3.11
// bundles for ensurepip, about 800 modules when imported, and a compiled
// extension built here) make three layers: lambdapack with bytecode,
// lambdapack --no-bytecode, and the seed's `pip install -t python/ && zip
// -r` (also unzipped a second time without its mtimes). Each is unzipped
// into its own folder and imported by a fresh
// interpreter with -B (as PYTHONDONTWRITEBYTECODE=1), the folder mounted
// read-only at /opt in a mount namespace of its own, as Lambda mounts a
// layer (where the machine allows it: root and unshare; otherwise the
// folder is made read-only where it is, and the log says so). The three
// alternate, run after run, and the medians are compared.

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/galerly/galerly-lambda/build/internal/wheeltest"
	"github.com/galerly/galerly-lambda/internal/testenv"
)

// importRuntime is the runtime the cold-import benchmark builds for: the
// bundled setuptools 65.5 does not import on 3.12 (it needs
// pkgutil.ImpImporter), so the real wheels pin it to 3.11.
const (
	importRuntime = "python3.11"
	importPython  = "3.11"
)

// importRuns is how many cold imports each layer gets per iteration.
const importRuns = 11

// importProgram imports the benchmark's packages from the layer folder
// given as argv[1] (/opt when mounted there), laid out as Lambda puts it
// on sys.path, and prints the seconds the imports took.
const importProgram = `import sys, time
opt = sys.argv[1]
sys.path[:0] = [opt + "/python/lib/python3.11/site-packages", opt + "/python"]
t = time.perf_counter()
import pip._internal.commands.install, pip._internal.network.session, setuptools, tinyext
print(time.perf_counter() - t)
`

func BenchmarkColdImport(b *testing.B) {
	py, err := testenv.LocatePython(importPython)
	if err != nil {
		b.Skipf("needs Python %s: %v", importPython, err)
	}
	bundled, _ := filepath.Glob(filepath.Join(filepath.Dir(filepath.Dir(py)), "lib", "python"+importPython, "ensurepip", "_bundled", "*.whl"))
	if len(bundled) < 2 {
		b.Skipf("needs the pip and setuptools wheels of Python %s's ensurepip, found %v", importPython, bundled)
	}
	zipTool, err := exec.LookPath("zip")
	if err != nil {
		b.Skip("the seed's way needs zip on PATH")
	}
	if _, err := exec.LookPath("unzip"); err != nil {
		b.Skip("needs unzip on PATH")
	}
	work := b.TempDir()
	links := filepath.Join(work, "wheels")
	os.Mkdir(links, 0o755)
	lock := ""
	for _, w := range bundled {
		data, err := os.ReadFile(w)
		if err != nil {
			b.Fatal(err)
		}
		os.WriteFile(filepath.Join(links, filepath.Base(w)), data, 0o644)
		name, rest, _ := strings.Cut(filepath.Base(w), "-")
		version, _, _ := strings.Cut(rest, "-")
		lock += name + "==" + version + " --hash=sha256:" + sha256hex(data) + "\n"
	}
	_, extSum := wheeltest.CompiledWheel(b, links, py, "tinyext", "tinyext", "1.0")
	lock += "tinyext==1.0 --hash=sha256:" + extSum + "\n"
	lockPath := filepath.Join(work, "requirements.txt")
	os.WriteFile(lockPath, []byte(lock), 0o644)

	m := thisMachine(b)
	self, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	layers := map[string]string{} // way -> zip
	for _, way := range []string{"bytecode", "no-bytecode"} {
		out := filepath.Join(work, way+".zip")
		args := []string{"layer", "--lock", lockPath, "--runtime", importRuntime, "--arch", m.arch,
			"--no-index", "--find-links", links, "--cache", filepath.Join(work, "cache"), "--out", out}
		if way == "no-bytecode" {
			args = append(args, "--no-bytecode")
		}
		cmd := exec.Command(self, args...)
		cmd.Env = append(os.Environ(), "LAMBDAPACK_MAIN=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("lambdapack %s: %v\n%s", way, err, out)
		}
		layers[way] = out
	}
	seed := filepath.Join(work, "seed")
	pip := exec.Command(py, "-m", "pip", "install", "--no-index", "--find-links", links, "--no-deps",
		"-t", filepath.Join(seed, "python"), "pip", "setuptools", "tinyext")
	pip.Env = append(os.Environ(), "PIP_DISABLE_PIP_VERSION_CHECK=1", "PIP_NO_INPUT=1", "PIP_CONFIG_FILE="+os.DevNull)
	if out, err := pip.CombinedOutput(); err != nil {
		b.Fatalf("pip install: %v\n%s", err, out)
	}
	layers["pip+zip"] = filepath.Join(work, "seed.zip")
	zip := exec.Command(zipTool, "-qr", layers["pip+zip"], "python")
	zip.Dir = seed
	if out, err := zip.CombinedOutput(); err != nil {
		b.Fatalf("zip: %v\n%s", err, out)
	}

	// The seed's layer again, unzipped without restoring mtimes (unzip
	// -DD), as an extractor that does not keep them would: its timestamp
	// .pyc files no longer match their sources, so every module is
	// compiled at import. lambdapack's unchecked-hash .pyc do not depend
	// on mtimes.
	layers["pip+zip-no-mtimes"] = layers["pip+zip"]
	ways := []string{"bytecode", "no-bytecode", "pip+zip", "pip+zip-no-mtimes"}
	opts := map[string]string{}
	for _, way := range ways {
		dir := filepath.Join(work, "opt-"+way)
		unzipArgs := []string{"-q", layers[way], "-d", dir}
		if way == "pip+zip-no-mtimes" {
			unzipArgs = append([]string{"-DD"}, unzipArgs...)
		}
		if out, err := exec.Command("unzip", unzipArgs...).CombinedOutput(); err != nil {
			b.Fatalf("unzip %s: %v\n%s", way, err, out)
		}
		readOnly(b, dir)
		opts[way] = dir
	}
	b.Cleanup(func() {
		for _, dir := range opts {
			filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
				if err == nil && d.IsDir() {
					os.Chmod(p, 0o755)
				}
				return nil
			})
		}
	})

	mount := canMountOpt(opts["bytecode"])
	if !mount {
		b.Logf("no mount namespace here (needs root and unshare): each layer is imported read-only from its own folder, not from /opt")
	}
	times := map[string][]float64{}
	b.ResetTimer()
	for range b.N {
		for i := range importRuns {
			// Rotate the order, so no way always runs right after another.
			for j := range ways {
				way := ways[(i+j)%len(ways)]
				times[way] = append(times[way], coldImport(b, py, opts[way], mount))
			}
		}
	}
	b.StopTimer()
	med := map[string]float64{}
	for _, way := range ways {
		med[way] = median(times[way])
		b.ReportMetric(med[way]*1000, way+"-ms")
	}
	b.ReportMetric(med["bytecode"]/med["pip+zip"], "lambdapack/pip")
	if valgrind, err := exec.LookPath("valgrind"); err == nil {
		// Wall times on a shared machine move by several percent between
		// runs; instructions executed do not, so the ratio of one import
		// each under callgrind says which is really faster.
		ins := map[string]float64{}
		for _, way := range []string{"bytecode", "pip+zip"} {
			ins[way] = importInstructions(b, valgrind, py, opts[way], mount)
		}
		b.ReportMetric(ins["bytecode"]/ins["pip+zip"], "lambdapack/pip-instructions")
	}
	b.ReportMetric(med["no-bytecode"]/med["bytecode"], "nobytecode/bytecode")
	b.Logf("medians of %d cold imports each: lambdapack %.1f ms, --no-bytecode %.1f ms, pip+zip %.1f ms, pip+zip without mtimes %.1f ms",
		len(times["bytecode"]), med["bytecode"]*1000, med["no-bytecode"]*1000, med["pip+zip"]*1000, med["pip+zip-no-mtimes"]*1000)
}

// readOnly takes the write bits off every folder of an unzipped layer, as
// Lambda's read-only mount does, so no interpreter can cache bytecode in it.
func readOnly(b *testing.B, dir string) {
	b.Helper()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			err = os.Chmod(p, 0o555)
		}
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
}

// canMountOpt reports whether this machine lets the benchmark mount a
// folder read-only at /opt in a mount namespace of its own.
func canMountOpt(dir string) bool {
	return exec.Command("unshare", "-m", "sh", "-c", `mount --bind -o ro "$0" /opt && test -d /opt/python`, dir).Run() == nil
}

// coldImport runs a fresh interpreter that imports the packages from the
// layer folder opt, with -B (no bytecode written, as on a read-only
// mount), and returns the seconds the imports took. With mount, the
// folder is mounted read-only at /opt for that process alone.
func coldImport(b *testing.B, py, opt string, mount bool) float64 {
	b.Helper()
	cmd := exec.Command(py, "-I", "-S", "-B", "-c", importProgram, opt)
	if mount {
		cmd = exec.Command("unshare", "-m", "sh", "-c", `mount --bind -o ro "$0" /opt && exec "$1" -I -S -B -c "$2" /opt`, opt, py, importProgram)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		b.Fatalf("importing from %s: %v\n%s", opt, err, out)
	}
	s, err := strconv.ParseFloat(strings.TrimSpace(string(out)), 64)
	if err != nil {
		b.Fatalf("importing from %s printed %q", opt, out)
	}
	return s
}

// importInstructions counts the instructions a fresh interpreter executes
// (start-up included) to import the packages from opt, with callgrind.
func importInstructions(b *testing.B, valgrind, py, opt string, mount bool) float64 {
	b.Helper()
	args := []string{"--tool=callgrind", "--callgrind-out-file=/dev/null", py, "-I", "-S", "-B", "-c", importProgram, opt}
	cmd := exec.Command(valgrind, args...)
	if mount {
		cmd = exec.Command("unshare", "-m", "sh", "-c", `mount --bind -o ro "$0" /opt && exec "$1" --tool=callgrind --callgrind-out-file=/dev/null "$2" -I -S -B -c "$3" /opt`, opt, valgrind, py, importProgram)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		b.Fatalf("callgrind importing from %s: %v\n%s", opt, err, out)
	}
	for line := range strings.Lines(string(out)) {
		if _, n, ok := strings.Cut(line, "Collected : "); ok {
			if v, err := strconv.ParseFloat(strings.TrimSpace(n), 64); err == nil {
				return v
			}
		}
	}
	b.Fatalf("callgrind printed no instruction count:\n%s", out)
	return 0
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	return s[len(s)/2]
}
