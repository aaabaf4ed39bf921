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
	"github.com/galerly/galerly-lambda/build/internal/clip"
	"github.com/galerly/galerly-lambda/build/pack"
)

// largestListed is how many packages a size-limit error names: enough to
// see what to drop, short enough to read.
const largestListed = 5

// assemble plans the zip from the placed wheels and the bundles of their
// bytecode, checks the size limit before writing a byte, and writes the
// zip to out atomically.
func assemble(ctx context.Context, placed []placement, bundles []bundleFile, out string, max int64, log func(string, ...any)) (*Result, error) {
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
	closeBundles, err := addBundles(a, bundles)
	defer closeBundles()
	if err != nil {
		return nil, err
	}
	for _, n := range a.Notes() {
		log("note: %s", n)
	}
	labels := sourceLabels(placed, bundles)
	if size := a.UnzippedSize(); size > max {
		return nil, fmt.Errorf("unzipped size %s is over the limit of %s%s; largest: %s",
			bytesText(size), bytesText(max), limitWhy(max), largest(packageSizes(a.Sizes(), labels, "")))
	}
	sum, n, err := writeAtomic(ctx, out, a)
	if err != nil {
		return nil, err
	}
	res := &Result{
		SHA256:        sum,
		ZipBytes:      n,
		UnzippedBytes: a.UnzippedSize(),
		BytecodeBytes: bytecodeBytes(a.Sizes(), bundles),
		Files:         a.Files(),
	}
	for _, p := range placed {
		res.Packages = append(res.Packages, Package{Name: p.Name, Version: p.Version, Wheel: p.Wheel, SHA256: p.SHA256, Path: p.Path})
	}
	return res, nil
}

// addBundles plans the bundles' files; the returned func closes them once
// the zip is written.
func addBundles(a *pack.Archive, bundles []bundleFile) (func(), error) {
	var opened []*zip.ReadCloser
	closeAll := func() {
		for _, zr := range opened {
			zr.Close()
		}
	}
	for _, b := range bundles {
		zr, err := zip.OpenReader(b.file)
		if err != nil {
			return closeAll, fmt.Errorf("bytecode of %s: %w", b.label, err)
		}
		opened = append(opened, zr)
		if err := a.AddBundle(b.name, &zr.Reader, b.prefix); err != nil {
			return closeAll, fmt.Errorf("bytecode of %s: %w", b.label, err)
		}
	}
	return closeAll, nil
}

// bytecodeBytes sums the unzipped sizes of the bundles' files.
func bytecodeBytes(sizes map[string]int64, bundles []bundleFile) int64 {
	var n int64
	for _, b := range bundles {
		n += sizes[b.name]
	}
	return n
}

// sourceLabels names the package each source of the archive (a wheel, or
// a bundle of bytecode compiled from one) belongs to, for size messages.
func sourceLabels(placed []placement, bundles []bundleFile) map[string]string {
	label := map[string]string{}
	for _, p := range placed {
		label[p.Wheel] = p.Name + " " + p.Version
	}
	for _, b := range bundles {
		label[b.name] = b.label
	}
	return label
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
		// A file system error names the temporary file beside out whole.
		return "", 0, fmt.Errorf("output %s: %w", clip.String(out), clip.Error(err))
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

// packageSizes sums the unzipped sizes of the archive's sources by the
// package they belong to (labels: a wheel and its bytecode count as one);
// prefix goes before each label ("package " where files are listed too).
// The pack.FilesSource entry (a function's own files) is left to the
// caller, which lists those files one by one.
func packageSizes(sizes map[string]int64, labels map[string]string, prefix string) []sized {
	byLabel := map[string]int64{}
	for src, n := range sizes {
		l, ok := labels[src]
		switch {
		case src == pack.FilesSource || ok && l == "":
			continue // listed by the caller, file by file
		case !ok:
			l = src
		}
		byLabel[l] += n
	}
	var all []sized
	for l, n := range byLabel {
		all = append(all, sized{prefix + l, n})
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
