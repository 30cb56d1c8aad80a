package sshd

import (
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/ecs-keyagent/ecs-keyagent/agent/agenttest"
)

// corpusDir holds sshd layouts as distributions, cloud images and
// hardening guides install them, one tree per layout, each with a SOURCE
// file saying where its files come from and what was reconstructed.
const corpusDir = "testdata/corpus"

// Outcomes of the sshd step on a corpus layout.
const (
	viaDropIn = "drop-in"      // 00-ecs-keyagent.conf in the included directory
	viaBlock  = "marked block" // a marked block in the main file
	leftAlone = "left alone"   // sshd left byte for byte as it was
)

var (
	corpusRoot = Target{User: "root", Home: "/root", UID: 0, Groups: []string{"root"}, Usable: 1, KeyTypes: []string{"ssh-ed25519"}}
	corpusECS  = Target{User: "ecs-user", Home: "/home/ecs-user", UID: 1000, Groups: []string{"ecs-user"}, Usable: 1, KeyTypes: []string{"ssh-ed25519"}}
)

// corpusCase is the expected outcome for one layout, derived from reading
// its files (not from running the agent); why says how.
type corpusCase struct {
	layout  string
	targets []Target
	want    string   // viaDropIn, viaBlock or leftAlone
	refuse  string   // leftAlone: what Report.Skipped must contain
	keepKbd bool     // KbdInteractiveAuthentication stays as it was: a second factor
	matches []string // Match lines the warnings must name (blocks that allow passwords)
	ports   []int    // ports sshd listens on; nil is 22
	why     string
}

var corpusCases = []corpusCase{
	{layout: "debian11", targets: []Target{corpusRoot}, want: viaDropIn,
		why: "Include /etc/ssh/sshd_config.d/*.conf is the first line that is not a comment and the directory is empty; root keeps the key way (PermitRootLogin defaults to prohibit-password)"},
	{layout: "debian12", targets: []Target{corpusRoot}, want: viaDropIn, why: "as debian11"},
	{layout: "debian13", targets: []Target{corpusRoot}, want: viaDropIn, why: "as debian11"},
	{layout: "ubuntu2004", targets: []Target{corpusRoot}, want: viaDropIn, why: "as debian11"},
	{layout: "ubuntu2204", targets: []Target{corpusRoot}, want: viaDropIn, why: "as debian11"},
	{layout: "ubuntu2404", targets: []Target{corpusRoot}, want: viaDropIn, why: "as debian11"},
	{layout: "ubuntu2204-cloud", targets: []Target{corpusRoot}, want: viaDropIn,
		why: "50-cloud-init.conf says PasswordAuthentication yes and beats the main file's no (the Include comes first); 00-ecs-keyagent.conf sorts before it"},
	{layout: "ubuntu2404-cloud", targets: []Target{corpusRoot}, want: viaDropIn,
		why: "50-cloud-init.conf (yes) beats 60-cloudimg-settings.conf (no); 00-ecs-keyagent.conf sorts before both"},
	{layout: "ubuntu-cloud-10", targets: []Target{corpusRoot}, want: viaDropIn,
		why: "10-cloudimg-settings.conf (no) sorts before 50-cloud-init.conf (yes), so passwords are off already; 00-ecs-keyagent.conf sorts before both"},
	{layout: "rhel9", targets: []Target{corpusRoot}, want: viaDropIn,
		why: "the redhat patch puts the Include before every setting; 50-redhat.conf sets ChallengeResponseAuthentication no and UsePAM yes, no password setting; 00- sorts first"},
	{layout: "fedora32", targets: []Target{corpusRoot}, want: viaDropIn,
		why: "the Include is the main file's last line, but the main file sets only AuthorizedKeysFile and Subsystem before it; 05-redhat.conf says PasswordAuthentication yes, and 00-ecs-keyagent.conf sorts before it"},
	{layout: "alpine", targets: []Target{corpusRoot}, want: viaDropIn,
		why: "the Include comes before every setting; no PAM, PasswordAuthentication defaults to yes"},
	{layout: "arch", targets: []Target{corpusRoot}, want: viaBlock,
		why: "no Include: the main file is edited; its only settings are AuthorizedKeysFile, KbdInteractiveAuthentication no, UsePAM yes, PrintMotd (with a trailing comment) and Subsystem"},
	{layout: "opensuse-vendor", targets: []Target{corpusRoot}, want: viaDropIn,
		why: "no /etc/ssh/sshd_config; the vendor file includes /etc/ssh/sshd_config.d/*.conf first, where the drop-in goes"},
	{layout: "devsec-ssh-hardening", targets: []Target{corpusRoot, corpusECS}, want: viaBlock,
		why: "no Include: the main file is edited before Match Group sftponly; PermitRootLogin no leaves root no way in already, and ecs-user keeps the key (AuthenticationMethods publickey); the Match block sets PasswordAuthentication no, so no warning"},
	{layout: "devsec-ssh-hardening-password", targets: []Target{corpusRoot, corpusECS}, want: leftAlone,
		refuse: "AuthenticationMethods publickey,password",
		why:    "AuthenticationMethods publickey,password needs a password after the key: turning passwords off would leave ecs-user no way in (root has none: PermitRootLogin no)"},
	{layout: "mozilla-modern", targets: []Target{corpusRoot, corpusECS}, want: viaBlock,
		why: "no Include: the main file is edited; PermitRootLogin No leaves root no way in already; ecs-user keeps the key (AuthenticationMethods publickey)"},
	{layout: "mozilla-mfa", targets: []Target{corpusRoot, corpusECS}, want: viaBlock, keepKbd: true,
		why: "AuthenticationMethods publickey,keyboard-interactive:pam: keyboard-interactive is the second factor and stays; PasswordAuthentication is already no and is written again"},
	{layout: "hardened-match", targets: []Target{corpusRoot, corpusECS}, want: viaDropIn, ports: []int{22, 2222},
		matches: []string{"Match Group sftponly", "Match Address 10.20.0.0/16,fd00:20::/32"},
		why:     "the Debian 12 main file's Include comes first; 50-hardening.conf's globals close passwords already and AllowGroups names root and ecs-user; the Group and Address blocks allow passwords and are reported, not edited"},
}

