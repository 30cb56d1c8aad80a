//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ecs-keyagent/ecs-keyagent/agent/agenttest"
)

// pollInterval is the agent's poll_interval in the container; rotation is
// awaited for at most rotationDeadline, and how long it took is logged,
// not asserted.
const (
	pollInterval     = 2 * time.Second
	rotationDeadline = 30 * time.Second
	unit             = "ecs-keyagent.service"
	debInTree        = "/var/tmp/ecs-keyagent.deb" // not /tmp: a tmpfs once booted
)

// bootTest is one run of TestBoot or TestContract: the tree, the emulator,
// sshd's port, the key root added by hand (private half at hand), the
// askpass program for password logins, and /etc/ssh as it was before the
// agent ran.
type bootTest struct {
	t             *testing.T
	st            *step
	work, tree    string
	emu           *emulator
	port          int
	hand, handPub string
	askpass       string
	sshdBefore    map[string]string
}

// TestBoot installs the .deb into a Debian 12 tree, boots it, and checks the
// service as an operator would meet it, through a reboot, an upgrade, a
// remove, a purge and an install on a running system with ecs-user.
func TestBoot(t *testing.T) {
	prereq(t, "debootstrap", "systemd-nspawn", "nsenter", "chroot", "tar", "ssh", "ssh-keygen")
	deb := dist(t, "ecs-keyagent_*_"+debArch()+".deb")
	b := &bootTest{t: t, st: newStep(t), work: t.TempDir()}
	b.tree = freshTree(t)
	b.st.done("tree from cache (debootstrap if none)")
	b.installInChroot(deb)
	b.prepare()
	b.st.done("install in a chroot, emulator, sshd port, hand-added key")

	c := boot(t, b.tree)
	b.st.done("boot")
	key1 := filepath.Join(b.work, "key1")
	b.checkRunning(c, key1)
	b.checkAdopted(c, key1)
	if r := c.exec(time.Minute, "systemd-analyze", "verify", "--man=no", "/lib/systemd/system/"+unit); r.err != nil || r.stderr != "" {
		t.Errorf("systemd-analyze verify in the container: %s", r)
	}
	b.st.done("service ready, key adopted and logs in, password refused, verify")
	key2 := b.rotate(key1)
	b.st.done("rotation without a reboot; the adopted line is revoked")
	b.commandsInside(c)
	b.st.done("sync, status and reload inside")

	c.stop()
	b.st.done("halt")
	c = boot(t, b.tree)
	b.st.done("boot again")
	b.checkRunning(c, key2)
	b.st.done("after the reboot: ready, key logs in, password refused")

	b.upgradeAndRemove(c)
	b.st.done("upgrade restarts, remove stops")
	b.purge(c, key2)
	b.st.done("purge")
	b.installRunning(c, key2)
	b.st.done("install on a running system with ecs-user starts it")
	c.stop()
	b.st.done("halt")
}

// installInChroot installs the package as an image build would: in a
// chroot, with systemd not running, so the unit is enabled, not started.
func (b *bootTest) installInChroot(deb string) {
	t, tree := b.t, b.tree
	t.Helper()
	must(t, time.Minute, "cp", deb, filepath.Join(tree, debInTree))
	out := must(t, 2*time.Minute, "chroot", tree, "dpkg", "-i", debInTree)
	t.Logf("dpkg -i in a chroot:\n%s", out)
	if _, err := os.Lstat(filepath.Join(tree, "etc/systemd/system/multi-user.target.wants", unit)); err != nil {
		t.Fatalf("dpkg -i in a chroot did not enable the unit: %v", err)
	}
	if v := os.Getenv("E2E_PKG_VERSION"); v != "" {
		got := must(t, time.Minute, "chroot", tree, "dpkg-query", "-W", "-f", "${Version}", "ecs-keyagent")
		if got != v+"-1" {
			t.Errorf("installed version = %q, want %q", got, v+"-1")
		}
	}
}

