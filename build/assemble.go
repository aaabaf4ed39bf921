package build

import (
	"archive/zip"
	"bufio"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/galerly/galerly-lambda/build/internal/atomicfile"
	"github.com/galerly/galerly-lambda/build/pack"
)

// largestListed is how many packages a size-limit error names: enough to
// see what to drop, short enough to read.
const largestListed = 5

// assemble plans the zip from the placed wheels, checks the size limit
// before writing a byte, and writes the zip to out atomically.
func assemble(ctx context.Context, placed []placement, out string, max int64, log func(string, ...any)) (*Result, error) {
	slices.SortFunc(placed, func(a, b placement) int {
		return cmp.Or(cmp.Compare(a.Path, b.Path), cmp.Compare(a.Name, b.Name), cmp.Compare(a.Wheel, b.Wheel))
	})
	a := pack.New()
	for _, p := range placed {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		zr, err := zip.OpenReader(p.file)
		if err != nil {
			return nil, fmt.Errorf("wheel %s (%s %s): not a readable zip: %w", p.Wheel, p.Name, p.Version, err)
		}
		defer zr.Close()
		if err := a.AddWheel(p.Wheel, &zr.Reader, p.Path); err != nil {
			return nil, fmt.Errorf("%s %s: %w", p.Name, p.Version, err)
		}
	}
	for _, n := range a.Notes() {
		log("note: %s", n)
	}
	if size := a.UnzippedSize(); size > max {
		return nil, fmt.Errorf("unzipped size %s is over the limit of %s%s; largest: %s",
			bytesText(size), bytesText(max), limitWhy(max), largest(packageSizes(a.Sizes(), placed, "")))
	}
	sum, n, err := writeAtomic(ctx, out, a)
	if err != nil {
		return nil, err
	}
	res := &Result{
		SHA256:        sum,
		ZipBytes:      n,
		UnzippedBytes: a.UnzippedSize(),
		Files:         a.Files(),
	}
	for _, p := range placed {
		res.Packages = append(res.Packages, Package{Name: p.Name, Version: p.Version, Wheel: p.Wheel, SHA256: p.SHA256, Path: p.Path})
	}
	return res, nil
}

// writeAtomic writes the archive to out atomically, so no reader ever sees
// a partial zip and a failed build leaves none behind. It returns the
// zip's sha256 and size.
func writeAtomic(ctx context.Context, out string, a *pack.Archive) (string, int64, error) {
	h := sha256.New()
	var n int64
	err := atomicfile.Write(out, 0o644, func(w io.Writer) error {
		bw := bufio.NewWriterSize(ctxWriter{ctx, io.MultiWriter(w, h)}, 1<<20)
		var err error
		if n, err = a.WriteTo(bw); err != nil {
			return err
		}
		return bw.Flush()
	})
	if err != nil {
		return "", 0, fmt.Errorf("output %s: %w", out, err)
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// ctxWriter fails writes once ctx is done, so an interrupted build stops
// writing a large zip at the next buffer flush instead of finishing it.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}

// limitWhy explains where the limit comes from when it is Lambda's own.
func limitWhy(max int64) string {
	if max == MaxUnzipped {
		return " (Lambda allows 250 MB unzipped for a function and all its layers)"
	}
	return " (--max-unzipped)"
}

// sized is one part of an artifact (a package, a source file) and its
// unzipped size, for naming the largest parts when a limit is passed.
type sized struct {
	name string
	n    int64
}

// packageSizes labels each wheel's unzipped size with its package name and
// version; prefix goes before each label ("package " where files are
// listed too). The pack.FilesSource entry (a function's own files) is left
// to the caller, which lists those files one by one.
func packageSizes(sizes map[string]int64, placed []placement, prefix string) []sized {
	label := map[string]string{}
	for _, p := range placed {
		label[p.Wheel] = p.Name + " " + p.Version
	}
	var all []sized
	for w, n := range sizes {
		if w != pack.FilesSource {
			all = append(all, sized{prefix + cmp.Or(label[w], w), n})
		}
	}
	return all
}

// largest names the parts that weigh most, with their sizes, biggest first.
func largest(all []sized) string {
	slices.SortFunc(all, func(a, b sized) int { return cmp.Or(cmp.Compare(b.n, a.n), cmp.Compare(a.name, b.name)) })
	var parts []string
	for i, s := range all {
		if i == largestListed {
			break
		}
		parts = append(parts, s.name+" "+bytesText(s.n))
	}
	return strings.Join(parts, ", ")
}

// bytesText formats a size in bytes with its MB value, as limits are
// quoted both ways.
func bytesText(n int64) string {
	return fmt.Sprintf("%d bytes (%.1f MB)", n, float64(n)/1e6)
}
