package procgroup

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/galerly/galerly-lambda/internal/testenv"
)

// A program that never ends and whose child holds its output open ends
// with its deadline, child included, and Wait does not wait for the
// child's pipe.
func TestDeadlineKillsTheGroup(t *testing.T) {
	pids := filepath.Join(t.TempDir(), "pids")
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	cmd := Command(ctx, time.Second, "sh", "-c", `sleep 600 & echo $$ $! > "$0"; echo started; wait`, pids)
	var out bytes.Buffer
	cmd.Stdout = &out
	start := time.Now()
	err := Run(cmd)
	if took := time.Since(start); err == nil || took > 5*time.Second {
		t.Errorf("Run = %v after %v; want an error soon after the 500ms deadline", err, took)
	}
	if out.String() != "started\n" {
		t.Errorf("stdout %q", out.String())
	}
	testenv.CheckGone(t, pids)
}

// What a program that exits leaves running in its group is killed as it
// exits, so Wait does not wait for the child's hold on the output pipe,
// not even for the wait delay.
func TestExitKillsLeftovers(t *testing.T) {
	pids := filepath.Join(t.TempDir(), "pids")
	cmd := Command(context.Background(), time.Minute, "sh", "-c", `sleep 600 & echo $$ $! > "$0"; echo done`, pids)
	var out bytes.Buffer
	cmd.Stdout = &out
	start := time.Now()
	err := Run(cmd)
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("Run took %v: it waited for the child's pipe", took)
	}
	if err != nil || out.String() != "done\n" {
		t.Errorf("Run = %v, stdout %q", err, out.String())
	}
	testenv.CheckGone(t, pids)
}
