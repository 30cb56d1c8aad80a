package securefs

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ecs-keyagent/ecs-keyagent/agent/agenttest"
)

// The user owning alice's home: whoever runs the test, or another uid as
// root (agenttest.UserID).
var uid, gid = agenttest.UserID(), agenttest.GroupID()

// foreign is a uid that is neither root, the test's nor alice's: only root
// can give it a file.
const foreign = 5555

// needForeign skips a test case that must give files to foreign owners
// (another user, or root when the test is not root), except in CI.
func needForeign(t *testing.T) {
	t.Helper()
	agenttest.MustHaveRoot(t, "gives files to another owner")
}

// newTree makes root/home (0755, ours) and root/home/alice (0700, uid:gid) and
// returns root.
func newTree(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	mkdir(t, filepath.Join(root, "home"), 0o755, -1, -1)
	mkdir(t, filepath.Join(root, "home/alice"), 0o700, uid, gid)
	return root
}

func mkdir(t *testing.T, p string, mode os.FileMode, u, g int) {
	t.Helper()
	if err := os.Mkdir(p, mode); err != nil {
		t.Fatal(err)
	}
	chownMod(t, p, mode, u, g)
}

func writeFile(t *testing.T, p, data string, mode os.FileMode, u, g int) {
	t.Helper()
	if err := os.WriteFile(p, []byte(data), mode); err != nil {
		t.Fatal(err)
	}
	chownMod(t, p, mode, u, g)
}

// chownMod sets owner (unless -1) and mode past the umask.
func chownMod(t *testing.T, p string, mode os.FileMode, u, g int) {
	t.Helper()
	if u >= 0 {
		if err := os.Lchown(p, u, g); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
}

// openSSH opens alice's home and its .ssh (created if missing).
func openSSH(t *testing.T, root string) *Dir {
	t.Helper()
	home, err := OpenHome(root, "/home/alice", uid)
	if err != nil {
		t.Fatalf("OpenHome: %v", err)
	}
	defer home.Close()
	ssh, err := home.Subdir(".ssh", true, uid, gid)
	if err != nil {
		t.Fatalf("Subdir(.ssh): %v", err)
	}
	t.Cleanup(func() { ssh.Close() })
	return ssh
}

// snapshot records a file's bytes and mtime, to prove later it was not touched.
type snapshot struct {
	path  string
	data  []byte
	mtime time.Time
}

func snap(t *testing.T, p string) snapshot {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return snapshot{p, data, fi.ModTime()}
}

func (s snapshot) check(t *testing.T) {
	t.Helper()
	got := snap(t, s.path)
	if !bytes.Equal(got.data, s.data) || !got.mtime.Equal(s.mtime) {
		t.Errorf("%s changed: %q (mtime %v), want %q (mtime %v)", s.path, got.data, got.mtime, s.data, s.mtime)
	}
}

func wantUnsafe(t *testing.T, what string, err error, reason string) {
	t.Helper()
	if !errors.Is(err, ErrUnsafe) {
		t.Fatalf("%s = %v, want an error wrapping ErrUnsafe", what, err)
	}
	if !strings.Contains(err.Error(), reason) {
		t.Errorf("%s = %q, want it to say %q", what, err, reason)
	}
}

// temps lists our temporary files left in dir.
func temps(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, ".*"+tempMarker+"*"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}
