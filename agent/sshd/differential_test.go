package sshd

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"
	"go.uber.org/zap"

	"github.com/ecs-keyagent/ecs-keyagent/agent/agenttest"
)

// The differential tests put the agent's parser and the real sshd -T -C
// (every criterion filled in) on the same configuration tree and require
// the same effective value of every keyword the agent uses, for every user
// and connection of a case, and the same verdict on whether sshd accepts
// the configuration at all.
//
// sshd -T writes some values differently from the configuration; both
// sides are normalised the same way (normalise):
//   - keywords are lower case, yes/no values too;
//   - PermitRootLogin prohibit-password is printed "without-password" (the
//     first name of the value in servconf.c's table): both become
//     prohibit-password;
//   - PubkeyAcceptedAlgorithms is printed as the final list, the parser
//     assembles it the same way (algorithms);
//   - AuthorizedKeysFile and AuthenticationMethods are printed on one
//     line, arguments joined by single spaces;
//   - AllowUsers, DenyUsers, AllowGroups and DenyGroups are printed one
//     line per entry: both sides become the entries joined by spaces, ""
//     for none;
//   - Port is printed one line per Port line: compared with the parser's
//     port list (connections), each port once.

// diffKeywords are the keywords compared, as sshd -T prints them.
var diffKeywords = []string{kwPassword, kwKbd, kwUsePAM, kwPubkey, kwPubkeyAlgs, kwRootLogin, kwAuthorizedKeysFile,
	kwAuthMethods, kwAllowUsers, kwDenyUsers, kwAllowGroups, kwDenyGroups}

// diffCase is a configuration tree, the users to ask about, and the
// connections to ask about for each (none: the agent's own test
// connections, config.connections).
type diffCase struct {
	name  string
	about string // the comment: what upstream test it recasts and how
	files map[string]string
	users []string
	conns []*connInfo // user and groups are filled in per user
	// want are values the upstream test expects, keyed by "user" or
	// "user@n" (the n-th conn line, from 1) and keyword; "reject" as the
	// only key means sshd must refuse the configuration.
	want map[string]map[string]string
	// prepare, when set, changes the tree before the comparison.
	prepare func(t testing.TB, dir, main string)
	// applied says prepare lets the agent write: what it wrote must hold on
	// every release, so no release rule excuses kbdinteractiveauthentication.
	applied bool
}

// loadCases reads testdata/differential/*.txtar. The comment holds prose
// and these lines:
//
//	users: NAME...
//	conn: host=H,addr=A,laddr=L,lport=P,rdomain=R   (any subset; repeatable)
//	want NAME[@N] KEYWORD VALUE...
//	want reject
func loadCases(t testing.TB) []diffCase {
	t.Helper()
	paths, err := filepath.Glob("testdata/differential/*.txtar")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no differential cases: %v", err)
	}
	var out []diffCase
	for _, p := range paths {
		a, err := txtar.ParseFile(p)
		if err != nil {
			t.Fatal(err)
		}
		c := diffCase{name: strings.TrimSuffix(filepath.Base(p), ".txtar"), about: string(a.Comment),
			files: map[string]string{}, want: map[string]map[string]string{}}
		for _, f := range a.Files {
			c.files[f.Name] = string(f.Data)
		}
		for _, line := range strings.Split(string(a.Comment), "\n") {
			switch {
			case strings.HasPrefix(line, "users:"):
				c.users = strings.Fields(strings.TrimPrefix(line, "users:"))
			case strings.HasPrefix(line, "conn:"):
				ci, err := parseSpec(strings.TrimSpace(strings.TrimPrefix(line, "conn:")))
				if err != nil {
					t.Fatalf("%s: %v", p, err)
				}
				c.conns = append(c.conns, ci)
			case line == "want reject":
				c.want["reject"] = map[string]string{}
			case strings.HasPrefix(line, "want "):
				f := strings.Fields(line)
				if len(f) < 3 {
					t.Fatalf("%s: bad line %q", p, line)
				}
				if c.want[f[1]] == nil {
					c.want[f[1]] = map[string]string{}
				}
				c.want[f[1]][f[2]] = strings.Join(f[3:], " ")
			}
		}
		if !strings.Contains(c.about, "openssh-portable") && !strings.Contains(c.about, "layout") {
			t.Fatalf("%s: the comment must name the upstream test or the layout it stands for", p)
		}
		if len(c.users) == 0 {
			t.Fatalf("%s: no users: line", p)
		}
		out = append(out, c)
	}
	return out
}

