package agenttest

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/crypto/ssh"
)

func TestRootAddUser(t *testing.T) {
	r := NewRoot(t)
	alice, bob := r.AddUser("alice"), r.AddUser("bob")
	if alice.UID != UserID() || alice.GID != GroupID() || alice.Home != "/home/alice" {
		t.Errorf("alice = %+v, want uid %d gid %d home /home/alice", alice, UserID(), GroupID())
	}
	if (os.Geteuid() == 0) == (bob.UID == alice.UID) {
		t.Errorf("bob's uid %d beside alice's %d: want them distinct exactly when root", bob.UID, alice.UID)
	}
	passwd, err := os.ReadFile(r.Path("etc/passwd"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(passwd), "alice:x:") || strings.Count(string(passwd), "\n") != 2 {
		t.Errorf("etc/passwd = %q, want alice then bob", passwd)
	}
	r.WriteKeys(alice, "# mine\n")
	for p, mode := range map[string]os.FileMode{r.Home(alice): os.ModeDir | 0o755, filepath.Dir(r.KeysFile(alice)): os.ModeDir | 0o700, r.KeysFile(alice): 0o600} {
		fi, err := os.Lstat(p)
		if err != nil {
			t.Fatal(err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		if fi.Mode() != mode || int(st.Uid) != alice.UID || int(st.Gid) != alice.GID {
			t.Errorf("%s: %v %d:%d, want %v %d:%d", p, fi.Mode(), st.Uid, st.Gid, mode, alice.UID, alice.GID)
		}
	}
}

func TestKeys(t *testing.T) {
	a, b := KeyLine(t, "a comment"), KeyLine(t, "")
	if !strings.HasPrefix(a, "ssh-ed25519 AAAA") || !strings.HasSuffix(a, " a comment") || KeyBody(a) == KeyBody(b) {
		t.Errorf("KeyLine = %q and %q, want two distinct ed25519 lines, the first with its comment", a, b)
	}
	if KeyBody(b) != b {
		t.Errorf("KeyBody(%q) = %q, want the line itself", b, KeyBody(b))
	}
	if one, again := SeededKeyLine(t, 1), SeededKeyLine(t, 1); one != again || one == SeededKeyLine(t, 2) {
		t.Error("SeededKeyLine is not a function of its seed")
	}
	if got, want := Fingerprint(t, a+"\n"), Fingerprint(t, KeyBody(a)); got != want || !strings.HasPrefix(got, "SHA256:") {
		t.Errorf("Fingerprint = %q and %q, want one SHA256 fingerprint", got, want)
	}
	if got, want := Fingerprint(t, SeededKeyLine(t, 3)), ssh.FingerprintSHA256(SeededPublicKey(t, 3)); got != want {
		t.Errorf("Fingerprint(SeededKeyLine) = %s, want %s", got, want)
	}
}

func TestNotify(t *testing.T) {
	n := ListenNotify(t)
	c, err := net.Dial("unixgram", n.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, s := range []string{"STATUS=x", "READY=1", "WATCHDOG=1"} {
		if _, err := c.Write([]byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	if got, before := n.Wait(t, "READY=1", func(s string) bool { return s == "READY=1" }); got != "READY=1" || len(before) != 1 || before[0] != "STATUS=x" {
		t.Errorf("Wait = %q after %q, want READY=1 after STATUS=x", got, before)
	}
	if got := n.Next(t); got != "WATCHDOG=1" {
		t.Errorf("Next = %q, want WATCHDOG=1", got)
	}
	if got := n.Drain(); len(got) != 0 {
		t.Errorf("Drain = %q, want nothing", got)
	}
}

func TestFreePort(t *testing.T) {
	p := FreePort(t)
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
	if err != nil {
		t.Fatalf("listen on the free port %d: %v", p, err)
	}
	l.Close()
}

func TestLayouts(t *testing.T) {
	want := []string{"debian12", "no-include", "rhel9", "ubuntu-cloud"}
	if got := Layouts(); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("Layouts() = %q, want %q", got, want)
	}
	for _, name := range want {
		root := t.TempDir()
		Layout(t, root, name)
		main, err := os.ReadFile(filepath.Join(root, "etc/ssh/sshd_config"))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		_, err = os.Stat(filepath.Join(root, "etc/ssh/sshd_config.d"))
		if includes := strings.Contains(string(main), "Include /etc/ssh/sshd_config.d/*.conf"); includes != (err == nil) {
			t.Errorf("%s: Include of sshd_config.d %v, the directory: %v", name, includes, err)
		}
	}
	if got := LayoutFiles(t, "ubuntu-cloud")["etc/ssh/sshd_config.d/50-cloud-init.conf"]; got != "PasswordAuthentication yes\n" {
		t.Errorf("ubuntu-cloud's cloud-init drop-in = %q", got)
	}
	if err := WriteLayout(t.TempDir(), "../x"); err == nil {
		t.Error("WriteLayout(../x) succeeded")
	}
}

func TestHaveRoot(t *testing.T) {
	t.Setenv("CI", "true")
	ok, err := HaveRoot()
	if ok != (os.Geteuid() == 0) || ok == (err != nil) {
		t.Errorf("HaveRoot() under CI = %v, %v; want true as root, an error otherwise", ok, err)
	}
	t.Setenv("CI", "")
	if ok, err := HaveRoot(); ok != (os.Geteuid() == 0) || err != nil {
		t.Errorf("HaveRoot() = %v, %v; want %v, nil", ok, err, os.Geteuid() == 0)
	}
}

// TestOnlyTestsImport: no package of the module but this one's tests
// imports agenttest, so no binary links it.
func TestOnlyTestsImport(t *testing.T) {
	MustHaveCommands(t, "go")
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}} {{join .Deps \" \"}}", "github.com/ecs-keyagent/ecs-keyagent/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for l := range strings.Lines(string(out)) {
		pkg, deps, _ := strings.Cut(strings.TrimSpace(l), " ")
		if strings.Contains(" "+deps+" ", "/agent/agenttest ") {
			t.Errorf("%s depends on agenttest", pkg)
		}
	}
}
