package keys

import (
	"crypto/elliptic"
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

// UsableTypes and AnyUsable say what UsableKeys would, without rendering.
func TestUsableTypesAndAny(t *testing.T) {
	ed, rsa1024, rsa768 := edPub(t, 1), rsaPub(t, 1024), rsaPub(t, 768)
	ec := ecdsaPub(t, elliptic.P256())
	tests := []struct {
		name  string
		data  string
		n     int
		types []string
	}{
		{name: "empty", data: ""},
		{name: "comments and garbage", data: "# x\n\nssh-ed25519 AAAA\n"},
		{name: "refused only", data: line(rsa768, "") + "\ncert-authority " + line(ed, "") + "\n"},
		{name: "one", data: line(ed, "a") + "\n", n: 1, types: []string{"ssh-ed25519"}},
		{name: "types in order, once", data: line(rsa1024, "") + "\n" + line(ed, "") + "\nrestrict " + line(ed, "") + "\n" + line(ec, "") + "\r\n",
			n: 4, types: []string{"ssh-rsa", "ssh-ed25519", "ecdsa-sha2-nistp256"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, types := UsableTypes([]byte(tt.data))
			if n != tt.n || !slices.Equal(types, tt.types) {
				t.Errorf("UsableTypes(%q) = %d, %q, want %d, %q", tt.data, n, types, tt.n, tt.types)
			}
			if got := AnyUsable([]byte(tt.data)); got != (tt.n > 0) {
				t.Errorf("AnyUsable(%q) = %v, want %v", tt.data, got, tt.n > 0)
			}
			if got := len(UsableKeys([]byte(tt.data))); got != tt.n {
				t.Errorf("UsableKeys(%q) has %d keys, want %d", tt.data, got, tt.n)
			}
		})
	}
}

// Usable says of a key ParseKey returned what UsableKeys says of its line.
func TestUsable(t *testing.T) {
	for _, tt := range []struct {
		name string
		pub  ssh.PublicKey
		min  int
	}{
		{"ed25519", edPub(t, 1), 0},
		{"ecdsa", ecdsaPub(t, elliptic.P384()), 0},
		{"rsa 2048", rsaPub(t, 2048), 0},
		{"rsa 1024 with a low min_rsa_bits", rsaPub(t, 1024), 1024},
		{"rsa 768 with a lower one", rsaPub(t, 768), 512},
	} {
		t.Run(tt.name, func(t *testing.T) {
			k, err := ParseKey([]byte(line(tt.pub, "c")), Policy{MinRSABits: tt.min})
			if err != nil {
				t.Fatal(err)
			}
			if got, want := Usable(k), len(UsableKeys([]byte(k.Line))) == 1; got != want {
				t.Errorf("Usable(%s) = %v, UsableKeys of its line says %v", k.Line, got, want)
			}
		})
	}
}
