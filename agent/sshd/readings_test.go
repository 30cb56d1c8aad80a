package sshd

import (
	"os"
	"slices"
	"strings"
	"testing"
)

// TestTwoReadings covers the parser's model of sshd's two readings without
// sshd: TestDifferential checks the same against the real one.
func TestTwoReadings(t *testing.T) {
	const cfg = "/etc/ssh/sshd_config"
	alice := &connInfo{user: "alice", host: testAddr, addr: testAddr, laddr: testLAddr, lport: 22, groups: []string{"alice", "wheel"}}
	tests := []struct {
		name string
		conf string
		ci   *connInfo
		key  string
		want string // normalised as in the differential test
	}{
		{"match all overrides a global line", "PasswordAuthentication no\nMatch all\nPasswordAuthentication yes\n", alice, kwPassword, "yes"},
		{"match all replaces a global list", "AllowUsers a\nMatch all\nAllowUsers b\n", alice, kwAllowUsers, "b"},
		{"startup reads match all too", "AllowUsers a\nMatch all\nAllowUsers b\n", nil, kwAllowUsers, "a b"},
		{"usepam is never re-read", "UsePAM no\nMatch all\nUsePAM yes\n", alice, kwUsePAM, "no"},
		{"group negation refuses", "Match Group *,!wheel\nPasswordAuthentication no\n", alice, kwPassword, "yes"},
		{"group positive", "Match Group whe?l\nPasswordAuthentication no\n", alice, kwPassword, "no"},
		{"localport 022 is 22", "Match LocalPort 022\nPasswordAuthentication no\n", alice, kwPassword, "no"},
		{"mapped network is not v4", "Match Address ::ffff:192.0.2.1\nPasswordAuthentication no\n", alice, kwPassword, "yes"},
		{"rdomain without one", "Match RDomain *\nPasswordAuthentication no\n", alice, kwPassword, "yes"},
		{"quoted criteria", "Match \"User\" \"alice,bob\" # c\nPasswordAuthentication no\n", alice, kwPassword, "no"},
		{"equals criteria", "Match User = alice Host=192.0.2.*\nPasswordAuthentication no\n", alice, kwPassword, "no"},
		{"tilde in authorizedkeysfile", "AuthorizedKeysFile ~/.ssh/k %h/.ssh/k\n", alice, kwAuthorizedKeysFile, "/root/.ssh/k %h/.ssh/k"},
		{"algorithms expand", "PubkeyAcceptedKeyTypes ssh-ed*,ssh-ed25519\n", alice, kwPubkeyAlgs, "ssh-ed25519,ssh-ed25519-cert-v01@openssh.com"},
		{"algorithms minus all is the default", "PubkeyAcceptedAlgorithms -*\n", alice, kwPubkeyAlgs, defaultPubkeyAlgs},
		{"algorithms minus all re-read is empty", "Match all\nPubkeyAcceptedAlgorithms -*\n", alice, kwPubkeyAlgs, ""},
		{"algorithms minus all for the user is empty", "Match User alice\nPubkeyAcceptedAlgorithms -*\n", alice, kwPubkeyAlgs, ""},
		{"without-password", "PermitRootLogin Without-Password\n", alice, kwRootLogin, "prohibit-password"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := writeTree(t, map[string]string{cfg[1:]: tt.conf, "etc/passwd": "root:x:0:0:root:/root:/bin/sh\n"})
			c, err := parseConfig(newSource(root), cfg)
			if err != nil || len(c.problems) > 0 {
				t.Fatalf("parse: %v %q", err, c.problems)
			}
			if got := normalise(c.view(tt.ci))[tt.key]; got != tt.want {
				t.Errorf("%s = %q, want %q", tt.key, got, tt.want)
			}
		})
	}
}

