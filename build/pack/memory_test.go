package pack

import (
	"archive/zip"
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// bigFile is one entry of a generated wheel: size bytes of a fixed
// pseudo-random pattern, about as compressible as native code.
type bigFile struct {
	name   string
	size   int64
	stored bool
}

// writeBigWheel writes a wheel of dist to dir, streaming so that generating
// it does not itself hold the content in memory, and returns its file name.
func writeBigWheel(tb testing.TB, dir, dist string, files []bigFile) string {
	tb.Helper()
	name := dist + "-1.0-cp312-cp312-manylinux2014_x86_64.whl"
	f, err := os.Create(filepath.Join(dir, name))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	bw := bufio.NewWriterSize(f, 1<<20)
	zw := zip.NewWriter(bw)
	rng := rand.New(rand.NewPCG(1, uint64(len(dist))))
	pattern := make([]byte, 1<<20)
	for i := range pattern {
		pattern[i] = byte(rng.IntN(64)) + ' '
	}
	write := func(name string, size int64, method uint16) {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: method})
		if err != nil {
			tb.Fatal(err)
		}
		for left := size; left > 0; {
			n := min(left, int64(len(pattern)))
			if _, err := w.Write(pattern[:n]); err != nil {
				tb.Fatal(err)
			}
			left -= n
		}
	}
	for _, bf := range files {
		method := zip.Deflate
		if bf.stored {
			method = zip.Store
		}
		write(bf.name, bf.size, method)
	}
	for _, di := range distInfo(dist, "1.0") {
		w, err := zw.Create(di.name)
		if err != nil {
			tb.Fatal(err)
		}
		io.WriteString(w, di.body)
	}
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	if err := bw.Flush(); err != nil {
		tb.Fatal(err)
	}
	if err := f.Close(); err != nil {
		tb.Fatal(err)
	}
	return name
}

// openBigArchive plans an archive of the wheels in dir, kept open until the
// test ends.
func openBigArchive(tb testing.TB, dir string, wheels []string) *Archive {
	tb.Helper()
	a := New()
	for _, w := range wheels {
		rc, err := zip.OpenReader(filepath.Join(dir, w))
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { rc.Close() })
		if err := a.AddWheel(w, &rc.Reader, "python/"); err != nil {
			tb.Fatal(err)
		}
	}
	return a
}

// heapSampler passes writes through and samples the heap every few
// megabytes, to find the peak while an archive is written.
type heapSampler struct {
	w            io.Writer
	every, since int
	peak         uint64
	ms           runtime.MemStats
}

func (h *heapSampler) Write(p []byte) (int, error) {
	h.since += len(p)
	if h.since >= h.every {
		h.since = 0
		h.sample()
	}
	return h.w.Write(p)
}

func (h *heapSampler) sample() {
	runtime.ReadMemStats(&h.ms)
	h.peak = max(h.peak, h.ms.HeapAlloc)
}

// heapGrowth writes a to w and returns the peak heap growth over the heap
// before the write (live and not yet collected), and the bytes allocated.
func heapGrowth(tb testing.TB, a *Archive, w io.Writer) (peak, allocated uint64) {
	tb.Helper()
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	hs := &heapSampler{w: w, every: 2 << 20}
	if _, err := a.WriteTo(hs); err != nil {
		tb.Fatal(err)
	}
	hs.sample()
	if hs.peak > before.HeapAlloc {
		peak = hs.peak - before.HeapAlloc
	}
	return peak, hs.ms.TotalAlloc - before.TotalAlloc
}

// TestWriteToMemory writes 200 MB of entries, one of them 96 MB, and checks
// that the heap stays small: entries stream, none is buffered whole.
func TestWriteToMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 400 MB of temporary files")
	}
	dir := t.TempDir()
	var small []bigFile
	for i := range 104 {
		small = append(small, bigFile{name: fmt.Sprintf("many/mod%03d.so", i), size: 1 << 20, stored: true})
	}
	wheels := []string{
		writeBigWheel(t, dir, "huge", []bigFile{{name: "huge/libhuge.so", size: 96 << 20, stored: true}}),
		writeBigWheel(t, dir, "many", small),
	}
	a := openBigArchive(t, dir, wheels)
	if a.UnzippedSize() < 200<<20 {
		t.Fatalf("fixture holds %d bytes, want 200 MB", a.UnzippedSize())
	}
	out, err := os.Create(filepath.Join(dir, "layer.zip"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	peak, allocated := heapGrowth(t, a, out)
	t.Logf("wrote %d MB: peak heap growth %.1f MB, allocated %.1f MB", a.UnzippedSize()>>20, float64(peak)/(1<<20), float64(allocated)/(1<<20))
	if peak >= 32<<20 {
		t.Errorf("peak heap growth %.1f MB writing %d MB, want < 32 MB", float64(peak)/(1<<20), a.UnzippedSize()>>20)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	rc, err := zip.OpenReader(out.Name())
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if len(rc.File) != a.Files() {
		t.Errorf("archive has %d files, planned %d", len(rc.File), a.Files())
	}
}

// BenchmarkWriteTo writes generated wheel sets: about 50 MB, and a layer at
// Lambda's 250 MB limit. MB/s counts archive bytes; peak-heap-MB is the heap
// growth while writing, and rss-hwm-MB the process's peak resident set
// (Linux only; it includes generating the fixture).
func BenchmarkWriteTo(b *testing.B) {
	for _, mb := range []int{50, 250} {
		b.Run(fmt.Sprintf("%dMB", mb), func(b *testing.B) {
			dir := b.TempDir()
			var wheels []string
			// Per wheel: many small deflated Python files and a few large
			// native libraries, half of them stored, as real wheels have.
			for i := range mb / 10 {
				var files []bigFile
				for j := range 40 {
					files = append(files, bigFile{name: fmt.Sprintf("pkg%d/mod%02d.py", i, j), size: 25 << 10})
				}
				for j := range 3 {
					files = append(files, bigFile{name: fmt.Sprintf("pkg%d.libs/lib%d.so", i, j), size: 3 << 20, stored: j%2 == 0})
				}
				wheels = append(wheels, writeBigWheel(b, dir, fmt.Sprintf("pkg%d", i), files))
			}
			a := openBigArchive(b, dir, wheels)
			// Heap growth is measured on one untimed write: sampling stops
			// the world, and the baseline needs a collection.
			var cw countWriter
			cw.w = io.Discard
			peak, _ := heapGrowth(b, a, &cw)
			b.SetBytes(cw.n)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := a.WriteTo(io.Discard); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
			b.ReportMetric(float64(a.UnzippedSize())/(1<<20), "unzipped-MB")
			if hwm, ok := rssHighWater(); ok {
				b.ReportMetric(hwm, "rss-hwm-MB")
			}
		})
	}
}

// rssHighWater returns the process's peak resident set in MB, from
// /proc/self/status on Linux.
func rssHighWater() (float64, bool) {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, false
	}
	for line := range bytes.Lines(status) {
		if rest, ok := strings.CutPrefix(string(line), "VmHWM:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return kb / 1024, err == nil
		}
	}
	return 0, false
}
