package build

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/galerly/galerly-lambda/build/cache"
	"github.com/galerly/galerly-lambda/build/internal/wheeltest"
	"github.com/galerly/galerly-lambda/build/target"
)

// seedLike writes wheels shaped like the seed's layer (numpy, pillow,
// pillow-heif, rawpy for one runtime): their vendored libraries at about
// their real sizes (numpy.libs about 35 MB with OpenBLAS and libgfortran,
// pillow.libs 12 MB, pillow_heif.libs 20 MB with x265, rawpy.libs 4 MB),
// extension modules and Python files beside them, content that deflates
// about 2:1 as machine code does. It returns their placements.
func seedLike(b *testing.B) []placement {
	b.Helper()
	dir := b.TempDir()
	rng := rand.New(rand.NewPCG(1, 2))
	blob := func(n int) []byte {
		out := make([]byte, n)
		for i := 0; i < n; i += 64 {
			if rng.IntN(2) == 0 { // half random, half runs: about 2:1
				for j := i; j < min(i+64, n); j++ {
					out[j] = byte(rng.Uint32())
				}
			}
		}
		return out
	}
	type spec struct {
		name string
		libs map[string]int
		ext  int
		py   int
	}
	specs := []spec{
		{"numpy", map[string]int{"libscipy_openblas64_-ff651d7f.so": 32 << 20, "libgfortran-040039e1.so.5.0.0": 2800 << 10, "libquadmath-96973f99.so.0.0.0": 250 << 10}, 12 << 20, 600},
		{"pillow", map[string]int{"libjpeg-77ae51ab.so.62.4.0": 600 << 10, "libtiff-a92b430c.so.6.0.2": 700 << 10, "libwebp-2fd3cdca.so.7.1.9": 700 << 10,
			"libfreetype-be14bf51.so.6.20.1": 1400 << 10, "libharfbuzz-89381d8f.so.0.60850.0": 3 << 20, "libopenjp2-05423b53.so": 500 << 10, "liblcms2-e69eef39.so.2.0.16": 500 << 10,
			"libpng16-58efbb84.so.16.43.0": 300 << 10, "libxcb-0b763ed5.so.1.1.0": 250 << 10, "libz-4184bc84.so.1.3.1": 100 << 10, "libavif-01e67780.so.16.0.4": 4 << 20}, 4 << 20, 90},
		{"pillow_heif", map[string]int{"libheif-c1ae9b8a.so.1.19.5": 1300 << 10, "libde265-1f2e3d4c.so.0.1.8": 1 << 20, "libx265-5a6b7c8d.so.199": 17 << 20, "libaom-9e8f7a6b.so.3.11.0": 3 << 20}, 300 << 10, 30},
		{"rawpy", map[string]int{"libraw_r-2b3c4d5e.so.23.0.0": 3 << 20, "libjpeg-77ae51ab.so.62.4.0": 600 << 10, "liblcms2-e69eef39.so.2.0.16": 500 << 10}, 1 << 20, 10},
	}
	var placed []placement
	for _, s := range specs {
		var entries []wheeltest.Entry
		for lib, n := range s.libs {
			entries = append(entries, wheeltest.Entry{Name: s.name + ".libs/" + lib, Data: blob(n), Mode: 0o755})
		}
		entries = append(entries, wheeltest.Entry{Name: s.name + "/_core.cpython-312-x86_64-linux-gnu.so", Data: blob(s.ext), Mode: 0o755})
		for i := range s.py {
			entries = append(entries, wheeltest.Entry{Name: fmt.Sprintf("%s/mod%03d.py", s.name, i), Data: blob(4 << 10)})
		}
		entries = append(entries,
			wheeltest.Entry{Name: s.name + "-1.0.dist-info/METADATA", Data: []byte("Metadata-Version: 2.4\nName: " + s.name + "\nVersion: 1.0\nLicense-Expression: BSD-3-Clause\n")},
			wheeltest.Entry{Name: s.name + "-1.0.dist-info/licenses/LICENSE.txt", Data: blob(40 << 10)},
		)
		filename := s.name + "-1.0-cp312-cp312-manylinux2014_x86_64.whl"
		path, sum, err := wheeltest.Write(dir, filename, entries)
		if err != nil {
			b.Fatal(err)
		}
		placed = append(placed, placement{Name: s.name, Version: "1.0", Wheel: filename, SHA256: sum, Path: "python/", file: path})
	}
	return placed
}

// BenchmarkSBOM measures what the SBOM adds to a build of a seed-sized
// layer: checking every wheel and taking its inventory from a cold cache
// (one pass over each archive, inflating every entry and hashing each
// vendored library), from a warm one (the sealed records), and describing
// and encoding the document.
func BenchmarkSBOM(b *testing.B) {
	placed := seedLike(b)
	var libBytes int64
	ctx := context.Background()
	log := func(string, ...any) {}
	b.Run("cold", func(b *testing.B) {
		for b.Loop() {
			c, err := cache.OpenWith(b.TempDir(), cache.Options{SealKeyFile: filepath.Join(b.TempDir(), "seal.key")})
			if err != nil {
				b.Fatal(err)
			}
			if err := checkWheels(ctx, c, placed, log); err != nil {
				b.Fatal(err)
			}
			libBytes = 0
			for _, p := range placed {
				for _, l := range p.inv.Libraries {
					libBytes += l.Size
				}
			}
		}
		b.ReportMetric(float64(libBytes)/1e6, "MB-libs-hashed")
	})
	c, err := cache.OpenWith(b.TempDir(), cache.Options{SealKeyFile: filepath.Join(b.TempDir(), "seal.key")})
	if err != nil {
		b.Fatal(err)
	}
	if err := checkWheels(ctx, c, placed, log); err != nil {
		b.Fatal(err)
	}
	b.Run("warm", func(b *testing.B) {
		for b.Loop() {
			if err := checkWheels(ctx, c, placed, log); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("describe+encode", func(b *testing.B) {
		var size int
		for b.Loop() {
			d, err := describe(placed)
			if err != nil {
				b.Fatal(err)
			}
			res := &Result{Key: "k", SHA256: "s"}
			out := filepath.Join(b.TempDir(), "x.zip")
			os.WriteFile(out, nil, 0o644)
			if err := finishSBOM(res, SBOMOptions{ToolVersion: "v0"}, "layer", out, placedTarget(b), d, nil); err != nil {
				b.Fatal(err)
			}
			size = len(res.SBOMDocument())
		}
		b.ReportMetric(float64(size), "sbom-bytes")
	})
}

func placedTarget(b *testing.B) target.Target {
	t, err := target.New([]string{"python3.12"}, "x86_64")
	if err != nil {
		b.Fatal(err)
	}
	return t
}