// prepare starts the metadata emulator on the host's loopback, points the
// agent at it, moves sshd to a free port, writes root's authorized_keys as
// cloud-init leaves it at first boot (the bound key on a plain line) plus a
// key added by hand, and records /etc/ssh as it is before the agent runs.
func (b *bootTest) prepare() {
	t, tree := b.t, b.tree
	t.Helper()
	b.emu = startEmulator(t, b.work)
	b.port = agenttest.FreePort(t)
	b.askpass = writeAskpass(t, b.work)
	b.writeConfig("")
	// PermitRootLogin yes: root may log on with a password once the agent
	// gives passwords back, as on an image that allows it; Debian's default,
	// prohibit-password (sshd_config(5)), would refuse root's password
	// whatever the agent does. The agent itself never sets it.
	writeFile(t, filepath.Join(tree, "etc/ssh/sshd_config.d/10-e2e-port.conf"), 0o644,
		fmt.Sprintf("Port %d\nListenAddress 127.0.0.1\nPermitRootLogin yes\n", b.port))
	b.hand = filepath.Join(b.work, "hand")
	must(t, 10*time.Second, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "added-by-hand", "-f", b.hand)
	b.handPub = readFile(t, b.hand+".pub")
	if err := os.MkdirAll(filepath.Join(tree, "root/.ssh"), 0o700); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(tree, "root/.ssh/authorized_keys"), 0o600,
		readFile(t, filepath.Join(b.work, "key1.pub"))+"# added by hand\n"+b.handPub)
	// Outside a boot sshd -T needs its privilege separation directory.
	if err := os.MkdirAll(filepath.Join(tree, "run/sshd"), 0o755); err != nil {
		t.Fatal(err)
	}
	before := must(t, time.Minute, "chroot", tree, "/usr/sbin/sshd", "-T", "-C", "user=root,host=h,addr=192.0.2.1")
	if !strings.Contains(before, "\npasswordauthentication yes\n") {
		t.Fatalf("before the agent, sshd -T should allow passwords:\n%s", before)
	}
	b.sshdBefore = snapshot(t, filepath.Join(tree, "etc/ssh"))
}

// writeConfig writes the agent's configuration in the tree: the emulator,
// the short poll interval, and extra (TOML) after them.
func (b *bootTest) writeConfig(extra string) {
	b.t.Helper()
	writeFile(b.t, filepath.Join(b.tree, "etc/ecs-keyagent/config.toml"), 0o644,
		fmt.Sprintf("endpoint = %q\npoll_interval = %q\nboot_timeout = \"20s\"\n%s", b.emu.url, pollInterval, extra))
}

// checkAdopted checks what the first sync made of the cloud-init line that
// prepare wrote: the bound key (private half at key) moved into the agent's
// block, every other byte kept, and the move logged as an adoption.
func (b *bootTest) checkAdopted(c *container, key string) {
	t := b.t
	t.Helper()
	ak := readFile(t, filepath.Join(c.dir, "root/.ssh/authorized_keys"))
	inside, outside := splitBlock(ak)
	pub := strings.Fields(readFile(t, key+".pub"))[1]
	if !strings.Contains(inside, pub) || strings.Contains(outside, pub) {
		t.Errorf("the bound key is not adopted into the block:\n%s", ak)
	}
	if outside != "# added by hand\n"+b.handPub {
		t.Errorf("outside the block, root's authorized_keys = %q, want only the hand-added lines", outside)
	}
	fp := fingerprint(t, key+".pub")
	if j := c.must("journalctl", "-b", "--no-pager", "-o", "verbose", "-u", unit); !strings.Contains(j, "ADOPTED="+fp+"\n") {
		t.Errorf("the journal has no ADOPTED=%s:\n%s", fp, j)
	}
}

// splitBlock returns the lines of the agent's managed block and the rest
// of an authorized_keys file.
func splitBlock(ak string) (inside, outside string) {
	in := false
	for _, l := range strings.SplitAfter(ak, "\n") {
		switch {
		case strings.HasPrefix(l, "# BEGIN ecs-keyagent"):
			in = true
		case strings.HasPrefix(l, "# END ecs-keyagent"):
			in = false
		case in:
			inside += l
		default:
			outside += l
		}
	}
	return inside, outside
}

