package sshd

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"
)

// Keywords of the logon model, lower case as sshd -T prints them.
const (
	kwUsePAM      = "usepam"
	kwPubkey      = "pubkeyauthentication"
	kwPubkeyAlgs  = "pubkeyacceptedalgorithms"
	kwRootLogin   = "permitrootlogin"
	kwAuthMethods = "authenticationmethods"
	kwAllowUsers  = "allowusers"
	kwDenyUsers   = "denyusers"
	kwAllowGroups = "allowgroups"
	kwDenyGroups  = "denygroups"
	kwPort        = "port"
	kwPidFile     = "pidfile"
)

// listKeywords collect every line that sets them instead of taking the
// first ("appends to list; doesn't respect first-match-wins", servconf.c).
var listKeywords = map[string]bool{kwAllowUsers: true, kwDenyUsers: true, kwAllowGroups: true, kwDenyGroups: true}

// aliases maps deprecated spellings to the keyword sshd -T prints
// (sshd_config(5)).
var aliases = map[string]string{
	"challengeresponseauthentication": kwKbd,
	"pubkeyacceptedkeytypes":          kwPubkeyAlgs,
}

// defaultPubkeyAlgs is PubkeyAcceptedAlgorithms as OpenSSH 9 compiles it in
// (sshd_config(5)).
const defaultPubkeyAlgs = "ssh-ed25519-cert-v01@openssh.com,ecdsa-sha2-nistp256-cert-v01@openssh.com," +
	"ecdsa-sha2-nistp384-cert-v01@openssh.com,ecdsa-sha2-nistp521-cert-v01@openssh.com," +
	"sk-ssh-ed25519-cert-v01@openssh.com,sk-ecdsa-sha2-nistp256-cert-v01@openssh.com," +
	"rsa-sha2-512-cert-v01@openssh.com,rsa-sha2-256-cert-v01@openssh.com," +
	"ssh-ed25519,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521," +
	"sk-ssh-ed25519@openssh.com,sk-ecdsa-sha2-nistp256@openssh.com,rsa-sha2-512,rsa-sha2-256"

// defaults are sshd's compiled-in values of the model's keywords, as sshd -T
// prints them (servconf.c fill_default_server_options).
var defaults = map[string]string{
	kwPassword:           "yes",
	kwKbd:                "yes",
	kwUsePAM:             "no",
	kwPubkey:             "yes",
	kwPubkeyAlgs:         defaultPubkeyAlgs,
	kwRootLogin:          "prohibit-password",
	kwAuthorizedKeysFile: ".ssh/authorized_keys .ssh/authorized_keys2",
	kwAuthMethods:        "any",
	kwPort:               "22",
}

// view is sshd's effective configuration for one connection, keyword by
// keyword, with the line that set each value where the agent's parser can
// tell.
type view struct {
	vals  map[string][]string // keyword -> one entry per line sshd -T prints
	where map[string]string   // keyword -> "file:line"; absent for the default
	fips  bool                // the kernel is in FIPS mode: no ed25519 keys
}

// get returns the first value of k, or sshd's default.
func (v view) get(k string) string {
	if vs := v.vals[k]; len(vs) > 0 {
		return vs[0]
	}
	return defaults[k]
}

// words returns every value of k split into words: "allowusers a b" and
// two lines "allowusers a", "allowusers b" both give [a b].
func (v view) words(k string) []string {
	var out []string
	for _, s := range v.vals[k] {
		out = append(out, strings.Fields(s)...)
	}
	if len(out) == 0 && defaults[k] != "" {
		out = strings.Fields(defaults[k])
	}
	return out
}

// gate describes the value of k for a message: "PubkeyAuthentication no
// (/etc/ssh/sshd_config:1)", or "(default)" where no line sets it.
func (v view) gate(k string) string {
	where := v.where[k]
	if where == "" {
		where = "default"
	}
	return fmt.Sprintf("%s %s (%s)", spelling(k), v.get(k), where)
}

