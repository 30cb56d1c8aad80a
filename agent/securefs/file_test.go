package securefs

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

func TestSubdirRefuses(t *testing.T) {
	tests := []struct {
		name   string
		setup  func(t *testing.T, home string)
		reason string
	}{
		{name: "symlink to another directory", reason: "refuse /home/alice/.ssh: it is a symbolic link", setup: func(t *testing.T, home string) {
			os.Symlink("../../victim", filepath.Join(home, ".ssh"))
		}},
		{name: "regular file", reason: "it is a regular file, not a directory", setup: func(t *testing.T, home string) {
			writeFile(t, filepath.Join(home, ".ssh"), "x", 0o600, uid, gid)
		}},
		{name: "owned by another user", reason: "owned by uid 5555", setup: func(t *testing.T, home string) {
			needForeign(t)
			mkdir(t, filepath.Join(home, ".ssh"), 0o700, foreign, foreign)
		}},
		{name: "group-writable", reason: "refuse /home/alice/.ssh: it is writable by group or others", setup: func(t *testing.T, home string) {
			mkdir(t, filepath.Join(home, ".ssh"), 0o770, uid, gid)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := newTree(t)
			mkdir(t, filepath.Join(root, "victim"), 0o700, -1, -1) // root's as root
			victim := filepath.Join(root, "victim/authorized_keys")
			writeFile(t, victim, "root's keys\n", 0o600, -1, -1)
			target := snap(t, victim)
			tt.setup(t, filepath.Join(root, "home/alice"))

			home, err := OpenHome(root, "/home/alice", uid)
			if err != nil {
				t.Fatal(err)
			}
			defer home.Close()
			for _, create := range []bool{false, true} {
				_, err := home.Subdir(".ssh", create, uid, gid)
				wantUnsafe(t, "Subdir(.ssh)", err, tt.reason)
			}
			target.check(t)
			if names, _ := os.ReadDir(filepath.Join(root, "victim")); len(names) != 1 {
				t.Errorf("victim directory holds %d entries, want 1", len(names))
			}
		})
	}
}

func TestNamesMustBeOneComponent(t *testing.T) {
	root := newTree(t)
	ssh := openSSH(t, root)
	for _, name := range []string{"", ".", "..", "a/b", "/etc", "../x"} {
		if _, err := ssh.Subdir(name, true, uid, gid); err == nil {
			t.Errorf("Subdir(%q) succeeded, want an error", name)
		}
		if _, _, err := ssh.ReadFile(name, 10, uid); err == nil {
			t.Errorf("ReadFile(%q) succeeded, want an error", name)
		}
		if err := ssh.WriteFile(name, nil, 0o600, uid, gid); err == nil {
			t.Errorf("WriteFile(%q) succeeded, want an error", name)
		}
		if err := ssh.Remove(name); err == nil {
			t.Errorf("Remove(%q) succeeded, want an error", name)
		}
	}
}

