package securefs

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

// flipDir swaps the directory name and the symlink alt until stopped, with
// RENAME_EXCHANGE where the filesystem has it and three renames otherwise.
func flipDir(t *testing.T, dir, name, alt string, stop <-chan struct{}) {
	a, b := filepath.Join(dir, name), filepath.Join(dir, alt)
	hold := filepath.Join(dir, "hold")
	for !stopped(stop) {
		err := unix.Renameat2(unix.AT_FDCWD, a, unix.AT_FDCWD, b, unix.RENAME_EXCHANGE)
		if err == unix.EINVAL || err == unix.ENOSYS {
			os.Rename(a, hold)
			os.Rename(b, a)
			os.Rename(hold, b)
		} else if err != nil {
			t.Errorf("exchange %s and %s: %v", a, b, err)
			return
		}
	}
}

// flipFile replaces the file name alternately by a fresh symlink to target and a
// fresh regular file, each atomically, since our own WriteFile replaces the symlink.
func flipFile(t *testing.T, dir, name, target string, stop <-chan struct{}) {
	p, tmp := filepath.Join(dir, name), filepath.Join(dir, "flip")
	for !stopped(stop) {
		if err := os.Symlink(target, tmp); err != nil {
			t.Error(err)
			return
		}
		os.Rename(tmp, p)
		if err := os.WriteFile(tmp, []byte("flipped\n"), 0o600); err != nil {
			t.Error(err)
			return
		}
		os.Rename(tmp, p)
	}
}

func stopped(stop <-chan struct{}) bool {
	select {
	case <-stop:
		return true
	default:
		return false
	}
}

// TestRaceSymlinkFlip writes and reads 1000 times while an attacker swaps .ssh (or
// authorized_keys) with a symlink to a victim; the victim must never change and
// nothing may appear beside it.
func TestRaceSymlinkFlip(t *testing.T) {
	tests := []struct {
		name   string
		flipIn string // directory, below home, where the swap happens
		entry  string
		target string // symlink target, relative to root
	}{
		{name: ".ssh", flipIn: "", entry: ".ssh", target: "victim"},
		{name: "authorized_keys", flipIn: ".ssh", entry: "authorized_keys", target: "victim/authorized_keys"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := newTree(t)
			home := filepath.Join(root, "home/alice")
			mkdir(t, filepath.Join(root, "victim"), 0o700, uid, gid)
			victim := filepath.Join(root, "victim/authorized_keys")
			writeFile(t, victim, "victim keys\n", 0o600, uid, gid)
			before := snap(t, victim)
			mkdir(t, filepath.Join(home, ".ssh"), 0o700, uid, gid)
			writeFile(t, filepath.Join(home, ".ssh/authorized_keys"), "k\n", 0o600, uid, gid)
			dir, target := filepath.Join(home, tt.flipIn), filepath.Join(root, tt.target)

			stop := make(chan struct{})
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				if tt.entry == ".ssh" {
					if err := os.Symlink(target, filepath.Join(dir, "alt")); err != nil {
						t.Error(err)
						return
					}
					flipDir(t, dir, tt.entry, "alt", stop)
				} else {
					flipFile(t, dir, tt.entry, target, stop)
				}
			}()
			var wrote, refused int
			for i := 0; i < 1000; i++ {
				w, r := attempt(t, root)
				wrote += w
				refused += r
			}
			close(stop)
			wg.Wait()
			t.Logf("%d writes done, %d refusals", wrote, refused)

			before.check(t)
			if names, _ := os.ReadDir(filepath.Join(root, "victim")); len(names) != 1 {
				t.Errorf("victim directory holds %d entries, want 1", len(names))
			}
		})
	}
}

// attempt does one sync's worth of walking, writing and reading; refusals and
// vanished entries are expected while the flipper runs.
func attempt(t *testing.T, root string) (wrote, refused int) {
	expected := func(err error) bool {
		if err == nil || errors.Is(err, ErrUnsafe) || errors.Is(err, fs.ErrNotExist) {
			if err != nil {
				refused++
			}
			return true
		}
		t.Errorf("unexpected error: %v", err)
		return false
	}
	home, err := OpenHome(root, "/home/alice", uid)
	if err != nil {
		t.Fatal(err)
	}
	defer home.Close()
	ssh, err := home.Subdir(".ssh", false, uid, gid)
	if err != nil {
		expected(err)
		return
	}
	defer ssh.Close()
	err = ssh.WriteFile("authorized_keys", []byte("new keys\n"), 0o600, uid, gid)
	if expected(err) && err == nil {
		wrote++
	}
	_, _, err = ssh.ReadFile("authorized_keys", 1<<10, uid)
	expected(err)
	return
}
