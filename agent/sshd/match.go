package sshd

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// connInfo is the connection a Match block is tested against, like the
// argument of sshd -T -C, with the user's groups for Match Group.
type connInfo struct {
	user, host, addr string
	laddr            string
	lport            int
	// rdomain is the routing domain of the listener; "" for none, the
	// Linux default without VRF, which no Match RDomain matches.
	rdomain string
	// groups are the user's groups; nil when the agent does not know them
	// (no such user in the passwd it reads), where Match Group cannot be
	// evaluated.
	groups []string
}

// tri is the result of a Match line the parser may not be able to decide.
type tri int8

const (
	no tri = iota
	yes
	unknown
)

func and(a, b tri) tri {
	switch {
	case a == no || b == no:
		return no
	case a == unknown || b == unknown:
		return unknown
	}
	return yes
}

// criterion is one "Attribute pattern" pair of a Match line.
type criterion struct {
	attr string // lower case: user, group, host, address, localaddress, localport, rdomain
	arg  string
	port int // LocalPort's number
}

// clientAttrs are the criteria that depend on where a connection comes
// from or arrives: the test connection stands in for every client, so a
// block using them may hold for other clients where it does not for it.
var clientAttrs = map[string]bool{"host": true, "address": true, "localaddress": true, "rdomain": true}

// parse reads the criteria of a Match line from the rest of the line as
// match_cfg_line does: words come from strdelim (a quoted word, or a word
// ending at a space or one '='), "all" stands alone, every other attribute
// takes one argument, and a word starting with '#' ends the line.
func (m *matchBlock) parse(rest string, src *source) error {
	cp := rest
	next := func() (string, bool) {
		w, r, ok := strdelim(cp)
		cp = r
		if !ok {
			cp = ""
		}
		return w, ok
	}
	n := 0
	for {
		attr, ok := next()
		if !ok || attr == "" {
			break
		}
		if attr[0] == '#' {
			cp = ""
			break
		}
		n++
		if strings.EqualFold(attr, "all") {
			if n > 1 {
				return errors.New("'all' cannot be combined with other Match attributes")
			}
			arg, ok := next()
			switch {
			case ok && arg != "" && arg[0] != '#':
				return errors.New("'all' cannot be combined with other Match attributes")
			case ok && arg != "":
				cp = "" // a comment
			}
			if cp != "" {
				return errors.New("extra arguments at end of line")
			}
			m.isAll = true
			return nil
		}
		arg, ok := next()
		if !ok || arg == "" || arg[0] == '#' {
			return fmt.Errorf("missing Match criteria for %s", attr)
		}
		c := criterion{attr: strings.ToLower(attr), arg: arg}
		switch c.attr {
		case "user", "group", "host", "rdomain":
		case "address", "localaddress":
			if addrMatchList("", arg) != 0 {
				return fmt.Errorf("invalid Match address argument %q", arg)
			}
		case "localport":
			p, ok := a2port(arg, src)
			if !ok {
				return fmt.Errorf("invalid LocalPort %q", arg)
			}
			c.port = p
		default:
			return fmt.Errorf("unsupported Match attribute %s", attr)
		}
		m.criteria = append(m.criteria, c)
	}
	if n == 0 {
		return errors.New("one or more attributes required for Match")
	}
	if cp != "" {
		return errors.New("extra arguments at end of line")
	}
	return nil
}

