package reliability

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// mountTmpfs mounts a tmpfs of size bytes at dir, owned by uid, and
// unmounts it when the test ends.
func mountTmpfs(t *testing.T, dir string, size, uid int) {
	opts := fmt.Sprintf("size=%d,mode=0755,uid=%d,gid=%d", size, uid, uid)
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, opts); err != nil {
		t.Fatalf("mount tmpfs on %s: %v", dir, err)
	}
	t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
}

// bindReadOnly makes dir read-only through a bind mount of itself; the
// returned function makes it writable again.
func bindReadOnly(t *testing.T, dir string) (writable func()) {
	if err := unix.Mount(dir, dir, "", unix.MS_BIND, ""); err != nil {
		t.Fatalf("bind %s: %v", dir, err)
	}
	t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
	if err := unix.Mount("", dir, "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY, ""); err != nil {
		t.Fatalf("remount %s read-only: %v", dir, err)
	}
	return func() {
		must(t, unix.Mount("", dir, "", unix.MS_REMOUNT|unix.MS_BIND, ""))
	}
}

// fill writes a file in dir that leaves about free bytes available.
func fill(t *testing.T, dir string, free int64) string {
	var st unix.Statfs_t
	must(t, unix.Statfs(dir, &st))
	avail := int64(st.Bavail) * st.Bsize
	p := dir + "/filler"
	f, err := os.Create(p)
	must(t, err)
	defer f.Close()
	if n := avail - free; n > 0 {
		f.Write(make([]byte, n)) // ENOSPC at the end is fine
	}
	return p
}

// fileSig is what must survive a failed sync: bytes, mode and owner.
func fileSig(t *testing.T, p string) string {
	data, err := os.ReadFile(p)
	if os.IsNotExist(err) {
		return "absent"
	}
	must(t, err)
	fi, err := os.Stat(p)
	must(t, err)
	st := fi.Sys().(*syscall.Stat_t)
	return fmt.Sprintf("%v %d:%d %q", fi.Mode(), st.Uid, st.Gid, data)
}

// TestDisks fills alice's home (a tiny tmpfs) and sshd's directory to a
// random point below what the new file needs, and makes each read-only by
// a bind mount; every sync must fail with a clear error, leave the files
// as they were and no temporary file, and the next sync after space or
// write access returns must converge.
func TestDisks(t *testing.T) {
	needRoot(t)
	rec := newRecord(t, "Full and read-only disks")
	rounds := scale(25, 3)
	var errs = map[string]bool{}
	for _, c := range []struct {
		name  string
		where string // "home" or "sshd"
		full  bool
	}{{"home full", "home", true}, {"home read-only", "home", false},
		{"sshd config full", "sshd", true}, {"sshd config read-only", "sshd", false}} {
		t.Run(c.name, func(t *testing.T) {
			tr := newTree(t, "")
			tr.config("disable")
			srv, url := startIMDS(t)
			args := tr.syncArgs(url, "alice")
			own := "# alice's own lines\n" + strings.Repeat("# padding line of a long authorized_keys\n", 1000) + newKey(t, "own").line + "\n"
			dir := tr.path("home/alice")
			if c.where == "sshd" {
				dir = tr.path("etc/ssh")
			}
			if c.full {
				mountTmpfs(t, dir, 256<<10, map[string]int{"home": aliceUID, "sshd": 0}[c.where])
			}
			tr.write("etc/ssh/sshd_config", layoutDropIn, 0o644)
			tr.mkdir("etc/ssh/sshd_config.d", 0o755)
			tr.write("etc/ssh/sshd_config.d/50-cloud-init.conf", cloudInit, 0o644)
			tr.mkdir("home/alice/.ssh", 0o700)
			tr.write("home/alice/.ssh/authorized_keys", own, 0o600)
			tr.chown("home/alice/.ssh", aliceUID)
			tr.chown("home/alice/.ssh/authorized_keys", aliceUID)
			watched := []string{"home/alice/.ssh/authorized_keys", "etc/ssh/sshd_config", "etc/ssh/sshd_config.d/00-ecs-keyagent.conf"}
			for i := range rounds {
				if c.where == "sshd" { // the sshd step has something to write again
					os.Remove(tr.path("etc/ssh/sshd_config.d/00-ecs-keyagent.conf"))
				}
				bind(srv, newKey(t, fmt.Sprintf("round-%d", i)))
				if c.where == "sshd" && i == 0 {
					// authorized_keys gets its key first; then only sshd's files fail.
					tr.config("keep")
					if o := runAgent(t, time.Minute, args...); o.status != 0 {
						t.Fatalf("first sync: %d\n%s%s", o.status, o.stdout, o.stderr)
					}
					tr.config("disable")
				}
				before := map[string]string{}
				for _, w := range watched {
					before[w] = fileSig(t, tr.path(w))
				}
				var undo func()
				if c.full {
					// Below what the new file needs (tmpfs counts whole pages):
					// authorized_keys is ~42 KiB, the drop-in under a page.
					free := rand.Int64N(8 << 10)
					if c.where == "sshd" {
						free = rand.Int64N(4 << 10)
					}
					filler := fill(t, dir, free)
					undo = func() { must(t, os.Remove(filler)) }
				} else {
					undo = bindReadOnly(t, dir)
				}
				rec.run()
				rec.fault()
				o := runAgent(t, time.Minute, args...)
				line := firstLine(o.stderr, "ecs-keyagent: error: ")
				errs[c.name+": "+errorCause(line)] = true
				if o.status != 1 || line == "" {
					rec.fail("round %d: status %d, error line %q; want 1 with an error line\n%s%s", i, o.status, line, o.stdout, o.stderr)
				}
				for _, w := range watched {
					if c.where == "sshd" && w == watched[0] {
						continue // the keys step may have succeeded before the sshd step failed
					}
					if got := fileSig(t, tr.path(w)); got != before[w] {
						rec.lost("round %d: %s changed by a failed sync:\n was %.200s\n now %.200s", i, w, before[w], got)
					}
				}
				undo()
				if left := tr.temps(); len(left) > 0 {
					rec.fail("round %d: temporary files left after the failure: %q", i, left)
				}
				if o := runAgent(t, time.Minute, args...); o.status != 0 {
					rec.fail("round %d: sync after space returned: status %d\n%s%s", i, o.status, o.stdout, o.stderr)
				}
				got := tr.read("home/alice/.ssh/authorized_keys")
				if !strings.HasPrefix(got, own) || !strings.Contains(got, fmt.Sprintf("round-%d", i)) {
					rec.lost("round %d: authorized_keys after convergence lacks alice's lines or the new key", i)
				}
				if _, err := os.Stat(tr.path("etc/ssh/sshd_config.d/00-ecs-keyagent.conf")); err != nil {
					rec.fail("round %d: drop-in missing after convergence: %v", i, err)
				}
			}
		})
	}
	var causes []string
	for e := range errs {
		causes = append(causes, e)
	}
	rec.figure("errors reported", strings.Join(sortedStrings(causes), "; "))
}

// errorCause keeps the end of an error line: the system's own words.
func errorCause(line string) string {
	if i := strings.LastIndex(line, ": "); i >= 0 {
		return line[i+2:]
	}
	return line
}

func sortedStrings(s []string) []string {
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
	return s
}
