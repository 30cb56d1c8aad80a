package sshd

import (
	"fmt"
	"slices"
	"strings"
)

// Keywords the agent manages, lower-cased as sshd compares them (strcasecmp in
// servconf.c). ChallengeResponseAuthentication is the deprecated alias of
// KbdInteractiveAuthentication (sshd_config(5)).
const (
	kwPassword = "passwordauthentication"
	kwKbd      = "kbdinteractiveauthentication"

	kwAuthorizedKeysFile = "authorizedkeysfile"
)

// maxIncludeDepth is SERVCONF_MAX_DEPTH in servconf.c.
const maxIncludeDepth = 16

// directive is one keyword line in the order sshd processes it.
type directive struct {
	file string // path as sshd sees it
	line int    // 1-based
	key  string // lower case, alias resolved
	// args are the arguments as sshd stores them: split and unquoted, and
	// for AuthorizedKeysFile with a leading ~ expanded.
	args []string
	// match is the Match line in effect where the line sits, inherited
	// through Include; nil before any, the global section.
	match *matchBlock
}

// matchBlock is a Match line. A block runs to the next Match line or the end
// of the file holding it: sshd restores the includer's state after an Include.
type matchBlock struct {
	file     string
	line     int
	text     string // the criteria as written, for messages
	criteria []criterion
	isAll    bool // "Match all"
	bad      bool // sshd rejects the line; it is never taken to match
	// inc is the Match line in effect at the Include that read this
	// block's file (nil: the main file, or an Include in a global
	// section). servconf.c parses a file included while that line does not
	// hold with SSHCFG_NEVERMATCH: none of its Match lines can hold then.
	inc *matchBlock
}

func (m *matchBlock) String() string {
	return fmt.Sprintf("%s:%d Match %s", m.file, m.line, m.text)
}

// startup reports whether sshd reads lines under m when it loads the
// configuration (parse_server_config without a connection): the global
// section, and "Match all" lines in files not included from another
// Match block.
func (m *matchBlock) startup() bool {
	for ; m != nil; m = m.inc {
		if !m.isAll || m.bad {
			return false
		}
	}
	return true
}

// global reports whether sshd reads d when it loads the configuration;
// a Match block may still override it for a connection.
func (d *directive) global() bool { return d.match.startup() }

// includeArg is one argument of an Include line, resolved as sshd does.
type includeArg struct {
	file    string
	line    int
	pattern string
	match   *matchBlock
	files   []string
}

// config is a configuration tree flattened into processing order.
type config struct {
	main       string
	directives []directive
	includes   []includeArg
	matches    []*matchBlock
	// problems are what sshd would reject, as far as the agent can tell; they
	// decide only when sshd itself cannot check.
	problems []string
	// stop is set by an error after which sshd reads no further.
	stop bool
	src  *source
}

// parseConfig reads main and everything it includes, as sshd would.
func parseConfig(src *source, main string) (*config, error) {
	data, err := src.read(main)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", main, err)
	}
	c := &config{main: main, src: src}
	c.walk(src, main, data, 0, nil)
	c.checkLoaded()
	return c, nil
}

func (c *config) problem(file string, line int, format string, args ...any) {
	c.problems = append(c.problems, fmt.Sprintf("%s line %d: ", file, line)+fmt.Sprintf(format, args...))
}

// walk reads one file. inherited is the Match line in effect at the Include
// that read it: sshd hands an included file the includer's state
// (servconf.c, sInclude).
func (c *config) walk(src *source, file string, data []byte, depth int, inherited *matchBlock) {
	if depth > maxIncludeDepth {
		c.problem(file, 0, "too many recursive configuration includes")
		c.stop = true // fatal in sshd: nothing after it is read
		return
	}
	cur := inherited
	for i, raw := range strings.Split(string(data), "\n") {
		if c.stop {
			return
		}
		n := i + 1
		kw, rest, err := cutKeyword(raw)
		if err != nil {
			c.problem(file, n, "%v", err)
			continue
		}
		if kw == "" {
			continue
		}
		args, err := argvSplit(rest)
		if err != nil {
			c.problem(file, n, "invalid quotes")
			continue
		}
		key := canonicalKeyword(kw)
		switch key {
		case "match":
			m := &matchBlock{file: file, line: n, text: strings.Join(args, " "), inc: inherited}
			if err := m.parse(rest, src); err != nil {
				c.problem(file, n, "bad Match condition: %v", err)
				m.bad = true
			}
			cur = m
			c.matches = append(c.matches, m)
		case "include":
			for _, arg := range args {
				if arg == "" {
					c.problem(file, n, "keyword Include empty argument")
					continue
				}
				inc := includeArg{file: file, line: n, pattern: resolveInclude(arg), match: cur}
				inc.files = src.glob(inc.pattern)
				c.includes = append(c.includes, inc) // before its children: file order
				for _, f := range inc.files {
					b, err := src.readIncluded(f)
					if err != nil {
						c.problem(file, n, "read include %s: %v", f, err)
						c.stop = true // sshd exits when it cannot open one
						return
					}
					c.walk(src, f, b, depth+1, cur)
				}
			}
		default:
			if !cur.startup() && globalOnly[key] {
				c.problem(file, n, "directive %q is not allowed within a Match block", kw)
			}
			if key == kwAuthorizedKeysFile {
				args = expandTildes(src, args, func(err error) { c.problem(file, n, "%s: %v", kw, err) })
			}
			if err := checkArgs(key, args, src); err != nil {
				c.problem(file, n, "%s: %v", kw, err)
			}
			c.directives = append(c.directives, directive{file: file, line: n, key: key, args: args, match: cur})
		}
	}
}

