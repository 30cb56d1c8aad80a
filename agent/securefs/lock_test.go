package securefs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
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

// A Lock cancelled while its flock is blocked returns at once; the flock it
// leaves behind takes the lock when the holder lets go and releases it straight
// away, closing its descriptor.
func TestLockCancelWhileBlocked(t *testing.T) {
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
	waitBlocked(t, path, 1)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Lock cancelled while blocked = %v, want context.Canceled", err)
	}
	w := pending(path)
	if w == nil {
		t.Fatal("no abandoned flock recorded for the path")
	}
	if n := blockedFlocks(t, path); n != 1 {
		t.Errorf("%d flocks blocked after the cancel, want the abandoned one", n)
	}
	if err := unlock(); err != nil {
		t.Fatal(err)
	}
	<-w.done
	if w.err != nil {
		t.Errorf("abandoned flock returned %v, want the lock granted", w.err)
	}
	if n := openFDs(t, path); n != 0 {
		t.Errorf("%d descriptors of the lock file still open, want 0", n)
	}
	if pending(path) != nil {
		t.Error("the returned flock is still recorded as pending")
	}
	tryLock(t, path, true)
}

// The sync's limit on waiting (two minutes) is a context deadline; Lock gives
// up when it passes. Giving up again and again leaves one blocked flock, not
// one per attempt, and the next Lock adopts it.
func TestLockDeadlineAdopts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sync.lock")
	unlock, err := Lock(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	for i := 0; i < 10; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
		_, err := Lock(ctx, path)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("attempt %d: Lock past its deadline = %v, want context.DeadlineExceeded", i, err)
		}
	}
	if n := blockedFlocks(t, path); n != 1 {
		t.Errorf("%d flocks blocked after 10 attempts, want 1", n)
	}
	if n := openFDs(t, path); n != 2 {
		t.Errorf("%d descriptors of the lock file open after 10 attempts, want 2 (holder and one waiter)", n)
	}

	got := make(chan func() error)
	go func() {
		unlock2, err := Lock(context.Background(), path)
		if err != nil {
			t.Error(err)
		}
		got <- unlock2
	}()
	for pending(path) != nil { // adopted
		runtime.Gosched()
	}
	if n := blockedFlocks(t, path); n != 1 {
		t.Errorf("%d flocks blocked after the adoption, want 1", n)
	}
	if err := unlock(); err != nil {
		t.Fatal(err)
	}
	unlock2 := <-got
	if unlock2 == nil {
		return
	}
	tryLock(t, path, false)
	if n := openFDs(t, path); n != 1 {
		t.Errorf("%d descriptors of the lock file open, want 1", n)
	}
	if err := unlock2(); err != nil {
		t.Fatal(err)
	}
	tryLock(t, path, true)
}

// A lock file removed while Lock waits is not the lock any more: Lock takes
// the one now at the path.
func TestLockFileReplaced(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sync.lock")
	unlock, err := Lock(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	got := make(chan func() error)
	go func() {
		unlock2, err := Lock(context.Background(), path)
		if err != nil {
			t.Error(err)
		}
		got <- unlock2
	}()
	waitBlocked(t, path, 1)
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := unlock(); err != nil {
		t.Fatal(err)
	}
	unlock2 := <-got
	if unlock2 == nil {
		return
	}
	defer unlock2()
	tryLock(t, path, false)
}

// pending returns the abandoned flock recorded for path, if any.
func pending(path string) *flockWait {
	waitsMu.Lock()
	defer waitsMu.Unlock()
	return waits[path]
}

// waitBlocked waits until /proc/locks shows n flocks blocked on path.
func waitBlocked(t *testing.T, path string, n int) {
	t.Helper()
	for blockedFlocks(t, path) != n {
		runtime.Gosched()
	}
}

// blockedFlocks counts the flock requests blocked on path in /proc/locks
// (proc(5): "->" marks a request waiting for the lock).
func blockedFlocks(t *testing.T, path string) int {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	id := fmt.Sprintf("%02x:%02x:%d", unix.Major(st.Dev), unix.Minor(st.Dev), st.Ino)
	data, err := os.ReadFile("/proc/locks")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for l := range strings.Lines(string(data)) {
		f := strings.Fields(l)
		if len(f) >= 7 && f[1] == "->" && f[2] == "FLOCK" && f[6] == id {
			n++
		}
	}
	return n
}

// openFDs counts this process's descriptors open on path.
func openFDs(t *testing.T, path string) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range ents {
		if l, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name())); err == nil && l == path {
			n++
		}
	}
	return n
}

// tryLock checks with a fresh descriptor and LOCK_NB whether path is free.
func tryLock(t *testing.T, path string, wantFree bool) {
	t.Helper()
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	err = unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB)
	switch {
	case wantFree && err != nil:
		t.Errorf("flock(LOCK_NB) on a fresh descriptor = %v, want the lock free", err)
	case !wantFree && err != unix.EWOULDBLOCK:
		t.Errorf("flock(LOCK_NB) on a fresh descriptor = %v, want EWOULDBLOCK (held)", err)
	}
}
