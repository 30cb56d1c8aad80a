package securefs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestWriteFileCreatesAndReplaces(t *testing.T) {
	root := newTree(t)
	ssh := openSSH(t, root)
	if got, want := ssh.Path(), "/home/alice/.ssh"; got != want {
		t.Errorf("Path() = %q, want %q", got, want)
	}
	sshPath := filepath.Join(root, "home/alice/.ssh")
	checkOwnMode(t, sshPath, fs.ModeDir|0o700)

	if err := ssh.WriteFile("authorized_keys", []byte("ssh-ed25519 AAAA one\n"), 0o600, uid, gid); err != nil {
		t.Fatalf("WriteFile: %v", err)
	}
	keys := filepath.Join(sshPath, "authorized_keys")
	checkOwnMode(t, keys, 0o600)
	before, _ := os.Stat(sshPath)

	// Replace through a fresh walk, as a second sync would.
	ssh2 := openSSH(t, root)
	if err := ssh2.WriteFile("authorized_keys", []byte("ssh-ed25519 AAAA two\n"), 0o600, uid, gid); err != nil {
		t.Fatalf("WriteFile again: %v", err)
	}
	after, _ := os.Stat(sshPath)
	if !os.SameFile(before, after) {
		t.Errorf("%s was replaced, want the same directory kept", sshPath)
	}
	data, st, err := ssh2.ReadFile("authorized_keys", 1<<20, uid)
	if err != nil {
		t.Fatalf("ReadFile: %v", err)
	}
	if string(data) != "ssh-ed25519 AAAA two\n" || st.UID != uid || st.GID != gid || st.Mode != 0o600 || st.Nlink != 1 {
		t.Errorf("ReadFile = %q, %+v, want the new content, %d:%d, 0600, one link", data, st, uid, gid)
	}
	if m := temps(t, sshPath); len(m) != 0 {
		t.Errorf("temporary files left: %v", m)
	}
	if err := ssh2.Remove("authorized_keys"); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	if err := ssh2.Remove("authorized_keys"); err != nil {
		t.Fatalf("Remove of a missing file: %v", err)
	}
	if _, _, err := ssh2.ReadFile("authorized_keys", 100, uid); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadFile after Remove = %v, want fs.ErrNotExist", err)
	}
}

func checkOwnMode(t *testing.T, p string, mode fs.FileMode) {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if fi.Mode() != mode || int(st.Uid) != uid || int(st.Gid) != gid {
		t.Errorf("%s is %v %d:%d, want %v %d:%d", p, fi.Mode(), st.Uid, st.Gid, mode, uid, gid)
	}
}

