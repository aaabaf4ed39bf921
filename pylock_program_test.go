package main

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/galerly/galerly-lambda/build"
	"github.com/galerly/galerly-lambda/build/lock"
)

// prodPylock writes the prod layer lock (locks/image-processing.txt) as a
// pylock.toml: the same pins, each file named by its real filename
// (testdata/files.tsv) with its sha256, found on the index by name since
// the files' URLs are not known here. header goes before the packages.
func prodPylock(t *testing.T, header string) string {
	t.Helper()
	l, err := lock.ReadFile("locks/image-processing.txt")
	if err != nil {
		t.Fatal(err)
	}
	files := realFiles(t)
	var b strings.Builder
	b.WriteString("lock-version = \"1.0\"\ncreated-by = \"uv\"\n" + header)
	for _, r := range l.Requirements {
		fmt.Fprintf(&b, "\n[[packages]]\nname = %q\nversion = %q\nindex = \"https://pypi.org/simple\"\n", r.Name, r.Version)
		if r.Marker != nil {
			fmt.Fprintf(&b, "marker = %q\n", r.Marker.String())
		}
		var wheels []string
		for _, h := range r.Hashes {
			name, ok := files[h]
			if !ok {
				t.Fatalf("testdata/files.tsv has no file with sha256 %s of %s", h, r.Name)
			}
			if strings.HasSuffix(name, ".whl") {
				wheels = append(wheels, fmt.Sprintf("    { name = %q, hashes = { sha256 = %q } },", name, h))
			} else {
				fmt.Fprintf(&b, "sdist = { name = %q, hashes = { sha256 = %q } }\n", name, h)
			}
		}
		b.WriteString("wheels = [\n" + strings.Join(wheels, "\n") + "\n]\n")
	}
	return b.String()
}

// prodPin returns the prod layer lock's requirement for the package
// named, so tests follow the lock when its pins move.
func prodPin(t *testing.T, name string) lock.Requirement {
	t.Helper()
	l, err := lock.ReadFile("locks/image-processing.txt")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range l.Requirements {
		if r.Name == name {
			return r
		}
	}
	t.Fatalf("locks/image-processing.txt does not pin %s", name)
	return lock.Requirement{}
}

// A pylock.toml as layerLock just works: the program reads it in process,
// and with the same pins and digests as the requirements lock it gives
// the same key (so switching formats rebuilds nothing), the same pins as
// build triggers, and a build command naming the pylock.
func TestPylockAsLayerLock(t *testing.T) {
	root := copyProjectWith(t, map[string]string{"locks/pylock.layer.toml": prodPylock(t, "requires-python = \">=3.11\"\n")})
	cfg := stackConfig(t, "prod")
	cfg[project+":layerLock"] = "locks/pylock.layer.toml"
	m := mustRun(t, run{config: cfg, root: root})

	key, err := build.LayerKey("locks/image-processing.txt", prodTarget(t), lock.Options{})
	if err != nil {
		t.Fatal(err)
	}
	const name = "galerly-image-processing"
	cmd := m.find(t, typeCommand, name+"-build")
	pins := lockPins(t, "locks/image-processing.txt", prodTarget(t))
	if got, want := strList(t, cmd, "triggers"), append([]string{key}, pins...); !slices.Equal(got, want) {
		t.Errorf("triggers = %v, want the requirements lock's key and pins %v", got, want)
	}
	if got := strValue(t, cmd, "create"); !strings.Contains(got, " layer --lock locks/pylock.layer.toml --runtime python3.11 --runtime python3.12 ") {
		t.Errorf("create = %s, want the build to read the pylock", got)
	}
	if got := strValue(t, m.find(t, typeLayerVer, name), "s3Key"); got != "layers/"+name+"/"+key+".zip" {
		t.Errorf("s3Key = %s, want the requirements lock's key %s", got, key)
	}
}

// What a pylock.toml says of its target is checked at preview, as the
// build checks it: a lock made for Python 3.12 only is refused for the
// prod layer, which also serves 3.11.
func TestPylockLayerLockRefusedForTarget(t *testing.T) {
	root := copyProjectWith(t, map[string]string{"locks/pylock.layer.toml": prodPylock(t, "requires-python = \">=3.12\"\n")})
	cfg := stackConfig(t, "prod")
	cfg[project+":layerLock"] = "locks/pylock.layer.toml"
	_, err := runProgram(t, run{config: cfg, root: root, preview: true})
	for _, want := range []string{"galerly-lambda:layerLock", "locks/pylock.layer.toml:3: requires-python: \">=3.12\" excludes python3.11"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want %q", err, want)
		}
	}
}