// parseSpec reads "host=..,addr=.." over the agent's test connection.
func parseSpec(s string) (*connInfo, error) {
	ci := &connInfo{host: testAddr, addr: testAddr, laddr: testLAddr, lport: 22}
	for _, kv := range strings.Split(s, ",") {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "":
		case "host":
			ci.host = v
		case "addr":
			ci.addr = v
		case "laddr":
			ci.laddr = v
		case "lport":
			p, err := strconv.Atoi(v)
			if err != nil {
				return nil, err
			}
			ci.lport = p
		case "rdomain":
			ci.rdomain = v
		default:
			return nil, fmt.Errorf("unknown connection field %q", k)
		}
	}
	return ci, nil
}

var groupCache sync.Map // user -> []string (nil: no such user)

// systemGroups are the names of user's groups on this machine, as sshd
// gets them (getgrouplist with the primary group), or nil when there is no
// such user: then Match Group cannot hold in sshd, and the parser is told
// it does not know.
func systemGroups(name string) []string {
	if g, ok := groupCache.Load(name); ok {
		return g.([]string)
	}
	var out []string
	if u, err := user.Lookup(name); err == nil {
		out = []string{}
		ids, _ := u.GroupIds()
		for _, id := range ids {
			if g, err := user.LookupGroupId(id); err == nil {
				out = append(out, g.Name)
			} else {
				out = append(out, id)
			}
		}
	}
	groupCache.Store(name, out)
	return out
}

// diffResult is what one case found.
type diffResult struct {
	conns     int      // user and connection pairs checked
	values    int      // keyword values compared
	rejected  int      // connections both sides refused
	wants     int      // upstream expectations checked
	undecided int      // values the parser said it cannot evaluate
	release   int      // values compared with the sshd release's rule instead of the parser
	disagree  []string // what differed
}

// tree writes c's files under a new directory, {{dir}} standing for it.
func (c diffCase) tree(t testing.TB, dir string) string {
	t.Helper()
	for name, content := range c.files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(strings.ReplaceAll(content, "{{dir}}", dir)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, "etc/ssh/sshd_config")
}

var (
	diffKeyOnce sync.Once
	diffKey     []byte
)

