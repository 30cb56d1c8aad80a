package agent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ecs-keyagent/ecs-keyagent/agent/account"
	"github.com/ecs-keyagent/ecs-keyagent/agent/metadata"
	"github.com/ecs-keyagent/ecs-keyagent/agent/sshd"
	"github.com/ecs-keyagent/ecs-keyagent/keys"
)

// Link is one link of a key login as doctor checks it: what was found,
// and when it is broken, what fixes it.
type Link struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
	Fix    string `json:"fix,omitempty"`
}

// Diagnosis is every link for one user.
type Diagnosis struct {
	User  string `json:"user"`
	Links []Link `json:"links"`
}

// OK reports whether every link holds.
func (d Diagnosis) OK() bool {
	return !slices.ContainsFunc(d.Links, func(l Link) bool { return !l.OK })
}

// Doctor walks every link of a key login for each target user (or user
// when not ""): the key bound in metadata, the key in the file the agent
// manages, AuthorizedKeysFile, the StrictModes chain, sshd's gates, the
// account, sshd itself, and SELinux labels where SELinux is enabled. try
// is the fingerprint of the key the person logs on with ("" for the bound
// keys). It changes nothing.
func (e *Engine) Doctor(ctx context.Context, user, try string) []Diagnosis {
	bound, metaLink := e.doctorMetadata(ctx)
	users := e.Users()
	if user != "" {
		users = []string{user}
	}
	var out []Diagnosis
	for _, name := range users {
		d := Diagnosis{User: name, Links: []Link{metaLink}}
		d.Links = append(d.Links, e.doctorUser(ctx, name, bound, try)...)
		out = append(out, d)
	}
	return out
}

func (e *Engine) doctorMetadata(ctx context.Context) ([]string, Link) {
	l := Link{Name: "metadata"}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	snap, err := e.client.Fetch(ctx)
	switch {
	case errors.Is(err, metadata.ErrNoKeyBound):
		l.Detail, l.Fix = "no key pair is bound to the instance", "bind a key pair to the instance in the ECS console or with AttachKeyPair"
		return nil, l
	case err != nil:
		l.Detail, l.Fix = err.Error(), "check that the metadata service answers: curl -s "+string(e.opts.Config.Endpoint)+"/latest/meta-data/instance-id"
		return nil, l
	}
	var bound, desc []string
	for _, k := range snap.Keys {
		p, err := keys.ParseKey(k.Body, keys.Policy{MinRSABits: e.opts.Config.MinRSABits})
		if err != nil {
			desc = append(desc, fmt.Sprintf("%s rejected: %v", k.ID, err))
			continue
		}
		bound = append(bound, p.Fingerprint)
		desc = append(desc, fmt.Sprintf("%s: %s %s", k.ID, p.Type, p.Fingerprint))
	}
	l.OK = len(bound) > 0
	l.Detail = "instance " + snap.InstanceID + ", key pair " + strings.Join(desc, "; ")
	if !l.OK {
		l.Fix = "bind a key pair whose key the agent accepts (ed25519, ECDSA or RSA of at least min_rsa_bits)"
	}
	return bound, l
}

