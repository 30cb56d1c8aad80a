package sshd

import (
	"fmt"
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
	file  string // path as sshd sees it
	line  int    // 1-based
	key   string // lower case, alias resolved
	args  []string
	match *matchBlock // block the line is in; nil when global
}

// matchBlock is a Match line. A block runs to the next Match line or the end
// of the file holding it: sshd restores the includer's state after an Include.
type matchBlock struct {
	file     string
	line     int
	criteria []string
	// never marks a block inside a file included from a Match block: sshd
	// parses it with SSHCFG_NEVERMATCH at startup, so it is never global.
	never bool
}

func (m *matchBlock) String() string {
	return fmt.Sprintf("%s:%d Match %s", m.file, m.line, strings.Join(m.criteria, " "))
}

// all reports a "Match all" line, which makes what follows global again.
func (m *matchBlock) all() bool {
	return len(m.criteria) == 1 && strings.EqualFold(m.criteria[0], "all")
}

// global reports whether d applies to every connection unless a Match
// block overrides it.
func (d *directive) global() bool {
	return d.match == nil || (d.match.all() && !d.match.never)
}

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
}

// parseConfig reads main and everything it includes, as sshd would.
func parseConfig(src *source, main string) (*config, error) {
	data, err := src.read(main)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", main, err)
	}
	c := &config{main: main}
	c.walk(src, main, data, 0, nil, false)
	return c, nil
}

func (c *config) problem(file string, line int, format string, args ...any) {
	c.problems = append(c.problems, fmt.Sprintf("%s line %d: ", file, line)+fmt.Sprintf(format, args...))
}

func (c *config) walk(src *source, file string, data []byte, depth int, cur *matchBlock, never bool) {
	if depth > maxIncludeDepth {
		c.problem(file, 0, "too many recursive configuration includes")
		return
	}
	for i, raw := range strings.Split(string(data), "\n") {
		n := i + 1
		kw, args, err := splitLine(raw)
		if err != nil {
			c.problem(file, n, "%v", err)
			continue
		}
		if kw == "" {
			continue
		}
		key := canonicalKeyword(kw)
		switch key {
		case "match":
			cur = &matchBlock{file: file, line: n, criteria: matchCriteria(args), never: never}
			c.matches = append(c.matches, cur)
		case "include":
			// servconf.c: an included file starts with the includer's
			// state and cannot change it; from inside an inactive Match it
			// is parsed with SSHCFG_NEVERMATCH.
			childNever := never || (cur != nil && !cur.all())
			for _, arg := range args {
				inc := includeArg{file: file, line: n, pattern: resolveInclude(arg), match: cur}
				inc.files = src.glob(inc.pattern)
				c.includes = append(c.includes, inc) // before its children: file order
				for _, f := range inc.files {
					b, err := src.read(f)
					if err != nil {
						c.problem(file, n, "read include %s: %v", f, err)
						continue
					}
					c.walk(src, f, b, depth+1, cur, childNever)
				}
			}
		default:
			if key == kwPassword || key == kwKbd {
				if _, ok := flagValue(args); !ok {
					c.problem(file, n, "bad value for %s: %q", kw, strings.Join(args, " "))
				}
			}
			c.directives = append(c.directives, directive{file: file, line: n, key: key, args: args, match: cur})
		}
	}
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
	if k == "challengeresponseauthentication" {
		return kwKbd
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

// matchCriteria splits Match arguments the way match_cfg_line reads them
// with strdelim: "User=alice" is "User alice".
func matchCriteria(args []string) []string {
	var out []string
	for _, a := range args {
		for _, f := range strings.Split(a, "=") {
			if f != "" {
				out = append(out, f)
			}
		}
	}
	return out
}

// effective returns the value sshd uses for key on connection ci, and the
// line that set it (nil for the compiled-in default). With ci nil it is the
// global value. Per connection, sshd re-parses only Match blocks and the first
// value among matching blocks overrides the global one (parse_server_match_config).
func (c *config) effective(key string, ci *connInfo) (string, *directive) {
	if ci != nil {
		for i := range c.directives {
			d := &c.directives[i]
			if d.key == key && d.match != nil && ci.matches(d.match) {
				v, _ := flagValue(d.args)
				return v, d
			}
		}
	}
	for i := range c.directives {
		d := &c.directives[i]
		if d.key == key && d.global() {
			v, _ := flagValue(d.args)
			return v, d
		}
	}
	return "yes", nil // both default to yes in OpenSSH 9 (servconf.c fill_default_server_options)
}