func TestOpenHomeRefuses(t *testing.T) {
	tests := []struct {
		name   string
		home   string
		setup  func(t *testing.T, root string)
		reason string // "" means ok; "ENOENT" means fs.ErrNotExist
	}{
		{name: "plain", home: "/home/alice"},
		{name: "trailing slash", home: "/home/alice/"},
		{name: "symlinked home", home: "/home/alice", reason: "it is a symbolic link", setup: func(t *testing.T, root string) {
			os.Rename(filepath.Join(root, "home/alice"), filepath.Join(root, "alice-real"))
			os.Symlink("../alice-real", filepath.Join(root, "home/alice"))
		}},
		{name: "home owned by another user", home: "/home/alice", reason: "owned by uid 5555", setup: func(t *testing.T, root string) {
			needForeign(t)
			chownMod(t, filepath.Join(root, "home/alice"), 0o700, foreign, foreign)
		}},
		{name: "home owned by root", home: "/home/alice", setup: func(t *testing.T, root string) {
			needForeign(t)
			chownMod(t, filepath.Join(root, "home/alice"), 0o755, 0, 0)
		}},
		{name: "group-writable home", home: "/home/alice", reason: "writable by group or others", setup: func(t *testing.T, root string) {
			chownMod(t, filepath.Join(root, "home/alice"), 0o770, uid, gid)
		}},
		{name: "sticky world-writable parent", home: "/home/alice", reason: "writable by group or others", setup: func(t *testing.T, root string) {
			chownMod(t, filepath.Join(root, "home"), 0o777|os.ModeSticky, -1, -1) // root's as root
		}},
		{name: "parent owned by a user", home: "/home/alice", reason: "owned by uid 4242", setup: func(t *testing.T, root string) {
			needForeign(t) // alice is the test's own uid unless root
			chownMod(t, filepath.Join(root, "home"), 0o755, uid, gid)
		}},
		{name: "parent is a root-owned symlink", home: "/home/alice", setup: func(t *testing.T, root string) {
			// Silverblue-style /home -> var/home, made by the admin: followed.
			os.MkdirAll(filepath.Join(root, "var"), 0o755)
			os.Rename(filepath.Join(root, "home"), filepath.Join(root, "var/home"))
			os.Symlink("var/home", filepath.Join(root, "home"))
		}},
		{name: "parent symlink escaping the root stays inside", home: "/home/alice", setup: func(t *testing.T, root string) {
			os.MkdirAll(filepath.Join(root, "var"), 0o755)
			os.Rename(filepath.Join(root, "home"), filepath.Join(root, "var/home"))
			os.Symlink("../../../../../../var/home", filepath.Join(root, "home"))
		}},
		{name: "parent symlink owned by a user", home: "/home/alice", reason: "symbolic link owned by uid 4242", setup: func(t *testing.T, root string) {
			needForeign(t) // alice is the test's own uid unless root
			os.MkdirAll(filepath.Join(root, "var"), 0o755)
			os.Rename(filepath.Join(root, "home"), filepath.Join(root, "var/home"))
			os.Symlink("/var/home", filepath.Join(root, "home"))
			os.Lchown(filepath.Join(root, "home"), uid, gid)
		}},
		{name: "missing home", home: "/home/bob", reason: "ENOENT"},
		{name: "relative home", home: "home/alice", reason: "not an absolute path"},
		{name: "dot-dot", home: "/home/../home/alice", reason: "contains"},
		{name: "root as home", home: "/", reason: "root directory itself"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := newTree(t)
			if tt.setup != nil {
				tt.setup(t, root)
			}
			d, err := OpenHome(root, tt.home, uid)
			switch tt.reason {
			case "":
				if err != nil {
					t.Fatalf("OpenHome(%q) = %v, want success", tt.home, err)
				}
				if d.Path() != "/home/alice" {
					t.Errorf("Path() = %q, want /home/alice", d.Path())
				}
				d.Close()
			case "ENOENT":
				if !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("OpenHome(%q) = %v, want fs.ErrNotExist", tt.home, err)
				}
			case "not an absolute path", "contains", "root directory itself":
				if err == nil || errors.Is(err, ErrUnsafe) {
					t.Errorf("OpenHome(%q) = %v, want a plain argument error", tt.home, err)
				}
			default:
				wantUnsafe(t, "OpenHome("+tt.home+")", err, tt.reason)
			}
		})
	}
}

func TestOpenSystemDir(t *testing.T) {
	root := t.TempDir() // no chown needed: directories are ours (the euid)
	if err := os.MkdirAll(filepath.Join(root, "etc/ssh"), 0o755); err != nil {
		t.Fatal(err)
	}
	d, err := OpenSystemDir(root, "/etc/ssh/sshd_config.d", true)
	if err != nil {
		t.Fatalf("OpenSystemDir(create) = %v", err)
	}
	if err := d.WriteFile("00-ecs-keyagent.conf", []byte("PasswordAuthentication no\n"), 0o644, -1, -1); err != nil {
		t.Fatalf("WriteFile: %v", err)
	}
	d.Close()
	fi, err := os.Stat(filepath.Join(root, "etc/ssh/sshd_config.d"))
	if err != nil || fi.Mode() != fs.ModeDir|0o755 {
		t.Fatalf("sshd_config.d: %v, %v; want a 0755 directory", fi, err)
	}
	if _, err := OpenSystemDir(root, "/etc/ssh/sshd_config.d", false); err != nil {
		t.Errorf("OpenSystemDir(existing) = %v", err)
	}
	if _, err := OpenSystemDir(root, "/etc/missing/sub", true); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("OpenSystemDir(missing parent) = %v, want fs.ErrNotExist", err)
	}

	os.Rename(filepath.Join(root, "etc/ssh"), filepath.Join(root, "ssh-real"))
	os.Symlink("../ssh-real", filepath.Join(root, "etc/ssh"))
	_, err = OpenSystemDir(root, "/etc/ssh/sshd_config.d", false)
	wantUnsafe(t, "OpenSystemDir(symlinked /etc/ssh)", err, "refuse /etc/ssh: it is a symbolic link")

	os.Remove(filepath.Join(root, "etc/ssh"))
	os.Rename(filepath.Join(root, "ssh-real"), filepath.Join(root, "etc/ssh"))
	os.Chmod(filepath.Join(root, "etc/ssh"), 0o775)
	_, err = OpenSystemDir(root, "/etc/ssh", false)
	wantUnsafe(t, "OpenSystemDir(group-writable)", err, "refuse /etc/ssh: it is writable by group or others")
}