// globalOnly are the keywords sshd refuses inside a Match block (those
// without SSHCFG_MATCH in servconf.c's keyword table), as OpenSSH 9.2 with
// Debian's GSSAPI key exchange patch has them.
var globalOnly = map[string]bool{
	"addressfamily": true, "ciphers": true, "compression": true, "fingerprinthash": true,
	"gssapicleanupcredentials": true, "gssapikexalgorithms": true, "gssapikeyexchange": true,
	"gssapistorecredentialsonrekey": true, "gssapistrictacceptorcheck": true, "hostkey": true,
	"hostkeyagent": true, "hostkeyalgorithms": true, "ignoreuserknownhosts": true,
	"kerberosorlocalpasswd": true, "kerberosticketcleanup": true, "kexalgorithms": true,
	"listenaddress": true, "logingracetime": true, "macs": true, "maxstartups": true,
	"modulifile": true, "permituserenvironment": true, "persourcemaxstartups": true,
	"persourcenetblocksize": true, "pidfile": true, "port": true, "printlastlog": true,
	"printmotd": true, "protocol": true, "securitykeyprovider": true, "strictmodes": true,
	"syslogfacility": true, "tcpkeepalive": true, "usedns": true, "usepam": true,
	"useprivilegeseparation": true, "versionaddendum": true, "xauthlocation": true,
}

// checkArgs rejects what sshd rejects in the values of the model's
// keywords (process_server_config_line); other keywords are left to sshd.
func checkArgs(key string, args []string, src *source) error {
	one := func() error {
		switch {
		case len(args) == 0 || args[0] == "":
			return fmt.Errorf("missing argument")
		case len(args) > 1:
			return fmt.Errorf("extra arguments at end of line")
		}
		return nil
	}
	switch key {
	case kwPassword, kwKbd, kwUsePAM, kwPubkey:
		if err := one(); err != nil {
			return err
		}
		if _, ok := flagValue(args); !ok {
			return fmt.Errorf("unsupported option %q", args[0])
		}
	case kwRootLogin:
		if err := one(); err != nil {
			return err
		}
		switch strings.ToLower(args[0]) {
		case "yes", "no", "prohibit-password", "without-password", "forced-commands-only":
		default:
			return fmt.Errorf("unsupported option %q", args[0])
		}
	case kwPubkeyAlgs:
		if err := one(); err != nil {
			return err
		}
		return checkAlgorithms(args[0])
	case kwPort:
		if err := one(); err != nil {
			return err
		}
		if p, ok := a2port(args[0], src); !ok || p <= 0 {
			return fmt.Errorf("bad port number %q", args[0])
		}
	case kwAuthorizedKeysFile, kwAllowGroups, kwDenyGroups:
		if slices.Contains(args, "") {
			return fmt.Errorf("empty argument")
		}
	case kwAllowUsers, kwDenyUsers:
		// match_user in test mode: the part after '@' must be a valid
		// address list where it looks like one.
		for _, a := range args {
			_, host, at := strings.Cut(a, "@")
			if a == "" || at && addrMatchList("", host) == -2 {
				return fmt.Errorf("invalid pattern %q", a)
			}
		}
	case kwAuthMethods:
		// "any" after another entry depends on what the pass has stored
		// already (anyAlone); "any" before one never holds.
		for i, a := range args {
			switch {
			case a == "any":
			case slices.Contains(args[:i], "any"):
				return fmt.Errorf(`"any" must appear alone`)
			case !validMethods(a):
				return fmt.Errorf("invalid method list %q", a)
			}
		}
	}
	return nil
}

