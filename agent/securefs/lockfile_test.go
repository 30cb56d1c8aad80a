package securefs

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ecs-keyagent/ecs-keyagent/agent/agenttest"
)

// Each hold excludes other open file descriptions and other processes, and
// between holds the lock is free while its descriptor stays open.
func TestLockFileHoldsAndReleases(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run/ecs-keyagent/lock")
	l := NewLockFile(path)
	defer l.Close()
	for i := 0; i < 3; i++ {
		unlock := hold(t, l)
		tryLock(t, path, false)
		otherProcess(t, path, false)
		if err := unlock(); err != nil {
			t.Fatal(err)
		}
		if err := unlock(); err != nil {
			t.Errorf("second unlock = %v, want nil", err)
		}
		tryLock(t, path, true)
		otherProcess(t, path, true)
		if n := openFDs(t, path); n != 1 {
			t.Errorf("hold %d: %d descriptors open on %s, want the one kept", i, n, path)
		}
	}
}

// A hold waits for another holder (here Lock, on its own open file description)
// to release the lock, and gives up when its context ends.
func TestLockFileWaitsForAnother(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	l := NewLockFile(path)
	defer l.Close()
	hold(t, l)()
	unlock2, err := Lock(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := l.Lock(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Lock while another holds it = %v, want a deadline error", err)
	}
	var released atomic.Bool
	done := make(chan error)
	go func() {
		unlock, err := l.Lock(context.Background())
		if err == nil {
			if !released.Load() {
				err = errors.New("LockFile.Lock acquired while Lock held the lock")
			}
			unlock()
		}
		done <- err
	}()
	runtime.Gosched()
	released.Store(true)
	if err := unlock2(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// A lock file removed or replaced between holds is opened again: a flock on a
// file no longer at the path would exclude nobody.
func TestLockFileReplacedBetweenHolds(t *testing.T) {
	for _, tt := range []struct {
		name    string
		replace func(path string) error
	}{
		{"removed", os.Remove},
		{"renamed over", func(path string) error {
			if err := os.WriteFile(path+".new", nil, 0o600); err != nil {
				return err
			}
			return os.Rename(path+".new", path)
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "lock")
			l := NewLockFile(path)
			defer l.Close()
			hold(t, l)()
			if err := tt.replace(path); err != nil {
				t.Fatal(err)
			}
			unlock := hold(t, l)
			tryLock(t, path, false)
			otherProcess(t, path, false)
			unlock()
			tryLock(t, path, true)
		})
	}
}

// hold takes l's lock or fails the test; it returns the unlock.
func hold(t *testing.T, l *LockFile) func() error {
	t.Helper()
	unlock, err := l.Lock(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return unlock
}

// otherProcess checks with flock(1), a second process, whether path is free.
func otherProcess(t *testing.T, path string, wantFree bool) {
	t.Helper()
	bin, err := exec.LookPath("flock")
	if err != nil {
		agenttest.SkipOrFail(t, "needs flock(1) (util-linux) for the check from another process: %v", err)
	}
	// -n: fail at once when the lock is held; -E 3: with status 3.
	err = exec.Command(bin, "-n", "-E", "3", path, "true").Run()
	var exit *exec.ExitError
	switch held := errors.As(err, &exit) && exit.ExitCode() == 3; {
	case wantFree && err != nil:
		t.Errorf("flock -n %s from another process = %v, want the lock free", path, err)
	case !wantFree && !held:
		t.Errorf("flock -n %s from another process = %v, want exit status 3 (held)", path, err)
	}
}
