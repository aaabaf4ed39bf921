package cache

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/galerly/galerly-lambda/internal/testenv"
)

func sumOf(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func writeBytes(b []byte) func(io.Writer) error {
	return func(w io.Writer) error { _, err := w.Write(b); return err }
}

// files lists every regular file under dir (relative paths), so tests can
// assert that nothing but the expected entries was left behind.
func files(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func open(t *testing.T) *Cache {
	t.Helper()
	c, err := Open(filepath.Join(t.TempDir(), "cache"))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestDefaultDir(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", "/tmp/xdg-cache-test")
	t.Setenv("HOME", "/tmp/home-test")
	d, err := DefaultDir()
	if err != nil {
		t.Fatal(err)
	}
	want := "/tmp/xdg-cache-test/lambdapack"
	if runtime.GOOS != "linux" {
		want = filepath.Join(filepath.Dir(d), "lambdapack")
	}
	if d != want {
		t.Errorf("DefaultDir() = %q, want %q", d, want)
	}
}

func TestPutGetRoundTrip(t *testing.T) {
	c := open(t)
	data := []byte("a wheel is a zip\n")
	sum := sumOf(data)

	if _, ok, err := c.Get(sum); err != nil || ok {
		t.Fatalf("Get on empty cache = ok %v, err %v; want a miss", ok, err)
	}
	p, err := c.Put(sum, writeBytes(data))
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(c.Dir(), "sha256", sum[:2], sum); p != want {
		t.Errorf("Put path = %s, want %s", p, want)
	}
	got, err := os.ReadFile(p)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("entry holds %q (%v), want %q", got, err, data)
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm()&0o222 != 0 {
		t.Errorf("entry mode %v is writable; blobs are read-only", fi.Mode().Perm())
	}
	p2, ok, err := c.Get(sum)
	if err != nil || !ok || p2 != p {
		t.Fatalf("Get = %s, %v, %v; want %s, true, nil", p2, ok, err, p)
	}
	// A second Put of a present entry must not even call fill (no download).
	called := false
	if _, err := c.Put(sum, func(io.Writer) error { called = true; return nil }); err != nil || called {
		t.Errorf("Put of present entry: err %v, fill called %v; want nil, false", err, called)
	}
	if fs := files(t, c.Dir()); len(fs) != 1 {
		t.Errorf("cache holds %v, want one entry", fs)
	}
}

func TestPutMismatchLeavesNothing(t *testing.T) {
	c := open(t)
	want := sumOf([]byte("expected"))
	_, err := c.Put(want, writeBytes([]byte("something else")))
	var me *MismatchError
	if !errors.As(err, &me) {
		t.Fatalf("Put err = %v, want *MismatchError", err)
	}
	if me.Want != want || me.Got != sumOf([]byte("something else")) {
		t.Errorf("MismatchError = %+v", me)
	}
	if !strings.Contains(err.Error(), me.Want) || !strings.Contains(err.Error(), me.Got) {
		t.Errorf("message %q does not name both hashes", err)
	}
	if fs := files(t, c.Dir()); len(fs) != 0 {
		t.Errorf("after a mismatch the cache holds %v, want nothing", fs)
	}
	if _, ok, _ := c.Get(want); ok {
		t.Error("Get found an entry after a mismatched Put")
	}
}

func TestPutFillErrorLeavesNothing(t *testing.T) {
	c := open(t)
	boom := errors.New("connection reset")
	_, err := c.Put(sumOf([]byte("x")), func(w io.Writer) error {
		w.Write([]byte("half"))
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Put err = %v, want it to wrap the fill error", err)
	}
	if fs := files(t, c.Dir()); len(fs) != 0 {
		t.Errorf("after a failed fill the cache holds %v, want nothing", fs)
	}
}

func TestCorruptEntryHeals(t *testing.T) {
	c := open(t)
	data := []byte("good bytes")
	sum := sumOf(data)
	p, err := c.Put(sum, writeBytes(data))
	if err != nil {
		t.Fatal(err)
	}
	// Damage the entry as a disk error or a careless tool would.
	if err := os.Chmod(p, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("bad bytes!"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := c.Get(sum); ok || err != nil {
		t.Fatalf("Get of damaged entry = ok %v, err %v; want a plain miss", ok, err)
	}
	if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("damaged entry still on disk (%v)", err)
	}
	if _, err := c.Put(sum, writeBytes(data)); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := c.Get(sum); !ok || err != nil {
		t.Fatalf("Get after re-Put = %v, %v", ok, err)
	}
}

// A FIFO or a device link planted in a cache (CI restores the folder from
// a store other jobs write) is never read: at a blob's path it is removed
// and a miss, at a record's path it is an error naming it; neither
// blocks.
func TestSpecialFilesInTheCacheAreNotRead(t *testing.T) {
	c := open(t)
	data := []byte("good bytes")
	sum := sumOf(data)
	blob := c.blobPath(sum)
	if err := os.MkdirAll(filepath.Dir(blob), 0o755); err != nil {
		t.Fatal(err)
	}
	testenv.FIFO(t, blob)
	record := testenv.DevZeroLink(t, filepath.Join(c.Dir(), "records", "resolved-x"))
	testenv.NoBlock(t, "reading a special file in the cache", func() {
		if _, ok, err := c.Get(sum); ok || err != nil {
			t.Errorf("Get of a FIFO blob = ok %v, err %v; want a plain miss", ok, err)
		}
		if _, err := os.Lstat(blob); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("the FIFO is still at the blob's path (%v)", err)
		}
		if p, err := c.Put(sum, writeBytes(data)); err != nil || p != blob {
			t.Errorf("Put after the FIFO = %q, %v", p, err)
		}
		_, ok, err := c.ReadRecord("resolved-x")
		if ok || err == nil || !strings.Contains(err.Error(), record+" is a character device, not a regular file") {
			t.Errorf("ReadRecord of a /dev/zero link = ok %v, err %v; want an error naming it", ok, err)
		}
	})
}

func TestBadSumsRefused(t *testing.T) {
	c := open(t)
	good := sumOf([]byte("x"))
	for _, sum := range []string{
		"",
		"abc",
		strings.ToUpper(good),
		good[:63],
		good + "0",
		"../../../../../../etc/passwd" + good[28:],
		strings.Repeat("g", 64),
		"sha256:" + good[7:],
	} {
		if _, _, err := c.Get(sum); err == nil {
			t.Errorf("Get(%q) accepted a bad sum", sum)
		}
		called := false
		if _, err := c.Put(sum, func(io.Writer) error { called = true; return nil }); err == nil || called {
			t.Errorf("Put(%q): err %v, fill called %v; want refused before fill", sum, err, called)
		}
	}
	if fs := files(t, c.Dir()); len(fs) != 0 {
		t.Errorf("cache holds %v after refused sums", fs)
	}
}

func TestConcurrentPutGoroutines(t *testing.T) {
	c := open(t)
	data := bytes.Repeat([]byte("0123456789abcdef"), 64<<10) // 1 MiB
	sum := sumOf(data)
	const n = 8
	// Every fill waits for all the others to be half-way through, so all n
	// writers really do race to rename into the same entry.
	var half sync.WaitGroup
	half.Add(n)
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = c.Put(sum, func(w io.Writer) error {
				if _, err := w.Write(data[:len(data)/2]); err != nil {
					return err
				}
				half.Done()
				half.Wait()
				_, err := w.Write(data[len(data)/2:])
				return err
			})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Put %d: %v", i, err)
		}
	}
	checkOneEntry(t, c, sum, data)
}

func checkOneEntry(t *testing.T, c *Cache, sum string, data []byte) {
	t.Helper()
	want := "sha256/" + sum[:2] + "/" + sum
	if fs := files(t, c.Dir()); len(fs) != 1 || fs[0] != want {
		t.Errorf("cache holds %v, want exactly [%s]", fs, want)
	}
	p, ok, err := c.Get(sum)
	if err != nil || !ok {
		t.Fatalf("Get = %v, %v", ok, err)
	}
	if got, _ := os.ReadFile(p); !bytes.Equal(got, data) {
		t.Error("entry content differs from what was put")
	}
}

// helperEnv makes the test binary act as a second builder process (see
// TestConcurrentPutProcesses) instead of running tests.
const helperEnv = "LAMBDAPACK_CACHE_TEST_HELPER"

// helperData is what every helper process puts: large enough that writing
// it is not instantaneous, and the same in every process.
func helperData() []byte { return bytes.Repeat([]byte("lambdapack cache "), 1<<16) }

func TestMain(m *testing.M) {
	if dir := os.Getenv(helperEnv); dir != "" {
		os.Exit(helperPut(dir))
	}
	os.Exit(m.Run())
}

// helperPut puts helperData into the cache at dir. Half-way through it
// prints "ready" and waits for a line on stdin, so the parent can hold two
// processes mid-write at the same moment.
func helperPut(dir string) int {
	c, err := Open(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	data := helperData()
	_, err = c.Put(sumOf(data), func(w io.Writer) error {
		if _, err := w.Write(data[:len(data)/2]); err != nil {
			return err
		}
		fmt.Println("ready")
		if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
			return err
		}
		_, err := w.Write(data[len(data)/2:])
		return err
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func TestConcurrentPutProcesses(t *testing.T) {
	c := open(t)
	type proc struct {
		cmd    *exec.Cmd
		stdin  io.WriteCloser
		stdout *bufio.Reader
		stderr bytes.Buffer
	}
	var procs []*proc
	for range 2 {
		p := &proc{cmd: exec.Command(os.Args[0])}
		p.cmd.Env = append(os.Environ(), helperEnv+"="+c.Dir())
		p.cmd.Stderr = &p.stderr
		var err error
		if p.stdin, err = p.cmd.StdinPipe(); err != nil {
			t.Fatal(err)
		}
		out, err := p.cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		p.stdout = bufio.NewReader(out)
		if err := p.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		procs = append(procs, p)
	}
	// Both processes are now half-way through writing the same entry.
	for i, p := range procs {
		if line, err := p.stdout.ReadString('\n'); line != "ready\n" {
			t.Fatalf("process %d: got %q, %v; stderr: %s", i, line, err, p.stderr.String())
		}
	}
	for _, p := range procs {
		fmt.Fprintln(p.stdin, "go")
		p.stdin.Close()
	}
	for i, p := range procs {
		if err := p.cmd.Wait(); err != nil {
			t.Errorf("process %d: %v; stderr: %s", i, err, p.stderr.String())
		}
	}
	data := helperData()
	checkOneEntry(t, c, sumOf(data), data)
}

func TestRecords(t *testing.T) {
	c := open(t)
	if _, ok, err := c.ReadRecord("resolve-abc.json"); ok || err != nil {
		t.Fatalf("ReadRecord of missing record = %v, %v; want a plain miss", ok, err)
	}
	for _, data := range []string{`{"v":1}`, `{"v":2, "longer": true}`, ""} {
		if err := c.WriteRecord("resolve-abc.json", []byte(data)); err != nil {
			t.Fatal(err)
		}
		got, ok, err := c.ReadRecord("resolve-abc.json")
		if err != nil || !ok || string(got) != data {
			t.Fatalf("ReadRecord = %q, %v, %v; want %q", got, ok, err, data)
		}
	}
	if fs := files(t, c.Dir()); len(fs) != 1 || fs[0] != "records/resolve-abc.json" {
		t.Errorf("cache holds %v, want only the record (no temporary files)", fs)
	}
}

func TestBadRecordNames(t *testing.T) {
	c := open(t)
	for _, name := range []string{"", ".", "..", "../x", "a/b", `a\b`, ".tmp-x", "a\x00b", "a b", strings.Repeat("x", 201)} {
		if err := c.WriteRecord(name, []byte("x")); err == nil {
			t.Errorf("WriteRecord(%q) accepted a bad name", name)
		}
		if _, _, err := c.ReadRecord(name); err == nil {
			t.Errorf("ReadRecord(%q) accepted a bad name", name)
		}
	}
	if fs := files(t, c.Dir()); len(fs) != 0 {
		t.Errorf("cache holds %v after refused names", fs)
	}
}

func TestOpenErrors(t *testing.T) {
	if _, err := Open(""); err == nil {
		t.Error("Open(\"\") succeeded")
	}
	file := filepath.Join(t.TempDir(), "not-a-folder")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(file); err == nil || !strings.Contains(err.Error(), file) {
		t.Errorf("Open(a file) err = %v, want one naming %s", err, file)
	}
}

// Open sweeps away the temporary files a killed build left behind, and
// leaves entries, records and a live build's fresh temporary files alone.
func TestOpenSweepsStaleTemporaryFiles(t *testing.T) {
	dir := t.TempDir()
	c, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("wheel bytes")
	sum := sumOf(data)
	blob, err := c.Put(sum, writeBytes(data))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.WriteRecord("layer-x.json", []byte("{}")); err != nil {
		t.Fatal(err)
	}
	shard := filepath.Dir(blob)
	old := time.Now().Add(-2 * time.Hour)
	stale := []string{
		filepath.Join(shard, "."+sum+".123.tmp"),
		filepath.Join(dir, ".hash-456"),
		filepath.Join(dir, "records", ".layer-x.json.789.tmp"),
	}
	fresh := filepath.Join(shard, "."+sum+".999.tmp")
	// --cache may name a folder holding other files: never touch those.
	foreign := []string{filepath.Join(dir, ".gitignore"), filepath.Join(dir, ".x.tmp"), filepath.Join(dir, "notes.txt")}
	for _, p := range append(append(stale, fresh), foreign...) {
		if err := os.WriteFile(p, []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range append(stale, foreign...) {
		os.Chtimes(p, old, old)
	}
	os.Chtimes(blob, old, old) // an old entry is still an entry

	if _, err := Open(dir); err != nil {
		t.Fatal(err)
	}
	for _, p := range stale {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("stale %s survived Open", p)
		}
	}
	for _, p := range append([]string{fresh, blob, filepath.Join(dir, "records", "layer-x.json")}, foreign...) {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("Open removed %s: %v", p, err)
		}
	}
}
