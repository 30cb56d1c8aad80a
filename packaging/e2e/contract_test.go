//go:build e2e

package e2e

import (
	"crypto/rand"
	"encoding/hex"
	"maps"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestContract boots a tree of its own and follows the platform's password
// contract for root with real ssh logins from the host: a key pair bound
// turns password login off; root's password reset with chpasswd gives it
// back, with /etc/ssh as it was before the agent; a different key pair
// bound turns it off again; a detach gives it back. Then, with
// password_authentication and keyboard_interactive set to "disable" and the
// service reloaded, the same events never give it back.
func TestContract(t *testing.T) {
	prereq(t, "debootstrap", "systemd-nspawn", "nsenter", "chroot", "tar", "ssh", "ssh-keygen")
	deb := dist(t, "ecs-keyagent_*_"+debArch()+".deb")
	b := &bootTest{t: t, st: newStep(t), work: t.TempDir()}
	b.tree = freshTree(t)
	b.installInChroot(deb)
	b.prepare()
	c := boot(t, b.tree)
	b.st.done("tree, install in a chroot, boot")

	// 1. Bound: the key logs in; sshd offers no password method.
	key1 := filepath.Join(b.work, "key1")
	b.checkRunning(c, key1)
	b.wantStatus(c, `^sshd: password login off since \S+: a key pair is bound$`, `^sshd: root can log in with: key$`)
	b.st.done("platform: bound, password refused")

	// 2. root's password reset: password login back, the key still in.
	pw1 := b.resetPassword(c, "root")
	waited := b.waitPassword("root's new password logs in after chpasswd", pw1)
	t.Logf("password login back %.1fs after chpasswd (poll_interval %v)", waited.Seconds(), pollInterval)
	if !loggedIn(sshKey(b.port, key1)) {
		t.Errorf("after the password reset the bound key no longer logs in")
	}
	b.wantSSHDBefore("after the password reset")
	b.wantStatus(c, `^sshd: password login restored at \S+: root's password was reset$`, `^sshd: root can log in with: key, password$`)
	// Stays back: a later sync of the service, and one run by hand.
	c.waitSynced(time.Now())
	if out := c.must("ecs-keyagent", "sync"); !regexp.MustCompile(`(?m)^sshd: password login restored at \S+: root's password was reset$`).MatchString(out) {
		t.Errorf("ecs-keyagent sync inside after the reset:\n%s", out)
	}
	b.wantPassword("root's password, after more syncs", pw1)
	b.st.done("platform: chpasswd gives passwords back")

	// 3. A different key pair bound: off again, the old key out.
	key2 := b.emu.rebind(t, "key2")
	waitFor(t, rotationDeadline, func() bool { return loggedIn(sshKey(b.port, key2)) })
	b.waitRefused("root's password after a different key pair is bound", pw1)
	wantMethods(t, "the first key after the rebind", sshKey(b.port, key1), "publickey")
	b.wantStatus(c, `^sshd: password login off since \S+: a key pair is bound$`, `^sshd: root can log in with: key$`)
	b.st.done("platform: another key pair turns passwords off again")

	// 4. Detached: password login back, /etc/ssh as before the agent, the
	// bound key out and the hand-added one still in.
	b.emu.detach(t)
	b.waitPassword("root's password after the detach", pw1)
	b.wantSSHDBefore("after the detach")
	wantMethods(t, "the detached key", sshKey(b.port, key2), "publickey,password")
	if !loggedIn(sshKey(b.port, b.hand)) {
		t.Errorf("after the detach the hand-added key no longer logs in")
	}
	b.wantStatus(c, `^metadata: no key pair bound$`, `^sshd: password login restored at \S+: the key pair was detached$`,
		`^sshd: root can log in with: key, password$`)
	b.st.done("platform: detach gives passwords back")

	// 5. Mode "disable", by a reload: nothing bound, so nothing to turn off
	// yet; then bind, reset, rebind and detach leave passwords off.
	b.writeConfig("[sshd]\npassword_authentication = \"disable\"\nkeyboard_interactive = \"disable\"\n")
	c.must("systemctl", "reload", unit)
	waitUntil(t, rotationDeadline, "the service reloads its configuration", func() (bool, string) {
		j := c.must("journalctl", "-b", "--no-pager", "-o", "cat", "-u", unit)
		return strings.Contains(j, "configuration reloaded"), j
	})
	c.waitSynced(time.Now())
	b.wantPassword("root's password in mode disable with no key bound", pw1)

	key3 := b.emu.rebind(t, "key3")
	waitFor(t, rotationDeadline, func() bool { return loggedIn(sshKey(b.port, key3)) })
	b.waitRefused("root's password in mode disable once a key pair is bound", pw1)
	b.st.done("disable: reload, bind")

	pw2 := b.resetPassword(c, "root")
	c.waitSynced(time.Now())
	b.wantRefused("root's new password in mode disable after chpasswd", pw2)
	b.wantStatus(c, `^sshd: root can log in with: key$`)

	key4 := b.emu.rebind(t, "key4")
	waitFor(t, rotationDeadline, func() bool { return loggedIn(sshKey(b.port, key4)) })
	c.waitSynced(time.Now())
	b.wantRefused("root's password in mode disable after a rebind", pw2)

	b.emu.detach(t)
	waitFor(t, rotationDeadline, func() bool { return !loggedIn(sshKey(b.port, key4)) })
	c.waitSynced(time.Now())
	b.wantRefused("root's password in mode disable after the detach", pw2)
	if !loggedIn(sshKey(b.port, b.hand)) {
		t.Errorf("in mode disable after the detach the hand-added key no longer logs in")
	}
	b.wantStatus(c, `^metadata: no key pair bound$`, `^sshd: root can log in with: key$`)
	b.st.done("disable: chpasswd, rebind, detach keep passwords off")
	c.stop()
	b.st.done("halt")
}

// resetPassword sets a fresh random password for user inside the
// container with chpasswd, as a password reset in the console does, and
// returns it.
func (b *bootTest) resetPassword(c *container, user string) string {
	b.t.Helper()
	raw := make([]byte, 12)
	rand.Read(raw)
	pw := "e2e-" + hex.EncodeToString(raw)
	c.must("sh", "-c", "printf '%s:%s\\n' \"$1\" \"$2\" | chpasswd", "sh", user, pw)
	return pw
}

// waitPassword waits until root logs on with password, and returns how
// long that took.
func (b *bootTest) waitPassword(what, password string) time.Duration {
	b.t.Helper()
	return waitUntil(b.t, rotationDeadline, what, func() (bool, string) {
		r := sshWithPassword(b.port, b.askpass, "root", password)
		return loggedIn(r), r.String()
	})
}

// wantPassword checks that root logs on with password now. A failed
// connection (sshd re-executing itself on a reload) is tried again.
func (b *bootTest) wantPassword(what, password string) {
	b.t.Helper()
	waitUntil(b.t, rotationDeadline, what, func() (bool, string) {
		r := sshWithPassword(b.port, b.askpass, "root", password)
		if refused(r, "publickey") || refused(r, "publickey,password") {
			b.t.Fatalf("%s: refused\n%s", what, r)
		}
		return loggedIn(r), r.String()
	})
}

// waitRefused waits until sshd refuses root's password, offering public
// keys alone.
func (b *bootTest) waitRefused(what, password string) {
	b.t.Helper()
	waitUntil(b.t, rotationDeadline, what, func() (bool, string) {
		r := sshWithPassword(b.port, b.askpass, "root", password)
		return refused(r, "publickey"), r.String()
	})
}

// wantRefused checks that sshd refuses root's password now, offering public
// keys alone; a logon fails the test at once. A failed connection is tried
// again.
func (b *bootTest) wantRefused(what, password string) {
	b.t.Helper()
	waitUntil(b.t, rotationDeadline, what, func() (bool, string) {
		r := sshWithPassword(b.port, b.askpass, "root", password)
		if loggedIn(r) {
			b.t.Fatalf("%s: the password logs in", what)
		}
		return refused(r, "publickey"), r.String()
	})
}

// wantSSHDBefore checks that /etc/ssh is byte for byte as it was before
// the agent first ran.
func (b *bootTest) wantSSHDBefore(when string) {
	b.t.Helper()
	if after := snapshot(b.t, filepath.Join(b.tree, "etc/ssh")); !maps.Equal(after, b.sshdBefore) {
		b.t.Errorf("%s, /etc/ssh differs from before the agent:\nbefore %v\nafter  %v", when, b.sshdBefore, after)
	}
}

// wantStatus waits until `ecs-keyagent status` inside has a line matching
// each of lines (regular expressions): the state file is written at the end
// of the sync whose effect the caller has just seen.
func (b *bootTest) wantStatus(c *container, lines ...string) {
	b.t.Helper()
	var out string
	waitUntil(b.t, rotationDeadline, "ecs-keyagent status with "+strings.Join(lines, " and "), func() (bool, string) {
		out = c.must("ecs-keyagent", "status")
		for _, l := range lines {
			if !regexp.MustCompile("(?m)" + l).MatchString(out) {
				return false, out
			}
		}
		return true, out
	})
	b.t.Logf("ecs-keyagent status inside:\n%s", out)
}
