package reliability

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/ecs-keyagent/ecs-keyagent/agent/metadata/emulator"
)

// Test users of every tree: alice is the target, bob her neighbour.
const (
	aliceUID = 4242
	bobUID   = 4343
)

// tree is a scratch filesystem root for `ecs-keyagent sync --root`, built
// like the testscript trees of cmd/ecs-keyagent: etc/passwd, homes owned by
// their users, an sshd configuration.
type tree struct {
	t    testing.TB
	root string
}

// Layouts of sshd's configuration: a Debian 12 style Include of
// sshd_config.d first, and a main file without Include (CentOS 7 style).
const (
	// layoutDropIn: Debian 12 / Ubuntu; the agent writes 00-ecs-keyagent.conf.
	layoutDropIn = "Include /etc/ssh/sshd_config.d/*.conf\nUsePAM yes\nX11Forwarding yes\n"
	// layoutMain: CentOS 7 style, no Include; the agent edits the main file.
	layoutMain = "Port 22\nPasswordAuthentication yes\nUsePAM yes\nMatch User nobody\n  X11Forwarding no\n"
	cloudInit  = "PasswordAuthentication yes\n"
)

func newTree(t testing.TB, sshdConfig string) *tree {
	t.Helper()
	tr := &tree{t: t, root: t.TempDir()}
	must(t, os.Chmod(tr.root, 0o755))
	tr.mkdir("etc/ssh/sshd_config.d", 0o755)
	tr.mkdir("home", 0o755)
	tr.write("etc/passwd", "root:x:0:0::/root:/bin/sh\n", 0o644)
	tr.write("etc/shadow", "root:$6$secret:19000:0:99999:7:::\n", 0o640)
	tr.write("etc/hostname", "reliability\n", 0o644)
	if sshdConfig != "" {
		tr.write("etc/ssh/sshd_config", sshdConfig, 0o644)
		tr.write("etc/ssh/sshd_config.d/50-cloud-init.conf", cloudInit, 0o644)
	}
	tr.addUser("alice", aliceUID)
	tr.addUser("bob", bobUID)
	tr.mkdir("home/bob/.ssh", 0o700)
	tr.write("home/bob/.ssh/authorized_keys", "# bob's own key\n"+newKey(t, "bob").line+"\n", 0o600)
	tr.chown("home/bob/.ssh", bobUID)
	tr.chown("home/bob/.ssh/authorized_keys", bobUID)
	return tr
}

func (tr *tree) path(rel string) string { return filepath.Join(tr.root, rel) }

func (tr *tree) mkdir(rel string, mode fs.FileMode) {
	tr.t.Helper()
	must(tr.t, os.MkdirAll(tr.path(rel), mode))
	must(tr.t, os.Chmod(tr.path(rel), mode))
}

func (tr *tree) write(rel, content string, mode fs.FileMode) {
	tr.t.Helper()
	must(tr.t, os.WriteFile(tr.path(rel), []byte(content), mode))
	must(tr.t, os.Chmod(tr.path(rel), mode))
}

func (tr *tree) read(rel string) string {
	tr.t.Helper()
	b, err := os.ReadFile(tr.path(rel))
	if err != nil && !os.IsNotExist(err) {
		tr.t.Fatal(err)
	}
	return string(b)
}

func (tr *tree) chown(rel string, uid int) {
	tr.t.Helper()
	if os.Geteuid() == 0 {
		must(tr.t, os.Lchown(tr.path(rel), uid, uid))
	}
}

// addUser appends to etc/passwd and makes a 0755 home owned by the user.
func (tr *tree) addUser(name string, uid int) {
	tr.t.Helper()
	f, err := os.OpenFile(tr.path("etc/passwd"), os.O_APPEND|os.O_WRONLY, 0)
	must(tr.t, err)
	_, err = fmt.Fprintf(f, "%s:x:%d:%d::/home/%s:/bin/sh\n", name, uid, uid, name)
	must(tr.t, err)
	must(tr.t, f.Close())
	tr.mkdir("home/"+name, 0o755)
	tr.chown("home/"+name, uid)
}

// config writes the agent's configuration file; extra goes before [sshd].
func (tr *tree) config(passwords string, extra ...string) {
	tr.t.Helper()
	tr.mkdir("etc/ecs-keyagent", 0o755)
	tr.write("etc/ecs-keyagent/config.toml", fmt.Sprintf(
		"request_timeout = \"2s\"\n%s[sshd]\npassword_authentication = %q\nkeyboard_interactive = %q\n",
		strings.Join(extra, ""), passwords, passwords), 0o644)
}

