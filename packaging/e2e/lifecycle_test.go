//go:build e2e

package e2e

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// rotate binds a new key pair in the emulator, as the console does, and
// waits until it logs in and the old one (private half at old) is refused.
func (b *bootTest) rotate(old string) (key2 string) {
	t, port := b.t, b.port
	t.Helper()
	key2 = b.emu.rebind(t, "key2")
	waited := waitFor(t, rotationDeadline, func() bool { return loggedIn(sshKey(port, key2)) })
	t.Logf("rebound key logs in %.1fs after the rebind (poll_interval %v)", waited.Seconds(), pollInterval)
	waitFor(t, rotationDeadline, func() bool { return !loggedIn(sshKey(port, old)) })
	wantMethods(t, "old key after the rebind", sshKey(port, old), "publickey")
	return key2
}

// commandsInside runs the command line next to the running service, and
// reloads the service.
func (b *bootTest) commandsInside(c *container) {
	t := b.t
	t.Helper()
	if out := c.must("ecs-keyagent", "sync"); !strings.Contains(out, "unchanged") || !strings.Contains(out, "passwordauthentication no") {
		t.Errorf("ecs-keyagent sync inside:\n%s", out)
	}
	// status shows the state in force and the service as systemd sees it;
	// doctor finds every link of a key logon whole.
	if out := c.must("ecs-keyagent", "status"); !regexp.MustCompile(`(?m)^last sync: .*, ok$`).MatchString(out) ||
		!regexp.MustCompile(`(?m)^service: ecs-keyagent.service active \(running\) since .*, pid \d+; logs: journalctl -u ecs-keyagent.service$`).MatchString(out) {
		t.Errorf("ecs-keyagent status inside:\n%s", out)
	}
	if r := c.exec(time.Minute, "ecs-keyagent", "doctor"); r.err != nil || strings.Contains(r.stdout, "FAIL") {
		t.Errorf("ecs-keyagent doctor inside: %v\n%s%s", r.err, r.stdout, r.stderr)
	}
	pid := c.show(unit, "MainPID")
	c.must("systemctl", "reload", unit)
	if got := c.show(unit, "MainPID"); got != pid || c.show(unit, "ActiveState") != "active" {
		t.Errorf("after systemctl reload: MainPID %s (was %s), ActiveState %s", got, pid, c.show(unit, "ActiveState"))
	}

	// A reload with a bad file fails (ExecReload= runs check-config first),
	// says why in the journal, and leaves the service running as it was.
	conf := filepath.Join(b.tree, "etc/ecs-keyagent/config.toml")
	good := readFile(t, conf)
	writeFile(t, conf, 0o644, good+"user = [\"root\"]\n")
	if r := c.exec(time.Minute, "systemctl", "reload", unit); r.err == nil {
		t.Errorf("systemctl reload with a bad configuration succeeded: %s", r)
	}
	if got := c.show(unit, "MainPID"); got != pid || c.show(unit, "ActiveState") != "active" {
		t.Errorf("after a failed reload: MainPID %s (was %s), ActiveState %s", got, pid, c.show(unit, "ActiveState"))
	}
	if j := c.must("journalctl", "--no-pager", "-u", unit); !strings.Contains(j, `unknown key "user"; did you mean "users"?`) {
		t.Errorf("the journal does not say why the reload failed:\n%s", j)
	}
	writeFile(t, conf, 0o644, good)

	// restore-sshd refuses while the service would write sshd again, and
	// changes nothing; its dry run shows what it would remove.
	etcSSH := snapshot(t, filepath.Join(b.tree, "etc/ssh"))
	if r := c.exec(time.Minute, "ecs-keyagent", "restore-sshd"); r.err == nil || !strings.Contains(r.stderr, "ecs-keyagent.service is running") {
		t.Errorf("restore-sshd while the service runs: %s; want a refusal", r)
	}
	if out := c.must("ecs-keyagent", "restore-sshd", "--dry-run"); !strings.Contains(out, "sshd: would remove /etc/ssh/sshd_config.d/00-ecs-keyagent.conf") {
		t.Errorf("restore-sshd --dry-run:\n%s", out)
	}
	if after := snapshot(t, filepath.Join(b.tree, "etc/ssh")); !maps.Equal(after, etcSSH) {
		t.Errorf("restore-sshd changed /etc/ssh while refusing or in a dry run")
	}
}

