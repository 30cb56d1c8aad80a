package sshd

import (
	"strings"
	"testing"
)

// The logon model on views alone: FIPS mode refuses ed25519 keys, and a key
// of another type still opens the key way.
func TestLogonFIPS(t *testing.T) {
	v := view{vals: map[string][]string{}, where: map[string]string{}, fips: true}
	ed := Target{User: "alice", Home: "/home/alice", UID: 1000, Usable: 1, KeyTypes: []string{"ssh-ed25519"}}
	if l := logon(ed, v, testAddr, nil); l.Key.Open || !strings.Contains(l.Key.Gate, "FIPS mode") {
		t.Errorf("ed25519 key in FIPS mode: key way %+v, want closed by FIPS mode", l.Key)
	}
	both := ed
	both.KeyTypes = []string{"ssh-ed25519", "ecdsa-sha2-nistp256"}
	if l := logon(both, v, testAddr, nil); !l.Key.Open {
		t.Errorf("an ECDSA key beside it in FIPS mode: key way %+v, want open", l.Key)
	}
	v.fips = false
	if l := logon(ed, v, testAddr, nil); !l.Key.Open {
		t.Errorf("ed25519 key without FIPS mode: key way %+v, want open", l.Key)
	}
}

// A user whose /etc/shadow entry holds no usable password has no password
// way, whatever sshd allows; turning passwords off then takes nothing.
func TestLogonNoPassword(t *testing.T) {
	v := view{vals: map[string][]string{kwUsePAM: {"yes"}}, where: map[string]string{}}
	u := Target{User: "ecs-user", Home: "/home/ecs-user", UID: 1000}
	if l := logon(u, v, testAddr, nil); !l.Password.Open {
		t.Fatalf("with a password: %+v, want the password way open", l.Password)
	}
	u.NoPassword = true
	if l := logon(u, v, testAddr, nil); l.Password.Open || !strings.Contains(l.Password.Gate, "no usable password") || l.Any() {
		t.Errorf("locked password, no key: %+v, want no way in, naming the password", l)
	}
}
