// Package testenv finds the tools tests need from the machine (the real
// pyenv interpreters, moto_server) and holds the rule for when one is
// missing: skip with a message on a developer's machine, fail when the
// environment variable CI is true, so a CI runner that lacks a tool cannot
// pass by skipping.
package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// SkipOrFail skips t, or fails it when CI is true: a CI runner is expected
// to have every tool, and a skip there would hide a broken image.
func SkipOrFail(t testing.TB, format string, args ...any) {
	t.Helper()
	if ci, _ := strconv.ParseBool(os.Getenv("CI")); ci {
		t.Fatalf(format+" (CI is true, so this fails instead of skipping)", args...)
	}
	t.Skipf(format, args...)
}

// FindPython returns the path of a real CPython interpreter for minor (as
// "3.12"), not the pyenv shim, or skips t (fails it under CI=true) when the
// machine has none.
func FindPython(t testing.TB, minor string) string {
	t.Helper()
	p, err := LocatePython(minor)
	if err != nil {
		SkipOrFail(t, "%v", err)
	}
	return p
}

var minorRE = regexp.MustCompile(`^3\.[0-9]+$`)

// LocatePython is FindPython for code without a testing.TB (benchmarks,
// tools). It asks pyenv for the newest installed 3.X.Y and returns
// <pyenv prefix>/bin/python3.X; without pyenv it takes python3.X from PATH,
// refusing shims. Either way the interpreter is run once to check it
// really is 3.X. Results are remembered for the life of the process.
func LocatePython(minor string) (string, error) {
	if !minorRE.MatchString(minor) {
		return "", fmt.Errorf("python version %q: want major.minor, e.g. 3.12", minor)
	}
	return pythons.get(minor)
}

func locatePython(minor string) (string, error) {
	var tried []string
	if pyenv, err := exec.LookPath("pyenv"); err == nil {
		p, err := pyenvPython(pyenv, minor)
		if err == nil {
			return p, nil
		}
		tried = append(tried, err.Error())
	} else {
		tried = append(tried, "pyenv is not on PATH")
	}
	// A shim picks its interpreter from PYENV_VERSION or a .python-version
	// file at run time, so a test could end up with a different Python
	// than the one it checked; only a real binary will do.
	p, err := exec.LookPath("python" + minor)
	switch {
	case err != nil:
		tried = append(tried, "python"+minor+" is not on PATH")
	case slices.Contains(strings.Split(filepath.ToSlash(p), "/"), "shims"):
		tried = append(tried, "python"+minor+" on PATH is a shim ("+p+")")
	default:
		if err := checkPython(p, minor); err != nil {
			tried = append(tried, err.Error())
		} else {
			return p, nil
		}
	}
	return "", fmt.Errorf("no Python %s interpreter: %s", minor, strings.Join(tried, "; "))
}

// pyenvPython finds the newest pyenv-installed minor.N and its binary.
func pyenvPython(pyenv, minor string) (string, error) {
	out, err := exec.Command(pyenv, "versions", "--bare").Output()
	if err != nil {
		return "", fmt.Errorf("pyenv versions --bare: %w", err)
	}
	patchRE := regexp.MustCompile(`^` + regexp.QuoteMeta(minor) + `\.([0-9]+)$`)
	best, bestPatch := "", -1
	for _, line := range strings.Split(string(out), "\n") {
		line = strings.TrimSpace(line)
		// Skips virtualenvs ("3.12.1/envs/x"), free-threaded and dev builds.
		m := patchRE.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		if n, _ := strconv.Atoi(m[1]); n > bestPatch {
			best, bestPatch = line, n
		}
	}
	if best == "" {
		return "", fmt.Errorf("pyenv has no %s.N installed", minor)
	}
	prefix, err := exec.Command(pyenv, "prefix", best).Output()
	if err != nil {
		return "", fmt.Errorf("pyenv prefix %s: %w", best, err)
	}
	p := filepath.Join(strings.TrimSpace(string(prefix)), "bin", "python"+minor)
	if err := checkPython(p, minor); err != nil {
		return "", err
	}
	return p, nil
}

// checkPython runs p and compares the version it reports with minor.
func checkPython(p, minor string) error {
	out, err := exec.Command(p, "-S", "-E", "-s", "-c", "import sys; print(sys.version_info[:2])").Output()
	if err != nil {
		return fmt.Errorf("%s does not run: %w", p, err)
	}
	want := "(" + strings.Replace(minor, ".", ", ", 1) + ")"
	if got := strings.TrimSpace(string(out)); got != want {
		return fmt.Errorf("%s reports version %s, want %s", p, got, want)
	}
	return nil
}

// pythonCache remembers each minor's interpreter for the life of the
// process, and looks it up once even when parallel tests ask together.
type pythonCache struct {
	mu   sync.Mutex
	find map[string]func() (string, error)
}

func (c *pythonCache) get(minor string) (string, error) {
	c.mu.Lock()
	if c.find == nil {
		c.find = make(map[string]func() (string, error))
	}
	f := c.find[minor]
	if f == nil {
		f = sync.OnceValues(func() (string, error) { return locatePython(minor) })
		c.find[minor] = f
	}
	c.mu.Unlock()
	return f()
}

// pythons is the package's only shared state: lookups never change once made.
var pythons pythonCache