// TestFileRefusals puts something hostile where authorized_keys belongs and checks
// that ReadFile (and WriteFile where it applies) refuse it and touch nothing.
func TestFileRefusals(t *testing.T) {
	tests := []struct {
		name       string
		setup      func(t *testing.T, root, ssh string)
		reason     string
		writeToo   bool   // WriteFile must refuse as well
		writeWhy   string // its reason, if different
		max        int64
		wantUID    int
		victimFile string // a file that must stay untouched, relative to root
	}{
		{name: "symlink to a passwd-like file", reason: "refuse /home/alice/.ssh/authorized_keys: it is a symbolic link", writeToo: true, victimFile: "etc/passwd",
			setup: func(t *testing.T, root, ssh string) {
				os.Symlink(filepath.Join(root, "etc/passwd"), filepath.Join(ssh, "authorized_keys"))
			}},
		{name: "hard link", reason: "it has 2 hard links", writeToo: true, victimFile: "etc/passwd",
			setup: func(t *testing.T, root, ssh string) {
				if err := os.Link(filepath.Join(root, "etc/passwd"), filepath.Join(ssh, "authorized_keys")); err != nil {
					t.Fatal(err)
				}
			}},
		{name: "fifo", reason: "it is a named pipe, not a regular file", writeToo: true,
			setup: func(t *testing.T, root, ssh string) {
				if err := syscall.Mkfifo(filepath.Join(ssh, "authorized_keys"), 0o600); err != nil {
					t.Fatal(err)
				}
			}},
		{name: "directory", reason: "it is a directory, not a regular file", writeToo: true,
			setup: func(t *testing.T, root, ssh string) {
				mkdir(t, filepath.Join(ssh, "authorized_keys"), 0o700, uid, gid)
			}},
		{name: "owned by another user", reason: "it is owned by uid 5555",
			setup: func(t *testing.T, root, ssh string) {
				needForeign(t)
				writeFile(t, filepath.Join(ssh, "authorized_keys"), "k\n", 0o600, foreign, foreign)
			}},
		{name: "group-writable", reason: "writable by group or others",
			setup: func(t *testing.T, root, ssh string) {
				writeFile(t, filepath.Join(ssh, "authorized_keys"), "k\n", 0o620, uid, gid)
			}},
		{name: "too large", reason: "it is 101 bytes, more than the limit of 100", max: 100,
			setup: func(t *testing.T, root, ssh string) {
				writeFile(t, filepath.Join(ssh, "authorized_keys"), strings.Repeat("k", 101), 0o600, uid, gid)
			}},
		{name: "wrong expected owner", reason: "it is owned by uid " + strconv.Itoa(uid), wantUID: uid + 1,
			setup: func(t *testing.T, root, ssh string) {
				writeFile(t, filepath.Join(ssh, "authorized_keys"), "k\n", 0o600, uid, gid)
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := newTree(t)
			mkdir(t, filepath.Join(root, "etc"), 0o755, -1, -1) // root's as root
			writeFile(t, filepath.Join(root, "etc/passwd"), "root:x:0:0:root:/root:/bin/bash\n", 0o644, -1, -1)
			victim := snap(t, filepath.Join(root, "etc/passwd"))
			ssh := openSSH(t, root)
			sshPath := filepath.Join(root, "home/alice/.ssh")
			tt.setup(t, root, sshPath)
			max, want := tt.max, tt.wantUID
			if max == 0 {
				max = 1 << 20
			}
			if want == 0 {
				want = uid
			}

			_, _, err := ssh.ReadFile("authorized_keys", max, want)
			wantUnsafe(t, "ReadFile", err, tt.reason)
			if tt.writeToo {
				err := ssh.WriteFile("authorized_keys", []byte("attacker-chosen\n"), 0o600, uid, gid)
				wantUnsafe(t, "WriteFile", err, tt.reason)
			}
			victim.check(t)
			if m := temps(t, sshPath); len(m) != 0 {
				t.Errorf("temporary files left: %v", m)
			}
		})
	}
}

func TestCleanTemp(t *testing.T) {
	root := newTree(t)
	ssh := openSSH(t, root)
	dir := filepath.Join(root, "home/alice/.ssh")
	for _, n := range []string{".authorized_keys.ecs-keyagent-0123", ".authorized_keys.ecs-keyagent-zz", ".authorized_keys.ecs-keyagent-", ".other.ecs-keyagent-1", "authorized_keys"} {
		writeFile(t, filepath.Join(dir, n), "x", 0o600, uid, gid)
	}
	mkdir(t, filepath.Join(dir, ".authorized_keys.ecs-keyagent-dir"), 0o700, uid, gid)
	n, err := ssh.CleanTemp("authorized_keys")
	if err != nil || n != 2 {
		t.Fatalf("CleanTemp = %d, %v, want 2, nil", n, err)
	}
	left, _ := os.ReadDir(dir)
	var names []string
	for _, e := range left {
		names = append(names, e.Name())
	}
	if got, want := strings.Join(names, " "), ".authorized_keys.ecs-keyagent- .authorized_keys.ecs-keyagent-dir .other.ecs-keyagent-1 authorized_keys"; got != want {
		t.Errorf("left %q, want %q", got, want)
	}
	if n, err := ssh.CleanTemp("authorized_keys"); err != nil || n != 0 {
		t.Errorf("second CleanTemp = %d, %v, want 0, nil", n, err)
	}
}

func TestRemoveRefusesDirectory(t *testing.T) {
	root := newTree(t)
	ssh := openSSH(t, root)
	mkdir(t, filepath.Join(root, "home/alice/.ssh/authorized_keys"), 0o700, uid, gid)
	wantUnsafe(t, "Remove(dir)", ssh.Remove("authorized_keys"), "it is a directory")
	if _, err := ssh.Lstat("authorized_keys"); err != nil {
		t.Errorf("Lstat after refused Remove = %v", err)
	}
	if _, err := ssh.Lstat("nothing"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Lstat(missing) = %v, want fs.ErrNotExist", err)
	}
}
