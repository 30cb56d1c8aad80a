package sshd

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"slices"
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

// aliasSpelling is each old name as sshd_config(5) of its releases wrote it.
var aliasSpelling = map[string]string{
	"challengeresponseauthentication": "ChallengeResponseAuthentication",
	"pubkeyacceptedkeytypes":          "PubkeyAcceptedKeyTypes",
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
	// spelled names a keyword that sshd -T printed under an old name (sshd
	// before OpenSSH 8.5), for messages; nil when none was.
	spelled map[string]string
	// undecided and partial say, for the parser's view, which values it
	// cannot vouch for, keyword by keyword: undecided where a Match block
	// it cannot evaluate for this user (Match Group with the user's groups
	// unknown) comes before the value; partial where a block holds for some
	// clients and not for the test connection, or the other way round.
	// sshd -T answers for the one connection it is asked about, so its
	// views leave both empty.
	undecided, partial map[string][]string
	// problems are what sshd would reject when it re-reads the
	// configuration for this connection: it refuses the logon then.
	problems []string
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
	name := v.spelled[k]
	if name == "" {
		name = spelling(k)
	}
	return fmt.Sprintf("%s %s (%s)", name, v.get(k), where)
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

// parseView reads sshd -T output. sshd before OpenSSH 8.5 prints
// PubkeyAcceptedAlgorithms under its old name, pubkeyacceptedkeytypes (the
// 8.5 release notes: "PubkeyAcceptedKeyTypes ... renamed to
// PubkeyAcceptedAlgorithms"); an old name counts for the model's keyword
// when sshd does not print the new one. OpenSSH 8.4 prints both
// kbdinteractiveauthentication and challengeresponseauthentication: the
// first is the value sshd applies, so it is kept.
func parseView(out []byte) view {
	v := view{vals: map[string][]string{}, where: map[string]string{}}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, 4096), maxOutput)
	for sc.Scan() {
		k, val, _ := strings.Cut(sc.Text(), " ")
		v.vals[k] = append(v.vals[k], val)
	}
	for old, k := range aliases {
		if len(v.vals[k]) == 0 && len(v.vals[old]) > 0 {
			v.vals[k] = v.vals[old]
			if v.spelled == nil {
				v.spelled = map[string]string{}
			}
			v.spelled[k] = aliasSpelling[old] // what the administrator's sshd calls it
		}
	}
	return v
}

// matchable are the model's keywords a Match block can set: those
// copy_set_server_options copies from the connection's re-read (servconf.c).
// UsePAM and Port keep what sshd read at startup.
var matchable = map[string]bool{
	kwPassword: true, kwKbd: true, kwPubkey: true, kwPubkeyAlgs: true, kwRootLogin: true,
	kwAuthorizedKeysFile: true, kwAuthMethods: true,
	kwAllowUsers: true, kwDenyUsers: true, kwAllowGroups: true, kwDenyGroups: true,
}

// viewKeywords are the keywords of the model, in the order view reads them.
var viewKeywords = []string{kwPassword, kwKbd, kwUsePAM, kwPubkey, kwPubkeyAlgs, kwRootLogin, kwAuthorizedKeysFile,
	kwAuthMethods, kwAllowUsers, kwDenyUsers, kwAllowGroups, kwDenyGroups, kwPort}

