package build

import (
	"archive/zip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/galerly/galerly-lambda/build/cache"
	"github.com/galerly/galerly-lambda/build/internal/clip"
	"github.com/galerly/galerly-lambda/build/pack"
	"github.com/galerly/galerly-lambda/build/sbom"
)

// An inventory is what the SBOM records of a wheel besides its identity:
// its METADATA, its license files and the shared libraries it vendors,
// each with its sha256. Hashing a library means inflating it (entries are
// copied into the artifact still compressed, so nothing else does), which
// for numpy's OpenBLAS is tens of MB; a wheel's sha256 fixes all of it, so
// an inventory is kept in the cache as a sealed record and a warm build
// inflates nothing.
type inventory struct {
	Format   string `json:"format"`
	Metadata string `json:"metadata"` // the METADATA file
	// LicenseFiles are the license files, Libraries the vendored shared
	// libraries, EmbeddedSBOMs the SBOMs of .dist-info/sboms/ (PEP 770).
	LicenseFiles  []sbom.LicenseFile `json:"licenseFiles"`
	Libraries     []sbom.Library     `json:"libraries"`
	EmbeddedSBOMs []string           `json:"embeddedSboms"`
}

// inventoryFormat is the version of the inventory the records hold; a
// record of another version is taken again from the wheel.
const inventoryFormat = "lambdapack wheel inventory v1"

// inventoryRecord names the sealed record of the inventory of the wheel
// with sha256 sum.
func inventoryRecord(sum string) string { return "inventory-" + sum }

// Bounds on what an inventory keeps: the text of at most maxLicenseFiles
// license files of at most maxLicenseText bytes each (numpy's, with every
// bundled license appended, is under 100 kB). Larger files are named with
// no text.
const (
	maxLicenseFiles = 64
	maxLicenseText  = 1 << 20
)