// spelling is the keyword as sshd_config(5) writes it.
func spelling(k string) string {
	if s, ok := keywordNames[k]; ok {
		return s
	}
	return k
}

var keywordNames = map[string]string{
	kwPassword: "PasswordAuthentication", kwKbd: "KbdInteractiveAuthentication", kwUsePAM: "UsePAM",
	kwPubkey: "PubkeyAuthentication", kwPubkeyAlgs: "PubkeyAcceptedAlgorithms", kwRootLogin: "PermitRootLogin",
	kwAuthorizedKeysFile: "AuthorizedKeysFile", kwAuthMethods: "AuthenticationMethods",
	kwAllowUsers: "AllowUsers", kwDenyUsers: "DenyUsers", kwAllowGroups: "AllowGroups", kwDenyGroups: "DenyGroups",
}

// parseView reads sshd -T output.
func parseView(out []byte) view {
	v := view{vals: map[string][]string{}, where: map[string]string{}}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, 4096), maxOutput)
	for sc.Scan() {
		k, val, _ := strings.Cut(sc.Text(), " ")
		v.vals[k] = append(v.vals[k], val)
	}
	return v
}

// view is the agent's own reading of the model's keywords for ci.
func (c *config) view(ci *connInfo) view {
	v := view{vals: map[string][]string{}, where: map[string]string{}}
	for _, k := range []string{kwPassword, kwKbd, kwUsePAM, kwPubkey, kwPubkeyAlgs, kwRootLogin, kwAuthorizedKeysFile,
		kwAuthMethods, kwAllowUsers, kwDenyUsers, kwAllowGroups, kwDenyGroups, kwPort} {
		ds := c.lookup(k, ci)
		for _, d := range ds {
			val := strings.Join(d.args, " ")
			switch k {
			case kwPassword, kwKbd, kwUsePAM, kwPubkey:
				val = strings.ToLower(val)
			case kwPubkeyAlgs:
				val = algorithms(val)
			case kwRootLogin:
				val = strings.ToLower(val)
				if val == "without-password" {
					val = "prohibit-password"
				}
			}
			v.vals[k] = append(v.vals[k], val)
		}
		if len(ds) > 0 {
			v.where[k] = fmt.Sprintf("%s:%d", ds[0].file, ds[0].line)
		}
	}
	return v
}

// lookup returns the lines whose value sshd applies for key on connection
// ci (nil: the global view): the first line of the first matching Match
// block that sets it, else the first global one. For list keywords, every
// line of the matching blocks that set it, else every global line: a Match
// block's list replaces the global one (copy_set_server_options).
func (c *config) lookup(key string, ci *connInfo) []*directive {
	var matched, global []*directive
	for i := range c.directives {
		d := &c.directives[i]
		if canonical(d.key) != key {
			continue
		}
		switch {
		case d.match != nil && !d.match.all() && ci != nil && ci.matches(d.match):
			matched = append(matched, d)
		case d.global():
			global = append(global, d)
		}
	}
	pick := matched
	if len(pick) == 0 {
		pick = global
	}
	if !listKeywords[key] && len(pick) > 1 {
		pick = pick[:1]
	}
	return pick
}

func canonical(k string) string {
	if a, ok := aliases[k]; ok {
		return a
	}
	return k
}

// algorithms applies a PubkeyAcceptedAlgorithms value to the default list
// as sshd does (sshd_config(5)): "+" appends, "-" removes matching
// patterns, "^" puts in front, anything else replaces.
func algorithms(val string) string {
	def := strings.Split(defaultPubkeyAlgs, ",")
	switch {
	case strings.HasPrefix(val, "+"):
		return strings.Join(append(def, strings.Split(val[1:], ",")...), ",")
	case strings.HasPrefix(val, "^"):
		return strings.Join(append(strings.Split(val[1:], ","), def...), ",")
	case strings.HasPrefix(val, "-"):
		var out []string
		for _, a := range def {
			if matchPatternList(a, val[1:], false) != 1 {
				out = append(out, a)
			}
		}
		return strings.Join(out, ",")
	}
	return val
}
