package keys

import (
	"crypto/elliptic"
	"errors"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

func TestParseKeyAccepts(t *testing.T) {
	ed := edPub(t, 1)
	p256, p384, p521 := ecdsaPub(t, elliptic.P256()), ecdsaPub(t, elliptic.P384()), ecdsaPub(t, elliptic.P521())
	rsa1024, rsa2048, rsa4096 := rsaPub(t, 1024), rsaPub(t, 2048), rsaPub(t, 4096)
	skEd, err := ssh.ParsePublicKey(skEd25519Blob(t))
	if err != nil {
		t.Fatal(err)
	}
	skEC, err := ssh.ParsePublicKey(skECDSABlob(t))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		body   string
		policy Policy
		want   Key
	}{
		{name: "ed25519 with comment", body: line(ed, "alice@laptop"), want: key(ed, 256, "alice@laptop")},
		{name: "ed25519 without comment", body: line(ed, ""), want: key(ed, 256, "")},
		{name: "one trailing newline", body: line(ed, "c") + "\n", want: key(ed, 256, "c")},
		{name: "surrounding spaces", body: "  " + line(ed, "c") + "  \n", want: key(ed, 256, "c")},
		{name: "tabs separate fields", body: strings.ReplaceAll(line(ed, "c"), " ", "\t"), want: key(ed, 256, "c")},
		{name: "comment with inner spaces", body: line(ed, "skp-bp1x  imported key"), want: key(ed, 256, "skp-bp1x  imported key")},
		{name: "non-ascii comment dropped", body: line(ed, "josé@laptop"), want: key(ed, 256, "")},
		{name: "tab inside comment drops it", body: line(ed, "a\tb"), want: key(ed, 256, "")},
		{name: "ecdsa p256", body: line(p256, "k"), want: key(p256, 256, "k")},
		{name: "ecdsa p384", body: line(p384, "k"), want: key(p384, 384, "k")},
		{name: "ecdsa p521", body: line(p521, "k"), want: key(p521, 521, "k")},
		{name: "rsa 2048 at the default minimum", body: line(rsa2048, "k"), want: key(rsa2048, 2048, "k")},
		{name: "rsa 4096", body: line(rsa4096, ""), want: key(rsa4096, 4096, "")},
		{name: "rsa 1024 with min_rsa_bits 1024", body: line(rsa1024, ""), policy: Policy{MinRSABits: 1024}, want: key(rsa1024, 1024, "")},
		{name: "negative min_rsa_bits means default", body: line(rsa2048, ""), policy: Policy{MinRSABits: -1}, want: key(rsa2048, 2048, "")},
		{name: "sk-ssh-ed25519", body: line(skEd, "yubikey"), want: key(skEd, 256, "yubikey")},
		{name: "sk-ecdsa-sha2-nistp256", body: line(skEC, ""), want: key(skEC, 256, "")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseKey([]byte(tt.body), tt.policy)
			if err != nil {
				t.Fatalf("ParseKey(%q) error: %v", tt.body, err)
			}
			if got != tt.want {
				t.Errorf("ParseKey(%q) = %+v, want %+v", tt.body, got, tt.want)
			}
		})
	}
}