// TestCorpus runs the sshd step on every corpus layout with each sshd
// binary to check with, and judges the result with that sshd: sshd -T -C
// for each target user says passwordauthentication no, sshd -t accepts the
// files, Match blocks keep their bytes, refusals leave every byte, a
// configuration made invalid is left alone with an error, and mode keep
// afterwards restores every byte of the original tree.
func TestCorpus(t *testing.T) {
	bins := agenttest.SSHDs(t)
	ents, err := os.ReadDir(corpusDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if !slices.ContainsFunc(corpusCases, func(c corpusCase) bool { return c.layout == e.Name() }) {
			t.Errorf("layout %s has no expected outcome in corpusCases", e.Name())
		}
		if _, err := os.Stat(filepath.Join(corpusDir, e.Name(), "SOURCE")); err != nil {
			t.Errorf("layout %s: %v", e.Name(), err)
		}
	}
	for _, tc := range corpusCases {
		for _, bin := range bins {
			t.Run(tc.layout+"/"+bin.Label, func(t *testing.T) { runCorpusCase(t, tc, bin) })
		}
	}
}

func runCorpusCase(t *testing.T, tc corpusCase, bin agenttest.SSHDBinary) {
	ctx := context.Background()
	f, main := corpusFixture(t, tc.layout)
	r := sshdRunner{bin: bin.Path, config: main, log: zaptest.NewLogger(t)}
	before := f.snapshot()
	step := func(mode Mode) (*Report, error) {
		var st Step
		o := f.options(&fakeReloader{})
		o.Config, o.SSHD, o.Password, o.KbdInteractive = main, bin.Path, mode, mode
		return st.Run(ctx, Request{Options: o, Targets: tc.targets, KeyBound: true, Keys: []string{"SHA256:test"}, Now: time.Now()})
	}
	if err := r.test(ctx); err != nil {
		// Outside this sshd's language: the agent must refuse to touch it.
		if bin.Label == "host" {
			t.Errorf("the host's sshd rejects the layout as it is: %v", err)
		}
		t.Logf("sshd %s rejects the layout as it is: %v", bin.Label, err)
		if rep, err := step(Platform); err == nil {
			t.Errorf("step on a layout sshd rejects = %+v, want an error", rep)
		}
		sameFiles(t, "rejected layout", f.snapshot(), before)
		return
	}
	had := map[string]map[string]string{}
	for _, tg := range tc.targets {
		had[tg.User] = corpusShow(t, r, tg.User, 22)
	}

	rep, err := step(Platform)
	if err != nil {
		t.Fatalf("Run: %v (%+v)", err, rep)
	}
	after := f.snapshot()
	switch tc.want {
	case leftAlone:
		if !strings.Contains(rep.Skipped, tc.refuse) {
			t.Errorf("Skipped = %q, want it to name %q", rep.Skipped, tc.refuse)
		}
		sameFiles(t, "refused", after, before)
	default:
		if rep.Skipped != "" || len(rep.Changed) == 0 {
			t.Fatalf("step = %+v, want the change made (%s)", rep, tc.why)
		}
		wantMethod := "marked block in " + main
		if tc.want == viaDropIn {
			wantMethod = "drop-in " + f.path("etc/ssh/sshd_config.d/"+dropInName)
		}
		if rep.Method != wantMethod {
			t.Errorf("Method = %q, want %q", rep.Method, wantMethod)
		}
		if err := r.test(ctx); err != nil {
			t.Errorf("sshd -t after the change: %v", err)
		}
		for _, tg := range tc.targets {
			for _, port := range cmpOr(tc.ports, []int{22}) {
				got := corpusShow(t, r, tg.User, port)
				if got[kwPassword] != "no" {
					t.Errorf("sshd -T for %s on port %d: passwordauthentication %s, want no", tg.User, port, got[kwPassword])
				}
				wantKbd := "no"
				if tc.keepKbd {
					wantKbd = had[tg.User][kwKbd]
				}
				if got[kwKbd] != wantKbd {
					t.Errorf("sshd -T for %s on port %d: kbdinteractiveauthentication %s, want %s", tg.User, port, got[kwKbd], wantKbd)
				}
			}
		}
		for name, b := range before {
			if tail := matchTail(b.data); tail != matchTail(after[name].data) {
				t.Errorf("%s: the Match blocks changed:\n%s\nwant\n%s", name, matchTail(after[name].data), tail)
			}
		}
	}
	for _, m := range tc.matches {
		if !slices.ContainsFunc(rep.Warnings, func(w string) bool { return strings.Contains(w, m) }) {
			t.Errorf("Warnings = %q, want one naming %q", rep.Warnings, m)
		}
	}

	rep, err = step(Keep)
	if err != nil {
		t.Fatalf("keep: %v (%+v)", err, rep)
	}
	sameFiles(t, "after keep", f.snapshot(), before)

	// A configuration made invalid: the agent writes nothing and says why.
	f.append(strings.TrimPrefix(main, f.dir+"/"), "NoSuchKeyword yes\n")
	broken := f.snapshot()
	if rep, err := step(Platform); err == nil || rep.Error == "" {
		t.Errorf("step on an invalid configuration = %+v, %v; want an error", rep, err)
	}
	sameFiles(t, "invalid configuration", f.snapshot(), broken)
}

