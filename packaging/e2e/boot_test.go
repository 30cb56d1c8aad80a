//go:build e2e

package e2e

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// pollInterval is the agent's poll_interval in the container; rotation is
// awaited for at most rotationDeadline, and how long it took is logged,
// not asserted.
const (
	pollInterval     = 2 * time.Second
	rotationDeadline = 30 * time.Second
)

// TestBoot installs the .deb into a Debian 12 tree, boots it, and checks the
// service the way issue #5 lists it, through a reboot and a purge.
func TestBoot(t *testing.T) {
	prereq(t, "debootstrap", "systemd-nspawn", "nsenter", "chroot", "tar", "ssh", "ssh-keygen")
	deb := dist(t, "ecs-keyagent_*_"+debArch()+".deb")
	st := newStep(t)
	work := t.TempDir()
	tree := freshTree(t)
	st.done("tree from cache (debootstrap if none)")

	// Install as an image build would: in a chroot, systemd not running.
	must(t, time.Minute, "cp", deb, filepath.Join(tree, "var/tmp/ecs-keyagent.deb"))
	out := must(t, 2*time.Minute, "chroot", tree, "dpkg", "-i", "/var/tmp/ecs-keyagent.deb")
	t.Logf("dpkg -i in a chroot:\n%s", out)
	if _, err := os.Lstat(filepath.Join(tree, "etc/systemd/system/multi-user.target.wants/ecs-keyagent.service")); err != nil {
		t.Fatalf("dpkg -i in a chroot did not enable the unit: %v", err)
	}
	if v := os.Getenv("E2E_PKG_VERSION"); v != "" {
		got := must(t, time.Minute, "chroot", tree, "dpkg-query", "-W", "-f", "${Version}", "ecs-keyagent")
		if got != v+"-1" {
			t.Errorf("installed version = %q, want %q", got, v+"-1")
		}
	}

	// The metadata emulator on the host's loopback, sshd on a free port, a
	// key root added by hand, and sshd's configuration as it was before the
	// agent ever ran.
	emu := startEmulator(t, work)
	port := freePort(t)
	writeFile(t, filepath.Join(tree, "etc/ecs-keyagent/config.toml"), 0o644,
		fmt.Sprintf("endpoint = %q\npoll_interval = %q\nboot_timeout = \"20s\"\n", emu.url, pollInterval))
	writeFile(t, filepath.Join(tree, "etc/ssh/sshd_config.d/10-e2e-port.conf"), 0o644,
		fmt.Sprintf("Port %d\nListenAddress 127.0.0.1\n", port))
	hand := filepath.Join(work, "hand")
	must(t, 10*time.Second, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "added-by-hand", "-f", hand)
	handPub := readFile(t, hand+".pub")
	if err := os.MkdirAll(filepath.Join(tree, "root/.ssh"), 0o700); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(tree, "root/.ssh/authorized_keys"), 0o600, "# added by hand\n"+handPub)
	if err := os.MkdirAll(filepath.Join(tree, "run/sshd"), 0o755); err != nil {
		t.Fatal(err)
	}
	before := must(t, time.Minute, "chroot", tree, "/usr/sbin/sshd", "-T", "-C", "user=root,host=h,addr=192.0.2.1")
	if !strings.Contains(before, "\npasswordauthentication yes\n") {
		t.Fatalf("before the agent, sshd -T should allow passwords:\n%s", before)
	}
	sshdBefore := snapshot(t, filepath.Join(tree, "etc/ssh"))
	st.done("install in a chroot, emulator, sshd port, hand-added key")

	c := boot(t, tree)
	st.done("boot")
	checkRunning(t, c, port, filepath.Join(work, "key1"), handPub)
	if r := c.exec(time.Minute, "systemd-analyze", "verify", "--man=no", "/lib/systemd/system/ecs-keyagent.service"); r.err != nil || r.stderr != "" {
		t.Errorf("systemd-analyze verify in the container: %s", r)
	}
	st.done("service ready, key logs in, password refused, verify")

	// Live rotation: a new key pair bound in the console.
	key2 := emu.rebind(t, "key2")
	waited := waitFor(t, rotationDeadline, func() bool { return loggedIn(sshKey(port, key2)) })
	t.Logf("rebound key logs in %.1fs after the rebind (poll_interval %v)", waited.Seconds(), pollInterval)
	waitFor(t, rotationDeadline, func() bool { return !loggedIn(sshKey(port, filepath.Join(work, "key1"))) })
	wantMethods(t, "old key after the rebind", sshKey(port, filepath.Join(work, "key1")), "publickey")
	st.done("rotation without a reboot")

	// The command line inside, next to the running service.
	if out := c.must("ecs-keyagent", "sync"); !strings.Contains(out, "unchanged") || !strings.Contains(out, "passwordauthentication no") {
		t.Errorf("ecs-keyagent sync inside:\n%s", out)
	}
	if out := c.must("ecs-keyagent", "status"); !strings.Contains(out, "outcome ok") {
		t.Errorf("ecs-keyagent status inside:\n%s", out)
	}
	pid := c.show("ecs-keyagent.service", "MainPID")
	c.must("systemctl", "reload", "ecs-keyagent.service")
	if got := c.show("ecs-keyagent.service", "MainPID"); got != pid || c.show("ecs-keyagent.service", "ActiveState") != "active" {
		t.Errorf("after systemctl reload: MainPID %s (was %s), ActiveState %s", got, pid, c.show("ecs-keyagent.service", "ActiveState"))
	}
	st.done("sync, status and reload inside")

	// Reboot: nothing regresses.
	c.stop()
	st.done("halt")
	c = boot(t, tree)
	st.done("boot again")
	checkRunning(t, c, port, key2, handPub)
	st.done("after the reboot: ready, key logs in, password refused")

	// Upgrade (the same package again): postinst restarts the service.
	pid = c.show("ecs-keyagent.service", "MainPID")
	c.must("dpkg", "-i", "/var/tmp/ecs-keyagent.deb")
	if got := c.show("ecs-keyagent.service", "MainPID"); got == pid || c.show("ecs-keyagent.service", "ActiveState") != "active" {
		t.Errorf("after an upgrade: MainPID %s (was %s), ActiveState %s; want a restarted, active service", got, pid, c.show("ecs-keyagent.service", "ActiveState"))
	}
	st.done("upgrade restarts")

	// Remove: the service stops and is disabled the way dh_installsystemd
	// does it, by a mask that purge lifts together with the enablement
	// symlinks; password logon stays off, as on the platform when a key pair
	// is detached.
	c.must("dpkg", "--remove", "ecs-keyagent")
	if s := c.show("ecs-keyagent.service", "ActiveState"); s != "inactive" {
		t.Errorf("after dpkg --remove the service is %s, want inactive", s)
	}
	if r := c.exec(time.Minute, "systemctl", "is-enabled", "ecs-keyagent.service"); strings.TrimSpace(r.stdout) != "masked" {
		t.Errorf("after dpkg --remove: systemctl is-enabled: %s; want masked", r)
	}
	wantMethods(t, "password after remove", sshPassword(port), "publickey")
	st.done("remove")

	// Purge: sshd's configuration is back byte for byte and sshd offers
	// passwords again (it was reloaded); the keys stay.
	out = c.must("dpkg", "--purge", "ecs-keyagent")
	t.Logf("dpkg --purge inside:\n%s", out)
	if after := snapshot(t, filepath.Join(tree, "etc/ssh")); !maps.Equal(after, sshdBefore) {
		t.Errorf("after purge, /etc/ssh differs from before the agent:\nbefore %v\nafter  %v", sshdBefore, after)
	}
	wantMethods(t, "password after purge", sshPassword(port), "publickey,password")
	if !loggedIn(sshKey(port, key2)) {
		t.Errorf("after purge the bound key no longer logs in")
	}
	ak := readFile(t, filepath.Join(tree, "root/.ssh/authorized_keys"))
	if !strings.Contains(ak, readFile(t, key2+".pub")[:80]) || !strings.Contains(ak, handPub) {
		t.Errorf("after purge authorized_keys lost a key:\n%s", ak)
	}
	for _, gone := range []string{"var/lib/ecs-keyagent", "lib/systemd/system/ecs-keyagent.service", "etc/ecs-keyagent",
		"etc/systemd/system/multi-user.target.wants/ecs-keyagent.service"} {
		if _, err := os.Lstat(filepath.Join(tree, gone)); err == nil {
			t.Errorf("after purge /%s is still there", gone)
		}
	}
	st.done("purge")

	// Installed on a running system (not an image build): enabled and
	// started at once. The configuration is put back first, keeping it
	// over the package's (--force-confold), so the agent finds metadata.
	if err := os.Mkdir(filepath.Join(tree, "etc/ecs-keyagent"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(tree, "etc/ecs-keyagent/config.toml"), 0o644,
		fmt.Sprintf("endpoint = %q\npoll_interval = %q\n", emu.url, pollInterval))
	c.must("dpkg", "--force-confold", "-i", "/var/tmp/ecs-keyagent.deb")
	if s := c.show("ecs-keyagent.service", "ActiveState"); s != "active" {
		t.Errorf("after dpkg -i on a running system the service is %s, want active", s)
	}
	if r := c.exec(time.Minute, "systemctl", "is-enabled", "ecs-keyagent.service"); strings.TrimSpace(r.stdout) != "enabled" {
		t.Errorf("after dpkg -i on a running system: systemctl is-enabled: %s", r)
	}
	wantMethods(t, "password after installing again", sshPassword(port), "publickey")
	st.done("install on a running system starts it")
	c.stop()
	st.done("halt")
}

// checkRunning checks a booted container: the service reached readiness,
// the bound key (private half at key) is installed next to the hand-added
// one and logs in, and sshd offers nothing but public keys.
func checkRunning(t *testing.T, c *container, port int, key, handPub string) {
	t.Helper()
	const unit = "ecs-keyagent.service"
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
	wantMethods(t, "password logon", sshPassword(port), "publickey")
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
