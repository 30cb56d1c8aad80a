package reliability

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ecs-keyagent/ecs-keyagent/agent/metadata/emulator"
	"github.com/ecs-keyagent/ecs-keyagent/keys"
)

// A user's home as a lockout run leaves it before the sync.
var homeStates = []string{"ok", "no .ssh", "empty file", ".ssh symlink", "file symlink",
	"file group-writable", "file owned by another user", "file is a FIFO", "file hard-linked"}

// Metadata as a lockout run serves it.
var metaStates = []string{"valid", "valid and invalid", "none bound", "all invalid"}

func safeHome(s string) bool { return s == "ok" || s == "no .ssh" || s == "empty file" }

// sshd gates a lockout run sets in a drop-in that sorts after the agent's
// (the drop-in layout only): each closes the key way for some users, or
// refuses a user outright, or nothing. keysFor names the users whose key
// way stays open; "" for both.
var gates = []struct{ name, conf, keysFor string }{
	{name: "no gate"},
	{name: "PubkeyAuthentication no", conf: "PubkeyAuthentication no\n", keysFor: "none"},
	{name: "PubkeyAuthentication no for alice", conf: "Match User alice\n\tPubkeyAuthentication no\n", keysFor: "bob"},
	{name: "algorithms without ed25519", conf: "PubkeyAcceptedAlgorithms rsa-sha2-512,rsa-sha2-256\n", keysFor: "none"},
	{name: "AuthorizedKeysFile elsewhere", conf: "AuthorizedKeysFile /etc/ssh/keys/%u\n", keysFor: "none"},
	{name: "key plus password", conf: "AuthenticationMethods publickey,password\n", keysFor: "none"},
	{name: "PermitRootLogin no", conf: "PermitRootLogin no\n"},
	{name: "DenyUsers bob", conf: "DenyUsers bob\n"},
}

// keyWayOpen says whether the real sshd's reading of the tree lets user in
// with a key from ~/.ssh/authorized_keys: an oracle of its own, from sshd
// -T, apart from the agent's logon model.
func keyWayOpen(t *testing.T, tr *tree, user string) (bool, string) {
	v := realSSHDValues(t, tr, user)
	switch {
	case v["pubkeyauthentication"] != "yes":
		return false, "pubkeyauthentication " + v["pubkeyauthentication"]
	case !strings.Contains(" "+v["authorizedkeysfile"]+" ", " .ssh/authorized_keys "):
		return false, "authorizedkeysfile " + v["authorizedkeysfile"]
	case !strings.Contains(","+v["pubkeyacceptedalgorithms"]+",", ",ssh-ed25519,"):
		return false, "pubkeyacceptedalgorithms " + v["pubkeyacceptedalgorithms"]
	case v["authenticationmethods"] != "any" && !strings.Contains(" "+v["authenticationmethods"]+" ", " publickey "):
		return false, "authenticationmethods " + v["authenticationmethods"]
	}
	return true, ""
}

// refusedBy says whether the real sshd refuses user outright (DenyUsers).
func refusedBy(t *testing.T, tr *tree, user string) bool {
	return slices.Contains(strings.Fields(realSSHDValues(t, tr, user)["denyusers"]), user)
}

// prepareHome makes user's ~/.ssh as state says; no key of the user's own.
func prepareHome(t *testing.T, tr *tree, user string, uid int, state string) {
	ssh := "home/" + user + "/.ssh"
	must(t, os.RemoveAll(tr.path(ssh)))
	os.Remove(tr.path(ssh + ".real"))
	if state == "no .ssh" {
		return
	}
	dir := ssh
	if state == ".ssh symlink" {
		dir = ssh + ".real"
		must(t, os.Symlink(user+"/.ssh.real", tr.path(ssh))) // dangling on purpose: any target will do
	}
	tr.mkdir(dir, 0o700)
	tr.chown(dir, uid)
	ak := dir + "/authorized_keys"
	content := "# " + user + "'s own comment, no key\n"
	switch state {
	case "empty file":
		content = ""
	case "file symlink":
		tr.write(dir+"/elsewhere", content, 0o600)
		tr.chown(dir+"/elsewhere", uid)
		must(t, os.Symlink("elsewhere", tr.path(ak)))
		return
	case "file is a FIFO":
		must(t, unix.Mkfifo(tr.path(ak), 0o600))
		tr.chown(ak, uid)
		return
	}
	tr.write(ak, content, 0o600)
	tr.chown(ak, uid)
	switch state {
	case "file group-writable":
		must(t, os.Chmod(tr.path(ak), 0o660))
	case "file owned by another user":
		tr.chown(ak, 5555)
	case "file hard-linked":
		must(t, os.Link(tr.path(ak), tr.path(dir+"/second-name")))
	}
}

