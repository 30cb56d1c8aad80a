package reliability

import (
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// homeAttack is one hostile object a user swaps in, atomically and over
// and over, for ~/.ssh or ~/.ssh/authorized_keys while the agent syncs.
type homeAttack struct {
	name   string
	target string // "home/alice/.ssh" or "home/alice/.ssh/authorized_keys"
	make   func(tr *tree, p string) error
	is     func(fi fs.FileInfo) bool
}

func symlinkTo(target func(tr *tree) string) func(tr *tree, p string) error {
	return func(tr *tree, p string) error {
		if err := os.Symlink(target(tr), p); err != nil {
			return err
		}
		return os.Lchown(p, aliceUID, aliceUID)
	}
}

func isSymlink(fi fs.FileInfo) bool { return fi.Mode()&fs.ModeSymlink != 0 }

var homeAttacks = []homeAttack{
	{"ssh dir -> symlink to the tree's etc", "home/alice/.ssh",
		symlinkTo(func(tr *tree) string { return tr.path("etc") }), isSymlink},
	{"ssh dir -> symlink to the host's /etc", "home/alice/.ssh",
		symlinkTo(func(*tree) string { return "/etc" }), isSymlink},
	{"ssh dir -> symlink to bob's .ssh", "home/alice/.ssh",
		symlinkTo(func(*tree) string { return "../bob/.ssh" }), isSymlink},
	{"authorized_keys -> symlink to etc/shadow", "home/alice/.ssh/authorized_keys",
		symlinkTo(func(tr *tree) string { return tr.path("etc/shadow") }), isSymlink},
	{"authorized_keys -> hard link to root-owned etc/shadow", "home/alice/.ssh/authorized_keys",
		func(tr *tree, p string) error { return os.Link(tr.path("etc/shadow"), p) },
		func(fi fs.FileInfo) bool { return fi.Sys().(*syscall.Stat_t).Uid == 0 }},
	{"authorized_keys -> FIFO", "home/alice/.ssh/authorized_keys",
		func(tr *tree, p string) error {
			if err := unix.Mkfifo(p, 0o600); err != nil {
				return err
			}
			return os.Lchown(p, aliceUID, aliceUID)
		},
		func(fi fs.FileInfo) bool { return fi.Mode()&fs.ModeNamedPipe != 0 }},
	{"authorized_keys -> directory", "home/alice/.ssh/authorized_keys",
		func(tr *tree, p string) error {
			if err := os.Mkdir(p, 0o700); err != nil {
				return err
			}
			return os.Lchown(p, aliceUID, aliceUID)
		},
		func(fi fs.FileInfo) bool { return fi.IsDir() }},
	{"authorized_keys -> 1 GiB sparse file", "home/alice/.ssh/authorized_keys",
		func(tr *tree, p string) error {
			if err := os.WriteFile(p, []byte("ssh-ed25519 padding\n"), 0o600); err != nil {
				return err
			}
			if err := os.Truncate(p, 1<<30); err != nil {
				return err
			}
			return os.Lchown(p, aliceUID, aliceUID)
		},
		func(fi fs.FileInfo) bool { return fi.Size() == 1<<30 }},
}

// TestHostileHome runs at least 1,000 syncs against each attack while a
// racing goroutine flips the path with renameat2(RENAME_EXCHANGE), then
// checks that nothing outside alice's ~/.ssh changed: path, size, mode,
// owner, mtime and content hash of every other file in the tree, and the
// host's /etc.
func TestHostileHome(t *testing.T) {
	needRoot(t)
	rec := newRecord(t, "Hostile home directories (racing swaps)")
	syncs := scale(1000, 25)
	var mu sync.Mutex
	var refused, written int
	var slowest time.Duration
	var maxRSS int64
	for _, a := range homeAttacks {
		t.Run(a.name, func(t *testing.T) {
			rf, wr, sl, rss := runHomeAttack(t, rec, a, syncs)
			mu.Lock()
			defer mu.Unlock()
			refused += rf
			written += wr
			slowest = max(slowest, sl)
			maxRSS = max(maxRSS, rss)
		})
	}
	rec.figure("attacks", fmt.Sprint(len(homeAttacks)))
	rec.figure("syncs refused / written", fmt.Sprintf("%d / %d", refused, written))
	rec.figure("slowest sync", slowest.Round(time.Millisecond).String())
	rec.figure("largest sync max RSS", fmt.Sprintf("%.1f MiB", float64(maxRSS)/1024))
}

// outsideAlice keeps every path the agent must not touch: all but alice's
// .ssh (and the entries the racer flips next to it), and the agent's own
// state and lock.
func outsideAlice(rel string) bool {
	switch {
	case rel == "home/alice", strings.HasPrefix(rel, "home/alice/.ssh"):
		return false
	case strings.HasPrefix(rel, "var/lib/ecs-keyagent"), strings.HasPrefix(rel, "run/ecs-keyagent"):
		return false
	}
	return true
}

// hostEtc is what the host's /etc would show of a write or chown through a
// symlink: its mode and owner, and files named like ours. Its mtime is left
// out: other work on a shared build machine changes /etc.
func hostEtc(t *testing.T) string {
	fi, err := os.Lstat("/etc")
	must(t, err)
	st := fi.Sys().(*syscall.Stat_t)
	s := fmt.Sprintf("mode %v uid %d gid %d", fi.Mode(), st.Uid, st.Gid)
	matches, _ := filepath.Glob("/etc/*authorized_keys*")
	return s + fmt.Sprintf(" authorized_keys files %q", matches)
}

func runHomeAttack(t *testing.T, rec *record, a homeAttack, syncs int) (refused, written int, slowest time.Duration, maxRSS int64) {
	tr := newTree(t, layoutDropIn)
	tr.config("keep") // the sshd step writes nothing: only ~/.ssh may change
	srv, url := startIMDS(t)
	sets := [][]key{newKeys(t, 1), newKeys(t, 2)}
	own := newKey(t, "alice-own")
	tr.mkdir("home/alice/.ssh", 0o700)
	tr.write("home/alice/.ssh/authorized_keys", "# alice's own lines\n"+own.line+"\n", 0o600)
	tr.chown("home/alice/.ssh", aliceUID)
	tr.chown("home/alice/.ssh/authorized_keys", aliceUID)
	args := tr.syncArgs(url, "alice")
	bind(srv, sets[0]...)
	if o := runAgent(t, time.Minute, args...); o.status != 0 {
		t.Fatalf("warm-up sync: status %d\n%s%s", o.status, o.stdout, o.stderr)
	}
	main := tr.path(a.target)
	alt := main + ".alt"
	must(t, a.make(tr, alt))
	before := snapshot(t, tr.root, outsideAlice)
	etcBefore := hostEtc(t)

	stop := make(chan struct{})
	var flips int
	var racer sync.WaitGroup
	racer.Go(func() {
		hostile := func(p string) bool {
			fi, err := os.Lstat(p)
			return err == nil && a.is(fi)
		}
		for {
			select {
			case <-stop:
				return
			default:
			}
			if !hostile(main) && !hostile(alt) {
				// The agent's rename replaced the hostile entry: plant it again.
				os.Remove(alt)
				if err := a.make(tr, alt); err != nil {
					t.Errorf("racer: %v", err)
					return
				}
			}
			if err := unix.Renameat2(unix.AT_FDCWD, main, unix.AT_FDCWD, alt, unix.RENAME_EXCHANGE); err == nil {
				flips++
			}
			time.Sleep(time.Duration(rand.IntN(200)) * time.Microsecond)
		}
	})
	for i := range syncs {
		bind(srv, sets[i%2]...)
		rec.run()
		o := runAgent(t, 30*time.Second, args...)
		slowest = max(slowest, o.elapsed)
		maxRSS = max(maxRSS, o.maxRSS)
		switch {
		case o.status == 0:
			written++
		case o.status == 1 && o.errorLine():
			refused++
		default:
			rec.fail("sync %d: status %d (want 0, or 1 with an error line)\n%s%s", i, o.status, o.stdout, o.stderr)
		}
	}
	close(stop)
	racer.Wait()
	rec.mu.Lock()
	rec.Faults += flips
	rec.mu.Unlock()

	after := snapshot(t, tr.root, outsideAlice)
	if diffs, n := compare(before, after); len(diffs) > 0 {
		rec.outside(max(n, 1), "files outside alice's ~/.ssh changed:\n%s", strings.Join(diffs, "\n"))
	}
	if etc := hostEtc(t); etc != etcBefore {
		rec.outside(1, "host /etc changed: %s -> %s", etcBefore, etc)
	}
	// Put the real entry back and check the next sync converges with
	// alice's own lines intact.
	if fi, err := os.Lstat(main); err != nil || a.is(fi) {
		must(t, unix.Renameat2(unix.AT_FDCWD, main, unix.AT_FDCWD, alt, unix.RENAME_EXCHANGE))
	}
	must(t, os.RemoveAll(alt))
	o := runAgent(t, time.Minute, args...)
	if o.status != 0 {
		rec.fail("sync after the attack: status %d\n%s%s", o.status, o.stdout, o.stderr)
	}
	got := tr.read("home/alice/.ssh/authorized_keys")
	if !strings.Contains(got, "# alice's own lines\n"+own.line+"\n") {
		rec.lost("alice's own lines are gone after the attack:\n%s", got)
	}
	t.Logf("%d syncs: %d refused, %d written; %d flips; slowest %v", syncs, refused, written, flips, slowest)
	return refused, written, slowest, maxRSS
}
