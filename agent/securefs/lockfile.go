package securefs

import (
	"context"
	"fmt"
	"sync"

	"golang.org/x/sys/unix"
)

// LockFile is the lock of Lock, taken again and again by one long-lived holder
// (the service, once a poll) on a descriptor kept open between holds: a hold is
// flock(LOCK_EX|LOCK_NB), an lstat of the path and flock(LOCK_UN), where Lock
// opens, checks and closes the file each time.
//
// Between holds the lock is released, not merely unused: LOCK_UN removes the
// flock from the open file description (flock(2)), so another process's Lock
// gets it at once. A hold still checks that the file at path is the one kept
// open, as Lock does, and opens the path again when it is not.
//
// A LockFile's holds are serialised by its caller; it is not safe for
// concurrent use.
type LockFile struct {
	path string
	fd   int // -1: none kept
	dev  uint64
	ino  uint64
}

// NewLockFile returns the lock at path; nothing is opened until the first Lock.
func NewLockFile(path string) *LockFile { return &LockFile{path: path, fd: -1} }

// Lock takes the exclusive flock, waiting until ctx is done as Lock does. The
// returned unlock releases it and keeps the descriptor; calls after the first
// do nothing.
func (l *LockFile) Lock(ctx context.Context) (unlock func() error, err error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("lock %s: %w", l.path, err)
	}
	if l.fd >= 0 && !l.relock() {
		l.Close()
	}
	if l.fd < 0 {
		fd, err := lockAt(ctx, l.path)
		if err != nil {
			return nil, err
		}
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			unix.Close(fd)
			return nil, fmt.Errorf("lock %s: %w", l.path, err)
		}
		l.fd, l.dev, l.ino = fd, st.Dev, st.Ino
	}
	fd := l.fd
	var once sync.Once
	return func() error {
		var err error
		once.Do(func() {
			if err = retryEINTR(func() error { return unix.Flock(fd, unix.LOCK_UN) }); err != nil {
				// Closing the descriptor releases the flock all the same.
				l.Close()
				err = fmt.Errorf("unlock %s: %w", l.path, err)
			}
		})
		return err
	}, nil
}

// relock takes the flock on the kept descriptor without waiting, and reports
// whether it holds it on the file still at path. When it does not (the lock
// is busy, the file was removed or replaced, an error), the caller closes the
// descriptor, which releases a flock taken here, and waits as Lock does.
func (l *LockFile) relock() bool {
	if retryEINTR(func() error { return unix.Flock(l.fd, unix.LOCK_EX|unix.LOCK_NB) }) != nil {
		return false
	}
	var st unix.Stat_t
	if err := unix.Lstat(l.path, &st); err != nil || st.Dev != l.dev || st.Ino != l.ino {
		return false
	}
	return true
}

// Close closes the kept descriptor. It must not be called while the lock is
// held through it, unless to release it.
func (l *LockFile) Close() error {
	if l.fd < 0 {
		return nil
	}
	err := unix.Close(l.fd)
	l.fd = -1
	return err
}