// passwordsOff reports whether the agent's settings are in sshd's files.
func passwordsOff(tr *tree) bool {
	_, err := os.Lstat(tr.path("etc/ssh/sshd_config.d/00-ecs-keyagent.conf"))
	return err == nil || strings.Contains(tr.read("etc/ssh/sshd_config"), "# BEGIN ecs-keyagent")
}

// usableFor says whether user's file, as sshd with StrictModes would read
// it, holds a key sshd accepts.
func usableFor(tr *tree, user string, uid int) (bool, string) {
	for _, rel := range []string{"home/" + user + "/.ssh", "home/" + user + "/.ssh/authorized_keys"} {
		fi, err := os.Lstat(tr.path(rel))
		if err != nil {
			return false, err.Error()
		}
		st := fi.Sys().(*syscall.Stat_t)
		switch {
		case fi.Mode()&os.ModeSymlink != 0:
			return false, rel + " is a symlink"
		case st.Uid != uint32(uid) && st.Uid != 0:
			return false, fmt.Sprintf("%s owned by %d", rel, st.Uid)
		case fi.Mode().Perm()&0o022 != 0:
			return false, rel + " writable by group or others"
		case !fi.IsDir() && (!fi.Mode().IsRegular() || st.Nlink != 1):
			return false, rel + " is not a regular file with one link"
		}
	}
	data, err := os.ReadFile(tr.path("home/" + user + "/.ssh/authorized_keys"))
	if err != nil {
		return false, err.Error()
	}
	if len(keys.UsableKeys(data)) == 0 {
		return false, "no usable key"
	}
	return true, ""
}

