package service

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap/zaptest"

	"github.com/ecs-keyagent/ecs-keyagent/agent"
	"github.com/ecs-keyagent/ecs-keyagent/agent/agenttest"
	"github.com/ecs-keyagent/ecs-keyagent/agent/config"
	"github.com/ecs-keyagent/ecs-keyagent/agent/metadata"
	"github.com/ecs-keyagent/ecs-keyagent/agent/metadata/emulator"
	"github.com/ecs-keyagent/ecs-keyagent/systemd"
)

// wait is the generous deadline of every "eventually": tests assert
// outcomes, never how fast they came.
const wait = agenttest.Deadline

// fixture is one daemon against the emulator on a scratch root.
type fixture struct {
	t      *testing.T
	tree   *agenttest.Root
	root   string
	users  map[string]agenttest.Account
	imds   *emulator.Server
	url    string
	cfg    config.Config
	notify *agenttest.Notify // every sd_notify datagram, in order
	reload chan struct{}
	s      *service
	hook   func() // the daemon's fault hook, set before start
	done   chan error
	cancel context.CancelCauseFunc
}

func newFixture(t *testing.T, users ...string) *fixture {
	t.Helper()
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) }) // runs last
	tree := agenttest.NewRoot(t)
	f := &fixture{t: t, tree: tree, root: tree.Dir, users: map[string]agenttest.Account{}, imds: emulator.New(), reload: make(chan struct{}, 1)}
	hs := httptest.NewServer(f.imds)
	t.Cleanup(hs.Close)
	f.url = hs.URL
	for _, u := range users {
		f.addUser(u)
	}
	f.cfg = config.Default()
	f.cfg.Endpoint, f.cfg.Users = metadata.Endpoint(f.url), users
	f.cfg.PollInterval.Duration = time.Hour // only what a test triggers
	f.cfg.BootTimeout.Duration = time.Hour
	f.notify = agenttest.ListenNotify(t)
	t.Setenv("NOTIFY_SOCKET", f.notify.Path)
	return f
}

// addUser adds a user with a home of their own (agenttest.Root.AddUser).
func (f *fixture) addUser(name string) {
	f.users[name] = f.tree.AddUser(name)
}

// writeKeys puts content into user's authorized_keys as the user would have.
func (f *fixture) writeKeys(user, content string) {
	f.t.Helper()
	f.tree.WriteKeys(f.users[user], content)
}

func (f *fixture) home(user string) string     { return f.tree.Home(f.users[user]) }
func (f *fixture) keysFile(user string) string { return f.tree.KeysFile(f.users[user]) }

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
	return f.notify.Wait(f.t, what, match)
}

// drainNotes returns what arrived so far without waiting.
func (f *fixture) drainNotes() []string { return f.notify.Drain() }

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
func newKey(t *testing.T, comment string) string { return agenttest.KeyLine(t, comment) }

// keyBody is the key part of a line (type and base64), what a file must contain.
func keyBody(line string) string { return agenttest.KeyBody(line) }

func isReady(n string) bool { return n == "READY=1" }
