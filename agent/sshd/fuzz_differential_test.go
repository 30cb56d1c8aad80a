package sshd

import (
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The configuration fuzzer: a stream of bytes chooses a configuration tree
// (nested Include globs, Match on every criterion with negations and
// lists, "Match all", repeated keywords, deprecated aliases, case, space,
// '=' and quoting variants), the users and the connections, and the
// differential harness (runDiff) requires the parser and sshd -T to agree.
// FuzzDifferential is the Go fuzz target (its seeds run in `make test`, the
// engine in `make fuzz`); TestDifferentialRandom runs a fixed number of
// generated trees from fixed seeds.

// chooser turns fuzz bytes into choices; past the end every choice is 0,
// so shorter inputs give smaller trees and the engine's minimising helps.
type chooser struct {
	b []byte
	i int
}

func (c *chooser) n(k int) int {
	if k <= 1 || c.i >= len(c.b) {
		return 0
	}
	v := int(c.b[c.i]) % k
	c.i++
	return v
}

func (c *chooser) pick(xs ...string) string { return xs[c.n(len(xs))] }

func (c *chooser) chance(in int) bool { return c.n(in) == 0 }

// includeTargets are the files Include globs can reach; the main file is
// etc/ssh/sshd_config.
var includeTargets = []string{
	"etc/ssh/sshd_config.d/10-a.conf", "etc/ssh/sshd_config.d/50-b.conf", "etc/ssh/sshd_config.d/.hidden.conf",
	"etc/ssh/sshd_config.d/z.txt", "etc/ssh/inc/a", "etc/ssh/inc/b", "etc/ssh/inc/sub/c.conf",
}

// includeGlobs are Include arguments, {{dir}} being the tree.
var includeGlobs = []string{
	"{{dir}}/etc/ssh/sshd_config.d/*.conf", "{{dir}}/etc/ssh/sshd_config.d/*", "{{dir}}/etc/ssh/inc/*",
	"{{dir}}/etc/ssh/inc/[!a]*", "{{dir}}/etc/ssh/inc/?", "{{dir}}/etc/ssh/inc/*/*.conf",
	"{{dir}}/etc/ssh/*/c.conf", "{{dir}}/etc/ssh/sshd_config.d/.*", "{{dir}}/etc/ssh/inc/a",
	"{{dir}}/etc/ssh/nothing/*.conf", "ecs-keyagent-no-such-dir/*.conf", "{{dir}}/etc/ssh/inc/sub/",
	"{{dir}}/etc/ssh/sshd_config.d/[15]0-*.conf",
}

var matchPatterns = map[string][]string{
	"User":         {"root", "daemon", "alice", "bob", "*", "r*", "*,!root", "alice,bob", "!nobody,*", "?oot", "ALICE"},
	"Group":        {"root", "daemon", "nogroup", "wheel", "*", "*,!root", "!daemon,*", "no*", "root,daemon"},
	"Host":         {"192.0.2.1", "192.0.2.*", "*.example.com", "client.example.com", "*", "!192.0.2.1,*", "CLIENT.example.com"},
	"Address":      {"192.0.2.1", "192.0.2.0/24", "10.0.0.0/8", "!10.0.0.0/8,*", "::1", "192.0.2.*", "198.51.100.0/24,192.0.2.1/32", "::ffff:192.0.2.1"},
	"LocalAddress": {"192.0.2.2", "10.0.0.0/8", "192.0.2.0/24", "*", "!192.0.2.2,*"},
	"LocalPort":    {"22", "2222", "022", "ssh"},
	"RDomain":      {"*", "vrf-blue", "!vrf-blue,*"},
}

var matchAttrs = []string{"User", "Group", "Host", "Address", "LocalAddress", "LocalPort", "RDomain"}

// keywordValues are the values a keyword line can get; "|" separates the
// arguments of one value.
var keywordValues = map[string][]string{
	"PasswordAuthentication":          {"yes", "no", "YES", "No"},
	"KbdInteractiveAuthentication":    {"yes", "no"},
	"ChallengeResponseAuthentication": {"yes", "no"},
	"PubkeyAuthentication":            {"yes", "no"},
	"UsePAM":                          {"yes", "no"},
	"PermitRootLogin":                 {"yes", "no", "prohibit-password", "without-password", "forced-commands-only", "Prohibit-Password"},
	"PubkeyAcceptedAlgorithms": {"ssh-ed25519", "+ssh-rsa", "-ssh-rsa*", "^ssh-rsa,ssh-dss", "rsa-sha2-*",
		"ssh-ed25519,ecdsa-sha2-nistp256", "-*", "+ssh-dss,ssh-rsa", "ssh-ed*,rsa-sha2-512"},
	"PubkeyAcceptedKeyTypes": {"ssh-ed25519", "+ssh-rsa", "-ssh-ed25519*"},
	"AuthorizedKeysFile": {".ssh/authorized_keys", "%h/.ssh/k|.ssh/authorized_keys", "/etc/ssh/keys/%u", "none",
		"~/.ssh/x", "~daemon/k|.ssh/y"},
	"AuthenticationMethods": {"any", "publickey", "publickey,password", "publickey|publickey,keyboard-interactive:pam",
		"password|publickey", "keyboard-interactive"},
	"AllowUsers":  {"root", "root|daemon", "alice|bob", "a*", "root@192.0.2.*", "*@10.0.0.0/8|daemon", "*"},
	"DenyUsers":   {"bob", "nobody", "root@10.0.0.1", "x*"},
	"AllowGroups": {"root", "daemon|nogroup", "wheel", "*", "r*"},
	"DenyGroups":  {"wheel", "nogroup", "adm"},
	"Port":        {"22", "2222", "ssh", "022"},
}

// keywordWeights lists the keywords by how often a line takes them.
var keywordWeights = []string{
	"PasswordAuthentication", "PasswordAuthentication", "PasswordAuthentication", "KbdInteractiveAuthentication",
	"KbdInteractiveAuthentication", "ChallengeResponseAuthentication", "PubkeyAuthentication", "PermitRootLogin",
	"PermitRootLogin", "PubkeyAcceptedAlgorithms", "PubkeyAcceptedKeyTypes", "AuthorizedKeysFile",
	"AuthorizedKeysFile", "AuthenticationMethods", "AllowUsers", "DenyUsers", "AllowGroups", "DenyGroups",
	"UsePAM", "Port",
}

// spell writes a keyword in one of the case variants sshd accepts.
func (c *chooser) spell(kw string) string {
	switch c.n(4) {
	case 1:
		return strings.ToLower(kw)
	case 2:
		return strings.ToUpper(kw)
	}
	return kw
}

// sep is what goes between a keyword and its arguments.
func (c *chooser) sep() string { return c.pick(" ", " ", "\t", "=", " = ", "  =") }

func (c *chooser) indent() string { return c.pick("", "", "\t", "  ") }

// line makes one configuration line; global says the file is the main
// one's global section (Port is kept there).
func (c *chooser) line(global bool) string {
	switch c.n(12) {
	case 0, 1:
		return c.matchLine()
	case 2, 3:
		s := c.indent() + c.spell("Include") + " " + c.pick(includeGlobs...)
		if c.chance(5) {
			s += " " + c.pick(includeGlobs...)
		}
		return s
	case 4:
		return c.pick("", "# a comment", "#PasswordAuthentication no", "X11Forwarding no", "Banner none",
			"MaxAuthTries 3", "AllowTcpForwarding=no")
	}
	kw := c.pick(keywordWeights...)
	if (kw == "Port" || kw == "UsePAM") && !global && !c.chance(8) {
		kw = "PasswordAuthentication" // sshd refuses them in Match: now and then only
	}
	args := strings.Split(c.pick(keywordValues[kw]...), "|")
	if c.chance(6) {
		args[0] = `"` + args[0] + `"`
	}
	name := c.spell(kw)
	if c.chance(10) {
		name = `"` + name + `"`
	}
	s := c.indent() + name + c.sep() + strings.Join(args, " ")
	if c.chance(8) {
		s += " # trailing"
	}
	return s
}

func (c *chooser) matchLine() string {
	s := c.indent() + c.spell("Match")
	if c.chance(5) {
		return s + " " + c.pick("all", "All", "ALL")
	}
	n := 1 + c.n(2)
	for range n {
		attr := c.pick(matchAttrs...)
		name := attr
		if c.chance(3) {
			name = strings.ToLower(attr)
		}
		pat := c.pick(matchPatterns[attr]...)
		if c.chance(6) {
			pat = `"` + pat + `"`
		}
		s += " " + name + c.pick(" ", "=", " = ") + pat
	}
	if c.chance(8) {
		s += " # comment"
	}
	return s
}

// genTree makes a configuration tree from c.
func (c *chooser) genTree() map[string]string {
	files := map[string]string{}
	var main []string
	for range 1 + c.n(12) {
		main = append(main, c.line(!slices.ContainsFunc(main, func(l string) bool {
			return strings.Contains(strings.ToLower(l), "match")
		})))
	}
	files["etc/ssh/sshd_config"] = strings.Join(main, "\n") + c.pick("\n", "", "\r\n")
	for _, f := range includeTargets {
		if !c.chance(2) {
			continue
		}
		var ls []string
		for range c.n(6) {
			ls = append(ls, c.line(false))
		}
		files[f] = strings.Join(ls, "\n") + "\n"
	}
	return files
}

// fuzzUsers are the users a generated case asks about: root, daemon and
// nobody exist on Debian (sshd resolves their groups), alice and bob do not.
var fuzzUsers = []string{"root", "daemon", "nobody", "alice", "bob"}

// fuzzConns are connections besides the agent's own.
var fuzzConns = []string{
	"addr=10.1.2.3,host=10.1.2.3", "host=client.example.com", "laddr=10.0.0.5", "lport=2222",
	"rdomain=vrf-blue", "addr=::1,host=::1,laddr=::1",
}

// genCase makes a whole differential case from fuzz bytes.
func genCase(data []byte) diffCase {
	c := &chooser{b: data}
	dc := diffCase{name: "generated", files: c.genTree()}
	for range 1 + c.n(3) {
		if u := c.pick(fuzzUsers...); !slices.Contains(dc.users, u) {
			dc.users = append(dc.users, u)
		}
	}
	if c.chance(2) {
		ci, _ := parseSpec("")
		dc.conns = append(dc.conns, ci)
		for range 1 + c.n(2) {
			ci, _ := parseSpec(c.pick(fuzzConns...))
			dc.conns = append(dc.conns, ci)
		}
	}
	return dc
}

// describe prints a generated case for a failure message.
func describe(dc diffCase) string {
	var b strings.Builder
	fmt.Fprintf(&b, "users %v", dc.users)
	for _, ci := range dc.conns {
		fmt.Fprintf(&b, "; conn %s", ci.spec())
	}
	names := make([]string, 0, len(dc.files))
	for n := range dc.files {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		fmt.Fprintf(&b, "\n-- %s --\n%s", n, dc.files[n])
	}
	return b.String()
}

// fuzzSeeds are fixed byte strings, and the randomized test's first ones.
func fuzzSeeds() [][]byte {
	out := [][]byte{{}, []byte("servcfginclude"), {0, 1, 1, 0, 3, 0, 9, 0, 0, 0, 1, 0, 2, 5, 0, 4}}
	for seed := range uint64(5) {
		out = append(out, seedBytes(seed+1))
	}
	return out
}

// seedBytes are 400 bytes from a fixed PCG stream.
func seedBytes(seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	b := make([]byte, 400)
	for i := range b {
		b[i] = byte(r.UintN(256))
	}
	return b
}

func checkGenerated(t *testing.T, data []byte) diffResult {
	t.Helper()
	dc := genCase(data)
	res := runDiff(t, dc, sshdBin)
	if len(res.disagree) > 0 {
		t.Errorf("parser and sshd disagree on input %q:\n%s\n%s", data, strings.Join(res.disagree, "\n"), describe(dc))
	}
	return res
}

// FuzzDifferential generates configurations and requires the parser and
// sshd -T to agree on them.
func FuzzDifferential(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		requireSSHD(t)
		checkGenerated(t, data)
	})
}

// TestDifferentialRandom runs ECS_KEYAGENT_DIFF_COUNT (default 15)
// generated trees from fixed seeds against sshd.
func TestDifferentialRandom(t *testing.T) {
	requireSSHD(t)
	n := 15
	if s := os.Getenv("ECS_KEYAGENT_DIFF_COUNT"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("ECS_KEYAGENT_DIFF_COUNT=%q: %v", s, err)
		}
		n = v
	}
	var total diffResult
	failed := 0
	for seed := range uint64(n) {
		res := checkGenerated(t, seedBytes(1000+seed))
		total.conns += res.conns
		total.values += res.values
		total.rejected += res.rejected
		total.undecided += res.undecided
		if len(res.disagree) > 0 {
			failed++
		}
	}
	t.Logf("%d generated trees: %d connections, %d values compared, %d refused by both, %d the parser could not evaluate; %d trees disagreed",
		n, total.conns, total.values, total.rejected, total.undecided, failed)
}
