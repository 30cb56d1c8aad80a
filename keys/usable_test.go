package keys

import (
	"slices"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

func TestUsableKeys(t *testing.T) {
	ed, ed2, ed3 := edPub(t, 1), edPub(t, 2), edPub(t, 3)
	rsa1024, rsa768 := rsaPub(t, 1024), rsaPub(t, 768)
	dsa := dsaBlob(t)
	managed := testKeys(t, 1)[0]
	fp := ssh.FingerprintSHA256
	tests := []struct {
		name  string
		line  string
		want  string // fingerprint, "" when the line is not usable
		wantL string // Line when it differs from line
	}{
		{name: "plain", line: line(ed, "a"), want: fp(ed)},
		{name: "restrict", line: "restrict " + line(ed2, ""), want: fp(ed2)},
		{name: "command", line: `command="/usr/bin/uptime",no-pty ` + line(ed3, "c"), want: fp(ed3)},
		{name: "from", line: `from="192.0.2.0/24" ` + line(ed, ""), want: fp(ed)},
		{name: "crlf and indent", line: "  " + line(ed2, "w") + "\r", want: fp(ed2), wantL: line(ed2, "w")},
		{name: "rsa 1024 meets sshd default", line: line(rsa1024, ""), want: fp(rsa1024)},
		{name: "managed block key", line: blockOf(managed), want: managed.Fingerprint, wantL: managed.Line},
		{name: "cert-authority", line: "cert-authority " + line(ed, ""), want: ""},
		{name: "cert-authority upper case", line: `CERT-AUTHORITY,principals="root" ` + line(ed, ""), want: ""},
		{name: "certificate", line: line(certPub(t), ""), want: ""},
		{name: "rsa 768", line: line(rsa768, ""), want: ""},
		{name: "dsa", line: blobLine(t, dsa, ""), want: ""},
		{name: "comment", line: "#" + line(ed, ""), want: ""},
		{name: "blank", line: " \t", want: ""},
		{name: "garbage", line: "ssh-ed25519 AAAA not-a-key", want: ""},
		{name: "unmatched quote", line: `command="x ` + line(ed, ""), want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := UsableKeys([]byte(tt.line))
			if tt.want == "" {
				if len(got) != 0 {
					t.Errorf("UsableKeys(%q) = %+v, want none", tt.line, got)
				}
				return
			}
			wantL := tt.line
			if tt.wantL != "" {
				wantL = tt.wantL
			}
			if len(got) != 1 || got[0].Fingerprint != tt.want || got[0].Line != wantL {
				t.Errorf("UsableKeys(%q) = %+v, want one key %s with line %q", tt.line, got, tt.want, wantL)
			}
		})
	}

	// All lines in one file: the usable ones come back in file order.
	var file []string
	var want []string
	for _, tt := range tests {
		file = append(file, tt.line)
		if tt.want != "" {
			want = append(want, tt.want)
		}
	}
	data := strings.Join(file, "\n")
	var got []string
	for _, k := range UsableKeys([]byte(data)) {
		got = append(got, k.Fingerprint)
	}
	if !slices.Equal(got, want) {
		t.Errorf("UsableKeys(%q) fingerprints = %q, want %q", data, got, want)
	}
}

func TestUsableKeysFields(t *testing.T) {
	ed := edPub(t, 4)
	got := UsableKeys([]byte("restrict " + line(ed, "me@host") + "\n"))
	want := []Key{{Type: "ssh-ed25519", Bits: 256, Fingerprint: ssh.FingerprintSHA256(ed), Comment: "me@host", Line: "restrict " + line(ed, "me@host")}}
	if !slices.Equal(got, want) {
		t.Errorf("UsableKeys = %+v, want %+v", got, want)
	}
}
