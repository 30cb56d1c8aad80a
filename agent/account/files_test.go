package account

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/ecs-keyagent/ecs-keyagent/agent/filestamp"
)

// Files answers again from a changed file however it changed: the same
// size with the mtime put back, a rename over it, removal. Each file is
// first read once its stamp has settled, so the answer is kept and only
// the stamp can tell it is stale.
func TestFilesSeeChanges(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	etc := filepath.Join(root, "etc")
	if err := os.MkdirAll(etc, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name, data string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(etc, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// sameSize rewrites name with data, which has the old content's size,
	// and puts the old mtime back: only the ctime tells.
	sameSize := func(name, data string) {
		t.Helper()
		fi, err := os.Stat(filepath.Join(etc, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() != int64(len(data)) {
			t.Fatalf("%s: new content is %d bytes, old %d", name, len(data), fi.Size())
		}
		write(name, data)
		if err := os.Chtimes(filepath.Join(etc, name), fi.ModTime(), fi.ModTime()); err != nil {
			t.Fatal(err)
		}
	}
	write("passwd", "alice:x:1000:1000::/home/alice:/bin/sh\n")
	write("group", "alice:x:1000:\nwheel:x:10:alicf\n")
	write("shadow", "alice:$6$a$hash1:20000:0:99999:7:::\n")
	time.Sleep(filestamp.Settle + 50*time.Millisecond)

	f := NewFiles(root)
	a, err := f.Lookup("alice")
	if err != nil || a.Home != "/home/alice" {
		t.Fatalf("Lookup(alice) = %+v, %v", a, err)
	}
	if _, err := f.Lookup("bob"); !errors.Is(err, ErrNoUser) {
		t.Fatalf("Lookup(bob) = %v, want ErrNoUser", err)
	}
	g, err := f.Groups(a)
	if err != nil || !slices.Equal(g, []string{"alice"}) {
		t.Fatalf("Groups = %v, %v", g, err)
	}
	pw, err := f.ReadPasswords([]string{"alice"})
	if err != nil || !pw["alice"].Usable {
		t.Fatalf("ReadPasswords = %v, %v", pw, err)
	}
	digest := pw["alice"].Digest
	// Asked again, unchanged: the same answers.
	if b, err := f.Lookup("alice"); err != nil || b != a {
		t.Fatalf("Lookup(alice) again = %+v, %v", b, err)
	}

	sameSize("passwd", "alice:x:1000:1000::/home/alicx:/bin/sh\n")
	if got, err := f.Lookup("alice"); err != nil || got.Home != "/home/alicx" {
		t.Errorf("after a same-size edit, Lookup(alice) = %+v, %v; want home /home/alicx", got, err)
	}
	sameSize("group", "alice:x:1000:\nwheel:x:10:alice\n")
	if got, err := f.Groups(a); err != nil || !slices.Equal(got, []string{"alice", "wheel"}) {
		t.Errorf("after a same-size edit, Groups = %v, %v; want [alice wheel]", got, err)
	}
	sameSize("shadow", "alice:$6$a$hash2:20000:0:99999:7:::\n")
	if got, err := f.ReadPasswords([]string{"alice"}); err != nil || got["alice"].Digest == digest {
		t.Errorf("after a password change of the same size, ReadPasswords = %v, %v: digest unchanged", got, err)
	}

	// A new group file put in place by rename, as groupadd does.
	time.Sleep(filestamp.Settle + 50*time.Millisecond) // the answers above are kept again
	if got, err := f.Groups(a); err != nil || !slices.Equal(got, []string{"alice", "wheel"}) {
		t.Fatalf("Groups = %v, %v; want [alice wheel]", got, err)
	}
	write("group.new", "alice:x:1000:\nwheel:x:10:\n")
	if err := os.Rename(filepath.Join(etc, "group.new"), filepath.Join(etc, "group")); err != nil {
		t.Fatal(err)
	}
	if got, err := f.Groups(a); err != nil || !slices.Equal(got, []string{"alice"}) {
		t.Errorf("after a rename over group, Groups = %v, %v; want [alice]", got, err)
	}
	if err := os.Remove(filepath.Join(etc, "shadow")); err != nil {
		t.Fatal(err)
	}
	if got, err := f.ReadPasswords([]string{"alice"}); err != nil || len(got) != 0 {
		t.Errorf("after shadow was removed, ReadPasswords = %v, %v; want nothing", got, err)
	}
	write("passwd", "alice:x:1000:1000::/home/alice:/bin/sh\nbob:x:1001:1001::/home/bob:/bin/sh\n")
	if got, err := f.Lookup("bob"); err != nil || got.UID != 1001 {
		t.Errorf("after bob was added, Lookup(bob) = %+v, %v", got, err)
	}
}

// The expiry is judged when asked, not when the file was read: a kept
// answer does not keep an account from expiring.
func TestFilesExpiryAtEachCall(t *testing.T) {
	t.Parallel()
	e := shadowEntry{found: true, expires: 20000}
	if e.password(time.Unix(19999*86400, 0)).Expired {
		t.Error("expired the day before")
	}
	if !e.password(time.Unix(20000*86400, 0)).Expired {
		t.Error("not expired on the day")
	}
	if (shadowEntry{found: true, expires: -1}).password(time.Unix(1<<40, 0)).Expired {
		t.Error("no expiry date, expired")
	}
}