func (e *Engine) doctorUser(ctx context.Context, name string, bound []string, try string) []Link {
	root := e.opts.Root
	acct, err := account.Lookup(root, name)
	if err != nil {
		return []Link{{Name: "account", Detail: err.Error(), Fix: "create the user, or set users in /etc/ecs-keyagent/config.toml"}}
	}
	file := filepath.Join(acct.Home, ".ssh", "authorized_keys")
	data, ferr := readKeysFile(root, acct)
	sshdLinks, usePAM := e.doctorSSHD(ctx, acct, data)
	links := []Link{e.doctorAccount(acct, usePAM)}
	links = append(links, strictModes(root, acct)...)
	want := bound
	if try != "" {
		want = []string{try}
	}
	keyLink := Link{Name: "key in file", Detail: file}
	block, _ := keys.BlockLines(data)
	var inBlock, outside []string
	for _, k := range keys.UsableKeys(data) {
		if slices.Contains(block, k.Line) {
			inBlock = append(inBlock, k.Fingerprint)
		} else {
			outside = append(outside, k.Fingerprint)
		}
	}
	switch {
	case ferr != nil:
		keyLink.Detail, keyLink.Fix = ferr.Error(), "fix the owner and mode the lines above name, then: ecs-keyagent sync"
	case len(want) == 0:
		keyLink.Detail = "no key to look for: none is bound"
	default:
		var missing []string
		for _, fp := range want {
			switch {
			case slices.Contains(inBlock, fp):
			case slices.Contains(outside, fp):
				keyLink.Detail += "; " + fp + " is outside the agent's block"
			default:
				missing = append(missing, fp)
			}
		}
		keyLink.OK = len(missing) == 0
		if keyLink.OK {
			keyLink.Detail = fmt.Sprintf("%s holds %s", file, strings.Join(want, ", "))
		} else {
			keyLink.Detail = fmt.Sprintf("%s lacks %s", file, strings.Join(missing, ", "))
			keyLink.Fix = "ecs-keyagent sync"
			if try != "" && !slices.Contains(bound, try) {
				keyLink.Fix = fmt.Sprintf("%s is not the key pair bound to the instance (%s): log in with the bound key, or bind yours", try, strings.Join(bound, ", "))
			}
		}
	}
	links = append(links, keyLink)
	links = append(links, sshdLinks...)
	return append(links, selinuxLinks(root, acct)...)
}

// doctorAccount: the account exists, has not expired, and has a login
// shell. A locked password ("!" in /etc/shadow) refuses key logins too when
// sshd runs without PAM (sshd's allowed_user in auth.c); with PAM it is
// only noted.
func (e *Engine) doctorAccount(a account.Account, usePAM bool) Link {
	l := Link{Name: "account", OK: true, Detail: fmt.Sprintf("%s (uid %d, home %s, shell %s)", a.Name, a.UID, a.Home, a.Shell)}
	switch filepath.Base(a.Shell) {
	case "nologin", "false":
		l.OK, l.Fix = false, "usermod -s /bin/bash "+a.Name
		l.Detail += ": not a login shell"
		return l
	}
	if st, err := os.Stat(filepath.Join(e.opts.Root, a.Shell)); a.Shell != "" && (err != nil || st.Mode()&0o111 == 0) {
		l.OK, l.Fix = false, "usermod -s /bin/bash "+a.Name
		l.Detail += ": the shell is not an executable file"
		return l
	}
	pw, _ := account.ReadPasswords(e.opts.Root, []string{a.Name})
	if p, ok := pw[a.Name]; ok {
		if p.Expired {
			l.OK, l.Fix = false, "chage -E -1 "+a.Name
			l.Detail += ": the account has expired (/etc/shadow)"
		} else if p.Locked && !usePAM {
			l.OK, l.Fix = false, "usermod -U "+a.Name+" (or set a password), or UsePAM yes in sshd_config"
			l.Detail += ": the account is locked (\"!\" in /etc/shadow) and sshd runs without UsePAM, so it refuses key logins too"
		} else if p.Locked {
			l.Detail += "; password locked (key logins still work: UsePAM yes)"
		}
	}
	return l
}

// strictModes checks what sshd's StrictModes checks (sshd_config(5),
// auth.c secure_path): the home, ~/.ssh and the file owned by the user or
// root, and writable by nobody else.
func strictModes(root string, a account.Account) []Link {
	var out []Link
	for _, p := range []string{a.Home, filepath.Join(a.Home, ".ssh"), filepath.Join(a.Home, ".ssh", "authorized_keys")} {
		l := Link{Name: "owner and mode", OK: true}
		fi, err := os.Lstat(filepath.Join(root, p))
		if err != nil {
			l.OK, l.Detail = false, err.Error()
			if errors.Is(err, os.ErrNotExist) {
				l.Detail, l.Fix = p+" does not exist", "ecs-keyagent sync"
			}
			out = append(out, l)
			break
		}
		st := fi.Sys().(*syscall.Stat_t)
		l.Detail = fmt.Sprintf("%s %v owned by uid %d", p, fi.Mode(), st.Uid)
		switch {
		case fi.Mode()&os.ModeSymlink != 0:
			l.OK, l.Fix = false, "replace the symbolic link "+p+" with the real directory or file: the agent and sshd refuse it"
		case int(st.Uid) != a.UID && st.Uid != 0:
			l.OK, l.Fix = false, fmt.Sprintf("chown %s %s", a.Name, p)
		case fi.Mode().Perm()&0o022 != 0:
			l.OK, l.Fix = false, "chmod go-w "+p
		}
		out = append(out, l)
	}
	return out
}

