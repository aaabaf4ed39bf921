package build

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/galerly/galerly-lambda/build/index"
	"github.com/galerly/galerly-lambda/build/internal/wheeltest"
	"github.com/galerly/galerly-lambda/build/lock"
	"github.com/galerly/galerly-lambda/build/target"
)

// libraryFixture writes three pure wheels into a find-links folder and a
// lock for them, and returns the options of a build from them.
func libraryFixture(t *testing.T) LayerOptions {
	t.Helper()
	links := t.TempDir()
	var lockText strings.Builder
	for _, name := range []string{"charlie", "alpha", "bravo"} {
		_, sum, err := wheeltest.Pure(links, name, "1.0", map[string]string{name + ".py": "V = '" + name + "'\n"})
		if err != nil {
			t.Fatal(err)
		}
		lockText.WriteString(name + "==1.0 --hash=sha256:" + sum + "\n")
	}
	lockPath := filepath.Join(t.TempDir(), "lock.txt")
	if err := os.WriteFile(lockPath, []byte(lockText.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	tg, err := target.New([]string{"python3.12"}, "x86_64")
	if err != nil {
		t.Fatal(err)
	}
	return LayerOptions{
		Lock:     lockPath,
		Target:   tg,
		Out:      filepath.Join(t.TempDir(), "layer.zip"),
		Sources:  index.Sources{NoIndex: true, FindLinks: []string{links}},
		CacheDir: t.TempDir(),
	}
}

// Used as a library, Layer returns the report the CLI prints, logs in lock
// order whatever order the queries finish in, and its key is LayerKey's.
func TestLayerAsLibrary(t *testing.T) {
	opts := libraryFixture(t)
	var logs []string
	for range 2 {
		var log bytes.Buffer
		opts.Log = &log
		opts.CacheDir = t.TempDir() // cold each time, so every query runs
		res, err := Layer(context.Background(), opts)
		if err != nil {
			t.Fatal(err)
		}
		key, err := LayerKey(opts.Lock, opts.Target, lock.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if res.Key != key || len(res.Packages) != 3 || res.Files == 0 || res.ZipBytes == 0 {
			t.Fatalf("report %+v, LayerKey %s", res, key)
		}
		for i, want := range []string{"alpha", "bravo", "charlie"} {
			if res.Packages[i].Name != want || res.Packages[i].Path != "python/" {
				t.Errorf("package %d: %+v, want %s in python/", i, res.Packages[i], want)
			}
		}
		logs = append(logs, log.String())
	}
	if logs[0] != logs[1] {
		t.Errorf("two builds logged differently:\n%s\n---\n%s", logs[0], logs[1])
	}
	a, b, c := strings.Index(logs[0], "alpha"), strings.Index(logs[0], "bravo"), strings.Index(logs[0], "charlie")
	if a < 0 || !(a < b && b < c) {
		t.Errorf("log not in lock order:\n%s", logs[0])
	}
}

// A cancelled build returns the cancellation, writes no output and leaves
// no temporary file beside it.
func TestLayerCancelled(t *testing.T) {
	opts := libraryFixture(t)
	// Warm the cache first, so the cancellation meets the cache check and
	// the assembly rather than a download.
	if _, err := Layer(context.Background(), LayerOptions{Lock: opts.Lock, Target: opts.Target, Out: filepath.Join(t.TempDir(), "x.zip"), Sources: opts.Sources, CacheDir: opts.CacheDir}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Layer(ctx, opts)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Layer returned %v, want context.Canceled", err)
	}
	if left, _ := os.ReadDir(filepath.Dir(opts.Out)); len(left) != 0 {
		t.Errorf("a cancelled build left %v", left)
	}
}

// LayerKey is lock.Key of the parsed lock, and refuses a lock from which
// nothing applies to the target.
func TestLayerKey(t *testing.T) {
	opts := libraryFixture(t)
	l, err := lock.ReadFile(opts.Lock)
	if err != nil {
		t.Fatal(err)
	}
	key, err := LayerKey(opts.Lock, opts.Target, lock.Options{})
	if err != nil || key != lock.Key(l, opts.Target, lock.Options{}) {
		t.Errorf("LayerKey = %s, %v; want lock.Key %s", key, err, lock.Key(l, opts.Target, lock.Options{}))
	}
	empty := filepath.Join(t.TempDir(), "empty.txt")
	os.WriteFile(empty, []byte("# nothing pinned\n"), 0o644)
	if _, err := LayerKey(empty, opts.Target, lock.Options{}); err == nil || !strings.Contains(err.Error(), "empty.txt") {
		t.Errorf("an empty lock: %v, want an error naming the file", err)
	}
}
