package sshd

import (
	"fmt"
	"os"
	"path"
	"time"
)

// Liveness says whether sshd runs with the configuration on disk: its pid
// file names a running sshd that started (or re-executed after a reload,
// which rewrites the pid file, sshd(8)) after the last change to any file
// it reads. ok is false with what to do in detail otherwise. Only the
// running system is judged (Options.Root "/").
func Liveness(o Options) (ok bool, detail string) {
	o, err := o.normalize()
	if err != nil {
		return false, err.Error()
	}
	if o.Root != "/" {
		return true, "not the running system: not checked"
	}
	src := newSource(o.Root)
	cfg, err := parseConfig(src, o.Config)
	if err != nil {
		return false, err.Error()
	}
	pf := "/run/sshd.pid"
	if ds := cfg.lookup(kwPidFile, nil); len(ds) > 0 && len(ds[0].args) == 1 {
		pf = ds[0].args[0]
	}
	var newest time.Time
	var newestFile string
	for p := range src.disk {
		if fi, err := os.Stat(path.Join(o.Root, p)); err == nil && fi.ModTime().After(newest) {
			newest, newestFile = fi.ModTime(), p
		}
	}
	pid, err := readPid(pf)
	if err != nil || !isSSHD(pid) {
		if socketActive() {
			return true, "sshd is socket-activated: each connection reads the configuration afresh"
		}
		return false, fmt.Sprintf("sshd is not running (no live pid in %s): systemctl start ssh (or sshd)", pf)
	}
	fi, err := os.Stat(pf)
	if err != nil {
		return false, err.Error()
	}
	if fi.ModTime().Before(newest) {
		return false, fmt.Sprintf("sshd (pid %d) has not re-read its configuration since %s changed at %s: systemctl reload ssh (or sshd)",
			pid, newestFile, newest.Local().Format(time.RFC3339))
	}
	return true, fmt.Sprintf("sshd (pid %d) runs with the configuration on disk", pid)
}

// socketActive reports a socket unit for sshd on the running system: with
// socket activation each connection starts an sshd that reads the files.
func socketActive() bool {
	for _, u := range socketUnits {
		if _, err := os.Stat("/run/systemd/units/invocation:" + u); err == nil {
			return true
		}
	}
	return false
}
