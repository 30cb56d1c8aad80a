//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// sigRTMin3 is SIGRTMIN+3 as glibc numbers it (SIGRTMIN is 34): systemd
// as PID 1 halts cleanly on it (systemd(1)); SIGTERM to nspawn is not a
// shutdown.
const sigRTMin3 = syscall.Signal(34 + 3)

// container is one boot of a tree with systemd-nspawn. Without
// --private-network it shares the host's loopback with the emulator and the
// ssh client; --register=no --keep-unit because this machine's own init is
// not systemd (systemd-nspawn(1): --register needs systemd-machined).
type container struct {
	t       *testing.T
	dir     string
	cmd     *exec.Cmd
	exited  chan error
	pid1    int // the container's systemd, as this machine numbers it
	log     *os.File
	stopped bool
}

// boot starts the tree and waits until its systemd has finished starting up.
func boot(t *testing.T, dir string) *container {
	t.Helper()
	log, err := os.OpenFile(filepath.Join(filepath.Dir(dir), "nspawn.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	c := &container{t: t, dir: dir, log: log, exited: make(chan error, 1)}
	c.cmd = exec.Command("systemd-nspawn", "-D", dir, "--boot", "--register=no", "--keep-unit", "--quiet")
	c.cmd.Stdout, c.cmd.Stderr = log, log
	if err := c.cmd.Start(); err != nil {
		t.Fatalf("start systemd-nspawn: %v", err)
	}
	go func() { c.exited <- c.cmd.Wait() }()
	t.Cleanup(c.stop) // pass or fail, the container goes
	deadline := time.Now().Add(30 * time.Second)
	for c.pid1 == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("find the container's PID 1: none after 30s\n%s", c.logTail())
		}
		select {
		case err := <-c.exited:
			c.stopped = true
			t.Fatalf("systemd-nspawn exited: %v\n%s", err, c.logTail())
		case <-time.After(100 * time.Millisecond):
		}
		c.pid1 = childOf(c.cmd.Process.Pid, "systemd")
	}
	// The container's systemd answers on its private socket once it is up;
	// --wait then blocks until start-up is over. degraded is fine: a
	// container lacks what some units want, and the units this test cares
	// about are checked one by one. offline is systemctl's answer while
	// /run/systemd/system does not exist yet (sd_booted(3)), which a PID 1
	// caught just after its exec has not made: ask again.
	for {
		r := c.exec(90*time.Second, "systemctl", "is-system-running", "--wait")
		s := strings.TrimSpace(r.stdout)
		if s == "running" || s == "degraded" {
			return c
		}
		if (s != "" && s != "offline") || time.Now().After(deadline.Add(60*time.Second)) {
			t.Fatalf("container did not finish booting: %s\n%s", r, c.logTail())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// childOf returns the pid of the process named comm whose parent is ppid,
// or 0.
func childOf(ppid int, comm string) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", ppid, ppid))
	if err != nil {
		return 0
	}
	for _, f := range strings.Fields(string(b)) {
		pid, _ := strconv.Atoi(f)
		name, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		if strings.TrimSpace(string(name)) == comm {
			return pid
		}
	}
	return 0
}

// exec runs a command inside the container, in all of its namespaces.
func (c *container) exec(timeout time.Duration, args ...string) result {
	return run(timeout, "nsenter", append([]string{"-t", strconv.Itoa(c.pid1), "-a"}, args...)...)
}

// must runs a command inside the container and fails the test if it fails.
func (c *container) must(args ...string) string {
	c.t.Helper()
	r := c.exec(60*time.Second, args...)
	if r.err != nil {
		c.t.Fatalf("in container: %s: %s", strings.Join(args, " "), r)
	}
	return r.stdout
}

// show returns a unit property (systemctl show -P).
func (c *container) show(unit, prop string) string {
	c.t.Helper()
	return strings.TrimSpace(c.must("systemctl", "show", "-P", prop, unit))
}

// stop halts the container cleanly and waits for nspawn to exit; after 60 s
// it kills nspawn. Safe to call twice.
func (c *container) stop() {
	if c.stopped {
		return
	}
	c.stopped = true
	defer c.log.Close()
	select {
	case err := <-c.exited:
		c.t.Logf("systemd-nspawn had already exited: %v", err)
		return
	default:
	}
	if c.pid1 != 0 {
		syscall.Kill(c.pid1, sigRTMin3)
	} else {
		c.cmd.Process.Kill()
	}
	select {
	case err := <-c.exited:
		// systemd's last words before a clean halt (systemd-shutdown).
		if err != nil || !strings.Contains(c.logTail(), "Halting system.") {
			c.t.Errorf("systemd-nspawn after SIGRTMIN+3: %v, want a clean halt\n%s", err, c.logTail())
		}
	case <-time.After(60 * time.Second):
		c.t.Errorf("container did not halt within 60s of SIGRTMIN+3; killing it\n%s", c.logTail())
		// Killing nspawn alone leaves the container's systemd running,
		// with its sshd on the host's loopback and its root deleted under
		// it; SIGKILL to the init of a PID namespace ends every process in
		// it (pid_namespaces(7)), and nspawn exits with it.
		if c.pid1 != 0 {
			syscall.Kill(c.pid1, syscall.SIGKILL)
		}
		select {
		case <-c.exited:
		case <-time.After(10 * time.Second):
			c.cmd.Process.Kill()
			<-c.exited
		}
	}
}

// logTail is the end of the console log, for failure messages.
func (c *container) logTail() string {
	b, _ := os.ReadFile(c.log.Name())
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return "console (end):\n" + string(b)
}

// lastSync is when the service's last finished sync began: the agent
// touches /run/ecs-keyagent/last-sync to that time at the end of each sync
// (zero before the first). It is read through the container's root as its
// PID 1 sees it, since /run is the container's own tmpfs.
func (c *container) lastSync() time.Time {
	fi, err := os.Stat(filepath.Join("/proc", strconv.Itoa(c.pid1), "root/run/ecs-keyagent/last-sync"))
	if err != nil {
		return time.Time{}
	}
	return fi.ModTime()
}

// waitSynced waits until a sync that began after since has finished, so
// that whatever changed before since has been seen and acted on.
func (c *container) waitSynced(since time.Time) {
	c.t.Helper()
	waitUntil(c.t, rotationDeadline, "a sync that began after "+since.Format(time.RFC3339Nano), func() (bool, string) {
		last := c.lastSync()
		return last.After(since), "last sync began " + last.Format(time.RFC3339Nano)
	})
}
