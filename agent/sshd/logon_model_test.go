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
