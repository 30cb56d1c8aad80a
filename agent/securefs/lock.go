package securefs

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// lockPoll is how often Lock retries a busy lock. flock has no timeout, and a
// blocking flock in a goroutine would outlive a cancelled ctx, so we poll with
// LOCK_NB instead.
const lockPoll = 20 * time.Millisecond

// Lock takes an exclusive flock on path (created 0600 if missing, its parent 0755),
// waiting until ctx is done. The returned unlock releases it; calls after the first
// do nothing. path is in the admin's domain (for example /run/ecs-keyagent/sync.lock),
// but its last component is opened with O_NOFOLLOW all the same.
func Lock(ctx context.Context, path string) (unlock func() error, err error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	var fd int
	err = retryEINTR(func() (err error) {
		fd, err = unix.Open(path, unix.O_RDWR|unix.O_CREAT|unix.O_NOFOLLOW|unix.O_NOCTTY|unix.O_CLOEXEC, 0o600)
		return err
	})
	if err == unix.ELOOP {
		return nil, refuse(path, "it is a symbolic link")
	}
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		unix.Close(fd)
		if err != nil {
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		return nil, notRegular(path, st.Mode)
	}
	var t *time.Ticker
	for {
		err := retryEINTR(func() error { return unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB) })
		if err == nil {
			break
		}
		if err != unix.EWOULDBLOCK {
			unix.Close(fd)
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		if t == nil {
			t = time.NewTicker(lockPoll)
			defer t.Stop()
		}
		select {
		case <-ctx.Done():
			unix.Close(fd)
			return nil, fmt.Errorf("lock %s: %w", path, ctx.Err())
		case <-t.C:
		}
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
