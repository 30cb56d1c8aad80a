package sshd

import (
	"bufio"
	"context"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ecs-keyagent/ecs-keyagent/agent/agenttest"
)

// daemon is a real sshd started by a test on a free loopback port.
type daemon struct {
	cmd     *exec.Cmd
	port    string
	pidFile string
}

// startDaemon runs sshd -D on the fixture's main file. Port, ListenAddress
// and PidFile are in the file itself, so Apply's sshd -t sees them too.
func startDaemon(t *testing.T, f *fixture) *daemon {
	t.Helper()
	port := strconv.Itoa(agenttest.FreePort(t))
	d := &daemon{port: port, pidFile: f.path("sshd.pid")}
	main, _ := os.ReadFile(f.path(mainFile))
	f.write(mainFile, "ListenAddress 127.0.0.1:"+port+"\nPidFile "+d.pidFile+"\n"+string(main))
	// An absolute path: on SIGHUP sshd re-executes itself from argv[0].
	d.cmd = exec.Command(sshdBin, "-D", "-f", f.path(mainFile))
	d.cmd.Stderr = os.Stderr
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		d.cmd.Process.Signal(syscall.SIGTERM)
		d.cmd.Wait()
	})
	d.waitBanner(t, "")
	return d
}

// waitBanner connects until sshd's banner contains want. It polls because
// sshd re-executes after SIGHUP and listens again a moment later; the
// deadline only bounds a broken run.
func (d *daemon) waitBanner(t *testing.T, want string) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+d.port, time.Second)
		if err == nil {
			c.SetDeadline(time.Now().Add(5 * time.Second))
			line, _ := bufio.NewReader(c).ReadString('\n')
			c.Close()
			if strings.HasPrefix(line, "SSH-2.0-") && strings.Contains(line, want) {
				return line
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("sshd on port %s never said %q", d.port, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// alive reports whether the started process still runs as sshd.
func (d *daemon) alive() bool {
	return syscall.Kill(d.cmd.Process.Pid, 0) == nil && isSSHD(d.cmd.Process.Pid)
}

// TestPIDFileReloaderRereads: SIGHUP through the pid file makes the running
// sshd re-read its configuration, under the same pid.
func TestPIDFileReloaderRereads(t *testing.T) {
	requireSSHD(t)
	f := newFixture(t, map[string]string{mainFile: hostKeyL + "VersionAddendum before-reload\n"})
	d := startDaemon(t, f)
	d.waitBanner(t, "before-reload")
	main, _ := os.ReadFile(f.path(mainFile))
	f.write(mainFile, strings.Replace(string(main), "before-reload", "after-reload", 1))

	reloaded, what, err := PIDFileReloader{PidFile: d.pidFile}.Reload(context.Background())
	if err != nil || !reloaded {
		t.Fatalf("Reload() = %v, %q, %v; want a reload", reloaded, what, err)
	}
	t.Log(what)
	d.waitBanner(t, "after-reload")
	if pid, err := readPid(d.pidFile); err != nil || pid != d.cmd.Process.Pid || !d.alive() {
		t.Errorf("after reload: pid file %d (%v), started pid %d, alive %v", pid, err, d.cmd.Process.Pid, d.alive())
	}
}

// TestApplyReloadsRunningSSHD: Apply disables passwords in a running sshd,
// which then offers public keys only.
func TestApplyReloadsRunningSSHD(t *testing.T) {
	requireSSHD(t)
	agenttest.MustHaveCommands(t, "ssh") // to ask which methods sshd offers
	f := newFixture(t, map[string]string{mainFile: hostKeyL + "UsePAM yes\nPasswordAuthentication yes\n"})
	d := startDaemon(t, f)
	if m, ok := offered(d); !ok || !strings.Contains(m, "password") {
		t.Fatalf("before Apply sshd offers %q, want password among them", m)
	}
	o := f.options(PIDFileReloader{PidFile: d.pidFile}, "root")
	res, err := Apply(context.Background(), o)
	if err != nil || !res.Reloaded {
		t.Fatalf("Apply = %+v, %v; want a reload", res, err)
	}
	// The old listener may still answer until it handles SIGHUP: poll.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		m, _ := offered(d) // refused while sshd re-executes: try again
		if m == "publickey" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after Apply sshd offers %q, want publickey", m)
		}
	}
	if !d.alive() {
		t.Error("sshd died on reload")
	}
}

// offered asks sshd which authentication methods it offers root.
func offered(d *daemon) (string, bool) {
	out, _ := exec.Command("ssh", "-F", "/dev/null", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
		"-o", "UserKnownHostsFile=/dev/null", "-o", "PreferredAuthentications=none", "-o", "ConnectTimeout=10",
		"-p", d.port, "root@127.0.0.1", "true").CombinedOutput()
	s := string(out)
	i := strings.Index(s, "Permission denied (")
	if i < 0 {
		return s, false
	}
	s = s[i+len("Permission denied ("):]
	m, _, _ := strings.Cut(s, ")")
	return m, true
}

// TestPIDFileReloaderNotRunning: no pid file, or a pid that is not sshd,
// is "not running", not an error, and nothing is signalled.
func TestPIDFileReloaderNotRunning(t *testing.T) {
	dir := t.TempDir()
	notSSHD := dir + "/self.pid"
	if err := os.WriteFile(notSSHD, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, pf := range []string{dir + "/missing.pid", notSSHD} {
		reloaded, what, err := PIDFileReloader{PidFile: pf}.Reload(context.Background())
		if err != nil || reloaded || !strings.HasPrefix(what, "sshd not running") {
			t.Errorf("Reload(%s) = %v, %q, %v; want not running", pf, reloaded, what, err)
		}
	}
}
