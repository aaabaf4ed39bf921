package main

import (
	"flag"

	"github.com/galerly/galerly-lambda/build/lock"
)

// lockUsage describes --lock the same way for every command.
const lockUsage = "the hashed lock: pylock.toml or pylock.NAME.toml (PEP 751), or a pip requirements file with --hash=sha256 (any other name)"

// selectFlags choose what of a pylock.toml to install: PEP 751's extras
// and dependency groups.
type selectFlags struct {
	extras, groups stringList
	noDefault      bool
}

func (s *selectFlags) register(fs *flag.FlagSet) {
	fs.Var(&s.extras, "extra", "install a pylock.toml's extra `NAME` (repeatable; default: none)")
	fs.Var(&s.groups, "group", "install a pylock.toml's dependency group `NAME` besides its default-groups (repeatable)")
	fs.BoolVar(&s.noDefault, "no-default-groups", false, "leave out a pylock.toml's default-groups (install only the --group ones)")
}

// selection returns the lock.Selection the flags name, refusing them for
// a lock that is not a pylock.toml: a requirements file has no extras or
// groups to choose from.
func (s *selectFlags) selection(lockPath string) (lock.Selection, error) {
	sel := lock.Selection{Extras: s.extras, Groups: s.groups, NoDefaultGroups: s.noDefault}
	if sel.IsZero() {
		return sel, nil
	}
	if lockPath == "" {
		return lock.Selection{}, usagef("%s: needs --lock", sel)
	}
	if !lock.IsPylockName(lockPath) {
		return lock.Selection{}, usagef("%s: extras and dependency groups are chosen in a pylock.toml lock; --lock %s is a requirements file, which lists exactly what it installs", sel, lockPath)
	}
	return sel, nil
}