// fingerprint is the SHA256 fingerprint of a public key file, by ssh-keygen.
func fingerprint(t *testing.T, pub string) string {
	t.Helper()
	f := strings.Fields(must(t, 10*time.Second, "ssh-keygen", "-l", "-E", "sha256", "-f", pub))
	if len(f) < 2 {
		t.Fatalf("ssh-keygen -l %s: no fingerprint", pub)
	}
	return f[1]
}

// checkRunning checks a booted container: the service reached readiness
// inside its sandbox, the bound key (private half at key) is installed next
// to the hand-added one and logs in, and sshd offers nothing but public keys.
func (b *bootTest) checkRunning(c *container, key string) {
	t, port, handPub := b.t, b.port, b.handPub
	t.Helper()
	// Type=notify: systemd calls the unit active only after READY=1.
	if s := c.show(unit, "ActiveState") + "/" + c.show(unit, "SubState"); s != "active/running" {
		t.Fatalf("%s is %s\n%s", unit, s, c.exec(time.Minute, "journalctl", "-b", "--no-pager", "-u", unit).stdout)
	}
	t.Logf("%s: NRestarts=%s Status=%q", unit, c.show(unit, "NRestarts"), c.show(unit, "StatusText"))
	if n := c.show(unit, "NRestarts"); n != "0" {
		t.Errorf("%s restarted %s times", unit, n)
	}
	// The sandbox is really in force, not just written down: bounding set
	// CAP_CHOWN|CAP_DAC_OVERRIDE|CAP_FOWNER, no new privileges, seccomp.
	status := c.must("cat", "/proc/"+c.show(unit, "MainPID")+"/status")
	for _, want := range []string{"CapBnd:\t000000000000000b\n", "NoNewPrivs:\t1\n", "Seccomp:\t2\n"} {
		if !strings.Contains(status, want) {
			t.Errorf("agent's /proc/PID/status lacks %q:\n%s", want, status)
		}
	}
	ak := readFile(t, filepath.Join(c.dir, "root/.ssh/authorized_keys"))
	pub := strings.Fields(readFile(t, key+".pub"))[1]
	if !strings.Contains(ak, pub) || !strings.Contains(ak, "# added by hand\n"+handPub) {
		t.Errorf("root's authorized_keys lacks the bound or the hand-added key:\n%s", ak)
	}
	eff := c.must("sshd", "-T", "-C", "user=root,host=h,addr=192.0.2.1")
	for _, want := range []string{"\npasswordauthentication no\n", "\nkbdinteractiveauthentication no\n"} {
		if !strings.Contains(eff, want) {
			t.Errorf("sshd -T inside lacks %q", strings.TrimSpace(want))
		}
	}
	waitFor(t, 20*time.Second, func() bool { return loggedIn(sshKey(port, key)) })
	wantMethods(t, "password login", sshPassword(port), "publickey")
}

// waitFor polls cond until it holds or deadline passes, and returns how
// long it took.
func waitFor(t *testing.T, deadline time.Duration, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > deadline {
			t.Fatalf("condition not met within %v", deadline)
		}
		time.Sleep(200 * time.Millisecond)
	}
	return time.Since(start)
}

// waitUntil polls cond until it holds or deadline passes, and returns how
// long it took; on failure it names what it waited for and cond's last
// detail.
func waitUntil(t *testing.T, deadline time.Duration, what string, cond func() (bool, string)) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		ok, detail := cond()
		if ok {
			return time.Since(start)
		}
		if time.Since(start) > deadline {
			t.Fatalf("%s: not within %v; last seen:\n%s", what, deadline, detail)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func writeFile(t *testing.T, path string, mode os.FileMode, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), mode); err != nil {
		t.Fatal(err)
	}
}
