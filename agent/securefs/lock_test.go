package securefs

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

func TestLockExcludes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run/ecs-keyagent/sync.lock")
	var inside atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 5; j++ {
				unlock, err := Lock(context.Background(), path)
				if err != nil {
					t.Error(err)
					return
				}
				if n := inside.Add(1); n != 1 {
					t.Errorf("%d holders inside the lock, want 1", n)
				}
				runtime.Gosched()
				inside.Add(-1)
				if err := unlock(); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	fi, err := os.Stat(path)
	if err != nil || fi.Mode() != 0o600 {
		t.Errorf("lock file: %v, %v; want mode 0600", fi, err)
	}
}

// The second locker must get the lock only after the first released it; the order
// is proven by a flag set before unlocking, not by timing.
func TestLockSecondWaits(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sync.lock")
	unlock, err := Lock(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	var released atomic.Bool
	done := make(chan error)
	go func() {
		unlock2, err := Lock(context.Background(), path)
		if err == nil {
			if !released.Load() {
				err = errors.New("second Lock acquired while the first was held")
			}
			unlock2()
		}
		done <- err
	}()
	runtime.Gosched()
	released.Store(true)
	if err := unlock(); err != nil {
		t.Fatal(err)
	}
	if err := unlock(); err != nil {
		t.Errorf("second unlock = %v, want nil", err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestLockCancel(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sync.lock")
	unlock, err := Lock(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		_, err := Lock(ctx, path)
		done <- err
	}()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Lock with cancelled ctx = %v, want context.Canceled", err)
	}
	if _, err := Lock(ctx, filepath.Join(t.TempDir(), "free.lock")); !errors.Is(err, context.Canceled) {
		t.Errorf("Lock(free, cancelled ctx) = %v, want context.Canceled", err)
	}
}

func TestLockRefusesSymlink(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim")
	if err := os.WriteFile(victim, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "sync.lock")
	if err := os.Symlink(victim, path); err != nil {
		t.Fatal(err)
	}
	_, err := Lock(context.Background(), path)
	wantUnsafe(t, "Lock(symlink)", err, "it is a symbolic link")
}
