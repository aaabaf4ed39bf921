package main

import (
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/galerly/galerly-lambda/build"
	"github.com/galerly/galerly-lambda/build/lock"
	"github.com/galerly/galerly-lambda/build/target"
	"github.com/galerly/galerly-lambda/build/wheel"
)

// The keys main computed (go run ./build/cmd/lambdapack key, at the commit
// before issue 18) for the frozen copies of the prod locks in
// testdata/keypin. A lock that has no repeated package and no marker left
// open by a patch release must keep its key, or every existing layer is
// rebuilt for nothing.
var keysOnMain = []struct {
	lock     string
	runtimes []string
	arch     string
	opts     lock.Options
	key      string
}{
	{"testdata/keypin/image-processing.txt", []string{"python3.11", "python3.12"}, "x86_64", lock.Options{}, "ed2f1145eb4c627f69f3e3ded0db20488bbe0bfc04bac330c0d0a34e5661d219"},
	{"testdata/keypin/image-processing.txt", []string{"python3.11", "python3.12"}, "arm64", lock.Options{}, "fb5aca46d0f45fe7e0363337f2c614a4095ea403d6aa6bbfd9483775ecd274eb"},
	{"testdata/keypin/image-processing.txt", []string{"python3.11", "python3.12"}, "x86_64", lock.Options{NoBytecode: true}, "6f40cc3ceac4b5b5c8b600a9cb56d3de95f45ebb53fb57a4e98549439c0eff0c"},
	{"testdata/keypin/image-processing.txt", []string{"python3.12"}, "x86_64", lock.Options{}, "a58032494721fd587723e9243749ab1fff15d76d19109896631c7db4ab4f30e8"},
	{"testdata/keypin/function.txt", []string{"python3.11"}, "x86_64", lock.Options{}, "247a8b232d2b1d8897f41bc761777a703cf27e9e17236a29bcee24e840e58ea1"},
	{"testdata/keypin/function.txt", []string{"python3.12"}, "x86_64", lock.Options{}, "e140d8d8898eef09bc4d3a87503206c434a6f433e2e732a7609143c6a2be9fc2"},
}

// The prod locks as they were keep their keys through the CLI's path and
// the program's, and the program's build step keeps its triggers, its S3
// key and its layer description: no update rebuilds or republishes them.
func TestKeyOfExistingLocksUnchanged(t *testing.T) {
	for _, k := range keysOnMain {
		tg, err := target.New(k.runtimes, k.arch)
		if err != nil {
			t.Fatal(err)
		}
		got, err := build.LayerKey(k.lock, tg, k.opts)
		if err != nil || got != k.key {
			t.Errorf("%s for %s %s: key %s, %v; main computed %s", k.lock, tg, k.opts.Line(), got, err, k.key)
		}
	}
	frozen, err := os.ReadFile("testdata/keypin/image-processing.txt")
	if err != nil {
		t.Fatal(err)
	}
	m := mustRun(t, run{config: stackConfig(t, "prod"), root: copyProject(t, string(frozen))})
	const name = "galerly-image-processing"
	key := keysOnMain[0].key
	wantTriggers := []string{key, "numpy==2.1.3", "pillow-heif==0.20.0", "pillow==11.0.0", "rawpy==0.24.0"}
	if got := strList(t, m.find(t, typeCommand, name+"-build"), "triggers"); !slices.Equal(got, wantTriggers) {
		t.Errorf("triggers = %q, want main's %q", got, wantTriggers)
	}
	version := m.find(t, typeLayerVer, name)
	if got, want := strValue(t, version, "description"), "numpy==2.1.3 pillow-heif==0.20.0 pillow==11.0.0 rawpy==0.24.0 (key "+key[:12]+")"; got != want {
		t.Errorf("description = %q, want main's %q", got, want)
	}
	if got := strValue(t, version, "s3Key"); got != "layers/"+name+"/"+key+".zip" {
		t.Errorf("s3Key = %s", got)
	}
}

// numpyLine matches the prod lock's numpy requirement line.
var numpyLine = regexp.MustCompile(`(?m)^numpy==(\S+) \\$`)

// universalProdLock rewrites the prod lock as `uv pip compile --universal`
// would if python3.11 needed an older numpy: the prod numpy for 3.12 and
// up, numpy 2.0.2 below (its digests stand-ins: a preview reads no
// files).
func universalProdLock(t *testing.T, olderMarker string) (text, prodNumpy string) {
	t.Helper()
	data, err := os.ReadFile("locks/image-processing.txt")
	if err != nil {
		t.Fatal(err)
	}
	m := numpyLine.FindStringSubmatch(string(data))
	if m == nil {
		t.Fatal("locks/image-processing.txt: no numpy line")
	}
	text = strings.Replace(string(data), m[0], "numpy=="+m[1]+" ; python_full_version >= '3.12' \\", 1)
	text += "numpy==2.0.2 ; " + olderMarker + " \\\n    --hash=sha256:" + strings.Repeat("7", 64) + "\n    # via -r locks/image-processing.in\n"
	return text, m[1]
}

