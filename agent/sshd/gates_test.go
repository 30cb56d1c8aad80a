package sshd

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ecs-keyagent/ecs-keyagent/agent/agenttest"
)

// TestLogonGates runs the sshd step against the real sshd -T for each gate
// that decides whether a key login can work, set globally and in Match
// blocks: where turning passwords off would leave the target with no way
// in, sshd's files stay byte for byte as they were and the reason names the
// gate and its line; where the target had no way in already, or keeps one,
// the change is made. It runs with each sshd of agenttest.SSHDs.
func TestLogonGates(t *testing.T) {
	for _, bin := range agenttest.SSHDs(t) {
		t.Run(bin.Label, func(t *testing.T) { testLogonGates(t, bin.Path) })
	}
}

func testLogonGates(t *testing.T, sshd string) {
	alice := Target{User: "alice", Home: "/home/alice", UID: 4242, Usable: 1, KeyTypes: []string{"ssh-ed25519"}}
	root := Target{User: "root", Home: "/root", UID: 0, Usable: 1, KeyTypes: []string{"ssh-ed25519"}}
	tests := []struct {
		name    string
		conf    string // the main file after HostKey
		target  Target
		refuse  string // substring of Report.Skipped; "" means the change is made
		noKbd   bool   // KbdInteractiveAuthentication must stay as it is
		keyOpen bool   // after the change, the key way is open
		warn    string // a warning that says passwords stay on; sshd -T then says yes
	}{
		{name: "PubkeyAuthentication no", conf: "PubkeyAuthentication no\n", target: alice,
			refuse: "PubkeyAuthentication no ({{dir}}/etc/ssh/sshd_config:2) would leave alice with no way to log in"},
		{name: "PubkeyAuthentication no, keyboard-interactive through PAM", conf: "UsePAM yes\nKbdInteractiveAuthentication yes\nPubkeyAuthentication no\n",
			target: alice, refuse: "PubkeyAuthentication no"},
		{name: "PubkeyAuthentication no in Match User", conf: "Match User alice\n\tPubkeyAuthentication no\n", target: alice,
			refuse: "PubkeyAuthentication no ({{dir}}/etc/ssh/sshd_config:3)"},
		{name: "PubkeyAuthentication no for another user", conf: "Match User bob\n\tPubkeyAuthentication no\n", target: alice, keyOpen: true},
		{name: "algorithms exclude the key type", conf: "PubkeyAcceptedAlgorithms rsa-sha2-512,rsa-sha2-256\n", target: alice,
			refuse: "PubkeyAcceptedAlgorithms rsa-sha2-512,rsa-sha2-256"},
		{name: "algorithms minus ed25519 in Match", conf: "Match User alice\n\tPubkeyAcceptedAlgorithms -ssh-ed25519*\n", target: alice,
			refuse: "accepts none of the key types ssh-ed25519"},
		{name: "AuthorizedKeysFile elsewhere", conf: "AuthorizedKeysFile /etc/ssh/keys/%u\n", target: alice,
			refuse: "AuthorizedKeysFile /etc/ssh/keys/%u"},
		{name: "PermitRootLogin no: root loses nothing", conf: "PermitRootLogin no\n", target: root},
		{name: "PermitRootLogin forced-commands-only", conf: "PermitRootLogin forced-commands-only\n", target: root},
		{name: "PermitRootLogin yes and no keys", conf: "PermitRootLogin yes\nPubkeyAuthentication no\n", target: root,
			refuse: "PubkeyAuthentication no"},
		{name: "PermitRootLogin prohibit-password", conf: "PermitRootLogin prohibit-password\n", target: root, keyOpen: true},
		{name: "DenyUsers: alice loses nothing", conf: "DenyUsers alice\n", target: alice},
		{name: "AllowUsers without alice", conf: "AllowUsers bob\n", target: alice},
		{name: "AllowUsers with alice", conf: "AllowUsers bob alice\n", target: alice, keyOpen: true},
		{name: "AllowGroups without hers", conf: "AllowGroups wheel\n", target: alice},
		{name: "key plus one-time code", conf: "UsePAM yes\nKbdInteractiveAuthentication yes\nAuthenticationMethods publickey,keyboard-interactive:pam\n",
			target: alice, noKbd: true, keyOpen: true},
		{name: "key plus password", conf: "AuthenticationMethods publickey,password\n", target: alice,
			refuse: "AuthenticationMethods publickey,password"},
		{name: "key or key plus code", conf: "UsePAM yes\nAuthenticationMethods publickey publickey,keyboard-interactive\n", target: alice, keyOpen: true},
		{name: "Match LocalPort on another port", conf: "Match LocalPort 2222\n\tPubkeyAuthentication no\n", target: alice, keyOpen: true},
		{name: "Match LocalPort on the only port", conf: "Port 2222\nMatch LocalPort 2222\n\tPubkeyAuthentication no\n", target: alice,
			refuse: "PubkeyAuthentication no"},
		{name: "Match LocalAddress elsewhere", conf: "Match LocalAddress 10.1.2.3\n\tPubkeyAuthentication no\n", target: alice, keyOpen: true},
		{name: "Match RDomain", conf: "Match RDomain vrf-blue\n\tPubkeyAuthentication no\n", target: alice, keyOpen: true},
		{name: "Match all allows passwords after the agent's settings", conf: "Match all\n\tPasswordAuthentication yes\n", target: alice, keyOpen: true,
			warn: "password login is still on for alice: PasswordAuthentication yes ({{dir}}/etc/ssh/sshd_config:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, map[string]string{mainFile: hostKeyL + forVersion(t, sshd, tt.conf)})
			f.sshd = sshd
			before := f.snapshot()
			var st Step
			o := f.options(&fakeReloader{})
			o.Password, o.KbdInteractive = Platform, Platform
			rep, err := st.Run(context.Background(), Request{Options: o, Targets: []Target{tt.target},
				KeyBound: true, Keys: []string{"SHA256:test"}, Now: time.Now()})
			if err != nil {
				t.Fatalf("Run: %v (%+v)", err, rep)
			}
			if tt.refuse != "" {
				if want := forVersion(t, sshd, f.expand(tt.refuse)); !strings.Contains(rep.Skipped, want) {
					t.Errorf("Skipped = %q, want it to contain %q", rep.Skipped, want)
				}
				sameFiles(t, "refused", f.snapshot(), before)
				return
			}
			if rep.Skipped != "" || len(rep.Changed) == 0 {
				t.Fatalf("step = %+v, want the change made", rep)
			}
			got := f.sshdT(tt.target.User)
			if want := map[bool]string{true: "yes", false: "no"}[tt.warn != ""]; got[kwPassword] != want {
				t.Errorf("after the change sshd -T says passwordauthentication %s, want %s", got[kwPassword], want)
			}
			if w := f.expand(tt.warn); w != "" && !slices.ContainsFunc(rep.Warnings, func(s string) bool { return strings.Contains(s, w) }) {
				t.Errorf("Warnings = %q, want one containing %q", rep.Warnings, w)
			}
			if tt.warn == "" && slices.ContainsFunc(rep.Warnings, func(s string) bool { return strings.Contains(s, "still on") }) {
				t.Errorf("Warnings = %q, want none saying passwords are still on", rep.Warnings)
			}
			if tt.noKbd && strings.Contains(f.snapshot()[dropIn].data+f.snapshot()[mainFile].data, "KbdInteractiveAuthentication no") {
				t.Errorf("the agent closed keyboard-interactive, the second factor")
			}
			if len(rep.Logons) != 1 || rep.Logons[0].Key.Open != tt.keyOpen {
				t.Errorf("Logons = %+v, want the key way open = %v", rep.Logons, tt.keyOpen)
			}
		})
	}
}
