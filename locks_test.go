package main

import (
	"bufio"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/galerly/galerly-lambda/build/lock"
	"github.com/galerly/galerly-lambda/build/target"
	"github.com/galerly/galerly-lambda/build/wheel"
)

// testdata/files.tsv holds the real PyPI filenames and sha256 digests of
// every file the locks name (testdata/README.md says where they come
// from), so these tests select wheels exactly as a build would, without
// reaching an index.

// realFiles reads testdata/files.tsv into sha256 -> filename.
func realFiles(t *testing.T) map[string]string {
	t.Helper()
	f, err := os.Open("testdata/files.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		cols := strings.Split(sc.Text(), "\t")
		if len(cols) != 3 {
			t.Fatalf("testdata/files.tsv:%d: %d columns, want filename, sha256, size", line, len(cols))
		}
		if line > 1 {
			out[cols[1]] = cols[0]
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// lockedWheels returns the wheels among the files whose digests the
// requirement names: what a build could choose from. Every digest must
// have a known file, or the test data is out of date with the lock.
func lockedWheels(t *testing.T, file string, req lock.Requirement, files map[string]string) []wheel.Filename {
	t.Helper()
	var out []wheel.Filename
	for _, h := range req.Hashes {
		name, ok := files[h]
		if !ok {
			t.Fatalf("%s:%d: %s==%s names sha256:%s, which testdata/files.tsv lacks; add the index's filenames for the new pins",
				file, req.Line, req.Name, req.Version, h)
		}
		if !strings.HasSuffix(name, ".whl") {
			continue // an sdist: never used
		}
		w, err := wheel.ParseFilename(name)
		if err != nil {
			t.Fatalf("testdata/files.tsv: %v", err)
		}
		out = append(out, w)
	}
	return out
}

// selectLock selects a wheel for every requirement of the lock at path
// that applies to tg, and returns the selections and the refusals by
// package name.
func selectLock(t *testing.T, path string, tg target.Target) (map[string]wheel.Selection, map[string]error) {
	t.Helper()
	l, err := lock.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	files := realFiles(t)
	picked, refused := map[string]wheel.Selection{}, map[string]error{}
	applied := l.For(tg)
	if len(applied) == 0 {
		t.Fatalf("%s has no requirement for %s", path, tg)
	}
	for _, a := range applied {
		sub := target.Target{Runtimes: a.Runtimes, Arch: tg.Arch}
		sel, err := wheel.Select(a.Name, a.Version, lockedWheels(t, path, a.Requirement, files), sub)
		if err != nil {
			refused[a.Name] = err
			continue
		}
		picked[a.Name] = sel
	}
	return picked, refused
}

// The lock the prod stack ships has a wheel for every package on every
// runtime the stack declares, as one layer for all of them and for each
// runtime alone.
func TestProdLockFitsProdRuntimes(t *testing.T) {
	cfg, err := loadWith(t, stackConfig(t, "prod"), projectRoot(t))
	if err != nil {
		t.Fatal(err)
	}
	tg := cfg.Layer.Target
	if !slices.Contains(tg.Runtimes, cfg.Function.Runtime) {
		t.Fatalf("function runtime %s is not among the layer's %s", cfg.Function.Runtime, tg)
	}
	targets := []target.Target{tg}
	for _, r := range tg.Runtimes {
		targets = append(targets, target.Target{Runtimes: []target.Runtime{r}, Arch: tg.Arch})
	}
	for _, sub := range targets {
		want := lockPins(t, cfg.Layer.LockPath, sub)
		t.Run(sub.String(), func(t *testing.T) {
			picked, refused := selectLock(t, cfg.Layer.LockPath, sub)
			for name, err := range refused {
				t.Errorf("%s on %s: %v", name, sub, err)
			}
			if len(picked) != len(want) {
				t.Errorf("selected %d packages, want all %d the lock pins", len(picked), len(want))
			}
			for name, sel := range picked {
				for _, r := range sub.Runtimes {
					if sel.Shared == nil {
						if _, ok := sel.PerRuntime[r]; !ok {
							t.Errorf("%s: no wheel for %s", name, r)
						}
					}
				}
				t.Logf("%s: %s", name, sel.Why)
			}
		})
	}
}

// The layer lock holds a compiled wheel of every package for python3.11
// (Amazon Linux 2, glibc 2.26: the function's runtime) and python3.12 on
// both Lambda architectures, whatever the prod stack builds today: moving
// the stack to arm64, or a pin to a release that ships only
// manylinux_2_28 wheels (as rawpy >= 0.26 and pillow-heif >= 1.1 do), is
// caught here rather than by a failed build.
func TestProdLockHasCompiledWheelsForBothArchitectures(t *testing.T) {
	const path = "locks/image-processing.txt"
	for _, tg := range layerLockTargets(t) {
		t.Run(tg.String(), func(t *testing.T) {
			want := lockPins(t, path, tg)
			picked, refused := selectLock(t, path, tg)
			for name, err := range refused {
				t.Errorf("%s: %v", name, err)
			}
			if len(picked) != len(want) {
				t.Errorf("selected %d packages, want all of %v", len(picked), want)
			}
			cp := tg.Runtimes[0].CPTag()
			machine := tg.Arch.Machine()
			for name, sel := range picked {
				if sel.Shared == nil {
					t.Errorf("%s: %s; want one wheel for the one runtime", name, sel.Why)
					continue
				}
				w := *sel.Shared
				if !slices.Contains(w.Python, cp) || !slices.Contains(w.ABI, cp) {
					t.Errorf("%s: %s is not a %s-%s wheel", name, w.Raw, cp, cp)
				}
				if !slices.ContainsFunc(w.Platform, func(p string) bool {
					return strings.HasPrefix(p, "manylinux") && strings.HasSuffix(p, "_"+machine)
				}) {
					t.Errorf("%s: %s is not a manylinux %s wheel", name, w.Raw, machine)
				}
			}
		})
	}
}

// layerLockTargets are the single-runtime targets the layer lock must
// serve: python3.11 and python3.12 on x86_64 and on arm64.
func layerLockTargets(t *testing.T) []target.Target {
	t.Helper()
	var out []target.Target
	for _, arch := range []string{"x86_64", "arm64"} {
		for _, rt := range []string{"python3.11", "python3.12"} {
			tg, err := target.New([]string{rt}, arch)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, tg)
		}
	}
	return out
}

// The manylinux_2_28 wheel set is a real case Lambda's python3.11 (Amazon
// Linux 2, glibc 2.26) cannot run: it is refused, for the glibc, while
// python3.12 (glibc 2.34) takes it.
func TestManylinux228RefusedForPython311(t *testing.T) {
	const path = "testdata/image-processing-manylinux_2_28.txt"
	py311, err := target.New([]string{"python3.11"}, "x86_64")
	if err != nil {
		t.Fatal(err)
	}
	_, refused := selectLock(t, path, py311)
	for _, name := range []string{"pillow-heif", "rawpy"} {
		if _, ok := refused[name]; !ok {
			t.Errorf("%s was not refused for python3.11", name)
		}
	}
	for name, err := range refused {
		if !strings.Contains(err.Error(), "glibc") {
			t.Errorf("%s refused without naming glibc: %v", name, err)
		}
	}

	py312, err := target.New([]string{"python3.12"}, "x86_64")
	if err != nil {
		t.Fatal(err)
	}
	if _, refused := selectLock(t, path, py312); len(refused) > 0 {
		t.Errorf("python3.12 refused %v; the set is meant to fit it", refused)
	}
}

// Each lock pins every version its .in asks for: editing one without
// recompiling the other is caught here.
func TestLockMatchesIn(t *testing.T) {
	for _, c := range []struct{ lock, in string }{
		{"locks/image-processing.txt", "locks/image-processing.in"},
		{"locks/function.txt", "locks/function.in"},
	} {
		got := lockPins(t, c.lock, prodTarget(t))
		for _, p := range inPins(t, c.in) {
			if !slices.Contains(got, p) {
				t.Errorf("%s asks for %s; %s pins %v", c.in, p, c.lock, got)
			}
		}
	}
}

// The function's own lock has a wheel for every package on the runtime the
// prod stack gives the function, so its package can be built from it.
func TestFunctionLockFitsFunctionRuntime(t *testing.T) {
	cfg, err := loadWith(t, stackConfig(t, "prod"), projectRoot(t))
	if err != nil {
		t.Fatal(err)
	}
	tg := target.Target{Runtimes: []target.Runtime{cfg.Function.Runtime}, Arch: cfg.Function.Arch}
	picked, refused := selectLock(t, "locks/function.txt", tg)
	for name, err := range refused {
		t.Errorf("%s on %s: %v", name, tg, err)
	}
	if want := lockPins(t, "locks/function.txt", tg); len(picked) != len(want) {
		t.Errorf("selected %d packages, want all %d the lock pins", len(picked), len(want))
	}
	if sel, ok := picked["charset-normalizer"]; ok && (sel.Shared == nil || !strings.Contains(sel.Shared.Raw, "cp311")) {
		t.Errorf("charset-normalizer: %s; want its compiled cp311 wheel, the most specific", sel.Why)
	}
}

// lockPins returns "name==version" for each requirement of the lock at
// path that applies to tg, sorted.
func lockPins(t *testing.T, path string, tg target.Target) []string {
	t.Helper()
	l, err := lock.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, a := range l.For(tg) {
		out = append(out, a.Name+"=="+a.Version)
	}
	slices.Sort(out)
	return out
}

// sourceRow is one row of locks/SOURCES.md's table: a shipped wheel and
// the public lock its digest was copied from.
type sourceRow struct {
	line                 int
	pkg, version, file   string
	prefix, repo, commit string
	path                 string
}

// sourceRows reads the table rows of locks/SOURCES.md.
func sourceRows(t *testing.T) []sourceRow {
	t.Helper()
	data, err := os.ReadFile("locks/SOURCES.md")
	if err != nil {
		t.Fatal(err)
	}
	var out []sourceRow
	for i, line := range strings.Split(string(data), "\n") {
		cols := strings.Split(line, "|")
		if len(cols) != 8 || strings.TrimSpace(cols[1]) == "package" || strings.HasPrefix(strings.TrimSpace(cols[1]), "---") {
			continue
		}
		for j := range cols {
			cols[j] = strings.TrimSpace(cols[j])
		}
		// The source is spelled OWNER/REPO@COMMIT:PATH.
		repo, rest, ok1 := strings.Cut(cols[5], "@")
		commit, path, ok2 := strings.Cut(rest, ":")
		if !ok1 || !ok2 {
			t.Fatalf("locks/SOURCES.md:%d: source %q, want OWNER/REPO@COMMIT:PATH", i+1, cols[5])
		}
		out = append(out, sourceRow{
			line: i + 1, pkg: cols[1], version: cols[2], file: cols[3],
			prefix: strings.Trim(cols[4], "`"), repo: repo, commit: commit, path: path,
		})
	}
	if len(out) == 0 {
		t.Fatal("locks/SOURCES.md has no table rows")
	}
	return out
}

// Every wheel the layer ships is documented in locks/SOURCES.md with its
// digest and the public lock it came from, and the table agrees with the
// lock (the digest is one the pin lists; the source is the one the
// lock's "# from" comment names): editing the lock without its
// provenance, or the provenance without the lock, fails here.
func TestLockSourcesMatchLock(t *testing.T) {
	const path = "locks/image-processing.txt"
	l, err := lock.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	files := realFiles(t)
	digestOf := map[string]string{}
	for h, name := range files {
		digestOf[name] = h
	}
	rows := sourceRows(t)
	documented := map[string]bool{}
	for _, row := range rows {
		documented[row.file] = true
		i := slices.IndexFunc(l.Requirements, func(r lock.Requirement) bool {
			return r.Name == row.pkg && r.Version == row.version
		})
		if i < 0 {
			t.Errorf("locks/SOURCES.md:%d: %s==%s is not pinned in %s", row.line, row.pkg, row.version, path)
			continue
		}
		req := l.Requirements[i]
		h, ok := digestOf[row.file]
		switch {
		case !ok:
			t.Errorf("locks/SOURCES.md:%d: %s is not in testdata/files.tsv", row.line, row.file)
		case len(row.prefix) < 12 || !strings.HasPrefix(h, row.prefix):
			t.Errorf("locks/SOURCES.md:%d: %s: digest prefix %q, testdata/files.tsv has %s", row.line, row.file, row.prefix, h)
		case !slices.Contains(req.Hashes, h):
			t.Errorf("locks/SOURCES.md:%d: %s (sha256 %s) is not among %s==%s's hashes", row.line, row.file, h, req.Name, req.Version)
		}
		// The lock names its source as "# from OWNER/REPO/PATH@COMMIT",
		// commit abbreviated, on the line above the requirement.
		if req.Line < 2 {
			t.Errorf("%s:%d: %s has no source comment above it", path, req.Line, req.Name)
			continue
		}
		comment := strings.TrimSpace(lines[req.Line-2])
		src, commit, ok := strings.Cut(strings.TrimPrefix(comment, "# from "), "@")
		if !ok || !strings.HasPrefix(comment, "# from ") || src != row.repo+"/"+row.path ||
			len(commit) < 12 || !strings.HasPrefix(row.commit, commit) && !strings.HasPrefix(commit, row.commit) {
			t.Errorf("locks/SOURCES.md:%d: source %s@%s:%s, but %s:%d says %q", row.line, row.repo, row.commit, row.path, path, req.Line-1, comment)
		}
	}

	// Each wheel a build ships, for either runtime on either architecture,
	// has its row.
	for _, tg := range layerLockTargets(t) {
		picked, _ := selectLock(t, path, tg)
		for name, sel := range picked {
			if sel.Shared != nil && !documented[sel.Shared.Raw] {
				t.Errorf("%s ships %s for %s, which locks/SOURCES.md does not list", name, sel.Shared.Raw, tg)
			}
		}
	}
}
