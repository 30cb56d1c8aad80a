package keys

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"math/big"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/ecs-keyagent/ecs-keyagent/agent/agenttest"
)

// Test keys are real keys. Only their public halves matter, so RSA and DSA
// keys are built from random numbers of the right size instead of being
// generated, which keeps the tests fast under -race.

// edPub is the ed25519 key of seed, the same on every run.
func edPub(t testing.TB, seed byte) ssh.PublicKey {
	t.Helper()
	return agenttest.SeededPublicKey(t, seed)
}

func ecdsaPub(t testing.TB, c elliptic.Curve) ssh.PublicKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := ssh.NewPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

// oddInt returns a random odd number of exactly bits bits.
func oddInt(t testing.TB, bits int) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), uint(bits-1)))
	if err != nil {
		t.Fatal(err)
	}
	n.SetBit(n, bits-1, 1)
	return n.SetBit(n, 0, 1)
}

func rsaPub(t testing.TB, bits int) ssh.PublicKey {
	t.Helper()
	pub, err := ssh.NewPublicKey(&rsa.PublicKey{N: oddInt(t, bits), E: 65537})
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

// dsaBlob is an ssh-dss key in wire form (RFC 4253, section 6.6); x/crypto
// no longer builds or parses DSA keys itself.
func dsaBlob(t testing.TB) []byte {
	t.Helper()
	return ssh.Marshal(struct {
		Name       string
		P, Q, G, Y *big.Int
	}{dsaKeyType, oddInt(t, 1024), oddInt(t, 160), oddInt(t, 1023), oddInt(t, 1023)})
}

func skEd25519Blob(t testing.TB) []byte {
	t.Helper()
	return ssh.Marshal(struct {
		Name, Key, App string
	}{ssh.KeyAlgoSKED25519, string(edPub(t, 9).(ssh.CryptoPublicKey).CryptoPublicKey().(ed25519.PublicKey)), "ssh:"})
}

func skECDSABlob(t testing.TB) []byte {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	point, err := k.PublicKey.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return ssh.Marshal(struct {
		Name, Curve, Key, App string
	}{ssh.KeyAlgoSKECDSA256, "nistp256", string(point), "ssh:"})
}

func certPub(t testing.TB) ssh.PublicKey {
	t.Helper()
	_, caKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(caKey)
	if err != nil {
		t.Fatal(err)
	}
	cert := &ssh.Certificate{
		Key:             edPub(t, 7),
		CertType:        ssh.UserCert,
		ValidPrincipals: []string{"root"},
		ValidBefore:     ssh.CertTimeInfinity,
	}
	if err := cert.SignCert(rand.Reader, signer); err != nil {
		t.Fatal(err)
	}
	return cert
}

// line renders pub as an authorized_keys line with an optional comment.
func line(pub ssh.PublicKey, comment string) string {
	l := strings.TrimSuffix(string(ssh.MarshalAuthorizedKey(pub)), "\n")
	if comment != "" {
		l += " " + comment
	}
	return l
}

// blobLine renders a wire-form blob under its own type name.
func blobLine(t testing.TB, blob []byte, comment string) string {
	t.Helper()
	name, ok := blobType(blob)
	if !ok {
		t.Fatalf("blobType(%x) failed", blob[:8])
	}
	l := name + " " + base64.StdEncoding.EncodeToString(blob)
	if comment != "" {
		l += " " + comment
	}
	return l
}

func blobFingerprint(blob []byte) string {
	sum := sha256.Sum256(blob)
	return "SHA256:" + base64.RawStdEncoding.EncodeToString(sum[:])
}

// key is what ParseKey should return for a plain pub with comment.
func key(pub ssh.PublicKey, bits int, comment string) Key {
	return Key{
		Type:        pub.Type(),
		Bits:        bits,
		Fingerprint: ssh.FingerprintSHA256(pub),
		Comment:     comment,
		Line:        line(pub, comment),
	}
}
