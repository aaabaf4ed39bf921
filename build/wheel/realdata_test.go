package wheel

import (
	"bufio"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/galerly/galerly-lambda/build/internal/pyname"
	"github.com/galerly/galerly-lambda/build/target"
)

// The testdata files are real PyPI filenames and sha256 digests copied from
// public lock files (testdata/README.md names the sources): files.tsv lists
// filename, sha256, size; the two requirements files are pip-compile
// --generate-hashes locks.

type realFile struct {
	name, sha string
}

func readFilesTSV(t *testing.T) []realFile {
	t.Helper()
	fh, err := os.Open("testdata/files.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	var out []realFile
	sc := bufio.NewScanner(fh)
	for line := 1; sc.Scan(); line++ {
		cols := strings.Split(sc.Text(), "\t")
		if line == 1 {
			continue // header
		}
		if len(cols) != 3 {
			t.Fatalf("files.tsv line %d: %d columns, want 3", line, len(cols))
		}
		out = append(out, realFile{cols[0], cols[1]})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

type lockedReq struct {
	name, version string
	hashes        map[string]bool
}

// readLock reads just enough of a pip --require-hashes lock for these
// tests: "name==version \" lines followed by "--hash=sha256:..." lines.
func readLock(t *testing.T, path string) []lockedReq {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []lockedReq
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(line), `\`))
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "--hash=sha256:"):
			if len(out) == 0 {
				t.Fatalf("%s line %d: hash before any requirement", path, i+1)
			}
			out[len(out)-1].hashes[strings.TrimPrefix(line, "--hash=sha256:")] = true
		default:
			name, version, ok := strings.Cut(line, "==")
			if !ok {
				t.Fatalf("%s line %d: %q is not name==version", path, i+1, line)
			}
			out = append(out, lockedReq{name, version, map[string]bool{}})
		}
	}
	return out
}

// lockedFiles returns the parsed wheels whose digest the lock pins for req,
// as the builder sees them: only files whose sha256 is in the lock.
func lockedFiles(t *testing.T, all []realFile, req lockedReq) []Filename {
	t.Helper()
	var out []Filename
	for _, rf := range all {
		if !req.hashes[rf.sha] || !strings.HasSuffix(rf.name, ".whl") {
			continue
		}
		f, err := ParseFilename(rf.name)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, f)
	}
	if len(out) == 0 {
		t.Fatalf("no wheel in files.tsv for %s==%s", req.name, req.version)
	}
	return out
}

func TestRealFilenames(t *testing.T) {
	wheels := 0
	for _, rf := range readFilesTSV(t) {
		f, err := ParseFilename(rf.name)
		if strings.HasSuffix(rf.name, ".whl") {
			if err != nil {
				t.Errorf("real wheel refused: %v", err)
				continue
			}
			wheels++
			if !strings.HasPrefix(rf.name, strings.ReplaceAll(f.Name, "-", "_")+"-"+f.Version+"-") {
				t.Errorf("%s: parsed as %s %s", rf.name, f.Name, f.Version)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), rf.name+" is a source distribution; only wheels are used") {
			t.Errorf("%s: error %v, want refused as a source distribution", rf.name, err)
		}
	}
	if wheels < 350 {
		t.Errorf("only %d real wheels parsed", wheels)
	}
}

// TestProductionLayer: the production lock builds one layer for python3.11
// and python3.12 on both architectures, each runtime getting its own
// CPython wheel for the right machine.
func TestProductionLayer(t *testing.T) {
	all := readFilesTSV(t)
	reqs := readLock(t, "testdata/image-processing-manylinux2014.txt")
	var names []string
	for _, r := range reqs {
		names = append(names, pyname.Normalize(r.name)+"=="+r.version)
	}
	slices.Sort(names)
	if want := []string{"numpy==2.1.3", "pillow-heif==0.20.0", "pillow==11.0.0", "rawpy==0.24.0"}; !slices.Equal(names, want) {
		t.Fatalf("production lock pins %v, want %v", names, want)
	}
	for _, arch := range []target.Arch{x86, arm} {
		tg := newTarget(t, arch, "python3.11", "python3.12")
		for _, req := range reqs {
			sel, err := Select(req.name, req.version, lockedFiles(t, all, req), tg)
			if err != nil {
				t.Errorf("%s: %v", arch, err)
				continue
			}
			if sel.Shared != nil || len(sel.PerRuntime) != 2 {
				t.Errorf("%s %s: %+v, want one CPython wheel per runtime", req.name, arch, sel)
				continue
			}
			for _, r := range tg.Runtimes {
				f := sel.PerRuntime[r]
				if fit := f.Fit(r, arch); !fit.OK {
					t.Errorf("%s for %s: %s does not fit: %s", req.name, r, f.Raw, fit.Reason)
				}
				if !slices.Equal(f.Python, []string{r.CPTag()}) || !slices.Equal(f.ABI, []string{r.CPTag()}) {
					t.Errorf("%s for %s: chose %s, want a %s-%s wheel", req.name, r, f.Raw, r.CPTag(), r.CPTag())
				}
				if !strings.Contains(f.Raw, "manylinux") || !strings.Contains(f.Raw, arch.Machine()) {
					t.Errorf("%s for %s/%s: chose %s, want manylinux %s", req.name, r, arch, f.Raw, arch.Machine())
				}
			}
			if !strings.HasPrefix(sel.Why, req.name+" "+req.version+": ") {
				t.Errorf("Why %q does not name the package", sel.Why)
			}
		}
	}
}

// TestProductionLayerPrefersNewestFittingGlibc: pillow 11.0.0 ships both
// manylinux2014 and manylinux_2_28 wheels; python3.12 (glibc 2.34) gets the
// 2.28 build, python3.11 (glibc 2.26) the 2014 one.
func TestProductionLayerPrefersNewestFittingGlibc(t *testing.T) {
	all := readFilesTSV(t)
	for _, req := range readLock(t, "testdata/image-processing-manylinux2014.txt") {
		if req.name != "pillow" {
			continue
		}
		sel, err := Select(req.name, req.version, lockedFiles(t, all, req), newTarget(t, x86, "python3.11", "python3.12"))
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]string{
			"python3.11": "pillow-11.0.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
			"python3.12": "pillow-11.0.0-cp312-cp312-manylinux_2_28_x86_64.whl",
		}
		if got := perRuntimeNames(sel); !slices.Equal(sortedValues(got), sortedValues(want)) {
			t.Errorf("pillow: %v, want %v", got, want)
		}
		return
	}
	t.Fatal("pillow not in the production lock")
}

func sortedValues(m map[string]string) []string {
	var out []string
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	slices.Sort(out)
	return out
}

// TestManylinux228Set: rawpy 0.26.1 and pillow-heif 1.4.0 ship only
// manylinux_2_26+/2_27+ wheels, which Amazon Linux 2 (python3.11, glibc
// 2.26) cannot load on x86_64. A python3.11 layer must be refused with the
// glibc reason; a python3.12 layer builds.
func TestManylinux228Set(t *testing.T) {
	all := readFilesTSV(t)
	reqs := readLock(t, "testdata/image-processing-manylinux_2_28.txt")
	refused := map[string]bool{"rawpy": true, "pillow-heif": true}
	const glibcReason = "python3.11 has none: manylinux_2_27 needs glibc 2.27; python3.11 runs on glibc 2.26 (Amazon Linux 2)"
	for _, req := range reqs {
		files := lockedFiles(t, all, req)
		for _, arch := range []target.Arch{x86, arm} {
			if _, err := Select(req.name, req.version, files, newTarget(t, arch, "python3.12")); err != nil {
				t.Errorf("%s python3.12: %v", arch, err)
			}
		}
		_, err := Select(req.name, req.version, files, newTarget(t, x86, "python3.11", "python3.12"))
		if !refused[req.name] {
			if err != nil {
				t.Errorf("%s %s: %v", req.name, req.version, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%s %s selected for python3.11 on x86_64, want refused", req.name, req.version)
			continue
		}
		for _, want := range []string{req.name + " " + req.version + ": ", "python3.12 has a fitting wheel", glibcReason} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s error %q does not contain %q", req.name, err, want)
			}
		}
		// For python3.11 alone the nearest file, listed first, says why.
		_, err = Select(req.name, req.version, files, newTarget(t, x86, "python3.11"))
		if err == nil {
			t.Errorf("%s %s selected for python3.11 alone", req.name, req.version)
			continue
		}
		lines := strings.Split(err.Error(), "\n")
		if len(lines) < 2 || !strings.Contains(lines[1], "cp311-cp311-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl: python3.11: manylinux_2_27 needs glibc 2.27") {
			t.Errorf("%s python3.11 error does not lead with the glibc reason:\n%v", req.name, err)
		}
	}
}

// TestManylinux228SetOnArm64 records a real difference between the
// architectures: pillow-heif 1.4.0's aarch64 wheels are manylinux_2_26, so
// they load on python3.11 arm64, while rawpy 0.26.1's (2_27) do not.
func TestManylinux228SetOnArm64(t *testing.T) {
	all := readFilesTSV(t)
	tg := newTarget(t, arm, "python3.11", "python3.12")
	for _, req := range readLock(t, "testdata/image-processing-manylinux_2_28.txt") {
		_, err := Select(req.name, req.version, lockedFiles(t, all, req), tg)
		switch req.name {
		case "rawpy":
			if err == nil || !strings.Contains(err.Error(), "python3.11 has none: manylinux_2_27 needs glibc 2.27") {
				t.Errorf("rawpy arm64: error %v, want the glibc reason", err)
			}
		default:
			if err != nil {
				t.Errorf("%s arm64: %v", req.name, err)
			}
		}
	}
}

// TestFunctionDeps: the function's pure-Python dependencies get one shared
// wheel each. charset-normalizer ships CPython wheels and a pure one: every
// runtime gets its compiled wheel, however many runtimes the layer has,
// rather than all of them falling back to the pure wheel they could share.
func TestFunctionDeps(t *testing.T) {
	byPkg := map[string][]Filename{}
	for _, rf := range readFilesTSV(t) {
		f, err := ParseFilename(rf.name)
		if err != nil {
			continue // source distributions
		}
		byPkg[f.Name+" "+f.Version] = append(byPkg[f.Name+" "+f.Version], f)
	}
	both := newTarget(t, x86, "python3.11", "python3.12")
	for _, key := range []string{
		"boto3 1.40.22", "botocore 1.40.22", "certifi 2025.8.3", "idna 3.10",
		"jmespath 1.0.1", "python-dateutil 2.9.0.post0", "python-dotenv 1.1.1", "requests 2.32.5",
		"s3transfer 0.13.1", "six 1.17.0", "stripe 11.6.0", "typing-extensions 4.15.0", "urllib3 2.5.0",
	} {
		name, version, _ := strings.Cut(key, " ")
		sel, err := Select(name, version, byPkg[key], both)
		if err != nil {
			t.Errorf("%s: %v", key, err)
			continue
		}
		if sel.Shared == nil || sel.Shared.Platform[0] != "any" {
			t.Errorf("%s: %+v, want a shared pure-Python wheel", key, sel)
		}
	}
	const charset = "charset-normalizer 3.4.3"
	compiled := func(cp string) string {
		return "charset_normalizer-3.4.3-" + cp + "-" + cp + "-manylinux2014_x86_64.manylinux_2_17_x86_64.manylinux_2_28_x86_64.whl"
	}
	sel, err := Select("charset-normalizer", "3.4.3", byPkg[charset], both)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"python3.11": compiled("cp311"), "python3.12": compiled("cp312")}
	if sel.Shared != nil || !slices.Equal(sortedValues(perRuntimeNames(sel)), sortedValues(want)) {
		t.Errorf("charset-normalizer python3.11+3.12: shared %q, per runtime %v; want per runtime %v", sharedName(sel), perRuntimeNames(sel), want)
	}
	sel, err = Select("charset-normalizer", "3.4.3", byPkg[charset], newTarget(t, x86, "python3.12"))
	if err != nil {
		t.Fatal(err)
	}
	if sharedName(sel) != compiled("cp312") {
		t.Errorf("charset-normalizer python3.12: %s, want %s", sharedName(sel), compiled("cp312"))
	}
}