// syncArgs are the arguments of one sync of users against endpoint.
func (tr *tree) syncArgs(endpoint string, users ...string) []string {
	args := []string{"sync", "--root", tr.root, "--endpoint", endpoint}
	for _, u := range users {
		args = append(args, "--user", u)
	}
	return args
}

// temps lists the agent's temporary files left anywhere in the tree.
func (tr *tree) temps() []string {
	var out []string
	filepath.WalkDir(tr.root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.Contains(d.Name(), ".ecs-keyagent-") {
			out = append(out, strings.TrimPrefix(p, tr.root))
		}
		return nil
	})
	return out
}

// key is a fresh ed25519 public key.
type key struct {
	line string // authorized_keys line with comment
	fp   string
}

func newKey(t testing.TB, comment string) key {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	must(t, err)
	sp, err := ssh.NewPublicKey(pub)
	must(t, err)
	return key{line: strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sp))) + " " + comment, fp: ssh.FingerprintSHA256(sp)}
}

func newKeys(t testing.TB, n int) []key {
	ks := make([]key, n)
	for i := range ks {
		ks[i] = newKey(t, fmt.Sprintf("key-%d", i))
	}
	return ks
}

// keySetter is an emulator in this process or in its own (imdsProcess).
type keySetter interface{ SetKeys(keys ...emulator.Key) }

// bind makes the emulator serve ks, ids skp-<n>.
func bind(srv keySetter, ks ...key) {
	var eks []emulator.Key
	for i, k := range ks {
		eks = append(eks, emulator.Key{ID: fmt.Sprintf("skp-%d", i), Body: k.line + "\n"})
	}
	srv.SetKeys(eks...)
}

// startIMDS starts an emulator on loopback.
func startIMDS(t testing.TB) (*emulator.Server, string) {
	srv := emulator.New()
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	return srv, hs.URL
}

// entry is what a snapshot keeps of one path.
type entry struct {
	size  int64
	mode  fs.FileMode
	uid   uint32
	gid   uint32
	mtime int64
	nlink uint64
	hash  string // content of a file, target of a symlink
}

func (e entry) String() string {
	return fmt.Sprintf("size %d mode %v uid %d gid %d mtime %d links %d hash %.12s", e.size, e.mode, e.uid, e.gid, e.mtime, e.nlink, e.hash)
}

// snapshot records every path under dir for which keep says true. Large
// sparse files are hashed by size only (the 1 GiB attack file).
func snapshot(t testing.TB, dir string, keep func(rel string) bool) map[string]entry {
	t.Helper()
	out := map[string]entry{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) {
				return nil // removed by a racer while walking
			}
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if !keep(rel) {
			if d.IsDir() && rel != "." {
				return filepath.SkipDir
			}
			return nil
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return nil
		}
		st := fi.Sys().(*syscall.Stat_t)
		e := entry{size: fi.Size(), mode: fi.Mode(), uid: st.Uid, gid: st.Gid, mtime: st.Mtim.Nano(), nlink: uint64(st.Nlink)}
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			e.hash, _ = os.Readlink(p)
		case fi.Mode().IsRegular() && fi.Size() <= 64<<20:
			e.hash = hashFile(p)
		}
		out[rel] = e
		return nil
	})
	must(t, err)
	return out
}

func hashFile(p string) string {
	f, err := os.Open(p)
	if err != nil {
		return "unreadable: " + err.Error()
	}
	defer f.Close()
	h := sha256.New()
	io.Copy(h, f)
	return hex.EncodeToString(h.Sum(nil))
}

// compare returns each difference between two snapshots and the bytes of
// new or changed files.
func compare(before, after map[string]entry) (diffs []string, bytes int64) {
	for p, a := range after {
		b, ok := before[p]
		switch {
		case !ok:
			diffs = append(diffs, "new: "+p+": "+a.String())
			bytes += a.size
		case a != b:
			diffs = append(diffs, "changed: "+p+": "+b.String()+" -> "+a.String())
			if a.hash != b.hash {
				bytes += a.size
			}
		}
	}
	for p := range before {
		if _, ok := after[p]; !ok {
			diffs = append(diffs, "removed: "+p)
		}
	}
	return diffs, bytes
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
