package agent_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"maps"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/ecs-keyagent/ecs-keyagent/agent"
	"github.com/ecs-keyagent/ecs-keyagent/agent/agenttest"
	"github.com/ecs-keyagent/ecs-keyagent/agent/config"
	"github.com/ecs-keyagent/ecs-keyagent/agent/metadata"
	"github.com/ecs-keyagent/ecs-keyagent/agent/metadata/emulator"
	"github.com/ecs-keyagent/ecs-keyagent/agent/sshd"
)

// TestRealLogon is the end-to-end proof of what the agent is for: a real
// OpenSSH sshd on a loopback port, a real user, the metadata emulator, and a
// real ssh client. It needs root (useradd) and the openssh-server and
// openssh-client packages; under CI=true their absence is a failure.
func TestRealLogon(t *testing.T) {
	requireLogonPrereqs(t)
	user := newTestUser(t)
	srv := startSSHD(t)
	emu := emulator.New()
	hs := httptest.NewServer(emu)
	t.Cleanup(hs.Close)

	cfg := config.Default()
	cfg.Endpoint = metadata.Endpoint(hs.URL)
	cfg.Users = []string{user.name}
	cfg.SSHD.Config = srv.config
	sync := func(t *testing.T) *agent.Report {
		t.Helper()
		r := agent.NewEngine(agent.Options{Config: cfg, Root: "/"}).Sync(context.Background())
		if r.Outcome != agent.OutcomeOK {
			t.Fatalf("Sync outcome = %s, error %q", r.Outcome, r.Error)
		}
		return r
	}

	// No key bound: password login is left as the administrator set it.
	pristine := readTree(t, srv.dir)
	r := sync(t)
	if r.SSHD == nil || len(r.SSHD.Changed) != 0 {
		t.Fatalf("with no key bound, sshd step = %+v, want nothing changed", r.SSHD)
	}
	if methods := srv.passwordMethods(t, user.name); !strings.Contains(methods, "password") {
		t.Fatalf("with no key bound, sshd offers %q, want password still offered", methods)
	}

	k1 := newClientKey(t, "k1")
	emu.SetKeys(emulator.Key{ID: "skp-k1", Body: k1.authorizedLine})
	r = sync(t)
	if len(r.SSHD.Changed) == 0 || !r.SSHD.Reloaded {
		t.Fatalf("after binding, sshd step = %+v, want a change and a reload", r.SSHD)
	}
	srv.awaitListening(t, 2) // SIGHUP makes sshd re-execute: wait for its second start
	srv.mustLogin(t, user.name, k1)
	if methods := srv.passwordMethods(t, user.name); methods != "publickey" {
		t.Fatalf("after binding, sshd offers %q, want only publickey", methods)
	}

	// A key the user added by hand, outside the block, keeps working.
	hand := newClientKey(t, "hand")
	user.appendKey(t, hand.authorizedLine)
	srv.mustLogin(t, user.name, hand)

	// Rebind: the new key gets in, the old one is refused, the hand key stays.
	k2 := newClientKey(t, "k2")
	emu.SetKeys(emulator.Key{ID: "skp-k2", Body: k2.authorizedLine})
	r = sync(t)
	if len(r.SSHD.Changed) != 0 || r.SSHD.Reloaded {
		t.Errorf("rebinding changed sshd again: %+v; want nothing written, nothing reloaded", r.SSHD)
	}
	srv.mustLogin(t, user.name, k2)
	srv.mustNotLogin(t, user.name, k1)
	srv.mustLogin(t, user.name, hand)
	if methods := srv.passwordMethods(t, user.name); methods != "publickey" {
		t.Fatalf("after rebinding, sshd offers %q, want only publickey", methods)
	}

	// The platform's contract: resetting the password brings password login
	// back beside the key; another key pair turns it off again; a detach
	// gives it back and leaves sshd's files as they were.
	user.setPassword(t, "Reset-Passw0rd")
	r = sync(t)
	if r.SSHD.Contract == nil || r.SSHD.Contract.State != sshd.ContractRestored || !strings.Contains(r.SSHD.Contract.Why, "password was reset") {
		// The state file is the real one (Root "/"): another run of this
		// test on the same machine at the same time would share it.
		st, _ := os.ReadFile("/var/lib/ecs-keyagent/state.json")
		t.Fatalf("after a password reset, contract = %v, want restored after the reset\nstate: %s", r.SSHD.Contract, st)
	}
	srv.awaitListening(t, 3)
	if methods := srv.passwordMethods(t, user.name); !strings.Contains(methods, "password") {
		t.Fatalf("after a password reset, sshd offers %q, want password offered", methods)
	}
	srv.mustLogin(t, user.name, k2)
	if r = sync(t); len(r.SSHD.Changed) != 0 || r.SSHD.Contract.State != sshd.ContractRestored {
		t.Fatalf("a second sync after the reset changed sshd: %+v", r.SSHD)
	}

	k3 := newClientKey(t, "k3")
	emu.SetKeys(emulator.Key{ID: "skp-k3", Body: k3.authorizedLine})
	r = sync(t)
	if r.SSHD.Contract == nil || r.SSHD.Contract.State != sshd.ContractOff {
		t.Fatalf("after binding another key pair, contract = %v, want off", r.SSHD.Contract)
	}
	srv.awaitListening(t, 4)
	srv.mustLogin(t, user.name, k3)
	if methods := srv.passwordMethods(t, user.name); methods != "publickey" {
		t.Fatalf("after binding another key pair, sshd offers %q, want only publickey", methods)
	}

	emu.SetKeys()
	r = sync(t)
	if r.SSHD.Contract == nil || r.SSHD.Contract.State != sshd.ContractRestored || !strings.Contains(r.SSHD.Contract.Why, "detached") {
		t.Fatalf("after a detach, contract = %v, want restored: detached", r.SSHD.Contract)
	}
	srv.awaitListening(t, 5)
	if methods := srv.passwordMethods(t, user.name); !strings.Contains(methods, "password") {
		t.Fatalf("after a detach, sshd offers %q, want password offered", methods)
	}
	if got := readTree(t, srv.dir); !maps.Equal(got, pristine) {
		t.Errorf("after a detach, sshd's files differ from before the agent: %v, want %v", got, pristine)
	}
}