// eval reports whether the Match line m itself holds for ci, as
// match_cfg_line does under sshd -T -C with every criterion given; skip
// names criteria to take as holding.
func (ci *connInfo) eval(m *matchBlock, skip map[string]bool) tri {
	if m.bad {
		return no
	}
	if m.isAll {
		return yes
	}
	r := yes
	for _, c := range m.criteria {
		ok := false
		switch {
		case skip[c.attr]:
			continue
		case c.attr == "user":
			ok = matchPatternList(ci.user, c.arg, false) == 1
		case c.attr == "group":
			if ci.groups == nil {
				r = and(r, unknown)
				continue
			}
			ok = groupMatch(ci.groups, c.arg)
		case c.attr == "host":
			ok = ci.host != "" && matchPatternList(strings.ToLower(ci.host), c.arg, true) == 1
		case c.attr == "address":
			ok = ci.addr != "" && addrMatchList(ci.addr, c.arg) == 1
		case c.attr == "localaddress":
			ok = ci.laddr != "" && addrMatchList(ci.laddr, c.arg) == 1
		case c.attr == "localport":
			ok = c.port == ci.lport
		case c.attr == "rdomain":
			ok = ci.rdomain != "" && matchPatternList(ci.rdomain, c.arg, false) == 1
		}
		if !ok {
			r = no
		}
	}
	return r
}

// active reports whether sshd applies lines under m when it re-reads the
// configuration for ci (parse_server_match_config): never in the global
// section, which it read at startup; under a Match line when that line
// holds and so does every Match line in effect at the Includes that led to
// its file (otherwise the file was parsed with SSHCFG_NEVERMATCH).
func (ci *connInfo) active(m *matchBlock) tri {
	if m == nil {
		return no
	}
	r := yes
	for ; m != nil; m = m.inc {
		r = and(r, ci.eval(m, nil))
	}
	return r
}

// client returns the first Match line on m's chain that uses a criterion
// of the client (clientAttrs), when the rest of the chain does not rule
// the block out for ci: the block may hold for clients other than the
// test connection. nil when there is none.
func (ci *connInfo) client(m *matchBlock) *matchBlock {
	var first *matchBlock
	for b := m; b != nil; b = b.inc {
		if ci.eval(b, clientAttrs) == no {
			return nil
		}
		for _, c := range b.criteria {
			if clientAttrs[c.attr] && first == nil {
				first = b
			}
		}
	}
	return first
}

// groupMatch is ga_match_pattern_list from groupaccess.c: a negated match
// on any of the groups refuses, else one positive match accepts.
func groupMatch(groups []string, list string) bool {
	found := false
	for _, g := range groups {
		switch matchPatternList(g, list, false) {
		case -1:
			return false
		case 1:
			found = true
		}
	}
	return found
}

// matchPatternList is match_pattern_list from match.c: comma-separated
// wildcard patterns, a leading '!' negates and a negated match fails the
// whole list (-1); 1 is a positive match, 0 none. lower lower-cases the
// patterns (the caller lower-cases s).
func matchPatternList(s, list string, lower bool) int {
	got := 0
	for _, p := range strings.Split(list, ",") {
		neg := strings.HasPrefix(p, "!")
		if neg {
			p = p[1:]
		}
		if lower {
			p = strings.ToLower(p)
		}
		if wildMatch(s, p) {
			if neg {
				return -1
			}
			got = 1
		}
	}
	return got
}