// layerLockExtras chooses a pylock.toml's extras as lambdapack --extra
// does: a package behind an extra is in the layer (its pin, the key, and
// --extra in the build command) only when the config names the extra. An
// extra the lock does not declare, or extras with a requirements lock,
// fail the preview naming the key.
func TestPylockExtrasFromConfig(t *testing.T) {
	// The prod lock with pillow-heif behind an extra "heif".
	heif := prodPin(t, "pillow-heif")
	entry := fmt.Sprintf("name = \"pillow-heif\"\nversion = %q\n", heif.Version)
	text := prodPylock(t, "requires-python = \">=3.11\"\nextras = [\"heif\"]\n")
	if !strings.Contains(text, entry) {
		t.Fatalf("the generated pylock has no entry %q", entry)
	}
	text = strings.Replace(text, entry, entry+"marker = \"'heif' in extras\"\n", 1)
	root := copyProjectWith(t, map[string]string{"locks/pylock.layer.toml": text})
	prodKey, err := build.LayerKey("locks/image-processing.txt", prodTarget(t), lock.Options{})
	if err != nil {
		t.Fatal(err)
	}
	const name = "galerly-image-processing"
	for _, tt := range []struct {
		name, extras string
		heif         bool
	}{
		{"no extras", "", false},
		{"the extra named", `["heif"]`, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := stackConfig(t, "prod")
			cfg[project+":layerLock"] = "locks/pylock.layer.toml"
			if tt.extras != "" {
				cfg[project+":layerLockExtras"] = tt.extras
			}
			m := mustRun(t, run{config: cfg, root: root})
			cmd := m.find(t, typeCommand, name+"-build")
			triggers := strList(t, cmd, "triggers")
			if got := slices.Contains(triggers, "pillow-heif=="+heif.Version); got != tt.heif {
				t.Errorf("pillow-heif in the triggers %v: %v, want %v", triggers, got, tt.heif)
			}
			if got := triggers[0] == prodKey; got != tt.heif {
				t.Errorf("key %s equal to the requirements lock's (all packages) %s: %v, want %v", triggers[0], prodKey, got, tt.heif)
			}
			if got := strings.Contains(strValue(t, cmd, "create"), " --lock locks/pylock.layer.toml --extra heif --runtime "); got != tt.heif {
				t.Errorf("create = %s: --extra heif %v, want %v", strValue(t, cmd, "create"), got, tt.heif)
			}
		})
	}
	for _, tt := range []struct {
		name, lock, extras string
		want               []string
	}{
		{"an extra the lock does not declare", "locks/pylock.layer.toml", `["webp"]`, []string{"galerly-lambda:layerLock", "webp"}},
		{"extras with a requirements lock", "locks/image-processing.txt", `["heif"]`, []string{"galerly-lambda:layerLock", "pylock.toml only"}},
		{"a name a shell would need quoted", "locks/pylock.layer.toml", `["heif; rm -rf /"]`, []string{"galerly-lambda:layerLockExtras"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := stackConfig(t, "prod")
			cfg[project+":layerLock"] = tt.lock
			cfg[project+":layerLockExtras"] = tt.extras
			_, err := runProgram(t, run{config: cfg, root: root, preview: true})
			for _, want := range tt.want {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("err = %v, want %q", err, want)
				}
			}
		})
	}
}

// Extras and groups for the function need a function lock to choose from.
func TestFunctionLockExtrasNeedALock(t *testing.T) {
	cfg := stackConfig(t, "prod")
	cfg[project+":functionLock"] = ""
	cfg[project+":functionLockGroups"] = `["docs"]`
	_, err := runProgram(t, run{config: cfg, preview: true})
	if err == nil || !strings.Contains(err.Error(), "galerly-lambda:functionLockGroups") || !strings.Contains(err.Error(), "no functionLock") {
		t.Errorf("err = %v", err)
	}
}