// upgradeAndRemove installs the same package again, which postinst treats
// as an upgrade and restarts the service, then removes it: stopped, and
// disabled the way dh_installsystemd does it, by a mask that purge lifts
// with the enablement symlinks. Password login stays off after a remove,
// as the README says: only a purge (restore-sshd) gives it back.
func (b *bootTest) upgradeAndRemove(c *container) {
	t := b.t
	t.Helper()
	pid := c.show(unit, "MainPID")
	c.must("dpkg", "-i", debInTree)
	if got := c.show(unit, "MainPID"); got == pid || c.show(unit, "ActiveState") != "active" {
		t.Errorf("after an upgrade: MainPID %s (was %s), ActiveState %s; want a restarted, active service", got, pid, c.show(unit, "ActiveState"))
	}
	c.must("dpkg", "--remove", "ecs-keyagent")
	if s := c.show(unit, "ActiveState"); s != "inactive" {
		t.Errorf("after dpkg --remove the service is %s, want inactive", s)
	}
	if r := c.exec(time.Minute, "systemctl", "is-enabled", unit); strings.TrimSpace(r.stdout) != "masked" {
		t.Errorf("after dpkg --remove: systemctl is-enabled: %s; want masked", r)
	}
	wantMethods(t, "password after remove", sshPassword(b.port), "publickey")
}

// purge checks that dpkg --purge puts sshd's configuration back byte for
// byte and reloads sshd, which offers passwords again, and that the keys
// stay.
func (b *bootTest) purge(c *container, key string) {
	t, tree := b.t, b.tree
	t.Helper()
	out := c.must("dpkg", "--purge", "ecs-keyagent")
	t.Logf("dpkg --purge inside:\n%s", out)
	if after := snapshot(t, filepath.Join(tree, "etc/ssh")); !maps.Equal(after, b.sshdBefore) {
		t.Errorf("after purge, /etc/ssh differs from before the agent:\nbefore %v\nafter  %v", b.sshdBefore, after)
	}
	wantMethods(t, "password after purge", sshPassword(b.port), "publickey,password")
	if !loggedIn(sshKey(b.port, key)) {
		t.Errorf("after purge the bound key no longer logs in")
	}
	ak := readFile(t, filepath.Join(tree, "root/.ssh/authorized_keys"))
	if !strings.Contains(ak, strings.Fields(readFile(t, key+".pub"))[1]) || !strings.Contains(ak, b.handPub) {
		t.Errorf("after purge authorized_keys lost a key:\n%s", ak)
	}
	for _, gone := range []string{"var/lib/ecs-keyagent", "lib/systemd/system/" + unit, "etc/ecs-keyagent",
		"etc/systemd/system/multi-user.target.wants/" + unit} {
		if _, err := os.Lstat(filepath.Join(tree, gone)); err == nil {
			t.Errorf("after purge /%s is still there", gone)
		}
	}
}

// installRunning installs the package on the running system (not an image
// build): it is enabled and started at once. The system now has ecs-user,
// as an instance created with that login user does, and users is left
// unset: the agent serves ecs-user, not root. The configuration is put back
// first and kept over the package's (--force-confold), so the agent finds
// metadata; key is the bound key's private half.
func (b *bootTest) installRunning(c *container, key string) {
	t := b.t
	t.Helper()
	c.must("useradd", "--create-home", "--shell", "/bin/sh", "ecs-user")
	rootKeys := readFile(t, filepath.Join(b.tree, "root/.ssh/authorized_keys"))
	if err := os.Mkdir(filepath.Join(b.tree, "etc/ecs-keyagent"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(b.tree, "etc/ecs-keyagent/config.toml"), 0o644,
		fmt.Sprintf("endpoint = %q\npoll_interval = %q\n", b.emu.url, pollInterval))
	c.must("dpkg", "--force-confold", "-i", debInTree)
	if s := c.show(unit, "ActiveState"); s != "active" {
		t.Errorf("after dpkg -i on a running system the service is %s, want active", s)
	}
	if r := c.exec(time.Minute, "systemctl", "is-enabled", unit); strings.TrimSpace(r.stdout) != "enabled" {
		t.Errorf("after dpkg -i on a running system: systemctl is-enabled: %s", r)
	}
	waitUntil(t, rotationDeadline, "the bound key logs in as ecs-user", func() (bool, string) {
		r := sshKeyAs(b.port, "ecs-user", key)
		return loggedInAs(r, "ecs-user"), r.String()
	})
	ak := readFile(t, filepath.Join(b.tree, "home/ecs-user/.ssh/authorized_keys"))
	if inside, _ := splitBlock(ak); !strings.Contains(inside, strings.Fields(readFile(t, key+".pub"))[1]) {
		t.Errorf("ecs-user's authorized_keys lacks the bound key in the block:\n%s", ak)
	}
	if got := readFile(t, filepath.Join(b.tree, "root/.ssh/authorized_keys")); got != rootKeys {
		t.Errorf("serving ecs-user, the agent changed root's authorized_keys:\nbefore %q\nafter  %q", rootKeys, got)
	}
	if out := c.must("ecs-keyagent", "status"); !strings.Contains(out, "\necs-user: /home/ecs-user/.ssh/authorized_keys: ") ||
		strings.Contains(out, "\nroot: ") {
		t.Errorf("ecs-keyagent status should name ecs-user alone:\n%s", out)
	}
	wantMethods(t, "password after installing again", sshPassword(b.port), "publickey")
}