// wildMatch is match_pattern from match.c: '*' and '?' are the only
// wildcards.
func wildMatch(s, p string) bool {
	// Greedy with one backtrack point: O(len(s)*len(p)), never exponential.
	si, pi, star, mark := 0, 0, -1, 0
	for si < len(s) {
		switch {
		case pi < len(p) && (p[pi] == '?' || p[pi] == s[si]):
			si++
			pi++
		case pi < len(p) && p[pi] == '*':
			star, mark = pi, si
			pi++
		case star >= 0:
			mark++
			si, pi = mark, star+1
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

// addrMatchList is addr_match_list from addrmatch.c: entries are CIDR
// blocks or, where an entry is no address at all, wildcard patterns
// against the address text. 1 is a match, 0 none, -1 a negated match and
// -2 an invalid list (an empty entry, or a network with host bits set or
// too long a mask), which makes sshd reject the line. addr "" checks
// the list only.
func addrMatchList(addr, list string) int {
	var a netip.Addr
	if addr != "" {
		var err error
		if a, err = netip.ParseAddr(addr); err != nil {
			return 0
		}
	}
	got := 0
	for _, e := range strings.Split(list, ",") {
		neg := strings.HasPrefix(e, "!")
		if neg {
			e = e[1:]
		}
		if e == "" {
			return -2
		}
		pfx, r := cidr(e)
		var ok bool
		switch r {
		case -2:
			return -2
		case 0:
			// addr_netmatch: the families must agree, so an IPv4-mapped
			// IPv6 network never holds an IPv4 client.
			ok = addr != "" && pfx.Contains(a)
		default:
			ok = addr != "" && wildMatch(addr, e)
		}
		if ok {
			if neg {
				return -1
			}
			got = 1
		}
	}
	return got
}

// cidr is addr_pton_cidr: "address" or "address/bits" with bits all
// digits. r is 0 for a network, -1 for something else (a wildcard pattern)
// and -2 for an address with an impossible mask or host bits set.
func cidr(s string) (pfx netip.Prefix, r int) {
	host, bits, hasBits := strings.Cut(s, "/")
	n := -1
	if hasBits {
		v, err := strconv.ParseUint(bits, 10, 64)
		if err != nil || bits[0] < '0' || bits[0] > '9' || v > 128 {
			return netip.Prefix{}, -1
		}
		n = int(v)
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Prefix{}, -1
	}
	a = a.WithZone("")
	if n < 0 {
		n = a.BitLen()
	}
	if n > a.BitLen() {
		return netip.Prefix{}, -2
	}
	p := netip.PrefixFrom(a, n)
	if p.Masked().Addr() != a {
		return netip.Prefix{}, -2
	}
	return p, 0
}

// a2port is a2port from misc.c: a decimal number from 0 to 65535
// (strtonum: leading white space and a sign allowed), else a TCP service
// name from the services database under the tree's root.
func a2port(s string, src *source) (int, bool) {
	t := strings.TrimLeft(s, " \t\n\v\f\r")
	d := t
	if strings.HasPrefix(d, "+") || strings.HasPrefix(d, "-") {
		d = d[1:]
	}
	if d != "" && strings.Trim(d, "0123456789") == "" {
		v, err := strconv.ParseInt(t, 10, 64)
		if err == nil && v >= 0 && v <= 65535 {
			return int(v), true
		}
	}
	if src != nil {
		if p, ok := src.service(s); ok {
			return p, true
		}
	}
	return 0, false
}

// testLAddr is the local address of the test connection, TEST-NET-1 like
// testAddr: a Match LocalAddress block aimed at the instance's real address
// is reported, not evaluated.
const testLAddr = "192.0.2.2"

// connections are the test connections for user: one per port sshd
// listens on (Port, default 22), from a client no Match Address names.
func (c *config) connections(user string, groups []string) []*connInfo {
	var out []*connInfo
	for _, p := range c.ports() {
		out = append(out, &connInfo{user: user, host: testAddr, addr: testAddr, laddr: testLAddr, lport: p, groups: groups})
	}
	return out
}

// ports are the ports of the global Port lines in order, each once, or 22.
func (c *config) ports() []int {
	var out []int
	for _, d := range c.directives {
		if d.key != kwPort || !d.global() || len(d.args) != 1 {
			continue
		}
		if p, ok := a2port(d.args[0], c.src); ok && p > 0 && !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		out = append(out, 22)
	}
	return out
}

// spec is ci as sshd -T -C takes it. rdomain is left out when there is
// none: sshd -T then treats Match RDomain as not matching, as for a
// connection without a routing domain.
func (ci *connInfo) spec() string {
	s := fmt.Sprintf("user=%s,host=%s,addr=%s,laddr=%s,lport=%d", ci.user, ci.host, ci.addr, ci.laddr, ci.lport)
	if ci.rdomain != "" {
		s += ",rdomain=" + ci.rdomain
	}
	return s
}