// readTree returns the sshd configuration files under dir by name.
func readTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, pat := range []string{"sshd_config", "sshd_config.d/*"} {
		ms, err := filepath.Glob(filepath.Join(dir, pat))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ms {
			b, err := os.ReadFile(m)
			if err != nil {
				t.Fatal(err)
			}
			out[strings.TrimPrefix(m, dir)] = string(b)
		}
	}
	return out
}

// setPassword sets the user's password with chpasswd, as an instance
// password reset does.
func (u testUser) setPassword(t *testing.T, pw string) {
	t.Helper()
	cmd := exec.Command("chpasswd")
	cmd.Stdin = strings.NewReader(u.name + ":" + pw + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("chpasswd: %v: %s", err, out)
	}
}

func requireLogonPrereqs(t *testing.T) {
	t.Helper()
	agenttest.MustHaveRoot(t, "useradd makes a real account for sshd to authenticate")
	agenttest.MustHaveSSHD(t)
	agenttest.MustHaveCommands(t, "ssh", "useradd", "userdel")
}

type testUser struct {
	name, home string
}

// newTestUser makes a real account, so that sshd can authenticate it. Its
// home lives under /home: the agent refuses homes below a world-writable
// directory such as /tmp.
func newTestUser(t *testing.T) testUser {
	t.Helper()
	name := fmt.Sprintf("ekt%d", os.Getpid()%100000)
	home := "/home/" + name
	exec.Command("userdel", "-r", name).Run() // a leftover of a killed run
	out, err := exec.Command("useradd", "-m", "-d", home, "-s", "/bin/sh", name).CombinedOutput()
	if err != nil {
		t.Fatalf("useradd %s: %v: %s", name, err, out)
	}
	t.Cleanup(func() { exec.Command("userdel", "-r", name).Run() })
	return testUser{name: name, home: home}
}

// appendKey adds a line to the user's authorized_keys as the user would.
func (u testUser) appendKey(t *testing.T, line string) {
	t.Helper()
	p := filepath.Join(u.home, ".ssh/authorized_keys")
	f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(line + "\n"); err != nil {
		t.Fatal(err)
	}
}

type clientKey struct {
	file, authorizedLine string
}

func newClientKey(t *testing.T, name string) clientKey {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, name)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(file, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	sp, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return clientKey{file: file, authorizedLine: strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sp))) + " " + name}
}

