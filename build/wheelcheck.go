package build

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"

	"golang.org/x/sync/errgroup"

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

// checkWheels runs wheel.CheckArchive once per distinct wheel of placed,
// and takes its inventory (inventory.go) in the same pass over the
// archive, setting each placement's inv: its entries are copied into the
// artifact still compressed, so nothing later would notice a CRC-32 or a
// size that lies, and the SBOM hashes its vendored libraries, which
// nothing else inflates. A wheel's sha256 fixes its bytes, so a passed
// check and an inventory are recorded, sealed, in the cache, and a warm
// build reads no wheel for either.
func checkWheels(ctx context.Context, c *cache.Cache, placed []placement, log func(string, ...any)) error {
	invs := map[string]*inventory{}
	var mu sync.Mutex
	var noted sync.Once
	noSeal := func(err error) {
		// No seal key (an unwritable config folder): every build checks
		// every wheel and takes its inventory, which is slower but as
		// safe.
		noted.Do(func() { log("note: %v; wheels are checked and their inventories taken on every build", err) })
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(1, runtime.NumCPU()))
	seen := map[string]bool{}
	for _, p := range placed {
		if seen[p.SHA256] {
			continue
		}
		seen[p.SHA256] = true
		g.Go(func() error {
			inv, err := checkWheel(gctx, c, p, log, noSeal)
			if err != nil {
				return err
			}
			mu.Lock()
			invs[p.SHA256] = inv
			mu.Unlock()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	for i := range placed {
		placed[i].inv = invs[placed[i].SHA256]
	}
	return nil
}

// checkWheel checks p's wheel and returns its inventory, from the sealed
// records when they are there, else reading the archive once for both.
func checkWheel(ctx context.Context, c *cache.Cache, p placement, log func(string, ...any), noSeal func(error)) (*inventory, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	data, ok, err := c.ReadSealed(checkedRecord(p.SHA256))
	checked := ok && string(data) == archiveCheck
	switch {
	case errors.Is(err, cache.ErrSeal):
		log("note: %v; checking %s again", err, p.Wheel)
	case err != nil:
		noSeal(err)
	}
	inv := recordedInventory(c, p, log, noSeal)
	if checked && inv != nil {
		return inv, nil
	}

	fn, err := wheel.ParseFilename(p.Wheel)
	if err != nil {
		return nil, err
	}
	f, st, err := regular.Open(p.file)
	if err != nil {
		return nil, fmt.Errorf("wheel %s: %w", p.Wheel, err)
	}
	defer f.Close()
	var plan *inventoryPlan
	var planErr error
	if inv == nil {
		plan, planErr = planInventory(f, st.Size(), p)
	}
	if !checked {
		var tee func(string) io.Writer
		if plan != nil {
			tee = plan.feed
		}
		// The check's own error says best what is wrong with a wheel
		// whose inventory cannot be planned either.
		if err := wheel.CheckArchive(f, st.Size(), fn, tee); err != nil {
			return nil, fmt.Errorf("%s %s: %w; it is refused", p.Name, p.Version, err)
		}
		if err := c.WriteSealed(checkedRecord(p.SHA256), []byte(archiveCheck)); err != nil {
			noSeal(err)
		}
	} else if plan != nil {
		planErr = plan.readAll(ctx)
	}
	if inv != nil {
		return inv, nil
	}
	if planErr != nil {
		return nil, planErr
	}
	if inv, err = plan.finish(); err != nil {
		return nil, err
	}
	recordInventory(c, p, inv, noSeal)
	return inv, nil
}
