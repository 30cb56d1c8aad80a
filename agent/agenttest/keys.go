package agenttest

import (
	"crypto/ed25519"
	"crypto/rand"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

// KeyLine is an authorized_keys line for a fresh ed25519 key, with the
// comment unless it is empty.
func KeyLine(t testing.TB, comment string) string {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return line(t, pub, comment)
}

// SeededPublicKey is the ed25519 key whose seed is seed followed by zeros:
// the same key on every run, for benchmarks and golden output.
func SeededPublicKey(t testing.TB, seed byte) ssh.PublicKey {
	t.Helper()
	s := make([]byte, ed25519.SeedSize)
	s[0] = seed
	pub, err := ssh.NewPublicKey(ed25519.NewKeyFromSeed(s).Public())
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

// SeededKeyLine is SeededPublicKey's authorized_keys line, without a comment.
func SeededKeyLine(t testing.TB, seed byte) string {
	t.Helper()
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(SeededPublicKey(t, seed))))
}

// KeyBody is the type and base64 of an authorized_keys line without options,
// what a file must contain whatever the comment.
func KeyBody(line string) string {
	f := strings.Fields(line)
	if len(f) < 2 {
		return line
	}
	return f[0] + " " + f[1]
}

// Fingerprint is the SHA256 fingerprint of an authorized_keys line, as
// ssh-keygen -l prints it.
func Fingerprint(t testing.TB, line string) string {
	t.Helper()
	pub, _, _, _, err := ssh.ParseAuthorizedKey([]byte(line))
	if err != nil {
		t.Fatalf("parse %q: %v", line, err)
	}
	return ssh.FingerprintSHA256(pub)
}

func line(t testing.TB, pub any, comment string) string {
	t.Helper()
	sp, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	l := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sp)))
	if comment != "" {
		l += " " + comment
	}
	return l
}