func TestParseKeyRejects(t *testing.T) {
	ed := edPub(t, 1)
	edFP := ssh.FingerprintSHA256(ed)
	rsa1024, rsa2047, rsa2048 := rsaPub(t, 1024), rsaPub(t, 2047), rsaPub(t, 2048)
	cert := certPub(t)
	dsa := dsaBlob(t)
	unknown := ssh.Marshal(struct{ Name, Key string }{"ssh-foo", "x"})
	rsaHuge := rsaPub(t, 16385) // x/crypto refuses to parse it, as OpenSSH does
	tests := []struct {
		name   string
		body   string
		policy Policy
		reason string // exact, or a prefix when it ends in "..."
		fp     string
	}{
		{name: "empty", body: "", reason: "key is empty"},
		{name: "only a newline", body: "\n", reason: "key is empty"},
		{name: "only spaces", body: "   \n", reason: "key is empty"},
		{name: "two newlines", body: line(ed, "") + "\n\n", reason: "key has more than one line"},
		{name: "two keys", body: line(ed, "a") + "\n" + line(rsa2048, "b") + "\n", reason: "key has more than one line"},
		{name: "crlf", body: line(ed, "c") + "\r\n", reason: "key contains control character U+000D at byte ..."},
		{name: "cr in comment", body: line(ed, "a\rb"), reason: "key contains control character U+000D at byte ..."},
		{name: "nul", body: line(ed, "a\x00b"), reason: "key contains control character U+0000 at byte ..."},
		{name: "escape sequence", body: line(ed, "\x1b[2J"), reason: "key contains control character U+001B at byte ..."},
		{name: "del", body: line(ed, "a\x7f"), reason: "key contains control character U+007F at byte ..."},
		{name: "c1 control", body: line(ed, "a\u0085b"), reason: "key contains control character U+0085 at byte ..."},
		{name: "invalid utf-8", body: line(ed, "a\xffb"), reason: "key is not valid utf-8"},
		{name: "too long", body: line(ed, strings.Repeat("x", maxKeyLen)), reason: "key is longer than 16384 bytes"},
		{name: "command option", body: `command="/bin/true" ` + line(ed, ""), reason: `key has options "command=\"/bin/true\""`, fp: edFP},
		{name: "restrict option", body: "restrict " + line(ed, ""), reason: `key has options "restrict"`, fp: edFP},
		{name: "several options", body: `no-pty,from="10.0.0.1" ` + line(ed, ""), reason: `key has options "no-pty,from=\"10.0.0.1\""`, fp: edFP},
		{name: "certificate", body: line(cert, "c"), reason: "certificates are not accepted (ssh-ed25519-cert-v01@openssh.com)", fp: ssh.FingerprintSHA256(cert)},
		{name: "dsa", body: blobLine(t, dsa, "old"), reason: "dsa keys are not accepted", fp: blobFingerprint(dsa)},
		{name: "rsa 1024 below default", body: line(rsa1024, ""), reason: "rsa key of 1024 bits is below min_rsa_bits 2048", fp: ssh.FingerprintSHA256(rsa1024)},
		{name: "rsa 2047 below default", body: line(rsa2047, ""), reason: "rsa key of 2047 bits is below min_rsa_bits 2048", fp: ssh.FingerprintSHA256(rsa2047)},
		{name: "rsa 2048 below policy", body: line(rsa2048, ""), policy: Policy{MinRSABits: 3072}, reason: "rsa key of 2048 bits is below min_rsa_bits 3072", fp: ssh.FingerprintSHA256(rsa2048)},
		{name: "unknown type", body: blobLine(t, unknown, ""), reason: `key type "ssh-foo" is not accepted`, fp: blobFingerprint(unknown)},
		{name: "declared type mismatch", body: "ssh-rsa " + strings.Fields(line(ed, ""))[1], reason: `declared key type "ssh-rsa" does not match encoded type "ssh-ed25519"`, fp: edFP},
		{name: "rsa above 16384 bits", body: line(rsaHuge, ""), reason: `malformed "ssh-rsa" key`, fp: ssh.FingerprintSHA256(rsaHuge)},
		{name: "truncated key", body: "ssh-ed25519 " + strings.Fields(line(ed, ""))[1][:40], reason: `malformed "ssh-ed25519" key`, fp: "SHA256:..."},
		{name: "bad base64", body: "ssh-ed25519 !!!!", reason: `not an authorized_keys key line (bad base64 after "ssh-ed25519")`},
		{name: "type only", body: "ssh-ed25519", reason: "not an authorized_keys key line"},
		{name: "commented out", body: "# " + line(ed, ""), reason: `not an authorized_keys key line (bad base64 after "#")`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseKey([]byte(tt.body), tt.policy)
			var re *RejectError
			if !errors.As(err, &re) {
				t.Fatalf("ParseKey(%q) = %+v, %v; want *RejectError", tt.body, got, err)
			}
			if got != (Key{}) {
				t.Errorf("ParseKey(%q) returned key %+v with its error", tt.body, got)
			}
			if !matches(re.Reason, tt.reason) {
				t.Errorf("ParseKey(%q) reason = %q, want %q", tt.body, re.Reason, tt.reason)
			}
			if !matches(re.Fingerprint, tt.fp) {
				t.Errorf("ParseKey(%q) fingerprint = %q, want %q", tt.body, re.Fingerprint, tt.fp)
			}
			if msg := err.Error(); msg != strings.ToLower(msg[:1])+msg[1:] || strings.HasSuffix(msg, ".") {
				t.Errorf("ParseKey(%q) error %q is not lowercase without a final period", tt.body, msg)
			}
		})
	}
}

// matches compares exactly, or by prefix when want ends in "...".
func matches(got, want string) bool {
	if p, ok := strings.CutSuffix(want, "..."); ok {
		return strings.HasPrefix(got, p) && got != ""
	}
	return got == want
}

func TestRejectErrorText(t *testing.T) {
	tests := []struct {
		name string
		err  *RejectError
		want string
	}{
		{name: "with fingerprint", err: &RejectError{Reason: "dsa keys are not accepted", Fingerprint: "SHA256:abc"}, want: "reject key SHA256:abc: dsa keys are not accepted"},
		{name: "without fingerprint", err: &RejectError{Reason: "key is empty"}, want: "reject key: key is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("Error() = %q, want %q", got, tt.want)
			}
		})
	}
}
