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
