package build

import (
	"context"
	"errors"
	"fmt"

	"github.com/galerly/galerly-lambda/build/cache"
	"github.com/galerly/galerly-lambda/build/internal/regular"
	"github.com/galerly/galerly-lambda/build/wheel"
)

// checkedRecord names the sealed record saying that the wheel with sha256
// sum passed wheel.CheckArchive. Its content is the check's version, so a
// stricter check re-verifies every wheel once.
func checkedRecord(sum string) string { return "checked-" + sum }

// archiveCheck is the version of wheel.CheckArchive the records vouch for.
const archiveCheck = "wheel.CheckArchive v1\n"

// checkWheels runs wheel.CheckArchive once per distinct wheel of placed:
// its entries are copied into the artifact still compressed, so nothing
// later would notice a CRC-32 or a size that lies. A wheel's sha256 fixes
// its bytes, so a passed check is recorded, sealed, in the cache, and a
// warm build checks nothing again.
func checkWheels(ctx context.Context, c *cache.Cache, placed []placement, log func(string, ...any)) error {
	done := map[string]bool{}
	sealNoted := false
	for _, p := range placed {
		if done[p.SHA256] {
			continue
		}
		done[p.SHA256] = true
		if err := ctx.Err(); err != nil {
			return err
		}
		data, ok, err := c.ReadSealed(checkedRecord(p.SHA256))
		switch {
		case ok && string(data) == archiveCheck:
			continue
		case errors.Is(err, cache.ErrSeal):
			log("note: %v; checking %s again", err, p.Wheel)
		case err != nil && !sealNoted:
			// No seal key (an unwritable config folder): every build
			// checks every wheel, which is slower but as safe.
			log("note: %v; wheels are checked on every build", err)
			sealNoted = true
		}
		if err := checkWheelFile(p); err != nil {
			return err
		}
		if err := c.WriteSealed(checkedRecord(p.SHA256), []byte(archiveCheck)); err != nil && !sealNoted {
			log("note: could not record the wheel check in the cache: %v", err)
			sealNoted = true
		}
	}
	return nil
}

// checkWheelFile checks one placed wheel's archive.
func checkWheelFile(p placement) error {
	fn, err := wheel.ParseFilename(p.Wheel)
	if err != nil {
		return err
	}
	f, st, err := regular.Open(p.file)
	if err != nil {
		return fmt.Errorf("wheel %s: %w", p.Wheel, err)
	}
	defer f.Close()
	if err := wheel.CheckArchive(f, st.Size(), fn); err != nil {
		return fmt.Errorf("%s %s: %w; it is refused", p.Name, p.Version, err)
	}
	return nil
}