// authMethods are the methods auth2.c knows, for AuthenticationMethods.
var authMethods = []string{"none", "publickey", "password", "keyboard-interactive", "hostbased", "gssapi-with-mic"}

// validMethods is auth2_methods_valid without the enabled check: every
// comma-separated entry is a method name, alone or followed by ':' and a
// submethod.
func validMethods(list string) bool {
	for _, m := range strings.Split(list, ",") {
		name, _, _ := strings.Cut(m, ":")
		if !slices.Contains(authMethods, name) {
			return false
		}
	}
	return true
}

// checkLoaded is what sshd checks of the values it read at startup: "any"
// alone in AuthenticationMethods (anyAlone), a PubkeyAcceptedAlgorithms
// list that assembles (algorithms), and one global AuthenticationMethods
// list that uses only methods the global configuration enables, or sshd
// refuses to start ("cannot be satisfied by enabled authentication
// methods"). Match blocks are not checked for that, as in sshd.
func (c *config) checkLoaded() {
	if d := anyAlone(c.directives, func(d *directive) bool { return d.global() }); d != nil {
		c.problem(d.file, d.line, `"any" must appear alone in AuthenticationMethods`)
	}
	if ds := c.lookup(kwPubkeyAlgs, nil); len(ds) > 0 {
		if _, err := algorithms(strings.Join(ds[0].args, " ")); err != nil {
			c.problem(ds[0].file, ds[0].line, "PubkeyAcceptedAlgorithms: %v", err)
		}
	}
	ds := c.lookup(kwAuthMethods, nil)
	if len(ds) == 0 || len(ds[0].args) == 0 || ds[0].args[0] == "any" {
		return
	}
	enabled := map[string]bool{"none": true}
	for m, k := range map[string]string{"publickey": kwPubkey, "password": kwPassword, "keyboard-interactive": kwKbd,
		"hostbased": "hostbasedauthentication", "gssapi-with-mic": "gssapiauthentication"} {
		v := defaults[k] // "" (no) for the two the model does not follow
		if ds := c.lookup(k, nil); len(ds) > 0 {
			v, _ = flagValue(ds[0].args)
		}
		enabled[m] = v == "yes"
	}
	for _, list := range ds[0].args {
		ok := true
		for _, m := range strings.Split(list, ",") {
			name, _, _ := strings.Cut(m, ":")
			ok = ok && enabled[name]
		}
		if ok {
			return
		}
	}
	c.problem(ds[0].file, ds[0].line, "AuthenticationMethods cannot be satisfied by enabled authentication methods")
}

// anyAlone replays servconf.c's check that "any" stands alone in
// AuthenticationMethods for one pass over the configuration, where stores
// says which lines that pass stores: "any" is refused once the pass holds
// a value, also one from earlier on the same line. It returns the line sshd
// rejects, or nil.
func anyAlone(ds []directive, stores func(*directive) bool) *directive {
	set := false
	for i := range ds {
		d := &ds[i]
		if d.key != kwAuthMethods {
			continue
		}
		first := !set
		for _, a := range d.args {
			if a == "any" && set {
				return d
			}
			if first && stores(d) {
				set = true
			}
		}
	}
	return nil
}

// resolveInclude applies sshd's rule: a path not starting with / or ~ is
// relative to /etc/ssh (SSHDIR).
func resolveInclude(arg string) string {
	if strings.HasPrefix(arg, "/") || strings.HasPrefix(arg, "~") {
		return arg
	}
	return "/etc/ssh/" + arg
}

func canonicalKeyword(kw string) string {
	k := strings.ToLower(kw)
	if a, ok := aliases[k]; ok {
		return a
	}
	return k
}

// flagValue reads a yes/no argument as parse_flag does (case-insensitive).
func flagValue(args []string) (string, bool) {
	if len(args) != 1 {
		return "", false
	}
	v := strings.ToLower(args[0])
	return v, v == "yes" || v == "no"
}

// effective returns the value sshd uses for a yes/no keyword on
// connection ci, and the line that set it (nil for the compiled-in
// default). With ci nil it is the value sshd reads at startup, before any
// Match block.
func (c *config) effective(key string, ci *connInfo) (string, *directive) {
	if ds := c.lookup(key, ci); len(ds) > 0 {
		v, _ := flagValue(ds[0].args)
		return v, ds[0]
	}
	return defaults[key], nil
}
