package agenttest

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"testing"
)

// Account is a user of a scratch tree, as its etc/passwd has it.
type Account struct {
	Name     string
	UID, GID int
	Home     string // inside the tree, as the agent sees it: /home/NAME
}

// AddAccount appends a to root/etc/passwd (created 0644 if missing) and
// creates its home under root, mode 0755, owned by a.UID:a.GID.
// It serves callers without a testing.TB, such as testscript commands;
// tests use Root.AddUser.
func AddAccount(root string, a Account) error {
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(filepath.Join(root, "etc/passwd"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(f, "%s:x:%d:%d::%s:/bin/sh\n", a.Name, a.UID, a.GID, a.Home)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	home := filepath.Join(root, a.Home)
	if err := os.MkdirAll(home, 0o755); err != nil {
		return err
	}
	return chownMod(home, 0o755, a.UID, a.GID)
}

// chownMod sets the owner (unless uid is -1) and then the mode, past the umask.
func chownMod(p string, mode os.FileMode, uid, gid int) error {
	if uid >= 0 {
		if err := os.Lchown(p, uid, gid); err != nil {
			return err
		}
	}
	return os.Chmod(p, mode)
}

// Root is a scratch filesystem root for the agent's --root: a directory
// of the test's own, mode 0755, with etc/ and home/.
type Root struct {
	t     testing.TB
	Dir   string
	users int
}

// NewRoot makes an empty scratch root, removed when t ends.
func NewRoot(t testing.TB) *Root {
	t.Helper()
	r := &Root{t: t, Dir: t.TempDir()}
	if err := os.Chmod(r.Dir, 0o755); err != nil {
		t.Fatal(err)
	}
	r.Mkdir("etc", 0o755, -1, -1)
	r.Mkdir("home", 0o755, -1, -1)
	return r
}

// Path is the host path of rel, a path inside the tree ("etc/passwd" or
// "/etc/passwd").
func (r *Root) Path(rel string) string { return filepath.Join(r.Dir, rel) }

// AddUser adds a test user with a home: UserID and GroupID for the first,
// and as root a further distinct uid and gid for each next one (not root:
// every user is the one running the test).
func (r *Root) AddUser(name string) Account {
	r.t.Helper()
	uid, gid := UserID(), GroupID()
	if os.Geteuid() == 0 {
		uid, gid = uid+100*r.users, gid+100*r.users
	}
	r.users++
	return r.AddUserID(name, uid, gid)
}

// AddUserID adds a user with the given ids; a foreign uid needs root.
func (r *Root) AddUserID(name string, uid, gid int) Account {
	r.t.Helper()
	a := Account{Name: name, UID: uid, GID: gid, Home: path.Join("/home", name)}
	if name == "root" {
		a.Home = "/root"
	}
	if err := AddAccount(r.Dir, a); err != nil {
		r.t.Fatal(err)
	}
	return a
}

// Home is the host path of the user's home.
func (r *Root) Home(a Account) string { return r.Path(a.Home) }

// KeysFile is the host path of the user's ~/.ssh/authorized_keys.
func (r *Root) KeysFile(a Account) string { return filepath.Join(r.Home(a), ".ssh", "authorized_keys") }

// WriteKeys gives the user an authorized_keys holding content, as the user
// would have made it: ~/.ssh 0700 and the file 0600, both the user's.
func (r *Root) WriteKeys(a Account, content string) {
	r.t.Helper()
	r.Mkdir(path.Join(a.Home, ".ssh"), 0o700, a.UID, a.GID)
	r.WriteFile(path.Join(a.Home, ".ssh/authorized_keys"), content, 0o600, a.UID, a.GID)
}

// Mkdir creates rel, a path inside the tree (missing parents 0755 and the
// test's own), with mode and owner, or sets them on rel if it is already a
// directory; uid -1 keeps the test's. It returns the host path.
func (r *Root) Mkdir(rel string, mode os.FileMode, uid, gid int) string {
	r.t.Helper()
	p := r.Path(rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		r.t.Fatal(err)
	}
	if err := os.Mkdir(p, mode); err != nil && !os.IsExist(err) {
		r.t.Fatal(err)
	}
	if err := chownMod(p, mode, uid, gid); err != nil {
		r.t.Fatal(err)
	}
	return p
}

// WriteFile writes rel, a path inside the tree (missing parents 0755 and
// the test's own), with mode and owner; uid -1 keeps the test's. It
// returns the host path.
func (r *Root) WriteFile(rel, data string, mode os.FileMode, uid, gid int) string {
	r.t.Helper()
	p := r.Path(rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		r.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), mode); err != nil {
		r.t.Fatal(err)
	}
	if err := chownMod(p, mode, uid, gid); err != nil {
		r.t.Fatal(err)
	}
	return p
}