// writeHostKey puts a host key for sshd -h in dir and returns its path:
// the cases carry no HostKey line. One key serves every run.
func writeHostKey(t testing.TB, dir string) string {
	t.Helper()
	diffKeyOnce.Do(func() {
		d, err := os.MkdirTemp("", "sshd-diff-hostkey")
		if err != nil {
			t.Fatal(err)
		}
		defer os.RemoveAll(d)
		if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", d+"/hostkey").CombinedOutput(); err != nil {
			t.Fatalf("ssh-keygen: %v: %s", err, out)
		}
		diffKey, _ = os.ReadFile(d + "/hostkey")
	})
	if len(diffKey) == 0 {
		t.Fatal("no host key")
	}
	p := filepath.Join(dir, "hostkey")
	if err := os.WriteFile(p, diffKey, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// runDiff checks case c: the parser against the sshd binary sshd unless it
// is "", and both against the case's expectations.
func runDiff(t testing.TB, c diffCase, sshd string) diffResult {
	t.Helper()
	var res diffResult
	dir := t.TempDir()
	files := map[string]string{}
	for name, content := range c.files {
		files[name] = forVersion(t, sshd, content)
	}
	c.files = files
	main := c.tree(t, dir)
	oldCR := sshd != "" && agenttest.VersionOf(t, sshd).Before(aliasedCRMajor, aliasedCRMinor)
	oldAlgs := sshd != "" && agenttest.VersionOf(t, sshd).Before(noSHA1Major, noSHA1Minor)
	var all strings.Builder
	for _, content := range c.files {
		all.WriteString(strings.ToLower(content))
	}
	bothKbd := strings.Contains(all.String(), "challengeresponseauthentication") && strings.Contains(all.String(), "kbdinteractiveauthentication")
	oldCR = oldCR && !c.applied
	if c.prepare != nil {
		c.prepare(t, dir, main)
	}
	cfg, err := parseConfig(newSource("/"), main)
	if err != nil {
		t.Fatal(err)
	}
	var r *sshdRunner
	if sshd != "" {
		r = &sshdRunner{bin: sshd, config: main, args: []string{"-h", writeHostKey(t, dir)}, log: zap.NewNop()}
	}
	bad := func(format string, args ...any) {
		res.disagree = append(res.disagree, fmt.Sprintf(format, args...))
	}
	_, wantReject := c.want["reject"]
	for _, u := range c.users {
		groups := systemGroups(u)
		conns := cfg.connections(u, groups)
		if len(c.conns) > 0 {
			conns = nil
			for _, ci := range c.conns {
				cc := *ci
				cc.user, cc.groups = u, groups
				conns = append(conns, &cc)
			}
		}
		for i, ci := range conns {
			res.conns++
			pv := cfg.view(ci)
			parserRejects := len(cfg.problems)+len(pv.problems) > 0
			got := normalise(pv)
			wants := map[string]string{}
			for _, k := range []string{u, fmt.Sprintf("%s@%d", u, i+1)} {
				for kw, v := range c.want[k] {
					wants[kw] = strings.ReplaceAll(v, "{{dir}}", dir)
				}
			}
			if len(c.want) > 0 && wantReject != parserRejects {
				bad("%s %s: parser rejects = %v (%q), upstream test wants %v", u, ci.spec(), parserRejects,
					append(cfg.problems, pv.problems...), wantReject)
			}
			if !parserRejects {
				for kw, w := range wants {
					res.wants++
					if kw == kwPort {
						if p := portList(cfg.ports()); p != w {
							bad("%s %s: parser port %q, upstream test wants %q", u, ci.spec(), p, w)
						}
					} else if got[kw] != w {
						bad("%s %s: parser %s %q, upstream test wants %q", u, ci.spec(), kw, got[kw], w)
					}
				}
			}
			if r == nil {
				continue
			}
			out, err := r.show(context.Background(), ci)
			if err != nil || parserRejects {
				switch {
				case err != nil && parserRejects:
					res.rejected++
				case err != nil:
					bad("%s %s: sshd rejects, parser accepts: %v", u, ci.spec(), err)
				default:
					bad("%s %s: parser rejects (%q), sshd accepts", u, ci.spec(), append(cfg.problems, pv.problems...))
				}
				continue
			}
			sv := parseView(out)
			want := normalise(sv)
			if oldAlgs {
				got[kwPubkeyAlgs], want[kwPubkeyAlgs] = acceptance(got[kwPubkeyAlgs]), acceptance(want[kwPubkeyAlgs])
				if w, ok := wants[kwPubkeyAlgs]; ok {
					wants[kwPubkeyAlgs] = acceptance(w)
				}
			}
			for _, k := range diffKeywords {
				res.values++
				if k == kwKbd && oldCR && sv.get("challengeresponseauthentication") == "yes" {
					res.release++
					if want[k] != "yes" {
						bad("%s %s: sshd prints challengeresponseauthentication yes and %s %q, want yes", u, ci.spec(), k, want[k])
					}
					delete(wants, k)
					continue
				}
				if k == kwKbd && oldCR && bothKbd && got[k] != want[k] {
					res.release++ // two keywords to sshd, one to the parser
					delete(wants, k)
					continue
				}
				if len(pv.undecided[k]) > 0 {
					res.undecided++ // the parser says it cannot tell: its guess may differ
					continue
				}
				if got[k] == want[k] {
					continue
				}
				bad("%s %s: %s: parser %q, sshd %q", u, ci.spec(), k, got[k], want[k])
			}
			if p, s := portList(cfg.ports()), portList(sshdPorts(sv)); p != s {
				bad("%s: port: parser %q, sshd %q", u, p, s)
			}
			for kw, w := range wants {
				if kw != kwPort && want[kw] != w {
					bad("%s %s: sshd %s %q, upstream test wants %q", u, ci.spec(), kw, want[kw], w)
				}
			}
		}
	}
	return res
}

// normalise turns a view into one string per compared keyword (see the
// comment at the top of this file).
func normalise(v view) map[string]string {
	out := map[string]string{}
	for _, k := range diffKeywords {
		switch {
		case listKeywords[k]:
			out[k] = strings.Join(strings.Fields(strings.Join(v.vals[k], " ")), " ")
		default:
			out[k] = strings.ToLower(v.get(k))
			if k == kwPubkeyAlgs || k == kwAuthorizedKeysFile || k == kwAuthMethods {
				out[k] = v.get(k)
			}
		}
	}
	if out[kwRootLogin] == "without-password" {
		out[kwRootLogin] = "prohibit-password"
	}
	return out
}

func sshdPorts(v view) []int {
	var out []int
	for _, p := range v.vals[kwPort] {
		if n, err := strconv.Atoi(p); err == nil && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

func portList(ps []int) string {
	var s []string
	for _, p := range ps {
		s = append(s, strconv.Itoa(p))
	}
	return strings.Join(s, " ")
}

func logDiff(t testing.TB, name string, res diffResult) {
	t.Helper()
	t.Logf("%s: %d connections, %d values compared, %d upstream expectations, %d refused by both, %d the parser could not evaluate, %d by the sshd release's rule",
		name, res.conns, res.values, res.wants, res.rejected, res.undecided, res.release)
	for _, d := range res.disagree {
		t.Errorf("%s: %s", name, d)
	}
}

// TestRegressionCases checks the parser alone against what each recast
// upstream test expects; it needs neither root nor sshd.
func TestRegressionCases(t *testing.T) {
	for _, c := range loadCases(t) {
		if len(c.want) == 0 {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			logDiff(t, c.name, runDiff(t, c, ""))
		})
	}
}

// Where the sshd of a release differs from the agent's parser, which reads
// the configuration as OpenSSH 8.7 and later do, the tests encode the
// release's behaviour:
//   - before 8.5, PubkeyAcceptedAlgorithms is unknown (sshd -t: "Bad
//     configuration option"): it was PubkeyAcceptedKeyTypes, renamed in 8.5
//     (release notes). A case runs with the old name, which the parser reads
//     as an alias, and asks the same questions;
//   - before 8.7, ChallengeResponseAuthentication is a keyword of its own,
//     global only and yes by default, and while it is yes sshd sets
//     KbdInteractiveAuthentication yes ("challenge-response is implemented
//     via keyboard interactive", sshd.c of 8.6); 8.7 made it an alias of
//     KbdInteractiveAuthentication (release notes). Where that sshd -T prints
//     challengeresponseauthentication yes, its kbdinteractiveauthentication
//     must be yes; where the configuration sets both keywords, the two
//     readings legitimately differ and the parser's value is not compared;
//   - before 8.8, the default PubkeyAcceptedKeyTypes also holds ssh-rsa and
//     ssh-rsa-cert-v01@openssh.com (8.8 release notes: "disables RSA
//     signatures using the SHA-1 hash algorithm by default"), and lists are
//     assembled in another order. The agent asks of the list only which key
//     types it accepts (accepted), so on those releases that is compared.
const (
	renamedAlgsMajor, renamedAlgsMinor = 8, 5 // PubkeyAcceptedKeyTypes became PubkeyAcceptedAlgorithms
	aliasedCRMajor, aliasedCRMinor     = 8, 7 // ChallengeResponseAuthentication became an alias
	noSHA1Major, noSHA1Minor           = 8, 8 // ssh-rsa left the default algorithms
)

// keyTypes are the key types whose acceptance is compared before 8.8.
var keyTypes = []string{"ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
	"sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com", "ssh-dss"}

// acceptance names the key types of keyTypes that the algorithm list accepts.
func acceptance(list string) string {
	var out []string
	for _, kt := range keyTypes {
		if accepted(kt, list) {
			out = append(out, kt)
		}
	}
	return "accepts " + strings.Join(out, " ")
}

var newAlgsName = regexp.MustCompile(`(?i)\bPubkeyAcceptedAlgorithms\b`)

// forVersion rewrites a configuration for the sshd at bin: with the old
// name of PubkeyAcceptedAlgorithms where bin predates it.
func forVersion(t testing.TB, bin, conf string) string {
	t.Helper()
	if bin == "" || !agenttest.VersionOf(t, bin).Before(renamedAlgsMajor, renamedAlgsMinor) {
		return conf
	}
	return newAlgsName.ReplaceAllString(conf, "PubkeyAcceptedKeyTypes")
}

// eachSSHD runs test in a subtest for each sshd of agenttest.SSHDs.
func eachSSHD(t *testing.T, test func(t *testing.T, sshd string)) {
	for _, bin := range agenttest.SSHDs(t) {
		t.Run(bin.Label, func(t *testing.T) { test(t, bin.Path) })
	}
}

// TestDifferential runs every case against the real sshd.
func TestDifferential(t *testing.T) {
	eachSSHD(t, func(t *testing.T, sshd string) {
		for _, c := range loadCases(t) {
			t.Run(c.name, func(t *testing.T) {
				logDiff(t, c.name, runDiff(t, c, sshd))
			})
		}
	})
}

// TestDifferentialReparse recasts the first part of cfgparse.sh: sshd -T's
// own output, read back as a configuration, must give the same answers to
// sshd and to the parser, which must read sshd's dialect (lower case,
// without-password, one line per AllowUsers entry, the assembled algorithm
// list).
func TestDifferentialReparse(t *testing.T) {
	eachSSHD(t, testDifferentialReparse)
}

func testDifferentialReparse(t *testing.T, sshd string) {
	dir := t.TempDir()
	first := filepath.Join(dir, "first")
	conf := "PermitRootLogin prohibit-password\nAllowUsers root daemon nobody\nDenyGroups nogroup\n" +
		"AuthorizedKeysFile .ssh/authorized_keys %h/.ssh/extra\nPubkeyAcceptedAlgorithms +ssh-rsa\nUsePAM yes\n"
	if err := os.WriteFile(first, []byte(forVersion(t, sshd, conf)), 0o644); err != nil {
		t.Fatal(err)
	}
	r := sshdRunner{bin: sshd, config: first, args: []string{"-h", writeHostKey(t, dir)}, log: zap.NewNop()}
	out, err := r.run(context.Background(), "-T")
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		b.WriteString(sc.Text() + "\n")
	}
	c := diffCase{name: "cfgparse-reparse", files: map[string]string{"etc/ssh/sshd_config": b.String()},
		users: []string{"root", "daemon", "nobody", "alice"}}
	logDiff(t, c.name, runDiff(t, c, sshd))
}

// TestDifferentialAfterApply turns password logon off on every case sshd
// accepts, as the agent does (a drop-in or the marked block in the main
// file), and compares again: offline, the parser alone judges what the
// agent wrote.
func TestDifferentialAfterApply(t *testing.T) {
	eachSSHD(t, testDifferentialAfterApply)
}

func testDifferentialAfterApply(t *testing.T, sshd string) {
	for _, c := range loadCases(t) {
		if _, bad := c.want["reject"]; bad {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			c.want = nil // the upstream expectations hold before the change
			c.applied = true
			c.prepare = func(t testing.TB, dir, main string) {
				res, err := Apply(context.Background(), Options{Root: "/", Config: main, SSHD: sshd,
					SSHDArgs: []string{"-h", writeHostKey(t, dir)}, Reloader: &fakeReloader{}, Logger: zap.NewNop(), trust: dir})
				if err != nil {
					t.Fatalf("Apply: %v", err)
				}
				if len(res.Changed) == 0 {
					t.Fatalf("Apply changed nothing: %+v", res)
				}
			}
			logDiff(t, c.name, runDiff(t, c, sshd))
		})
	}
}
