package sshd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Reloader makes a running sshd re-read its configuration. reloaded says
// whether a daemon was told; what says in words what was done. sshd not
// running is not an error.
type Reloader interface {
	Reload(ctx context.Context) (reloaded bool, what string, err error)
}

// SystemReloader reloads sshd on the running system: through systemd over
// D-Bus when systemd is the init system (/run/systemd/system exists, as
// sd_booted(3) checks), else with SIGHUP to the pid in PidFile.
type SystemReloader struct {
	PidFile string // "" = /run/sshd.pid
}

// Reload implements Reloader.
func (r SystemReloader) Reload(ctx context.Context) (bool, string, error) {
	if fi, err := os.Stat("/run/systemd/system"); err == nil && fi.IsDir() {
		ok, what, err := systemdReload(ctx)
		if err != nil || ok || what != "" {
			return ok, what, err
		}
		// No unit runs sshd: one started by hand still has its pid file.
	}
	return PIDFileReloader(r).Reload(ctx)
}

// PIDFileReloader sends SIGHUP to the sshd whose pid is in PidFile, which
// makes sshd re-execute itself with the new configuration under the same pid
// (sshd(8)).
type PIDFileReloader struct {
	PidFile string // "" = /run/sshd.pid
}

// Reload implements Reloader.
func (r PIDFileReloader) Reload(ctx context.Context) (bool, string, error) {
	pf := r.PidFile
	if pf == "" {
		pf = "/run/sshd.pid"
	}
	pid, err := readPid(pf)
	if errors.Is(err, os.ErrNotExist) {
		return false, "sshd not running (no " + pf + ")", nil
	}
	if err != nil {
		return false, "", err
	}
	// A pidfd pins the process, so the check below and the signal concern
	// the same process even if the pid is reused in between.
	fd, err := unix.PidfdOpen(pid, 0)
	if errors.Is(err, unix.ESRCH) {
		return false, fmt.Sprintf("sshd not running (pid %d from %s is gone)", pid, pf), nil
	}
	pinned := err == nil
	if pinned {
		defer unix.Close(fd)
	} else if !errors.Is(err, unix.ENOSYS) {
		return false, "", fmt.Errorf("open pid %d: %w", pid, err)
	}
	if !isSSHD(pid) {
		return false, fmt.Sprintf("sshd not running (pid %d from %s is not sshd)", pid, pf), nil
	}
	if pinned {
		err = unix.PidfdSendSignal(fd, unix.SIGHUP, nil, 0)
	} else {
		err = unix.Kill(pid, unix.SIGHUP)
	}
	if errors.Is(err, unix.ESRCH) {
		return false, fmt.Sprintf("sshd not running (pid %d exited)", pid), nil
	}
	if err != nil {
		return false, "", fmt.Errorf("signal sshd pid %d: %w", pid, err)
	}
	return true, fmt.Sprintf("sent SIGHUP to sshd pid %d", pid), nil
}

func readPid(pf string) (int, error) {
	f, err := os.Open(pf)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 64))
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", pf, err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		return 0, fmt.Errorf("read %s: no pid in %q", pf, b)
	}
	return pid, nil
}

// isSSHD checks the executable (which reads "... (deleted)" after a package
// upgrade replaced it), else the command name.
func isSSHD(pid int) bool {
	if exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid)); err == nil {
		return filepath.Base(strings.TrimSuffix(exe, " (deleted)")) == "sshd"
	}
	comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	return err == nil && strings.TrimSpace(string(comm)) == "sshd"
}
