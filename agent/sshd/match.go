package sshd

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// connInfo is the connection a Match block is tested against, like the
// argument of sshd -T -C, with the user's groups for Match Group.
type connInfo struct {
	user, host, addr string
	laddr            string
	lport            int
	groups           []string
}

// matches reports whether every criterion of m holds for ci, as
// match_cfg_line does under sshd -T. The connection has no routing domain
// (the Linux default without VRF), so RDomain never matches, as sshd -T
// treats an rdomain missing from -C.
func (ci *connInfo) matches(m *matchBlock) bool {
	if m.all() {
		return true
	}
	c := m.criteria
	if len(c) == 0 || len(c)%2 != 0 {
		return false
	}
	for i := 0; i < len(c); i += 2 {
		attr, list := strings.ToLower(c[i]), c[i+1]
		var ok bool
		switch attr {
		case "user":
			ok = matchPatternList(ci.user, list, false) == 1
		case "host":
			ok = matchPatternList(strings.ToLower(ci.host), list, true) == 1
		case "address":
			ok = addrMatchList(ci.addr, list) == 1
		case "localaddress":
			ok = addrMatchList(ci.laddr, list) == 1
		case "localport":
			ok = list == strconv.Itoa(ci.lport)
		case "group":
			for _, g := range ci.groups {
				ok = ok || matchPatternList(g, list, false) == 1
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// matchPatternList is match_pattern_list from match.c: comma-separated
// wildcard patterns, a leading '!' negates and a negated match fails the
// whole list (-1); 1 is a positive match, 0 none.
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
// blocks or wildcard patterns against the address text; 1 match, 0 none,
// -1 negated match.
func addrMatchList(addr, list string) int {
	a, aerr := netip.ParseAddr(addr)
	got := 0
	for _, e := range strings.Split(list, ",") {
		neg := strings.HasPrefix(e, "!")
		if neg {
			e = e[1:]
		}
		var ok bool
		if pfx, err := parseCIDR(e); err == nil {
			ok = aerr == nil && pfx.Contains(a.Unmap())
		} else {
			ok = wildMatch(addr, e)
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

// parseCIDR accepts "a.b.c.d/n" and a bare address (a /32 or /128).
func parseCIDR(s string) (netip.Prefix, error) {
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), nil
	}
	return netip.ParsePrefix(s)
}

// testLAddr is the local address of the test connection, TEST-NET-1 like
// testAddr: a Match LocalAddress block aimed at the instance's real address
// is reported, not evaluated.
const testLAddr = "192.0.2.2"

// connections are the test connections for user: one per port sshd
// listens on (Port, default 22), from a client no Match Address names.
func (c *config) connections(user string, groups []string) []*connInfo {
	var out []*connInfo
	for _, d := range c.directives {
		if d.key != kwPort || !d.global() || len(d.args) != 1 {
			continue
		}
		if p, err := strconv.Atoi(d.args[0]); err == nil && p > 0 && p < 65536 {
			out = append(out, &connInfo{user: user, host: testAddr, addr: testAddr, laddr: testLAddr, lport: p, groups: groups})
		}
	}
	if len(out) == 0 {
		out = append(out, &connInfo{user: user, host: testAddr, addr: testAddr, laddr: testLAddr, lport: 22, groups: groups})
	}
	return out
}

// spec is ci as sshd -T -C takes it. rdomain is left out: a connection
// without a routing domain (Linux without VRF) matches no Match RDomain, as
// sshd -T treats a missing rdomain.
func (ci *connInfo) spec() string {
	return fmt.Sprintf("user=%s,host=%s,addr=%s,laddr=%s,lport=%d", ci.user, ci.host, ci.addr, ci.laddr, ci.lport)
}