// takeInventories returns the inventory of each distinct wheel of placed,
// by sha256, from the cache's sealed records when it has them.
func takeInventories(ctx context.Context, c *cache.Cache, placed []placement, log func(string, ...any)) (map[string]*inventory, error) {
	out := map[string]*inventory{}
	var mu sync.Mutex
	var noted sync.Once
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(1, runtime.NumCPU()))
	seen := map[string]bool{}
	for _, p := range placed {
		if seen[p.SHA256] {
			continue
		}
		seen[p.SHA256] = true
		g.Go(func() error {
			inv, err := cachedInventory(gctx, c, p, log, func(err error) {
				noted.Do(func() { log("note: %v; wheel inventories are taken on every build", err) })
			})
			if err != nil {
				return err
			}
			mu.Lock()
			out[p.SHA256] = inv
			mu.Unlock()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return out, nil
}

// cachedInventory returns the inventory of p's wheel from its sealed
// record, or takes it and records it.
func cachedInventory(ctx context.Context, c *cache.Cache, p placement, log func(string, ...any), noSeal func(error)) (*inventory, error) {
	if c != nil {
		data, ok, err := c.ReadSealed(inventoryRecord(p.SHA256))
		var inv inventory
		switch {
		case ok && json.Unmarshal(data, &inv) == nil && inv.Format == inventoryFormat:
			return &inv, nil
		case errors.Is(err, cache.ErrSeal):
			log("note: %v; taking the inventory of %s again", err, p.Wheel)
		case err != nil:
			noSeal(err)
		}
	}
	inv, err := takeInventory(ctx, p)
	if err != nil {
		return nil, err
	}
	if c != nil {
		if data, err := json.Marshal(inv); err == nil {
			if err := c.WriteSealed(inventoryRecord(p.SHA256), data); err != nil {
				noSeal(err)
			}
		}
	}
	return inv, nil
}

// takeInventory reads p's wheel: METADATA, license files and vendored
// libraries, the libraries hashed as they inflate (nothing is held but
// the license texts).
func takeInventory(ctx context.Context, p placement) (*inventory, error) {
	zr, err := zip.OpenReader(p.file)
	if err != nil {
		return nil, fmt.Errorf("wheel %s (%s %s): not a readable zip: %w", p.Wheel, p.Name, p.Version, err)
	}
	defer zr.Close()
	distInfo := ""
	for _, f := range zr.File {
		if top, _, ok := strings.Cut(f.Name, "/"); ok && strings.HasSuffix(top, ".dist-info") {
			distInfo = top
			break
		}
	}
	if distInfo == "" {
		return nil, fmt.Errorf("wheel %s: no .dist-info folder", p.Wheel)
	}
	inv := &inventory{Format: inventoryFormat, LicenseFiles: []sbom.LicenseFile{}, Libraries: []sbom.Library{}, EmbeddedSBOMs: []string{}}
	var metadata *zip.File
	for _, f := range zr.File {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if f.FileInfo().IsDir() {
			continue
		}
		switch {
		case f.Name == distInfo+"/METADATA":
			metadata = f
		case licenseFile(distInfo, f.Name):
			if len(inv.LicenseFiles) == maxLicenseFiles {
				continue
			}
			lf := sbom.LicenseFile{Path: f.Name}
			if f.UncompressedSize64 <= maxLicenseText {
				if lf.Text, err = readEntry(f, maxLicenseText); err != nil {
					return nil, fmt.Errorf("wheel %s: %w", p.Wheel, err)
				}
			}
			inv.LicenseFiles = append(inv.LicenseFiles, lf)
		case strings.HasPrefix(f.Name, distInfo+"/sboms/"):
			inv.EmbeddedSBOMs = append(inv.EmbeddedSBOMs, f.Name)
		default:
			installed, err := pack.WheelEntryPath(f)
			if err != nil || installed == "" || !SharedLibrary(installed) {
				continue
			}
			sum, n, err := hashEntry(f)
			if err != nil {
				return nil, fmt.Errorf("wheel %s: %w", p.Wheel, err)
			}
			inv.Libraries = append(inv.Libraries, sbom.Library{Path: installed, SHA256: sum, Size: n})
		}
	}
	if metadata == nil {
		return nil, fmt.Errorf("wheel %s: no %s/METADATA", p.Wheel, distInfo)
	}
	data, err := readEntry(metadata, 16<<20)
	if err != nil {
		return nil, fmt.Errorf("wheel %s: %w", p.Wheel, err)
	}
	inv.Metadata = string(data)
	slices.SortFunc(inv.Libraries, func(a, b sbom.Library) int { return strings.Compare(a.Path, b.Path) })
	slices.SortFunc(inv.LicenseFiles, func(a, b sbom.LicenseFile) int { return strings.Compare(a.Path, b.Path) })
	slices.Sort(inv.EmbeddedSBOMs)
	return inv, nil
}

// licenseFile reports whether the wheel entry name is a license file:
// anything under .dist-info/licenses/ (PEP 639), or a file directly in
// .dist-info whose name starts with LICENSE, LICENCE, COPYING, NOTICE or
// AUTHORS (where setuptools put License-Files before PEP 639).
func licenseFile(distInfo, name string) bool {
	rest, ok := strings.CutPrefix(name, distInfo+"/")
	if !ok {
		return false
	}
	if strings.HasPrefix(rest, "licenses/") {
		return true
	}
	if strings.Contains(rest, "/") {
		return false
	}
	up := strings.ToUpper(rest)
	for _, p := range []string{"LICENSE", "LICENCE", "COPYING", "NOTICE", "AUTHORS"} {
		if strings.HasPrefix(up, p) {
			return true
		}
	}
	return false
}

// sharedLibraryName matches the file names of shared libraries that are
// not Python extension modules: lib*.so, lib*.so.1.2, and anything with a
// numbered .so suffix (libraw_r.so.23, libde265.so.0.1.8).
var sharedLibraryName = regexp.MustCompile(`^(?:lib[^/]*\.so(?:\.\d+)*|[^/]+\.so\.\d+(?:\.\d+)*)$`)

// SharedLibrary reports whether a wheel installs a vendored shared
// library at path (relative to its install folder): every file of a
// top-level NAME.libs/ folder (where auditwheel puts the libraries it
// grafts), and elsewhere a lib*.so or versioned .so file. Extension
// modules (NAME.cpython-312-x86_64-linux-gnu.so, NAME.abi3.so) are the
// package's own code, not vendored libraries.
func SharedLibrary(p string) bool {
	if top, _, ok := strings.Cut(p, "/"); ok && strings.HasSuffix(top, ".libs") {
		return true
	}
	base := path.Base(p)
	if strings.Contains(base, ".cpython-") || strings.Contains(base, ".abi3.") || strings.Contains(base, ".pypy") {
		return false
	}
	return sharedLibraryName.MatchString(base)
}

// readEntry inflates a small entry, refusing one over max bytes.
func readEntry(f *zip.File, max int64) ([]byte, error) {
	rc, err := f.Open()
	if err != nil {
		return nil, fmt.Errorf("entry %s: %w", clip.Quote(f.Name), err)
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, max+1))
	if err != nil {
		return nil, fmt.Errorf("entry %s: %w", clip.Quote(f.Name), err)
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("entry %s is over %d bytes", clip.Quote(f.Name), max)
	}
	return data, nil
}

// hashEntry inflates an entry into sha256 (zip checks its CRC-32 at the
// end) and returns the sum and size.
func hashEntry(f *zip.File) (string, int64, error) {
	rc, err := f.Open()
	if err != nil {
		return "", 0, fmt.Errorf("entry %s: %w", clip.Quote(f.Name), err)
	}
	defer rc.Close()
	h := sha256.New()
	n, err := io.Copy(h, rc)
	if err != nil {
		return "", 0, fmt.Errorf("entry %s: %w", clip.Quote(f.Name), err)
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}