// TestCorpusVendor runs the step on openSUSE's vendor layout as the agent
// meets it on a real system, where /etc/ssh/sshd_config is absent and the
// agent finds /usr/etc/ssh/sshd_config itself (offline, with the agent's
// parser: at Root "/" it would find this machine's /etc/ssh/sshd_config),
// then shows the result to each real sshd with -f on the vendor file.
func TestCorpusVendor(t *testing.T) {
	for _, bin := range agenttest.SSHDs(t) {
		t.Run(bin.Label, func(t *testing.T) {
			tree := t.TempDir()
			for name, data := range corpusFiles(t, "opensuse-vendor") {
				p := filepath.Join(tree, name)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.MkdirAll(filepath.Join(tree, "etc/ssh/sshd_config.d"), 0o755); err != nil {
				t.Fatal(err)
			}
			var st Step
			o := Options{Root: tree, Password: Platform, KbdInteractive: Platform, Reloader: &fakeReloader{},
				Logger: zaptest.NewLogger(t), trust: tree}
			rep, err := st.Run(context.Background(), Request{Options: o, Targets: []Target{corpusRoot},
				KeyBound: true, Keys: []string{"SHA256:test"}, Now: time.Now()})
			if err != nil {
				t.Fatalf("Run: %v (%+v)", err, rep)
			}
			if want := "drop-in /etc/ssh/sshd_config.d/" + dropInName; rep.Method != want {
				t.Errorf("Method = %q, want %q", rep.Method, want)
			}
			if _, err := os.Lstat(filepath.Join(tree, DefaultConfig)); err == nil {
				t.Fatalf("the agent created %s, which replaces the vendor configuration", DefaultConfig)
			}
			vendor, _ := os.ReadFile(filepath.Join(tree, VendorConfig))
			if want := corpusFiles(t, "opensuse-vendor")["usr/etc/ssh/sshd_config"]; string(vendor) != want {
				t.Errorf("the vendor file changed")
			}
			// The tree as the agent left it, shown to the real sshd.
			files := map[string]string{}
			err = filepath.WalkDir(tree, func(p string, d fs.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return err
				}
				b, err := os.ReadFile(p)
				files[strings.TrimPrefix(p, tree+"/")] = string(b)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			f := newCorpusFixture(t, rewriteCorpus(t, files, VendorConfig[1:]))
			r := sshdRunner{bin: bin.Path, config: f.path(VendorConfig[1:]), log: zaptest.NewLogger(t)}
			if err := r.test(context.Background()); err != nil {
				t.Fatalf("sshd -t: %v", err)
			}
			got := corpusShow(t, r, "root", 22)
			if got[kwPassword] != "no" || got[kwKbd] != "no" {
				t.Errorf("sshd -T: passwordauthentication %s, kbdinteractiveauthentication %s; want no, no", got[kwPassword], got[kwKbd])
			}
		})
	}
}

// corpusFiles reads a corpus layout: its files by path inside the tree,
// without SOURCE.
func corpusFiles(t *testing.T, layout string) map[string]string {
	t.Helper()
	dir := filepath.Join(corpusDir, layout)
	files := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel := filepath.ToSlash(strings.TrimPrefix(p, dir+"/"))
		if rel == "SOURCE" {
			return nil
		}
		b, err := os.ReadFile(p)
		files[rel] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// corpusFixture writes the layout into a fixture the real sshd reads at
// its fixture path, and returns the main file sshd is started with: the
// vendor file when the layout has no /etc/ssh/sshd_config.
func corpusFixture(t *testing.T, layout string) (*fixture, string) {
	t.Helper()
	files := corpusFiles(t, layout)
	main := mainFile
	if _, ok := files[main]; !ok {
		main = VendorConfig[1:]
	}
	f := newCorpusFixture(t, rewriteCorpus(t, files, main))
	return f, f.path(main)
}

// newCorpusFixture is newFixture plus the host keys HostKey lines name.
func newCorpusFixture(t *testing.T, files map[string]string) *fixture {
	t.Helper()
	f := newFixture(t, files)
	for _, data := range files {
		for _, m := range hostKeyLine.FindAllStringSubmatch(f.expand(data), -1) {
			if p := m[1]; strings.HasPrefix(p, f.dir+"/etc/ssh/") {
				if err := os.WriteFile(p, corpusHostKey(t, path.Base(p)), 0o600); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	return f
}

var (
	includeLine = regexp.MustCompile(`(?im)^([ \t]*Include[ \t]+)(.*)$`)
	hostKeyLine = regexp.MustCompile(`(?im)^[ \t]*HostKey[ \t]+(\S+)[ \t]*$`)
)

// rewriteCorpus points a layout's files into the fixture directory, as
// sshd would otherwise read this machine's /etc/ssh: Include arguments
// under /etc/ssh or /usr/etc/ssh, or relative (to /etc/ssh), and HostKey
// paths under /etc/ssh (newCorpusFixture writes those keys). A layout with
// no HostKey line gets the fixture's key after the main file's first
// Include, as layoutFiles does. Only these lines change; Match blocks hold
// none of them in the corpus.
func rewriteCorpus(t *testing.T, files map[string]string, main string) map[string]string {
	t.Helper()
	out := map[string]string{}
	keys := false
	for name, data := range files {
		data = includeLine.ReplaceAllStringFunc(data, func(line string) string {
			m := includeLine.FindStringSubmatch(line)
			var args []string
			for _, a := range strings.Fields(m[2]) {
				switch {
				case strings.HasPrefix(a, "/etc/ssh/"), strings.HasPrefix(a, "/usr/etc/ssh/"):
					a = "{{dir}}" + a
				case !strings.HasPrefix(a, "/") && !strings.HasPrefix(a, "~"):
					a = "{{dir}}/etc/ssh/" + a
				}
				args = append(args, a)
			}
			return m[1] + strings.Join(args, " ")
		})
		data = hostKeyLine.ReplaceAllStringFunc(data, func(line string) string {
			keys = true
			return strings.Replace(line, " /etc/ssh/", " {{dir}}/etc/ssh/", 1)
		})
		out[name] = data
	}
	if !keys {
		m := out[main]
		if loc := includeLine.FindStringIndex(m); loc != nil {
			end := loc[1] + 1
			m = m[:end] + hostKeyL + m[end:]
		} else {
			m = hostKeyL + m
		}
		out[main] = m
	}
	return out
}

var (
	corpusKeysMu sync.Mutex
	corpusKeys   = map[string][]byte{}
)

// corpusHostKey is a private host key of the type the file name says
// (ssh_host_rsa_key, ssh_host_ecdsa_key, ssh_host_ed25519_key), made once.
func corpusHostKey(t *testing.T, name string) []byte {
	t.Helper()
	typ := strings.TrimSuffix(strings.TrimPrefix(name, "ssh_host_"), "_key")
	if !slices.Contains([]string{"rsa", "ecdsa", "ed25519"}, typ) {
		t.Fatalf("HostKey %s: no key type in the name", name)
	}
	corpusKeysMu.Lock()
	defer corpusKeysMu.Unlock()
	if k, ok := corpusKeys[typ]; ok {
		return k
	}
	d := t.TempDir()
	out, err := exec.Command("ssh-keygen", "-q", "-t", typ, "-N", "", "-f", d+"/k").CombinedOutput()
	if err != nil {
		t.Fatalf("ssh-keygen -t %s: %v: %s", typ, err, out)
	}
	k, err := os.ReadFile(d + "/k")
	if err != nil {
		t.Fatal(err)
	}
	corpusKeys[typ] = k
	return k
}

// corpusShow is sshd -T -C for user on the test connection to port.
func corpusShow(t *testing.T, r sshdRunner, user string, port int) map[string]string {
	t.Helper()
	out, err := r.show(context.Background(), &connInfo{user: user, host: testAddr, addr: testAddr, laddr: testLAddr, lport: port})
	if err != nil {
		t.Fatalf("sshd -T for %s: %v", user, err)
	}
	v := map[string]string{}
	for k, vals := range parseView(out).vals {
		v[k] = vals[0]
	}
	return v
}

// matchTail is data from its first Match line on: every Match block, as a
// Match block lasts to the next Match line or the end of the file.
func matchTail(data string) string {
	if loc := regexp.MustCompile(`(?im)^[ \t]*Match[ \t]`).FindStringIndex(data); loc != nil {
		return data[loc[0]:]
	}
	return ""
}

// append adds text to the end of the fixture file name.
func (f *fixture) append(name, text string) {
	f.t.Helper()
	b, err := os.ReadFile(f.path(name))
	if err != nil {
		f.t.Fatal(err)
	}
	if err := os.WriteFile(f.path(name), append(b, text...), 0o644); err != nil {
		f.t.Fatal(err)
	}
}

func cmpOr[T any](a, b []T) []T {
	if len(a) > 0 {
		return a
	}
	return b
}