type sshdServer struct {
	dir, config string
	port        int
}

// startSSHD runs a real sshd on a free loopback port, with agenttest's
// ubuntu-cloud layout: Debian 12's (Include at the top,
// KbdInteractiveAuthentication no, UsePAM yes) plus a cloud-init drop-in
// that turns passwords on.
func startSSHD(t *testing.T) *sshdServer {
	t.Helper()
	// Under /var/lib, not /tmp: the agent refuses to write sshd
	// configuration below a world-writable directory.
	dir, err := os.MkdirTemp("/var/lib", "ecs-keyagent-logon-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	hostKey := filepath.Join(dir, "ssh_host_ed25519_key")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", hostKey).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v: %s", err, out)
	}
	port := agenttest.FreePort(t)
	s := &sshdServer{dir: dir, config: filepath.Join(dir, "sshd_config"), port: port}
	// The layout's files go to dir, its Include pointing there too.
	for rel, data := range agenttest.LayoutFiles(t, "ubuntu-cloud") {
		data = strings.ReplaceAll(data, "/etc/ssh/", dir+"/")
		if rel == "etc/ssh/sshd_config" {
			data += fmt.Sprintf("Port %d\nListenAddress 127.0.0.1\nHostKey %s\nPidFile %s/sshd.pid\n"+
				"PrintMotd no\nSubsystem sftp /usr/lib/openssh/sftp-server\n", port, hostKey, dir)
		}
		p := filepath.Join(dir, strings.TrimPrefix(rel, "etc/ssh/"))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(agenttest.SSHD, "-D", "-f", s.config, "-E", filepath.Join(dir, "sshd.log"))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			log, _ := os.ReadFile(filepath.Join(dir, "sshd.log"))
			t.Logf("sshd log:\n%s", log)
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			c.Close()
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("sshd did not listen on port %d: %v", port, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// awaitListening waits until sshd's log shows its n-th start: after a
// SIGHUP sshd re-executes itself and briefly listens on nothing.
func (s *sshdServer) awaitListening(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		log, _ := os.ReadFile(filepath.Join(s.dir, "sshd.log"))
		if strings.Count(string(log), "Server listening on") >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("sshd did not start listening a %d. time: %s", n, log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *sshdServer) ssh(user string, opts ...string) (string, error) {
	args := []string{"-F", "/dev/null", "-p", fmt.Sprint(s.port),
		"-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
		"-o", "IdentityAgent=none", "-o", "ConnectTimeout=10", "-o", "LogLevel=ERROR"}
	args = append(args, opts...)
	args = append(args, user+"@127.0.0.1", "echo logged-in")
	out, err := exec.Command("ssh", args...).CombinedOutput()
	return string(out), err
}

func (s *sshdServer) mustLogin(t *testing.T, user string, k clientKey) {
	t.Helper()
	out, err := s.ssh(user, "-o", "IdentitiesOnly=yes", "-i", k.file, "-o", "PreferredAuthentications=publickey")
	if err != nil || !strings.Contains(out, "logged-in") {
		t.Fatalf("ssh as %s with key %s: %v: %s", user, k.file, err, out)
	}
}

func (s *sshdServer) mustNotLogin(t *testing.T, user string, k clientKey) {
	t.Helper()
	out, err := s.ssh(user, "-o", "IdentitiesOnly=yes", "-i", k.file, "-o", "PreferredAuthentications=publickey")
	if err == nil || strings.Contains(out, "logged-in") {
		t.Fatalf("ssh as %s with key %s logged in, want it refused: %s", user, k.file, out)
	}
}

// passwordMethods tries a password login (BatchMode answers no prompt) and
// returns the methods sshd offered: "Permission denied (publickey,password)."
func (s *sshdServer) passwordMethods(t *testing.T, user string) string {
	t.Helper()
	out, err := s.ssh(user, "-o", "PubkeyAuthentication=no", "-o", "PreferredAuthentications=password,keyboard-interactive")
	if err == nil {
		t.Fatalf("password login as %s succeeded without a password: %s", user, out)
	}
	_, rest, ok := strings.Cut(out, "Permission denied (")
	if !ok {
		t.Fatalf("ssh as %s: no 'Permission denied' in %q", user, out)
	}
	methods, _, _ := strings.Cut(rest, ")")
	return methods
}
