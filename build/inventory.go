package build

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/galerly/galerly-lambda/build/cache"
	"github.com/galerly/galerly-lambda/build/internal/clip"
	"github.com/galerly/galerly-lambda/build/license"
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

// recordedInventory returns the inventory of p's wheel from its sealed
// record, or nil when there is none to believe.
func recordedInventory(c *cache.Cache, p placement, log func(string, ...any), noSeal func(error)) *inventory {
	data, ok, err := c.ReadSealed(inventoryRecord(p.SHA256))
	var inv inventory
	switch {
	case ok && json.Unmarshal(data, &inv) == nil && inv.Format == inventoryFormat:
		return &inv
	case errors.Is(err, cache.ErrSeal):
		log("note: %v; taking the inventory of %s again", err, p.Wheel)
	case err != nil:
		noSeal(err)
	}
	return nil
}

// recordInventory keeps inv, the inventory of p's wheel, as a sealed
// record.
func recordInventory(c *cache.Cache, p placement, inv *inventory, noSeal func(error)) {
	data, err := json.Marshal(inv)
	if err == nil {
		err = c.WriteSealed(inventoryRecord(p.SHA256), data)
	}
	if err != nil {
		noSeal(err)
	}
}

// An inventoryPlan is a wheel's inventory before its archive is read:
// what its central directory shows, and the entries whose bytes it needs,
// each with a feed. One pass over the archive fills the feeds: the wheel
// check's (wheel.CheckArchive's tee) when the wheel is checked, its own
// (readAll) when the check is already recorded.
type inventoryPlan struct {
	p        placement
	inv      *inventory
	metadata *entryFeed
	texts    []*entryFeed // by inv.LicenseFiles; nil for a file kept without its text
	libs     []*entryFeed // by inv.Libraries
	feeds    []*entryFeed // all of them, in the archive's order
	byName   map[string]*entryFeed
}

// entryFeed takes one entry's bytes as they inflate: its text when text
// is set, else its sha256.
type entryFeed struct {
	f    *zip.File
	n    int64
	text *bytes.Buffer
	hash hash.Hash
}

func (e *entryFeed) Write(b []byte) (int, error) {
	e.n += int64(len(b))
	if e.text != nil {
		return e.text.Write(b)
	}
	return e.hash.Write(b)
}

// planInventory reads the central directory of p's wheel, the size bytes
// of r: which entries are METADATA, license files and vendored libraries.
func planInventory(r io.ReaderAt, size int64, p placement) (*inventoryPlan, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return nil, fmt.Errorf("wheel %s (%s %s): not a readable zip: %w", p.Wheel, p.Name, p.Version, err)
	}
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
	pl := &inventoryPlan{
		p:      p,
		inv:    &inventory{Format: inventoryFormat, LicenseFiles: []sbom.LicenseFile{}, Libraries: []sbom.Library{}, EmbeddedSBOMs: []string{}},
		byName: map[string]*entryFeed{},
	}
	// A name the inventory reads may not stand twice: the check's tee
	// goes by name. (The zip would be refused for it anyway.)
	feed := func(f *zip.File, text bool) (*entryFeed, error) {
		if _, dup := pl.byName[f.Name]; dup {
			return nil, fmt.Errorf("wheel %s: entry %s is in it twice", p.Wheel, clip.Quote(f.Name))
		}
		e := &entryFeed{f: f}
		if text {
			e.text = &bytes.Buffer{}
		} else {
			e.hash = sha256.New()
		}
		pl.byName[f.Name] = e
		pl.feeds = append(pl.feeds, e)
		return e, nil
	}
	for _, f := range zr.File {
		if f.FileInfo().IsDir() {
			continue
		}
		var err error
		switch {
		case f.Name == distInfo+"/METADATA":
			if f.UncompressedSize64 > license.MaxMetadata {
				return nil, fmt.Errorf("wheel %s: entry %s is over %d bytes", p.Wheel, clip.Quote(f.Name), license.MaxMetadata)
			}
			pl.metadata, err = feed(f, true)
		case licenseFile(distInfo, f.Name):
			if len(pl.inv.LicenseFiles) == maxLicenseFiles {
				continue
			}
			var text *entryFeed
			if f.UncompressedSize64 <= maxLicenseText {
				text, err = feed(f, true)
			}
			pl.texts = append(pl.texts, text)
			pl.inv.LicenseFiles = append(pl.inv.LicenseFiles, sbom.LicenseFile{Path: f.Name})
		case strings.HasPrefix(f.Name, distInfo+"/sboms/"):
			pl.inv.EmbeddedSBOMs = append(pl.inv.EmbeddedSBOMs, f.Name)
		default:
			installed, perr := pack.WheelEntryPath(f)
			if perr != nil || installed == "" || !SharedLibrary(installed) {
				continue
			}
			var lib *entryFeed
			lib, err = feed(f, false)
			pl.libs = append(pl.libs, lib)
			pl.inv.Libraries = append(pl.inv.Libraries, sbom.Library{Path: installed})
		}
		if err != nil {
			return nil, err
		}
	}
	if pl.metadata == nil {
		return nil, fmt.Errorf("wheel %s: no %s/METADATA", p.Wheel, distInfo)
	}
	return pl, nil
}

// feed is where the bytes of the entry name go; nil for an entry the
// inventory does not read.
func (pl *inventoryPlan) feed(name string) io.Writer {
	if e, ok := pl.byName[name]; ok {
		return e
	}
	return nil
}

// readAll inflates the entries the plan reads into their feeds (zip
// checks each one's CRC-32 at its end).
func (pl *inventoryPlan) readAll(ctx context.Context) error {
	for _, e := range pl.feeds {
		if err := ctx.Err(); err != nil {
			return err
		}
		rc, err := e.f.Open()
		if err != nil {
			return fmt.Errorf("wheel %s: entry %s: %w", pl.p.Wheel, clip.Quote(e.f.Name), err)
		}
		_, err = io.Copy(e, io.LimitReader(rc, int64(e.f.UncompressedSize64)+1))
		rc.Close()
		if err != nil {
			return fmt.Errorf("wheel %s: entry %s: %w", pl.p.Wheel, clip.Quote(e.f.Name), err)
		}
	}
	return nil
}

// finish returns the inventory once every feed has had its entry's bytes,
// exactly as many as its headers give.
func (pl *inventoryPlan) finish() (*inventory, error) {
	for _, e := range pl.feeds {
		// Only a zip whose central directory reads one way to the check
		// and another to archive/zip gets here.
		if uint64(e.n) != e.f.UncompressedSize64 {
			return nil, fmt.Errorf("wheel %s: entry %s was read as %d bytes, not the %d its headers give",
				pl.p.Wheel, clip.Quote(e.f.Name), e.n, e.f.UncompressedSize64)
		}
	}
	inv := pl.inv
	inv.Metadata = pl.metadata.text.String()
	for i, e := range pl.texts {
		if e != nil {
			// An empty file has an empty text, not none.
			inv.LicenseFiles[i].Text = append([]byte{}, e.text.Bytes()...)
		}
	}
	for i, e := range pl.libs {
		inv.Libraries[i].SHA256 = hex.EncodeToString(e.hash.Sum(nil))
		inv.Libraries[i].Size = e.n
	}
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
