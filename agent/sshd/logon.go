package sshd

import (
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Logon is which ways in sshd leaves one user, judged by every gate sshd
// applies: the user's own gates (AllowUsers, DenyUsers, AllowGroups,
// DenyGroups, PermitRootLogin), the method's switch, and
// AuthenticationMethods.
type Logon struct {
	User     string `json:"user"`
	Password Way    `json:"password"`
	Key      Way    `json:"key"`
}

// Way is one way in: open, or the gate that closes it.
type Way struct {
	Open bool   `json:"open"`
	Gate string `json:"gate,omitempty"` // why it is closed, with the line that says so
}

// Any reports whether the user has a way in at all.
func (l Logon) Any() bool { return l.Password.Open || l.Key.Open }

// Target is a user the sshd step must not lock out, with what the keys
// step left in their ~/.ssh/authorized_keys.
type Target struct {
	User     string
	Home     string // from passwd; "" when the lookup failed
	UID      int
	Groups   []string // for AllowGroups, DenyGroups and Match Group
	Usable   int      // keys sshd can use in the file; may count only some of them
	KeyTypes []string // their types, such as "ssh-ed25519" or "ssh-rsa"
	// NoPassword: /etc/shadow holds no usable password for the user
	// (locked with "!", "*" or empty), so no password logs in whatever
	// sshd allows.
	NoPassword bool
	// MoreKeyTypes, when set, returns the types of every usable key in the
	// file, when Usable and KeyTypes count only some (the agent's managed
	// block): the model calls it only when the algorithms sshd accepts
	// include none of KeyTypes. It may be costly, and it is not part of the
	// step's cache key: Step.Run does not cache a step that called it.
	MoreKeyTypes func() []string `json:"-"`
}

// logon computes t's ways in under v. off names the password keywords the
// change would make "no" for t (nil: the configuration as it is).
func logon(t Target, v view, addr string, off map[string]bool) Logon {
	l := Logon{User: t.User}
	if gate := refused(t, v, addr); gate != "" {
		l.Password.Gate, l.Key.Gate = gate, gate
		return l
	}
	pw, kbd := methodOpen(v, kwPassword, off), methodOpen(v, kwKbd, off) && v.get(kwUsePAM) == "yes"
	l.Password = passwordWay(t, v, pw, kbd)
	l.Key = keyWay(t, v, pw, kbd)
	return l
}

func methodOpen(v view, k string, off map[string]bool) bool { return !off[k] && v.get(k) == "yes" }

// refused says which gate refuses t whatever the method (auth.c
// allowed_user), or "".
func refused(t Target, v view, addr string) string {
	for _, p := range v.words(kwDenyUsers) {
		if userPattern(p, t.User, addr, true) {
			return fmt.Sprintf("DenyUsers %s (%s) names %s", p, v.where[kwDenyUsers], t.User)
		}
	}
	if allow := v.words(kwAllowUsers); len(allow) > 0 && !slices.ContainsFunc(allow, func(p string) bool {
		return userPattern(p, t.User, addr, false)
	}) {
		return fmt.Sprintf("AllowUsers (%s) does not name %s", v.where[kwAllowUsers], t.User)
	}
	for _, p := range v.words(kwDenyGroups) {
		if slices.ContainsFunc(t.Groups, func(g string) bool { return matchPatternList(g, p, false) == 1 }) {
			return fmt.Sprintf("DenyGroups %s (%s) names a group of %s", p, v.where[kwDenyGroups], t.User)
		}
	}
	if allow := v.words(kwAllowGroups); len(allow) > 0 && !slices.ContainsFunc(allow, func(p string) bool {
		return slices.ContainsFunc(t.Groups, func(g string) bool { return matchPatternList(g, p, false) == 1 })
	}) {
		return fmt.Sprintf("AllowGroups (%s) names no group of %s", v.where[kwAllowGroups], t.User)
	}
	if t.UID == 0 && v.get(kwRootLogin) == "no" {
		return v.gate(kwRootLogin)
	}
	return ""
}

// userPattern reports whether an AllowUsers/DenyUsers entry, "USER" or
// "USER@HOST", names user. The host part cannot be judged for the real
// clients, so it is taken to match when deciding a deny (strict) is
// false, and to match when allowing: either way the model never believes
// a user refused who might get in.
func userPattern(p, user, addr string, deny bool) bool {
	u, host, hasHost := strings.Cut(p, "@")
	if matchPatternList(user, u, false) != 1 {
		return false
	}
	if !hasHost || !deny {
		return true
	}
	return host == "*" || addrMatchList(addr, host) == 1
}

// passwordWay: PasswordAuthentication, or keyboard-interactive through PAM;
// PermitRootLogin other than yes refuses root's password; and some
// AuthenticationMethods list must be satisfiable by passwords alone.
func passwordWay(t Target, v view, pw, kbd bool) Way {
	switch {
	case t.NoPassword:
		return Way{Gate: t.User + " has no usable password in /etc/shadow (locked or unset)"}
	case !pw && !kbd:
		g := v.gate(kwPassword)
		if v.get(kwKbd) == "yes" && v.get(kwUsePAM) != "yes" {
			return Way{Gate: g + " and " + v.gate(kwUsePAM)}
		}
		return Way{Gate: g + " and " + v.gate(kwKbd)}
	case t.UID == 0 && v.get(kwRootLogin) != "yes":
		return Way{Gate: v.gate(kwRootLogin)}
	}
	if !satisfiable(v, map[string]bool{"password": pw, "keyboard-interactive": kbd}) {
		return Way{Gate: v.gate(kwAuthMethods) + " needs more than a password"}
	}
	return Way{Open: true}
}

// keyWay: PubkeyAuthentication; the managed file among AuthorizedKeysFile;
// a usable key of an accepted algorithm in it; PermitRootLogin allowing
// keys for root; an AuthenticationMethods list with publickey whose other
// methods stay open.
func keyWay(t Target, v view, pw, kbd bool) Way {
	switch {
	case v.get(kwPubkey) != "yes":
		return Way{Gate: v.gate(kwPubkey)}
	case !readsFile(strings.Fields(v.get(kwAuthorizedKeysFile)), t):
		return Way{Gate: v.gate(kwAuthorizedKeysFile) + " does not name ~/.ssh/authorized_keys"}
	case t.Usable == 0:
		return Way{Gate: "no usable key in " + filepath.Join(t.Home, ".ssh/authorized_keys")}
	case !acceptsType(t, v.get(kwPubkeyAlgs)):
		return Way{Gate: fmt.Sprintf("%s accepts none of the key types %s", v.gate(kwPubkeyAlgs), strings.Join(allKeyTypes(t), ", "))}
	case v.fips && !slices.ContainsFunc(allKeyTypes(t), func(kt string) bool { return !strings.Contains(kt, "ed25519") }):
		// cloud-init's tests hit it too (canonical/cloud-init#4109).
		return Way{Gate: "the kernel is in FIPS mode (/proc/sys/crypto/fips_enabled = 1), where sshd refuses the key types " + strings.Join(allKeyTypes(t), ", ")}
	}
	if t.UID == 0 {
		switch v.get(kwRootLogin) {
		case "yes", "prohibit-password", "without-password":
		default:
			return Way{Gate: v.gate(kwRootLogin)}
		}
	}
	if !satisfiable(v, map[string]bool{"publickey": true, "password": pw, "keyboard-interactive": kbd}, "publickey") {
		return Way{Gate: v.gate(kwAuthMethods) + " cannot be met with a key and what stays open"}
	}
	return Way{Open: true}
}

// satisfiable reports whether some AuthenticationMethods list uses only
// open methods (and every method in need, when given). "any" is one list
// of any single open method.
func satisfiable(v view, open map[string]bool, need ...string) bool {
	am := v.get(kwAuthMethods)
	if am == "any" || am == "" {
		for m, ok := range open {
			if ok && (len(need) == 0 || slices.Contains(need, m)) {
				return true
			}
		}
		return false
	}
	for _, list := range strings.Fields(am) {
		ok := true
		for _, m := range strings.Split(list, ",") {
			name, _, _ := strings.Cut(m, ":") // keyboard-interactive:pam
			ok = ok && open[name]
		}
		for _, n := range need {
			ok = ok && slices.ContainsFunc(strings.Split(list, ","), func(m string) bool { return strings.HasPrefix(m, n) })
		}
		if ok {
			return true
		}
	}
	return false
}

// acceptsType reports whether the algorithm list accepts one of t's key
// types, asking MoreKeyTypes only when KeyTypes are all refused.
func acceptsType(t Target, list string) bool {
	ok := func(kt string) bool { return accepted(kt, list) }
	return slices.ContainsFunc(t.KeyTypes, ok) || t.MoreKeyTypes != nil && slices.ContainsFunc(t.MoreKeyTypes(), ok)
}

// allKeyTypes lists t's key types for a message: KeyTypes, then any more.
func allKeyTypes(t Target) []string {
	types := slices.Clone(t.KeyTypes)
	if t.MoreKeyTypes != nil {
		for _, kt := range t.MoreKeyTypes() {
			if !slices.Contains(types, kt) {
				types = append(types, kt)
			}
		}
	}
	return types
}

// accepted reports whether a key of keyType can sign with an algorithm in
// the comma-separated list: an RSA key with any of the RSA signature
// algorithms (PROTOCOL, RFC 8332).
func accepted(keyType, list string) bool {
	algs := strings.Split(list, ",")
	if keyType == "ssh-rsa" {
		return slices.ContainsFunc(algs, func(a string) bool {
			return a == "ssh-rsa" || a == "rsa-sha2-256" || a == "rsa-sha2-512"
		})
	}
	return slices.Contains(algs, keyType)
}

// readsFile reports whether one of sshd's AuthorizedKeysFile patterns
// names t's ~/.ssh/authorized_keys (tokens as in sshd_config(5) TOKENS).
func readsFile(patterns []string, t Target) bool {
	if t.Home == "" {
		return false
	}
	want := filepath.Join(t.Home, ".ssh/authorized_keys")
	for _, p := range patterns {
		p = strings.NewReplacer("%%", "%", "%h", t.Home, "%u", t.User, "%U", strconv.Itoa(t.UID)).Replace(p)
		if !filepath.IsAbs(p) {
			p = filepath.Join(t.Home, p)
		}
		if filepath.Clean(p) == want {
			return true
		}
	}
	return false
}