// doctorSSHD: AuthorizedKeysFile names the file, and the key way is open
// through every gate of the logon model; then sshd itself.
func (e *Engine) doctorSSHD(ctx context.Context, a account.Account, data []byte) ([]Link, bool) {
	o := e.opts
	t := sshd.Target{User: a.Name, Home: a.Home, UID: a.UID}
	t.Groups, _ = account.Groups(o.Root, a)
	for _, k := range keys.UsableKeys(data) {
		t.Usable++
		if !slices.Contains(t.KeyTypes, k.Type) {
			t.KeyTypes = append(t.KeyTypes, k.Type)
		}
	}
	so := sshd.Options{Root: o.Root, Config: o.Config.SSHD.Config, Logger: o.Logger, FIPS: fipsMode(o.Root)}
	checkedBy, states, err := sshd.Current(ctx, so, []sshd.Target{t})
	if errors.Is(err, sshd.ErrNoConfig) {
		return []Link{{Name: "sshd", Detail: "no sshd configuration at " + o.Config.SSHD.Config, Fix: "install openssh-server"}}, true
	}
	if err != nil || len(states) == 0 {
		return []Link{{Name: "sshd", Detail: fmt.Sprint("read sshd's configuration: ", err), Fix: "sshd -t"}}, true
	}
	s := states[0]
	akf := Link{Name: "AuthorizedKeysFile", OK: true,
		Detail: fmt.Sprintf("%s (%s) names ~/.ssh/authorized_keys", s.AuthorizedKeysFile.Value, s.AuthorizedKeysFile.Source)}
	gates := Link{Name: "sshd gates", OK: s.Logon.Key.Open, Detail: "sshd accepts a key login for " + a.Name + " (checked by " + checkedBy + ")"}
	if !s.Logon.Key.Open {
		gates.Detail = s.Logon.Key.Gate
		gates.Fix = "change that setting where it is set, then: systemctl reload ssh (or sshd)"
		if strings.Contains(s.Logon.Key.Gate, "AuthorizedKeysFile") {
			akf.OK, akf.Detail, akf.Fix = false, s.Logon.Key.Gate, "add .ssh/authorized_keys to AuthorizedKeysFile where it is set"
		}
	}
	alive, detail := sshd.Liveness(so)
	live := Link{Name: "sshd running", OK: alive, Detail: detail}
	return []Link{akf, gates, live}, s.UsePAM.Value == "yes"
}

// selinuxLinks checks the labels of ~/.ssh and the file where SELinux is
// enabled: sshd may read only ssh_home_t there under the targeted policy.
func selinuxLinks(root string, a account.Account) []Link {
	if _, err := os.Stat("/sys/fs/selinux/enforce"); err != nil || root != "/" {
		return []Link{{Name: "SELinux", OK: true, Detail: "not enabled: no labels to check"}}
	}
	var out []Link
	for _, p := range []string{filepath.Join(a.Home, ".ssh"), filepath.Join(a.Home, ".ssh", "authorized_keys")} {
		buf := make([]byte, 256)
		n, err := unix.Lgetxattr(p, "security.selinux", buf)
		l := Link{Name: "SELinux label", OK: true}
		if err != nil {
			l.OK, l.Detail, l.Fix = false, fmt.Sprintf("%s: %v", p, err), "restorecon -Rv "+filepath.Join(a.Home, ".ssh")
		} else {
			label := strings.TrimRight(string(buf[:n]), "\x00")
			l.Detail = p + " " + label
			if !strings.Contains(label, ":ssh_home_t:") {
				l.OK, l.Fix = false, "restorecon -Rv "+filepath.Join(a.Home, ".ssh")
			}
		}
		out = append(out, l)
	}
	return out
}
