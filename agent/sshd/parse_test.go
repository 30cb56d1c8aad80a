package sshd

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestSplitLine(t *testing.T) {
	tests := []struct {
		name    string
		line    string
		wantKw  string
		want    []string
		wantErr bool
	}{
		{name: "plain", line: "PasswordAuthentication no", wantKw: "PasswordAuthentication", want: []string{"no"}},
		{name: "equals", line: "PasswordAuthentication=no", wantKw: "PasswordAuthentication", want: []string{"no"}},
		{name: "spaced equals", line: "  PasswordAuthentication = no\t", wantKw: "PasswordAuthentication", want: []string{"no"}},
		{name: "quoted value", line: `Banner "/etc/my banner"`, wantKw: "Banner", want: []string{"/etc/my banner"}},
		{name: "quoted keyword", line: `"PasswordAuthentication" no`, wantKw: "PasswordAuthentication", want: []string{"no"}},
		{name: "trailing comment", line: "PasswordAuthentication no # closed", wantKw: "PasswordAuthentication", want: []string{"no"}},
		{name: "hash inside word", line: "Banner a#b", wantKw: "Banner", want: []string{"a#b"}},
		{name: "escaped space", line: `Include a\ b.conf c.conf`, wantKw: "Include", want: []string{"a b.conf", "c.conf"}},
		{name: "crlf", line: "UsePAM yes\r", wantKw: "UsePAM", want: []string{"yes"}},
		{name: "comment", line: "# PasswordAuthentication yes", wantKw: ""},
		{name: "indented comment", line: "\t#PasswordAuthentication yes", wantKw: ""},
		{name: "blank", line: "  \t", wantKw: ""},
		{name: "no argument", line: "PasswordAuthentication", wantErr: true},
		{name: "unbalanced quote", line: `Banner "oops`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kw, args, err := splitLine(tt.line)
			if (err != nil) != tt.wantErr {
				t.Fatalf("splitLine(%q) error = %v, want error %v", tt.line, err, tt.wantErr)
			}
			if kw != tt.wantKw || strings.Join(args, "|") != strings.Join(tt.want, "|") {
				t.Errorf("splitLine(%q) = %q %q, want %q %q", tt.line, kw, args, tt.wantKw, tt.want)
			}
		})
	}
}

// writeTree makes an offline tree under a temporary root.
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, content := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestEffective(t *testing.T) {
	const cfg = "/etc/ssh/sshd_config"
	tests := []struct {
		name      string
		files     map[string]string
		user      string
		addr      string
		wantPw    string
		wantKbd   string
		wantWhere string // file:line of the password value, "" for the default
	}{
		{name: "defaults", files: map[string]string{cfg: "UsePAM yes\n"}, wantPw: "yes", wantKbd: "yes"},
		{name: "first value wins", files: map[string]string{cfg: "PasswordAuthentication no\nPasswordAuthentication yes\n"},
			wantPw: "no", wantKbd: "yes", wantWhere: cfg + ":1"},
		{name: "case and alias", files: map[string]string{cfg: "passwordAUTHENTICATION No\nChallengeResponseAuthentication no\n"},
			wantPw: "no", wantKbd: "no", wantWhere: cfg + ":1"},
		{name: "relative include under etc/ssh in lexical order", files: map[string]string{
			cfg:                             "Include sshd_config.d/*.conf\nPasswordAuthentication no\n",
			"etc/ssh/sshd_config.d/b.conf":  "PasswordAuthentication no\n",
			"etc/ssh/sshd_config.d/a.conf":  "PasswordAuthentication yes\n",
			"etc/ssh/sshd_config.d/.x.conf": "PasswordAuthentication no\n",
		}, wantPw: "yes", wantKbd: "yes", wantWhere: "/etc/ssh/sshd_config.d/a.conf:1"},
		{name: "match user", files: map[string]string{cfg: "PasswordAuthentication no\nMatch User alice,bob\n  PasswordAuthentication yes\n"},
			user: "alice", wantPw: "yes", wantKbd: "yes", wantWhere: cfg + ":3"},
		{name: "match user negated", files: map[string]string{cfg: "PasswordAuthentication no\nMatch User *,!alice\n  PasswordAuthentication yes\n"},
			user: "alice", wantPw: "no", wantKbd: "yes", wantWhere: cfg + ":1"},
		{name: "match address cidr", files: map[string]string{cfg: "PasswordAuthentication no\nMatch Address 10.0.0.0/8\n  PasswordAuthentication yes\n"},
			user: "root", addr: "10.1.2.3", wantPw: "yes", wantKbd: "yes", wantWhere: cfg + ":3"},
		{name: "match address other", files: map[string]string{cfg: "PasswordAuthentication no\nMatch Address 10.0.0.0/8\n  PasswordAuthentication yes\n"},
			user: "root", addr: "192.0.2.1", wantPw: "no", wantKbd: "yes", wantWhere: cfg + ":1"},
		{name: "include inside match", files: map[string]string{
			cfg:                  "Match User alice\nInclude /etc/ssh/alice.conf\n",
			"etc/ssh/alice.conf": "PasswordAuthentication no\n",
		}, user: "alice", wantPw: "no", wantKbd: "yes", wantWhere: "/etc/ssh/alice.conf:1"},
		{name: "match in include ends with the file", files: map[string]string{
			cfg:              "Include /etc/ssh/m.conf\nPasswordAuthentication no\n",
			"etc/ssh/m.conf": "Match User bob\nX11Forwarding no\n",
		}, wantPw: "no", wantKbd: "yes", wantWhere: cfg + ":2"},
		{name: "match all is global again", files: map[string]string{cfg: "Match User bob\nX11Forwarding no\nMatch all\nPasswordAuthentication no\n"},
			wantPw: "no", wantKbd: "yes", wantWhere: cfg + ":4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := writeTree(t, tt.files)
			c, err := parseConfig(newSource(root), cfg)
			if err != nil {
				t.Fatal(err)
			}
			var ci *connInfo
			if tt.user != "" {
				ci = &connInfo{user: tt.user, host: "h", addr: tt.addr}
			}
			pw, d := c.effective(kwPassword, ci)
			kbd, _ := c.effective(kwKbd, ci)
			where := ""
			if d != nil {
				where = d.file + ":" + strconv.Itoa(d.line)
			}
			if pw != tt.wantPw || kbd != tt.wantKbd || where != tt.wantWhere {
				t.Errorf("effective = %s %s from %q, want %s %s from %q", pw, kbd, where, tt.wantPw, tt.wantKbd, tt.wantWhere)
			}
		})
	}
}