// view is the agent's own reading of the model's keywords for ci, written
// as sshd -T prints them (see normalise in the differential test for the
// two spellings that differ: without-password, and lists split per entry).
func (c *config) view(ci *connInfo) view {
	v := view{vals: map[string][]string{}, where: map[string]string{},
		undecided: map[string][]string{}, partial: map[string][]string{}}
	for _, k := range viewKeywords {
		r := c.resolve(k, ci)
		ds := r.ds
		if len(r.undecided) > 0 {
			v.undecided[k] = r.undecided
		}
		if len(r.partial) > 0 {
			v.partial[k] = r.partial
		}
		for _, d := range ds {
			val := strings.Join(d.args, " ")
			switch k {
			case kwPassword, kwKbd, kwUsePAM, kwPubkey:
				val = strings.ToLower(val)
			case kwPubkeyAlgs:
				algs, err := algorithms(val)
				if err != nil && !d.global() { // else sshd does not start at all: a problem of the config
					v.problems = append(v.problems, fmt.Sprintf("%s line %d: %s %s: %v", d.file, d.line, spelling(k), val, err))
				}
				if algs == "" && !r.reread {
					// A "-" list that removes every algorithm leaves the
					// startup value empty, and sshd assembles it again
					// for each connection: the default. From the
					// connection's own reading it stays empty.
					algs = defaultPubkeyAlgs
				}
				val = algs
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
	if ci != nil {
		if d := anyAlone(c.directives, func(d *directive) bool { return ci.active(d.match) == yes }); d != nil {
			v.problems = append(v.problems, fmt.Sprintf(`%s line %d: "any" must appear alone in AuthenticationMethods`, d.file, d.line))
		}
	}
	return v
}

// doubts are the messages of v.undecided and v.partial, each once, in
// the order of viewKeywords.
func (v view) doubts() []string {
	var out []string
	for _, k := range viewKeywords {
		for _, m := range append(slices.Clone(v.undecided[k]), v.partial[k]...) {
			if !slices.Contains(out, m) {
				out = append(out, m)
			}
		}
	}
	return out
}

// lookup returns the lines whose value sshd applies for key on connection
// ci (nil: what sshd reads at startup).
func (c *config) lookup(key string, ci *connInfo) []*directive {
	return c.resolve(key, ci).ds
}

// resolved is what resolve found for one keyword.
type resolved struct {
	ds                 []*directive
	reread             bool // ds come from sshd's reading for the connection
	undecided, partial []string
}

// resolve is lookup, and says why it cannot vouch for the answer
// (view.undecided and view.partial).
//
// sshd reads the configuration twice (servconf.c). At startup it reads the
// global sections, and "Match all" blocks not inside a file included from
// another Match block; the first value of a keyword wins, and list keywords
// (AllowUsers, DenyUsers, AllowGroups, DenyGroups) collect every line. For
// a connection it reads the configuration again, applying only lines under
// a Match line that holds for it (active); what that second reading sets
// replaces the startup value (copy_set_server_options) for the matchable
// keywords. Lines after "Match all" take part in both readings, so they
// override a global value for every connection.
func (c *config) resolve(key string, ci *connInfo) resolved {
	var undecided, partial []string
	var startup, again []*directive
	list := listKeywords[key]
	for i := range c.directives {
		d := &c.directives[i]
		if d.key != key {
			continue
		}
		if d.global() {
			startup = append(startup, d)
		}
		if ci == nil || !matchable[key] {
			continue
		}
		a := ci.active(d.match)
		if list || len(again) == 0 {
			u, p := ci.doubts(d, a)
			undecided, partial = append(undecided, u...), append(partial, p...)
		}
		if a == yes {
			again = append(again, d)
		}
	}
	r := resolved{ds: again, reread: len(again) > 0, undecided: undecided, partial: partial}
	if !r.reread {
		r.ds = startup
	}
	if !list && len(r.ds) > 1 {
		r.ds = r.ds[:1]
	}
	return r
}

// doubts says why the parser cannot vouch for d's part in ci's value,
// where a is whether d applies to ci: undecided when it cannot evaluate
// d's Match block, partial when the block turns on the client. A Match
// block that lets passwords in is named by matchWarnings already.
func (ci *connInfo) doubts(d *directive, a tri) (undecided, partial []string) {
	pw := d.key == kwPassword || d.key == kwKbd
	if v, _ := flagValue(d.args); d.match == nil || pw && v != "no" {
		return nil, nil
	}
	if a == unknown {
		undecided = append(undecided, fmt.Sprintf("%s (%s at %s:%d) cannot be evaluated for %s: the agent does not know the user's groups",
			d.match, spelling(d.key), d.file, d.line, ci.user))
	}
	if m := ci.client(d.match); m != nil && !pw {
		partial = append(partial, fmt.Sprintf("%s sets %s at %s:%d for some clients: the agent judged a client at %s only",
			m, spelling(d.key), d.file, d.line, ci.addr))
	}
	return undecided, partial
}

// keySigAlgs are the public key signature algorithms OpenSSH 9.2 knows, in
// its order (ssh -Q key-sig): wildcard patterns in PubkeyAcceptedAlgorithms
// expand against them.
var keySigAlgs = strings.Split("ssh-ed25519,ssh-ed25519-cert-v01@openssh.com,sk-ssh-ed25519@openssh.com,"+
	"sk-ssh-ed25519-cert-v01@openssh.com,ecdsa-sha2-nistp256,ecdsa-sha2-nistp256-cert-v01@openssh.com,"+
	"ecdsa-sha2-nistp384,ecdsa-sha2-nistp384-cert-v01@openssh.com,ecdsa-sha2-nistp521,"+
	"ecdsa-sha2-nistp521-cert-v01@openssh.com,sk-ecdsa-sha2-nistp256@openssh.com,"+
	"sk-ecdsa-sha2-nistp256-cert-v01@openssh.com,webauthn-sk-ecdsa-sha2-nistp256@openssh.com,ssh-dss,"+
	"ssh-dss-cert-v01@openssh.com,ssh-rsa,ssh-rsa-cert-v01@openssh.com,rsa-sha2-256,"+
	"rsa-sha2-256-cert-v01@openssh.com,rsa-sha2-512,rsa-sha2-512-cert-v01@openssh.com", ",")

// keyShortNames are the short key type names sshkey_type_from_name also
// accepts, in any case; they name no algorithm, so they add nothing.
var keyShortNames = []string{"rsa", "dsa", "ecdsa", "ed25519", "ecdsa-sk", "ed25519-sk"}

// checkAlgorithms is sshkey_names_valid2 with wildcards allowed, as sshd
// checks a PubkeyAcceptedAlgorithms value when it reads it: up to the
// first empty entry, each is a known name or a pattern some name matches
// either way. A "-" list is not checked.
func checkAlgorithms(val string) error {
	if strings.HasPrefix(val, "-") {
		return nil
	}
	if strings.HasPrefix(val, "+") || strings.HasPrefix(val, "^") {
		val = val[1:]
	}
	for _, p := range strings.Split(val, ",") {
		if p == "" {
			break
		}
		if slices.Contains(keySigAlgs, p) || slices.Contains(keyShortNames, strings.ToLower(p)) ||
			slices.ContainsFunc(keySigAlgs, func(a string) bool { return matchPatternList(a, p, false) != 0 }) {
			continue
		}
		return fmt.Errorf("bad key types %q", val)
	}
	return nil
}

// algorithms applies a PubkeyAcceptedAlgorithms value to the default list
// as kex_assemble_names does: "+" appends, "-" removes matching patterns,
// "^" puts in front, anything else replaces; then every entry is expanded
// as a pattern against keySigAlgs, keeping each name once. A negated entry
// outside a "-" list, or an empty result of the others, is an error; a
// "-" list may leave nothing ("").
func algorithms(val string) (string, error) {
	def := defaultPubkeyAlgs
	var list string
	switch {
	case val == "":
		return def, nil
	case val[0] == '+':
		list = namesCat(def, val[1:])
	case val[0] == '^':
		list = namesCat(val[1:], def)
	case val[0] == '-':
		var out []string
		for _, a := range strings.Split(def, ",") {
			if matchPatternList(a, val[1:], false) != 1 {
				out = append(out, a)
			}
		}
		return strings.Join(out, ","), nil
	default:
		list = val
	}
	var out []string
	for _, p := range strings.Split(list, ",") {
		if strings.HasPrefix(p, "!") {
			return def, errors.New("negated entries are not supported here")
		}
		for _, a := range keySigAlgs {
			if matchPatternList(a, p, false) == 1 && !slices.Contains(out, a) {
				out = append(out, a)
			}
		}
	}
	if len(out) == 0 {
		return def, errors.New("no algorithm left")
	}
	return strings.Join(out, ","), nil
}

// namesCat is kex_names_cat: a, then each entry of b not in it, up to
// b's first empty entry.
func namesCat(a, b string) string {
	if a == "" {
		return b
	}
	if b == "" {
		return a
	}
	out := strings.Split(a, ",")
	for _, p := range strings.Split(b, ",") {
		if p == "" {
			break
		}
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return strings.Join(out, ",")
}