// A universal lock as layerLock: the preview's pins (the build step's
// triggers) name what each runtime gets, and the key is the one
// `lambdapack key` computes. Lines that overlap on a runtime fail the
// preview naming both lines and the runtime.
func TestUniversalLayerLock(t *testing.T) {
	text, prodNumpy := universalProdLock(t, "python_full_version < '3.12'")
	root := copyProject(t, text)
	m := mustRun(t, run{config: stackConfig(t, "prod"), root: root})
	key, err := build.LayerKey(root+"/locks/image-processing.txt", prodTarget(t), lock.Options{})
	if err != nil {
		t.Fatal(err)
	}
	triggers := strList(t, m.find(t, typeCommand, "galerly-image-processing-build"), "triggers")
	if triggers[0] != key {
		t.Errorf("key %s, lambdapack key says %s", triggers[0], key)
	}
	for _, want := range []string{"numpy==2.0.2 (python3.11)", "numpy==" + prodNumpy + " (python3.12)"} {
		if !slices.Contains(triggers, want) {
			t.Errorf("triggers %q lack %q", triggers, want)
		}
	}

	overlapping, _ := universalProdLock(t, "python_version <= '3.12'")
	_, err = runProgram(t, run{config: stackConfig(t, "prod"), root: copyProject(t, overlapping), preview: true})
	for _, want := range []string{"galerly-lambda:layerLock", "locks/image-processing.txt:", "numpy==2.0.2 here and numpy==" + prodNumpy + " on line", "both apply to python3.12/x86_64"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("overlapping lines: %v, want %q", err, want)
		}
	}
}

// A layer lock may include files (-r) relative to it inside the project
// folder: the preview reads them and the key covers what they pin. An
// include that leaves the project folder fails the preview.
func TestLayerLockIncludes(t *testing.T) {
	prod, err := os.ReadFile("locks/image-processing.txt")
	if err != nil {
		t.Fatal(err)
	}
	root := copyProjectWith(t, map[string]string{
		"locks/image-processing.txt": "# the layer's pins live in a shared file\n-r shared/image.txt\n",
		"locks/shared/image.txt":     string(prod),
	})
	m := mustRun(t, run{config: stackConfig(t, "prod"), root: root})
	key, err := build.LayerKey("locks/image-processing.txt", prodTarget(t), lock.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := strList(t, m.find(t, typeCommand, "galerly-image-processing-build"), "triggers"); got[0] != key {
		t.Errorf("key %s, want the included lock's %s", got[0], key)
	}
	escaping := copyProjectWith(t, map[string]string{"locks/image-processing.txt": "-r ../../outside.txt\n"})
	_, err = runProgram(t, run{config: stackConfig(t, "prod"), root: escaping, preview: true})
	for _, want := range []string{"galerly-lambda:layerLock", "locks/image-processing.txt:1: -r ../../outside.txt: ../outside.txt is outside the project folder"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("escaping include: %v, want %q", err, want)
		}
	}
}

// keepWheels rewrites a pylock.toml, keeping of pkg's wheels (by file
// name prefix, "pillow-") only those keep accepts, and returns them.
func keepWheels(t *testing.T, text, prefix string, keep func(string) bool) (string, []wheel.Filename) {
	t.Helper()
	var kept []wheel.Filename
	var out []string
	for _, line := range strings.Split(text, "\n") {
		var file string
		if _, err := fmt.Sscanf(strings.TrimSpace(line), "{ name = %q,", &file); err == nil && strings.HasPrefix(file, prefix) {
			if !keep(file) {
				continue
			}
			fn, err := wheel.ParseFilename(file)
			if err != nil {
				t.Fatal(err)
			}
			kept = append(kept, fn)
		}
		out = append(out, line)
	}
	return strings.Join(out, "\n"), kept
}

// A pylock.toml whose wheels cannot run on the stack's target fails the
// preview, not the update after it: for each reason a real lock showed
// (Windows wheels only, wheels up to cp311 for a layer that serves 3.12,
// manylinux_2_28 wheels for python3.11 on Amazon Linux 2, no aarch64
// wheel for an arm64 stack), with the words the build would use.
func TestPylockThatCannotBuildFailsPreview(t *testing.T) {
	base := prodPylock(t, "requires-python = \">=3.11\"\n")
	tests := []struct {
		name string
		arch string
		keep func(string) bool
		want string
	}{
		{"Windows wheels only", "x86_64", func(f string) bool { return strings.Contains(f, "-win") }, "no wheel fits python3.11,python3.12/x86_64"},
		{"wheels up to cp311", "x86_64", func(f string) bool { return strings.Contains(f, "-cp310-") || strings.Contains(f, "-cp311-") }, "python3.11 has a fitting wheel"},
		{"manylinux_2_28 only", "x86_64", func(f string) bool { return strings.HasSuffix(f, "manylinux_2_28_x86_64.whl") }, "python3.11 has none: manylinux_2_27 needs glibc 2.27"}, // pillow 12.2.0's are tagged manylinux_2_27 and _2_28: the lower one is named
		{"no aarch64 wheel", "arm64", func(f string) bool { return !strings.Contains(f, "aarch64") }, "no wheel fits python3.11,python3.12/arm64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text, kept := keepWheels(t, base, "pillow-", tt.keep)
			cfg := stackConfig(t, "prod")
			cfg[project+":layerLock"] = "locks/pylock.layer.toml"
			cfg[project+":architecture"] = tt.arch
			_, err := runProgram(t, run{config: cfg, root: copyProjectWith(t, map[string]string{"locks/pylock.layer.toml": text}), preview: true})
			tg, terr := target.New([]string{"python3.11", "python3.12"}, tt.arch)
			if terr != nil {
				t.Fatal(terr)
			}
			_, selErr := wheel.Select("pillow", kept[0].Version, kept, tg)
			if selErr == nil {
				t.Fatal("the build would accept these wheels")
			}
			for _, want := range []string{"galerly-lambda:layerLock", "locks/pylock.layer.toml:", selErr.Error(), tt.want} {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("preview: %v\nwant it to say %q", err, want)
				}
			}
		})
	}
}