// TestProblems: what sshd refuses, the parser reports; what it takes, the
// parser takes.
func TestProblems(t *testing.T) {
	_, err := os.Stat(sshdBin)
	withSSHD := err == nil && os.Geteuid() == 0
	for _, tt := range []struct {
		conf string
		bad  bool
	}{
		{"Match Exec true\n", true},
		{"Match User\n", true},
		{"Match all User x\n", true},
		{"Match User x all\n", true},
		{"Match User==x\n", true},
		{"Match User \"#x\"\n", true},
		{"Match User x=y\n", true},
		{"Match Address 192.0.2.1/24\n", true},
		{"Match Address 192.0.2.1/33\n", true},
		{"Match Address 192.0.2.1,\n", true},
		{"Match Address 192.0.2.1/3x\n", false},
		{"Match LocalPort 22,23\n", true},
		{"Match LocalPort 0\n", false},
		{"Match all # c\n", false},
		{"Match User x\nUsePAM yes\n", true},
		{"Match User x\nPort 22\n", true},
		{"Match all\nUsePAM yes\n", false},
		{"PasswordAuthentication no no\n", true},
		{"PasswordAuthentication==no\n", true},
		{"PermitRootLogin maybe\n", true},
		{"PubkeyAcceptedAlgorithms foo\n", true},
		{"PubkeyAcceptedAlgorithms !ssh-rsa\n", true},
		{"PubkeyAcceptedAlgorithms rsa\n", true},
		{"PubkeyAcceptedAlgorithms RSA,ssh-ed25519\n", false},
		{"PubkeyAcceptedAlgorithms ssh-ed25519,,foo\n", false},
		{"Match User x\nPubkeyAcceptedAlgorithms !ssh-rsa\n", false},
		{"AuthenticationMethods publickey,,password\n", true},
		{"AuthenticationMethods publickey any\n", true},
		{"AuthenticationMethods any publickey\n", true},
		{"AuthenticationMethods publickey\nMatch User x\nAuthenticationMethods any\n", true},
		{"Match User x\nAuthenticationMethods publickey any\n", false},
		{"AuthenticationMethods password\nPasswordAuthentication no\n", true},
		{"AuthenticationMethods password publickey\nPasswordAuthentication no\n", false},
		{"AuthenticationMethods hostbased\n", true},
		{"AuthenticationMethods keyboard-interactive:pam none\n", false},
		{"AuthorizedKeysFile ~nosuchuser/k\n", true},
		{"AllowUsers a@10.0.0.1/8\n", true},
		{"AllowUsers a@10.0.0.0/8\n", false},
		{"Include \"\"\n", true},
		{"Banner \"x\n", true},
	} {
		root := writeTree(t, map[string]string{"etc/ssh/sshd_config": tt.conf, "etc/passwd": "root:x:0:0:root:/root:/bin/sh\n"})
		c, err := parseConfig(newSource(root), "/etc/ssh/sshd_config")
		if err != nil {
			t.Fatal(err)
		}
		if (len(c.problems) > 0) != tt.bad {
			t.Errorf("%q: problems %q, want some: %v", tt.conf, c.problems, tt.bad)
		}
		if withSSHD {
			// And sshd agrees (TestDifferential insists on sshd in CI).
			res := runDiff(t, diffCase{files: map[string]string{"etc/ssh/sshd_config": tt.conf}, users: []string{"root"}}, sshdBin)
			for _, d := range res.disagree {
				t.Errorf("%q: %s", tt.conf, d)
			}
		}
	}
}

// TestOfflineDoubts: without sshd the agent reports what its parser cannot
// vouch for.
func TestOfflineDoubts(t *testing.T) {
	root := writeTree(t, map[string]string{
		"etc/ssh/sshd_config": "Match Group admins\n\tPubkeyAuthentication no\n" +
			"Match Address 10.0.0.0/8\n\tAuthorizedKeysFile /etc/ssh/keys/%u\n" +
			"Match User root\n\tAuthenticationMethods publickey any\n",
	})
	res, err := Inspect(t.Context(), Options{Root: root, Users: []string{"root"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Match Group admins (PubkeyAuthentication", "cannot be evaluated for root",
		"Match Address 10.0.0.0/8 sets AuthorizedKeysFile", `"any" must appear alone`} {
		if !slices.ContainsFunc(res.Warnings, func(w string) bool { return strings.Contains(w, want) }) {
			t.Errorf("no warning with %q in %q", want, res.Warnings)
		}
	}
}

func TestGlobName(t *testing.T) {
	for _, tt := range []struct {
		pattern, name string
		want          bool
	}{
		{"*.conf", "a.conf", true},
		{"*.conf", ".a.conf", false},
		{".*", ".a.conf", true},
		{"[!a]*", "a.conf", false},
		{"[!a]*", "b.conf", true},
		{"[^b]*", "b.conf", false},
		{"[a-c]?", "b1", true},
		{"[]a]", "]", true},
		{"[a", "[a", true},
		{"\\*", "*", true},
		{"\\*", "a", false},
		{"a*b*c", "aXbYbZc", true},
		{"a*b*c", "aXbYbZ", false},
	} {
		if got := matchName(tt.pattern, tt.name); got != tt.want {
			t.Errorf("matchName(%q, %q) = %v, want %v", tt.pattern, tt.name, got, tt.want)
		}
	}
}
