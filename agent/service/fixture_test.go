package service

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap/zaptest"
	"golang.org/x/crypto/ssh"

	"github.com/ecs-keyagent/ecs-keyagent/agent"
	"github.com/ecs-keyagent/ecs-keyagent/agent/config"
	"github.com/ecs-keyagent/ecs-keyagent/agent/metadata"
	"github.com/ecs-keyagent/ecs-keyagent/agent/metadata/emulator"
	"github.com/ecs-keyagent/ecs-keyagent/systemd"
)

// wait is the generous deadline of every "eventually": tests assert
// outcomes, never how fast they came.
const wait = 20 * time.Second

// testUID owns the test user's home, as a real logon user would.
const testUID = 4242

// needRoot skips a test that chowns files to testUID, unless CI=true.
func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("this test needs root to chown files to a test user, and CI=true forbids skipping it")
	}
	t.Skip("needs root to chown files to a test user")
}

// fixture is one daemon against the emulator on a scratch root.
type fixture struct {
	t      *testing.T
	root   string
	imds   *emulator.Server
	url    string
	cfg    config.Config
	notes  chan string // every sd_notify datagram, in order
	reload chan struct{}
	s      *service
	hook   func() // the daemon's fault hook, set before start
	done   chan error
	cancel context.CancelCauseFunc
}

func newFixture(t *testing.T, users ...string) *fixture {
	t.Helper()
	needRoot(t)
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) }) // runs last
	f := &fixture{t: t, root: t.TempDir(), imds: emulator.New(), notes: make(chan string, 4096), reload: make(chan struct{}, 1)}
	hs := httptest.NewServer(f.imds)
	t.Cleanup(hs.Close)
	f.url = hs.URL
	for i, u := range users {
		f.addUser(u, testUID+i)
	}
	f.cfg = config.Default()
	f.cfg.Endpoint, f.cfg.Users = metadata.Endpoint(f.url), users
	f.cfg.PollInterval.Duration = time.Hour // only what a test triggers
	f.cfg.BootTimeout.Duration = time.Hour
	f.listenNotify()
	return f
}

func (f *fixture) addUser(name string, uid int) {
	f.t.Helper()
	if err := os.MkdirAll(filepath.Join(f.root, "etc"), 0o755); err != nil {
		f.t.Fatal(err)
	}
	pw, err := os.OpenFile(filepath.Join(f.root, "etc/passwd"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		f.t.Fatal(err)
	}
	fmt.Fprintf(pw, "%s:x:%d:%d::/home/%s:/bin/sh\n", name, uid, uid, name)
	pw.Close()
	home := f.home(name)
	if err := os.MkdirAll(home, 0o755); err != nil {
		f.t.Fatal(err)
	}
	if err := os.Chown(home, uid, uid); err != nil {
		f.t.Fatal(err)
	}
}

// writeKeys puts content into user's authorized_keys as the user would have.
func (f *fixture) writeKeys(user, content string) {
	f.t.Helper()
	dir := filepath.Dir(f.keysFile(user))
	fi, err := os.Stat(f.home(user))
	if err != nil {
		f.t.Fatal(err)
	}
	uid := int(fi.Sys().(*syscall.Stat_t).Uid)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		f.t.Fatal(err)
	}
	if err := os.WriteFile(f.keysFile(user), []byte(content), 0o600); err != nil {
		f.t.Fatal(err)
	}
	for _, p := range []string{dir, f.keysFile(user)} {
		if err := os.Chown(p, uid, uid); err != nil {
			f.t.Fatal(err)
		}
	}
}

func (f *fixture) home(user string) string { return filepath.Join(f.root, "home", user) }
func (f *fixture) keysFile(user string) string {
	return filepath.Join(f.home(user), ".ssh", "authorized_keys")
}

// listenNotify opens a real unixgram socket as NOTIFY_SOCKET and collects
// the datagrams the daemon sends through the systemd package.
func (f *fixture) listenNotify() {
	path := filepath.Join(f.t.TempDir(), "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Setenv("NOTIFY_SOCKET", path)
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			select {
			case f.notes <- string(buf[:n]):
			default: // a test that stopped reading does not block the socket
			}
		}
	}()
	f.t.Cleanup(func() { conn.Close(); <-stopped })
}

// start runs the service until the test ends.
func (f *fixture) start(opts ...func(*Options)) {
	o := Options{
		Engine:   agent.Options{Config: f.cfg, Root: f.root, Logger: zaptest.NewLogger(f.t)},
		Reload:   f.reload,
		Notifier: systemd.Notifier{},
	}
	for _, fn := range opts {
		fn(&o)
	}
	f.s = newService(o)
	f.s.hook = f.hook
	ctx, cancel := context.WithCancelCause(context.Background())
	f.cancel, f.done = cancel, make(chan error, 1)
	go func() { f.done <- f.s.run(ctx) }()
	f.t.Cleanup(func() {
		cancel(nil)
		select {
		case err := <-f.done:
			if err != nil {
				f.t.Errorf("service: %v", err)
			}
		case <-time.After(wait):
			f.t.Error("service did not stop")
		}
	})
}

// waitNote waits for a datagram for which match is true, and returns it
// together with every datagram before it.
func (f *fixture) waitNote(what string, match func(string) bool) (string, []string) {
	f.t.Helper()
	var before []string
	deadline := time.After(wait)
	for {
		select {
		case n := <-f.notes:
			if match(n) {
				return n, before
			}
			before = append(before, n)
		case <-deadline:
			f.t.Fatalf("no %s notification; got %q", what, before)
		}
	}
}

// drainNotes returns what arrived so far without waiting.
func (f *fixture) drainNotes() []string {
	var got []string
	for {
		select {
		case n := <-f.notes:
			got = append(got, n)
		default:
			return got
		}
	}
}

// eventually polls cond until it holds.
func (f *fixture) eventually(what string, cond func() bool) {
	f.t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			f.t.Fatalf("gave up waiting: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (f *fixture) read(path string) string {
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		f.t.Fatal(err)
	}
	return string(b)
}

// requests counts the metadata requests for path so far.
func (f *fixture) requests(path string) int {
	n := 0
	for _, r := range f.imds.Requests() {
		if r.Path == path {
			n++
		}
	}
	return n
}

// fileID is a file's inode and mtime: equal means "not written".
func fileID(t *testing.T, path string) string {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	return fmt.Sprintf("%d %d.%d", st.Ino, st.Mtim.Sec, st.Mtim.Nsec)
}

// newKey returns an authorized_keys line for a fresh ed25519 key.
func newKey(t *testing.T, comment string) string {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sp, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sp))) + " " + comment
}

// keyBody is the key part of a line (type and base64), what a file must contain.
func keyBody(line string) string {
	fields := strings.Fields(line)
	return fields[0] + " " + fields[1]
}

func isReady(n string) bool { return n == "READY=1" }
