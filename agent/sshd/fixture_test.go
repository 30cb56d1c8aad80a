package sshd

import (
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/ecs-keyagent/ecs-keyagent/agent/agenttest"
)

const sshdBin = agenttest.SSHD

// requireSSHD lets a test that runs the real sshd (-t, -T or -D) go on
// when it can: the fixture gives sshd a host key of the test's own, so
// root is not needed, only the binaries and sshd's privilege separation
// directory. Without them the test skips, or fails under CI=true.
func requireSSHD(t *testing.T) {
	t.Helper()
	agenttest.MustHaveSSHD(t)
}

// fixture is a configuration tree in a temporary directory, seen by sshd at
// its real path (Root "/"), with securefs trusting only the directory.
type fixture struct {
	t    *testing.T
	dir  string
	sshd string // the sshd binary the agent and sshdT run: sshdBin unless a test sets another
}

var (
	hostKeyOnce sync.Once
	hostKey     []byte
)

func newFixture(t *testing.T, files map[string]string) *fixture {
	t.Helper()
	f := &fixture{t: t, dir: t.TempDir(), sshd: sshdBin}
	hostKeyOnce.Do(func() {
		d, err := os.MkdirTemp("", "sshd-hostkey")
		if err != nil {
			t.Fatal(err)
		}
		defer os.RemoveAll(d)
		out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", d+"/k").CombinedOutput()
		if err != nil {
			t.Fatalf("ssh-keygen: %v: %s", err, out)
		}
		hostKey, _ = os.ReadFile(d + "/k")
	})
	if err := os.WriteFile(f.dir+"/hostkey", hostKey, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(f.dir+"/etc/ssh/sshd_config.d", 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range files {
		f.write(name, content)
	}
	return f
}

// expand replaces {{dir}} with the fixture directory.
func (f *fixture) expand(s string) string { return strings.ReplaceAll(s, "{{dir}}", f.dir) }

func (f *fixture) write(name, content string) {
	f.t.Helper()
	p := filepath.Join(f.dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		f.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(f.expand(content)), 0o644); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) path(name string) string { return filepath.Join(f.dir, name) }

func (f *fixture) options(rl Reloader, users ...string) Options {
	return Options{
		Root:     "/",
		Config:   f.path("etc/ssh/sshd_config"),
		Users:    users,
		SSHD:     f.sshd,
		Reloader: rl,
		Logger:   zaptest.NewLogger(f.t),
		trust:    f.dir,
	}
}

// layoutFiles is the agenttest sshd layout name as the fixture holds it:
// Include lines point into the fixture directory, and the fixture's host
// key follows the first of them (sshd would read the real /etc/ssh).
func layoutFiles(t *testing.T, name string) map[string]string {
	t.Helper()
	files := agenttest.LayoutFiles(t, name)
	main := strings.ReplaceAll(files[mainFile], "Include /etc/ssh/", "Include {{dir}}/etc/ssh/")
	if i := strings.Index(main, include); i >= 0 {
		main = main[:i+len(include)] + hostKeyL + main[i+len(include):]
	} else {
		main = hostKeyL + main
	}
	files[mainFile] = main
	return files
}

// fileInfo is what a snapshot keeps of each file.
type fileInfo struct {
	data  string
	mode  fs.FileMode
	mtime time.Time
}

// snapshot reads every file and symlink in the tree.
func (f *fixture) snapshot() map[string]fileInfo {
	f.t.Helper()
	out := map[string]fileInfo{}
	err := filepath.WalkDir(f.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		var data string
		if fi.Mode()&fs.ModeSymlink != 0 {
			l, _ := os.Readlink(p)
			data = "-> " + l
		} else {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			data = string(b)
		}
		out[strings.TrimPrefix(p, f.dir+"/")] = fileInfo{data: data, mode: fi.Mode(), mtime: fi.ModTime()}
		return nil
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return out
}

// sameFiles fails unless the tree holds exactly the bytes and modes of want.
func sameFiles(t *testing.T, what string, got, want map[string]fileInfo) {
	t.Helper()
	for name, w := range want {
		g, ok := got[name]
		if !ok {
			t.Errorf("%s: %s is gone", what, name)
			continue
		}
		if g.data != w.data || g.mode != w.mode {
			t.Errorf("%s: %s = %q (%v), want %q (%v)", what, name, g.data, g.mode, w.data, w.mode)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("%s: unexpected file %s: %q", what, name, got[name].data)
		}
	}
}

// sshdT runs the real sshd -T -C for user on the fixture.
func (f *fixture) sshdT(user string) map[string]string {
	f.t.Helper()
	r := sshdRunner{bin: f.sshd, config: f.path("etc/ssh/sshd_config"), log: zaptest.NewLogger(f.t)}
	out, err := r.show(context.Background(), &connInfo{user: user, host: testAddr, addr: testAddr, laddr: testLAddr, lport: 22})
	if err != nil {
		f.t.Fatalf("sshd -T for %s: %v", user, err)
	}
	v := map[string]string{}
	for k, vals := range parseView(out).vals {
		v[k] = vals[0]
	}
	return v
}

// fakeReloader records how often it was asked to reload.
type fakeReloader struct {
	mu    sync.Mutex
	calls int
}

func (r *fakeReloader) Reload(context.Context) (bool, string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	return true, "fake reload", nil
}

func (r *fakeReloader) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls
}
