package agent

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ecs-keyagent/ecs-keyagent/agent/securefs"
	"golang.org/x/sys/unix"
)

// lockWait bounds how long a sync waits for another to finish: a sync takes
// well under a second, one stuck on the network a few request timeouts.
const lockWait = 2 * time.Minute

// Lock takes the agent's lock under root, waiting up to two minutes for
// another holder. Every writer of the agent's files holds it: a sync, and
// restore-sshd. securefs's temporary-file cleanup relies on it, since it
// removes what a killed writer left behind.
//
// waiting, when not nil, is told after a second of waiting, with the
// holder's pid when /proc/locks names it.
func Lock(ctx context.Context, root string, waiting func(msg string)) (unlock func() error, err error) {
	path := filepath.Join(root, LockPath)
	return lockWith(ctx, path, waiting, func(ctx context.Context) (func() error, error) { return securefs.Lock(ctx, path) })
}

// lock takes the agent's lock as Lock does, on a descriptor the engine keeps
// open between syncs (securefs.LockFile): the service takes it once a poll.
func (e *Engine) lock(ctx context.Context) (unlock func() error, err error) {
	path := filepath.Join(e.opts.Root, LockPath)
	if e.lockFile == nil {
		e.lockFile = securefs.NewLockFile(path)
	}
	return lockWith(ctx, path, e.opts.Progress, e.lockFile.Lock)
}

// lockWith takes the lock at path through take, with Lock's bound on the
// wait and its message to waiting.
func lockWith(ctx context.Context, path string, waiting func(msg string), take func(context.Context) (func() error, error)) (unlock func() error, err error) {
	ctx, cancel := context.WithTimeout(ctx, lockWait)
	defer cancel()
	if waiting != nil {
		t := time.AfterFunc(time.Second, func() {
			msg := "waiting for another sync to finish (it holds " + LockPath + ")"
			if pid := lockHolder(path); pid > 0 {
				msg = fmt.Sprintf("waiting for another sync to finish (pid %d holds %s)", pid, LockPath)
			}
			waiting(msg)
		})
		defer t.Stop()
	}
	unlock, err = take(ctx)
	if err != nil {
		return nil, fmt.Errorf("take lock %s (another sync holds it?): %w", LockPath, err)
	}
	return unlock, nil
}

// lockHolder returns the pid holding a flock on path, from /proc/locks
// (proc(5): "1: FLOCK ADVISORY WRITE PID MAJOR:MINOR:INODE START END"),
// or 0 when it cannot tell.
func lockHolder(path string) int {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return 0
	}
	data, err := os.ReadFile("/proc/locks")
	if err != nil {
		return 0
	}
	want := fmt.Sprintf(":%d", st.Ino)
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 6 || f[1] != "FLOCK" || f[2] == "->" || !strings.HasSuffix(f[5], want) {
			continue
		}
		dev := strings.Split(f[5], ":")
		maj, err1 := strconv.ParseUint(dev[0], 16, 32)
		min, err2 := strconv.ParseUint(dev[1], 16, 32)
		if err1 != nil || err2 != nil || uint64(unix.Major(st.Dev)) != maj || uint64(unix.Minor(st.Dev)) != min {
			continue
		}
		if pid, err := strconv.Atoi(f[4]); err == nil {
			return pid
		}
	}
	return 0
}