// TestOpenOutputDir: Debian's node exporter layout, /var/lib/prometheus
// owned by prometheus holding the root-owned node-exporter directory, is
// accepted; the directory itself must still be ours, and nothing is
// followed or created.
func TestOpenOutputDir(t *testing.T) {
	root := newTree(t)
	mkdir(t, filepath.Join(root, "var"), 0o755, -1, -1)
	mkdir(t, filepath.Join(root, "var/lib"), 0o755, -1, -1)
	mkdir(t, filepath.Join(root, "var/lib/prometheus"), 0o755, uid, gid)
	mkdir(t, filepath.Join(root, "var/lib/prometheus/node-exporter"), 0o755, -1, -1)
	d, err := OpenOutputDir(root, "/var/lib/prometheus/node-exporter")
	if err != nil {
		t.Fatalf("OpenOutputDir(Debian's layout) = %v", err)
	}
	if err := d.WriteFile("ecs_keyagent.prom", []byte("x 1\n"), 0o644, -1, -1); err != nil {
		t.Fatalf("WriteFile: %v", err)
	}
	d.Close()
	// OpenSystemDir refuses the same path: its rule covers every directory.
	// (Only where the parent can belong to someone else: as root.)
	if os.Geteuid() == 0 {
		_, err = OpenSystemDir(root, "/var/lib/prometheus/node-exporter", false)
		wantUnsafe(t, "OpenSystemDir(prometheus-owned parent)", err, fmt.Sprintf("refuse /var/lib/prometheus: it is owned by uid %d", uid))
	}

	if _, err := OpenOutputDir(root, "/var/lib/prometheus/missing"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("OpenOutputDir(missing) = %v, want fs.ErrNotExist", err)
	}
	if _, err := os.Stat(filepath.Join(root, "var/lib/prometheus/missing")); err == nil {
		t.Errorf("OpenOutputDir created the missing directory")
	}

	// The directory itself must be ours, not writable by others, not a link.
	// (A directory of someone else's only where one can be made: as root.)
	if os.Geteuid() == 0 {
		mkdir(t, filepath.Join(root, "var/lib/prometheus/theirs"), 0o755, uid, gid)
		_, err = OpenOutputDir(root, "/var/lib/prometheus/theirs")
		wantUnsafe(t, "OpenOutputDir(foreign directory)", err, fmt.Sprintf("refuse /var/lib/prometheus/theirs: it is owned by uid %d", uid))
	}
	mkdir(t, filepath.Join(root, "var/lib/prometheus/open"), 0o777, -1, -1)
	_, err = OpenOutputDir(root, "/var/lib/prometheus/open")
	wantUnsafe(t, "OpenOutputDir(world-writable)", err, "refuse /var/lib/prometheus/open: it is writable by group or others")
	if err := os.Symlink("/etc", filepath.Join(root, "var/lib/prometheus/link")); err != nil {
		t.Fatal(err)
	}
	_, err = OpenOutputDir(root, "/var/lib/prometheus/link")
	wantUnsafe(t, "OpenOutputDir(symlink)", err, "refuse /var/lib/prometheus/link: it is a symbolic link")

	// A directory above that others may write is refused, whoever owns it.
	chownMod(t, filepath.Join(root, "var/lib/prometheus"), 0o777, uid, gid)
	_, err = OpenOutputDir(root, "/var/lib/prometheus/node-exporter")
	wantUnsafe(t, "OpenOutputDir(world-writable parent)", err, "refuse /var/lib/prometheus: it is writable by group or others")
}