// TestLockout runs syncs for two users over random combinations of bound
// keys and hostile or broken homes, and checks the promise: password login
// is turned off only in a sync after which every target user has a key
// sshd accepts (checked independently: StrictModes rules and
// keys.UsableKeys), and where every home is usable and a valid key is
// bound it is turned off. The effective value is also read from the real
// sshd -T on the tree's files where sshd is installed.
func TestLockout(t *testing.T) {
	needRoot(t)
	rec := newRecord(t, "Lockout: password login never disabled without a usable key")
	runs := scale(400, 40)
	var disabled, leftAlone, sshdChecked, lockouts int
	for _, layout := range []struct{ name, config string }{{"drop-in", layoutDropIn}, {"main-file", layoutMain}} {
		t.Run(layout.name, func(t *testing.T) {
			tr := newTree(t, layout.config)
			tr.config("disable")
			pristine := snapshot(t, tr.path("etc/ssh"), func(string) bool { return true })
			mainFile := tr.read("etc/ssh/sshd_config")
			srv, url := startIMDS(t)
			good := newKeys(t, 2)
			users := []struct {
				name string
				uid  int
			}{{"alice", aliceUID}, {"bob", bobUID}}
			args := append(tr.syncArgs(url, "alice", "bob"), "--json")
			for i := range runs / 2 {
				rec.run()
				gate := gates[0]
				if layout.name == "drop-in" && rand.IntN(2) == 0 {
					gate = gates[rand.IntN(len(gates))]
				}
				if gate.conf != "" {
					tr.write("etc/ssh/sshd_config.d/10-gate.conf", gate.conf, 0o644)
				}
				meta := metaStates[rand.IntN(len(metaStates))]
				states := map[string]string{}
				safe := meta == "valid" || meta == "valid and invalid"
				for _, u := range users {
					st := homeStates[rand.IntN(len(homeStates))]
					if rand.IntN(2) == 0 { // half the homes usable, so both outcomes occur
						st = homeStates[rand.IntN(3)]
					}
					states[u.name] = st
					prepareHome(t, tr, u.name, u.uid, st)
					safe = safe && safeHome(st)
				}
				if !safe || gate.conf != "" {
					rec.fault()
				}
				switch meta {
				case "valid":
					bind(srv, good...)
				case "valid and invalid":
					srv.SetKeys(keyEntries(good[0].line, `command="/bin/true" `+good[1].line)...)
				case "none bound":
					srv.SetKeys()
				case "all invalid":
					srv.SetKeys(keyEntries(`command="/bin/true" `+good[0].line, strings.Replace(good[1].line, " ", "\r", 1))...)
				}
				o := runAgent(t, time.Minute, args...)
				what := fmt.Sprintf("run %d (metadata %s, alice %s, bob %s, gate %s)", i, meta, states["alice"], states["bob"], gate.name)
				if o.status != 0 && o.status != 1 && o.status != 3 {
					rec.fail("%s: exit status %d\n%s%s", what, o.status, o.stdout, o.stderr)
				}
				off := passwordsOff(tr)
				if off {
					disabled++
					for _, u := range users {
						if sshdAvailable(t) && refusedBy(t, tr, u.name) {
							continue // sshd refuses the user anyway: nothing lost
						}
						if ok, why := usableFor(tr, u.name, u.uid); !ok {
							rec.fail("%s: password login turned off, but %s has no usable key: %s", what, u.name, why)
						}
						if !sshdAvailable(t) {
							continue
						}
						if ok, why := keyWayOpen(t, tr, u.name); !ok {
							lockouts++
							rec.fail("%s: password login turned off, but sshd refuses %s's key: %s", what, u.name, why)
						}
					}
				} else {
					leftAlone++
					if safe && gate.keysFor == "" {
						rec.fail("%s: every home usable and a valid key bound, yet password login left on\n%s", what, o.stdout)
					}
					var r struct {
						Error string
						SSHD  *struct{ Skipped, Error string }
					}
					err := json.Unmarshal([]byte(o.stdout), &r)
					if err != nil || (r.Error == "" && (r.SSHD == nil || r.SSHD.Skipped == "" && r.SSHD.Error == "")) {
						rec.fail("%s: password login left on without a reason in the report (%v)\n%s", what, err, o.stdout)
					}
				}
				if want := map[bool]string{true: "no", false: "yes"}[off]; sshdAvailable(t) {
					sshdChecked++
					for _, u := range users {
						if got := realSSHD(t, tr, u.name); got != want {
							rec.fail("%s: sshd -T says passwordauthentication %s for %s, want %s", what, got, u.name, want)
						}
					}
				}
				os.Remove(tr.path("etc/ssh/sshd_config.d/10-gate.conf"))
				if off { // start the next run from the administrator's files
					must(t, os.RemoveAll(tr.path("etc/ssh/sshd_config.d/00-ecs-keyagent.conf")))
					tr.write("etc/ssh/sshd_config", mainFile, 0o644)
				}
				if left := tr.temps(); len(left) > 0 {
					rec.fail("%s: temporary files left: %q", what, left)
				}
			}
			after := snapshot(t, tr.path("etc/ssh"), func(string) bool { return true })
			for p, e := range pristine {
				if a := after[p]; a.hash != e.hash || a.mode != e.mode {
					rec.fail("etc/ssh/%s differs from the administrator's file after the runs", p)
				}
			}
		})
	}
	rec.figure("syncs that turned password login off / left it on", fmt.Sprintf("%d / %d", disabled, leftAlone))
	rec.figure("runs checked with the real sshd -T", fmt.Sprint(sshdChecked))
	rec.figure("lockouts (password login off, sshd refusing a target's key)", fmt.Sprint(lockouts))
}