// TestOfflineTree: under another root the agent's parser checks, nothing
// is reloaded, and keep restores the tree.
func TestOfflineTree(t *testing.T) {
	root := writeTree(t, map[string]string{
		"etc/ssh/sshd_config":                      "Include /etc/ssh/sshd_config.d/*.conf\nUsePAM yes\nMatch Group admins\n  PasswordAuthentication yes\n",
		"etc/ssh/sshd_config.d/50-cloud-init.conf": "PasswordAuthentication yes\n",
	})
	rl := &fakeReloader{}
	o := Options{Root: root, Users: []string{"root"}, Reloader: rl}
	res, err := Apply(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	if res.CheckedBy != CheckedByParser || res.Reloaded || rl.count() != 0 || len(res.Warnings) != 1 {
		t.Errorf("Apply = %+v, want parser check, no reload, one warning", res)
	}
	if u := findUser(res, "root"); u.PasswordAuthentication != "no" || u.KbdInteractiveAuthentication != "no" {
		t.Errorf("root: %+v, want no and no", u)
	}
	if got := strings.Join(res.Changed, " "); got != "/etc/ssh/sshd_config.d/"+dropInName {
		t.Errorf("Changed = %q", got)
	}
	o.Password, o.KbdInteractive = Keep, Keep
	if _, err := Apply(t.Context(), o); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(root, "etc/ssh/sshd_config.d", dropInName)); !os.IsNotExist(err) {
		t.Errorf("drop-in still there after keep: %v", err)
	}
	insp, err := Inspect(t.Context(), Options{Root: root, Users: []string{"root"}})
	if err != nil || findUser(insp, "root").PasswordAuthentication != "yes" {
		t.Errorf("Inspect after keep = %+v, %v; want password yes again", insp, err)
	}
}

// TestEditRevert: revertMain undoes editMain byte for byte.
func TestEditRevert(t *testing.T) {
	for _, in := range []string{"", "a b", "a b\n", "PasswordAuthentication yes", "x\r\nPasswordAuthentication yes\r\nMatch User a\r\n"} {
		roundTrip(t, []byte(in))
	}
}

func roundTrip(t *testing.T, in []byte) {
	t.Helper()
	root := t.TempDir()
	src := newSource(root)
	src.set("/c", in)
	c, err := parseConfig(src, "/c")
	if err != nil {
		t.Fatal(err)
	}
	edited := editMain(in, c, []string{kwPassword, kwKbd})
	back, err := revertMain(edited)
	if err != nil || !bytes.Equal(back, in) {
		t.Errorf("revertMain(editMain(%q)) = %q, %v", in, back, err)
	}
}

// TestParseViewOldNames reads sshd -T output as OpenSSH 8.4 prints it
// (lines copied from Debian 11's sshd): PubkeyAcceptedKeyTypes under its
// old name, and both kbd-interactive lines.
func TestParseViewOldNames(t *testing.T) {
	out := "kbdinteractiveauthentication yes\nchallengeresponseauthentication no\n" +
		"pubkeyacceptedkeytypes rsa-sha2-512,rsa-sha2-256\npasswordauthentication yes\n"
	v := parseView([]byte(out))
	if got, want := v.get(kwPubkeyAlgs), "rsa-sha2-512,rsa-sha2-256"; got != want {
		t.Errorf("parseView(8.4 output).get(%s) = %q, want %q", kwPubkeyAlgs, got, want)
	}
	if got, want := v.get(kwKbd), "yes"; got != want {
		t.Errorf("parseView(8.4 output).get(%s) = %q, want %q", kwKbd, got, want)
	}
	// sshd 8.5 and later print the new name only; it is taken as it is.
	v = parseView([]byte("pubkeyacceptedalgorithms ssh-ed25519\n"))
	if got, want := v.get(kwPubkeyAlgs), "ssh-ed25519"; got != want {
		t.Errorf("parseView(9.2 output).get(%s) = %q, want %q", kwPubkeyAlgs, got, want)
	}
}
