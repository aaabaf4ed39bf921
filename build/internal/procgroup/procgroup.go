// Package procgroup starts programs in a process group of their own, so
// that whatever a program starts goes with it: a pyenv shim's child that
// keeps the shim's output open, a compiler's workers, a module's
// subprocess. Killing only the program would leave those running, and
// holding its pipes, which keeps a reader (and exec.Cmd.Wait) waiting.
package procgroup

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Command returns exec.CommandContext(ctx, name, args...) set up to run in
// a new process group. When ctx is done, the whole group is killed (not
// just the process), and Wait then waits at most waitDelay for output
// pipes that a process outside the group still holds, before closing
// them. Start it with Start (or Run), so that what it leaves behind when
// it exits is killed too.
func Command(ctx context.Context, waitDelay time.Duration, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return Kill(cmd) }
	cmd.WaitDelay = waitDelay
	return cmd
}

// Kill sends SIGKILL to the process group of cmd, which Command started:
// the program and every process it started that is still in its group.
// It does nothing before Start, and returns os.ErrProcessDone when the
// group is already empty.
func Kill(cmd *exec.Cmd) error {
	if cmd.Process == nil {
		return nil
	}
	// The group's ID is the program's PID. Once the program has been
	// reaped, that ID stays reserved while any member of its group lives,
	// so the signal cannot reach an unrelated process group.
	err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	if errors.Is(err, syscall.ESRCH) {
		return os.ErrProcessDone
	}
	return err
}

// Start starts cmd, made by Command, and kills its process group as soon
// as its process exits: a child it left behind can neither run on nor
// hold cmd's pipes open, which would keep a reader of its output, and
// cmd.Wait, waiting. The process is seen to exit without being reaped
// (waitid with WNOWAIT), so until cmd.Wait reaps it its group's ID cannot
// be reused and the signal reaches only that group.
func Start(cmd *exec.Cmd) error {
	if err := cmd.Start(); err != nil {
		return err
	}
	pid := cmd.Process.Pid
	go func() {
		var info unix.Siginfo
		for {
			err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
			if !errors.Is(err, unix.EINTR) {
				break
			}
		}
		syscall.Kill(-pid, syscall.SIGKILL)
	}()
	return nil
}

// Run starts cmd with Start and waits for it.
func Run(cmd *exec.Cmd) error {
	if err := Start(cmd); err != nil {
		return err
	}
	return cmd.Wait()
}
