package account

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestReadPasswords(t *testing.T) {
	root := t.TempDir()
	write := func(name, data string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, "etc", name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	got, err := ReadPasswords(root, []string{"root"})
	if err != nil || len(got) != 0 {
		t.Fatalf("ReadPasswords without /etc/shadow = %v, %v, want nothing", got, err)
	}
	write("shadow", "root:$6$salt$hash:20000:0:99999:7:::\n"+
		"locked:!$6$salt$hash:20000:0:99999:7:::\n"+
		"nopw:*:20000:0:99999:7:::\n"+
		"empty::20000:0:99999:7:::\n")
	got, err = ReadPasswords(root, []string{"root", "locked", "nopw", "empty", "ghost"})
	if err != nil {
		t.Fatal(err)
	}
	for name, usable := range map[string]bool{"root": true, "locked": false, "nopw": false, "empty": false} {
		if p, ok := got[name]; !ok || p.Usable != usable || len(p.Digest) != 64 {
			t.Errorf("ReadPasswords[%s] = %+v, %v, want usable %v and a digest", name, p, ok, usable)
		}
	}
	if !got["locked"].Locked || got["root"].Locked {
		t.Errorf("Locked: locked %v, root %v, want true, false", got["locked"].Locked, got["root"].Locked)
	}
	if _, ok := got["ghost"]; ok {
		t.Errorf("ReadPasswords gave an entry for a user without one")
	}
	before := got["root"].Digest
	// chpasswd sets a new hash and the day of the change.
	write("shadow", "root:$6$salt2$hash2:20001:0:99999:7:::\n")
	got, _ = ReadPasswords(root, []string{"root"})
	if got["root"].Digest == before {
		t.Errorf("digest unchanged after a password reset")
	}
	write("shadow", "root:$6$salt2$hash2:20001:0:99999:8:::\n")
	again, _ := ReadPasswords(root, []string{"root"})
	write("shadow", "old:$6$x:20000:0:99999:7::1:\nnew:$6$x:20000:0:99999:7::99999:\n")
	exp, _ := ReadPasswords(root, []string{"old", "new"})
	if !exp["old"].Expired || exp["new"].Expired {
		t.Errorf("Expired: old %v, new %v, want true, false", exp["old"].Expired, exp["new"].Expired)
	}
	if again["root"].Digest != got["root"].Digest {
		t.Errorf("digest changed with a field other than the hash and the change date")
	}
}

func TestGroups(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	group := "root:x:0:\nwheel:x:10:alice,bob\nalice:x:1000:\nstaff:x:50:carol\n"
	if err := os.WriteFile(filepath.Join(root, "etc/group"), []byte(group), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := Groups(root, Account{Name: "alice", UID: 1000, GID: 1000, Home: "/home/alice"})
	if err != nil || !slices.Equal(got, []string{"wheel", "alice"}) {
		t.Errorf("Groups(alice) = %q, %v, want [wheel alice]", got, err)
	}
}