func keyEntries(bodies ...string) []emulator.Key {
	var ks []emulator.Key
	for i, b := range bodies {
		ks = append(ks, emulator.Key{ID: fmt.Sprintf("skp-%d", i), Body: b + "\n"})
	}
	return ks
}

var (
	sshdOnce    sync.Once
	sshdHostKey string
	sshdErr     error
)

const sshdBin = "/usr/sbin/sshd"

// sshdAvailable reports whether the real sshd can check trees; in CI it
// must (.ci/run installs openssh-server).
func sshdAvailable(t *testing.T) bool {
	sshdOnce.Do(func() {
		if _, sshdErr = os.Stat(sshdBin); sshdErr != nil {
			return
		}
		if sshdErr = os.MkdirAll("/run/sshd", 0o755); sshdErr != nil {
			return
		}
		d, err := os.MkdirTemp("", "reliability-hostkey")
		if err != nil {
			sshdErr = err
			return
		}
		sshdHostKey = d + "/k"
		if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", sshdHostKey).CombinedOutput(); err != nil {
			sshdErr = fmt.Errorf("ssh-keygen: %v: %s", err, out)
		}
	})
	if sshdErr != nil && os.Getenv("CI") == "true" {
		t.Fatalf("the real sshd is needed in CI: %v", sshdErr)
	}
	return sshdErr == nil
}

// realSSHDValues is the real sshd -T for user on the tree's configuration,
// its /etc/ssh paths rewritten into the tree: the first value of each
// keyword, or all of them space-joined for the allow/deny lists.
func realSSHDValues(t *testing.T, tr *tree, user string) map[string]string {
	dir := tr.path("sshd-rewritten")
	must(t, os.MkdirAll(dir+"/sshd_config.d", 0o755))
	defer os.RemoveAll(dir)
	rewrite := func(s string) string { return strings.ReplaceAll(s, "/etc/ssh/", dir+"/") }
	ents, _ := os.ReadDir(tr.path("etc/ssh/sshd_config.d"))
	for _, e := range ents {
		must(t, os.WriteFile(dir+"/sshd_config.d/"+e.Name(), []byte(rewrite(tr.read("etc/ssh/sshd_config.d/"+e.Name()))), 0o600))
	}
	f := dir + "/sshd_config"
	must(t, os.WriteFile(f, []byte(rewrite(tr.read("etc/ssh/sshd_config"))), 0o600))
	out, err := exec.Command(sshdBin, "-T", "-f", f, "-h", sshdHostKey,
		"-C", "user="+user+",host=192.0.2.1,addr=192.0.2.1,laddr=192.0.2.2,lport=22").CombinedOutput()
	if err != nil {
		t.Fatalf("sshd -T: %v: %s", err, out)
	}
	v := map[string]string{}
	for l := range strings.Lines(string(out)) {
		k, val, _ := strings.Cut(strings.TrimSpace(l), " ")
		if old, ok := v[k]; ok {
			if strings.HasSuffix(k, "users") || strings.HasSuffix(k, "groups") {
				v[k] = old + " " + val
			}
			continue
		}
		v[k] = val
	}
	return v
}

// realSSHD asks the real sshd for the effective PasswordAuthentication of
// user on the tree's configuration, its /etc/ssh paths rewritten into the tree.
func realSSHD(t *testing.T, tr *tree, user string) string {
	main := strings.ReplaceAll(tr.read("etc/ssh/sshd_config"), "/etc/ssh/", tr.path("etc/ssh")+"/")
	f := tr.path("sshd_config.rewritten")
	must(t, os.WriteFile(f, []byte(main), 0o600))
	defer os.Remove(f)
	out, err := exec.Command(sshdBin, "-T", "-f", f, "-h", sshdHostKey,
		"-C", "user="+user+",host=192.0.2.1,addr=192.0.2.1").CombinedOutput()
	if err != nil {
		t.Fatalf("sshd -T: %v: %s", err, out)
	}
	for l := range strings.Lines(string(out)) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "passwordauthentication "); ok {
			return v
		}
	}
	return "missing"
}
