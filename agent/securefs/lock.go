package securefs

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"golang.org/x/sys/unix"
)

// Lock takes an exclusive flock on path (created 0600 if missing, its parent 0755),
// waiting until ctx is done. The returned unlock releases it; calls after the first
// do nothing. path is in the admin's domain (for example /run/ecs-keyagent/lock),
// but its last component is opened with O_NOFOLLOW all the same.
//
// A busy lock is waited for in a blocking flock(2), made by a helper goroutine, so a
// waiting process sleeps in the kernel until the lock is released and costs no CPU
// meanwhile; polling with LOCK_NB, even every 20 ms, made a hundred waiting
// processes take most of a two-CPU machine from the one holding the lock.
//
// A blocked flock cannot be called off. Closing its descriptor does not wake it: the
// call holds its own reference to the open file description, and still takes the lock
// and returns success once the lock is free. Signals do not either: the Go runtime installs its handlers with
// SA_RESTART, and flock is restarted after such a handler (signal(7)). So when ctx ends
// first, Lock returns and leaves the flock to its goroutine, which closes the
// descriptor when the call returns; that releases the lock at once if it was granted,
// since a flock belongs to the open file description and ends with its last
// descriptor (flock(2)). The descriptor is never closed while the call is blocked: its
// number could be reused by then.
//
// A later Lock on the same path in the same process adopts such a left-behind flock
// instead of starting another, so a process that keeps giving up on a lock held for
// hours keeps one blocked thread and one descriptor, not one per attempt.
func Lock(ctx context.Context, path string) (unlock func() error, err error) {
	fd, err := lockAt(ctx, path)
	if err != nil {
		return nil, err
	}
	var once sync.Once
	return func() error {
		var err error
		once.Do(func() {
			// Closing the last fd of the open file description releases the flock.
			err = unix.Close(fd)
			if err != nil {
				err = fmt.Errorf("unlock %s: %w", path, err)
			}
		})
		return err
	}, nil
}

// lockAt returns a descriptor of the file now at path, holding an exclusive flock on it.
func lockAt(ctx context.Context, path string) (int, error) {
	for {
		if err := ctx.Err(); err != nil {
			return -1, fmt.Errorf("lock %s: %w", path, err)
		}
		fd, err := lockFD(ctx, path)
		if err != nil {
			return -1, err
		}
		// Someone may have removed or replaced the file since we opened it; a lock on
		// a file no longer at path excludes nobody who opens path now.
		if same, err := stillAt(path, fd); err != nil || !same {
			unix.Close(fd)
			if err != nil {
				return -1, fmt.Errorf("lock %s: %w", path, err)
			}
			continue
		}
		return fd, nil
	}
}

// lockFD returns a descriptor of path holding an exclusive flock on it.
func lockFD(ctx context.Context, path string) (int, error) {
	w := adopt(path)
	if w == nil {
		fd, err := openLockFile(path)
		if err != nil {
			return -1, err
		}
		err = retryEINTR(func() error { return unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB) })
		if err == nil {
			return fd, nil
		}
		if err != unix.EWOULDBLOCK {
			unix.Close(fd)
			return -1, fmt.Errorf("lock %s: %w", path, err)
		}
		w = &flockWait{path: path, fd: fd, done: make(chan struct{})}
		go w.wait()
	}
	select {
	case <-w.done:
	case <-ctx.Done():
		if w.abandon() {
			return -1, fmt.Errorf("lock %s: %w", path, ctx.Err())
		}
		<-w.done // it returned as ctx ended: take its answer
	}
	if w.err != nil {
		unix.Close(w.fd)
		return -1, fmt.Errorf("lock %s: %w", path, w.err)
	}
	return w.fd, nil
}

func openLockFile(path string) (int, error) {
	var fd int
	open := func() error {
		return retryEINTR(func() (err error) {
			fd, err = unix.Open(path, unix.O_RDWR|unix.O_CREAT|unix.O_NOFOLLOW|unix.O_NOCTTY|unix.O_CLOEXEC, 0o600)
			return err
		})
	}
	// The directory exists at every lock but the first after a boot: make
	// it only when the open says it is missing.
	err := open()
	if err == unix.ENOENT {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return -1, fmt.Errorf("lock %s: %w", path, err)
		}
		err = open()
	}
	if err == unix.ELOOP {
		return -1, refuse(path, "it is a symbolic link")
	}
	if err != nil {
		return -1, fmt.Errorf("lock %s: %w", path, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		unix.Close(fd)
		if err != nil {
			return -1, fmt.Errorf("lock %s: %w", path, err)
		}
		return -1, notRegular(path, st.Mode)
	}
	return fd, nil
}

// stillAt reports whether path names the file open as fd.
func stillAt(path string, fd int) (bool, error) {
	var a, b unix.Stat_t
	if err := unix.Fstat(fd, &a); err != nil {
		return false, err
	}
	err := unix.Lstat(path, &b)
	if err == unix.ENOENT {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return a.Dev == b.Dev && a.Ino == b.Ino, nil
}

// flockWait is one blocking flock(2) on fd, made by its own goroutine.
type flockWait struct {
	path string
	fd   int
	done chan struct{} // closed when flock returned; err is set by then
	err  error

	// Guarded by waitsMu.
	returned  bool
	abandoned bool // no Lock waits for the answer: close fd when it comes
}

var (
	waitsMu sync.Mutex
	// waits holds, per path, a flock whose Lock gave up while it was blocked, for
	// the next Lock on that path to adopt. Only unreturned, abandoned ones are here.
	waits = map[string]*flockWait{}
)

func (w *flockWait) wait() {
	err := retryEINTR(func() error { return unix.Flock(w.fd, unix.LOCK_EX) })
	waitsMu.Lock()
	w.err, w.returned = err, true
	abandoned := w.abandoned
	if abandoned && waits[w.path] == w {
		delete(waits, w.path)
	}
	waitsMu.Unlock()
	if abandoned {
		unix.Close(w.fd) // releases the lock if it was just granted
	}
	close(w.done)
}

// abandon leaves w to its goroutine, unless flock has returned already (then the
// caller takes the answer). It reports whether w was abandoned.
func (w *flockWait) abandon() bool {
	waitsMu.Lock()
	defer waitsMu.Unlock()
	if w.returned {
		return false
	}
	w.abandoned = true
	if waits[w.path] == nil {
		waits[w.path] = w
	}
	return true
}

// adopt takes over the flock left blocked on path, if there is one.
func adopt(path string) *flockWait {
	waitsMu.Lock()
	defer waitsMu.Unlock()
	w := waits[path]
	if w != nil {
		delete(waits, path)
		w.abandoned = false
	}
	return w
}
