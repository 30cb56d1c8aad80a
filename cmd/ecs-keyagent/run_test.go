package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/crypto/ssh"

	"github.com/ecs-keyagent/ecs-keyagent/agent/metadata/emulator"
)

// deadline bounds every wait; the test asserts outcomes, not speed.
const deadline = 20 * time.Second

// TestRunSignals runs `ecs-keyagent run` as a real process under a fake
// NOTIFY_SOCKET and sends it real signals: READY=1 after the first sync,
// SIGHUP syncs now (the poll interval is an hour), SIGTERM and SIGINT
// stop it with exit status 0 and STOPPING=1.
func TestRunSignals(t *testing.T) {
	for _, stop := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(stop.String(), func(t *testing.T) { testRunSignals(t, stop) })
	}
}

func testRunSignals(t *testing.T, stop syscall.Signal) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("this test needs root to chown files to a test user, and CI=true forbids skipping it")
		}
		t.Skip("needs root to chown files to a test user")
	}
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })

	root := t.TempDir()
	home := filepath.Join(root, "home/alice")
	mustWrite(t, filepath.Join(root, "etc/passwd"), "alice:x:4242:4242::/home/alice:/bin/sh\n")
	mustWrite(t, filepath.Join(root, "etc/ecs-keyagent/config.toml"), "poll_interval = \"1h\"\n")
	if err := os.MkdirAll(home, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(home, 4242, 4242); err != nil {
		t.Fatal(err)
	}
	imds := emulator.New()
	hs := httptest.NewServer(imds)
	defer hs.Close()
	k1, k2 := pubKey(t), pubKey(t)
	imds.SetKeys(emulator.Key{ID: "skp-1", Body: k1})

	notes := notifySocket(t)
	var stderr bytes.Buffer
	cmd := exec.Command("ecs-keyagent", "run", "--root", root, "--endpoint", hs.URL, "--user", "alice")
	cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+notes.path)
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stopped := false
	defer func() {
		if !stopped {
			cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("stderr:\n%s", stderr.String())
		}
	}()

	notes.wait(t, "READY=1")
	file := filepath.Join(home, ".ssh/authorized_keys")
	if got := readFile(t, file); !strings.Contains(got, k1) {
		t.Fatalf("at READY=1 authorized_keys = %q, want %q", got, k1)
	}

	imds.SetKeys(emulator.Key{ID: "skp-2", Body: k2})
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	for end := time.Now().Add(deadline); !strings.Contains(readFile(t, file), k2); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("after SIGHUP authorized_keys = %q, want %q", readFile(t, file), k2)
		}
	}

	if err := cmd.Process.Signal(stop); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		stopped = true
		if err != nil {
			t.Errorf("after %v: %v, want exit status 0", stop, err)
		}
	case <-time.After(deadline):
		t.Fatalf("still running after %v", stop)
	}
	notes.wait(t, "STOPPING=1")
}

type notifications struct {
	path string
	ch   chan string
}

// notifySocket is a real unixgram socket standing in for systemd's.
func notifySocket(t *testing.T) *notifications {
	t.Helper()
	n := &notifications{path: filepath.Join(t.TempDir(), "notify"), ch: make(chan string, 1024)}
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: n.path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 4096)
		for {
			k, err := conn.Read(buf)
			if err != nil {
				return
			}
			select {
			case n.ch <- string(buf[:k]):
			default:
			}
		}
	}()
	t.Cleanup(func() { conn.Close(); <-done })
	return n
}

func (n *notifications) wait(t *testing.T, want string) {
	t.Helper()
	var seen []string
	timeout := time.After(deadline)
	for {
		select {
		case got := <-n.ch:
			if got == want {
				return
			}
			seen = append(seen, got)
		case <-timeout:
			t.Fatalf("no %s notification; got %q", want, seen)
		}
	}
}

func mustWrite(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return string(b)
}

// pubKey returns the type and base64 of a fresh ed25519 key.
func pubKey(t *testing.T) string {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sp, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sp)))
}
