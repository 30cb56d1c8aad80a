package keys

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/crypto/ssh"
)

const (
	// DefaultMinRSABits is the RSA size accepted when Policy.MinRSABits is 0.
	DefaultMinRSABits = 2048

	// maxRSABits matches OpenSSH's SSH_RSA_MAXIMUM_MODULUS_SIZE.
	maxRSABits = 16384

	// maxKeyLen bounds the body ParseKey looks at; a 16384-bit RSA key is
	// under 3 KiB of base64, so anything longer is not a key we accept.
	maxKeyLen = 16 << 10

	// dsaKeyType is spelled out: x/crypto no longer parses DSA keys and has
	// deprecated its name for them, but metadata may still carry one.
	dsaKeyType = "ssh-dss"
)

// Policy says which metadata keys are accepted.
type Policy struct {
	MinRSABits int // 0 or less means DefaultMinRSABits
}

func (p Policy) minRSABits() int {
	if p.MinRSABits <= 0 {
		return DefaultMinRSABits
	}
	return p.MinRSABits
}

// Key is one validated public key ready to be written.
type Key struct {
	Type        string // e.g. "ssh-ed25519", "ecdsa-sha2-nistp256", "sk-ssh-ed25519@openssh.com"
	Bits        int    // RSA/ECDSA size, 256 for ed25519
	Fingerprint string // ssh.FingerprintSHA256 form: "SHA256:..."
	Comment     string // the key's own comment, only if printable ASCII, else ""
	Line        string // the authorized_keys line, no newline: "<type> <base64>[ <comment>]"
}

// RejectError says why a key was refused; Fingerprint is set when the key
// parsed far enough to have one.
type RejectError struct {
	Reason      string
	Fingerprint string
}

func (e *RejectError) Error() string {
	if e.Fingerprint == "" {
		return "reject key: " + e.Reason
	}
	return "reject key " + e.Fingerprint + ": " + e.Reason
}

func reject(fp, format string, args ...any) *RejectError {
	return &RejectError{Reason: fmt.Sprintf(format, args...), Fingerprint: fp}
}

// ParseKey validates one key body from the metadata service and renders it.
// All refusals are *RejectError.
func ParseKey(body []byte, p Policy) (Key, error) {
	if len(body) > maxKeyLen {
		return Key{}, reject("", "key is longer than %d bytes", maxKeyLen)
	}
	// The metadata service ends the body with one newline; a second one is
	// a second line, which is refused below.
	body = bytes.TrimSuffix(body, []byte("\n"))
	if !utf8.Valid(body) {
		return Key{}, reject("", "key is not valid utf-8")
	}
	if bytes.IndexByte(body, '\n') >= 0 {
		return Key{}, reject("", "key has more than one line")
	}
	if i := bytes.IndexFunc(body, isForbiddenControl); i >= 0 {
		r, _ := utf8.DecodeRune(body[i:])
		return Key{}, reject("", "key contains control character %U at byte %d", r, i)
	}
	line := bytes.Trim(body, " \t")
	if len(line) == 0 {
		return Key{}, reject("", "key is empty")
	}

	pub, comment, options, _, err := ssh.ParseAuthorizedKey(line)
	if err != nil {
		return Key{}, explain(line)
	}
	fp := ssh.FingerprintSHA256(pub)
	if len(options) > 0 {
		return Key{}, reject(fp, "key has options %q", strings.Join(options, ","))
	}
	if _, ok := pub.(*ssh.Certificate); ok {
		return Key{}, reject(fp, "certificates are not accepted (%s)", pub.Type())
	}
	bits, err := keyBits(pub)
	if err != nil {
		return Key{}, reject(fp, "%v", err)
	}
	if pub.Type() == ssh.KeyAlgoRSA {
		if min := p.minRSABits(); bits < min {
			return Key{}, reject(fp, "rsa key of %d bits is below min_rsa_bits %d", bits, min)
		}
		if bits > maxRSABits {
			return Key{}, reject(fp, "rsa key of %d bits is above %d", bits, maxRSABits)
		}
	}
	return newKey(pub, comment, bits), nil
}

// isForbiddenControl reports control characters other than the tab, which
// sshd treats as a field separator like the space.
func isForbiddenControl(r rune) bool {
	return r != '\t' && unicode.IsControl(r)
}

// newKey renders pub in canonical form. The comment is the only free text
// that reaches the file, so it is kept only when it is printable ASCII.
func newKey(pub ssh.PublicKey, comment string, bits int) Key {
	k := Key{
		Type:        pub.Type(),
		Bits:        bits,
		Fingerprint: ssh.FingerprintSHA256(pub),
		Line:        string(bytes.TrimSuffix(ssh.MarshalAuthorizedKey(pub), []byte("\n"))),
	}
	if safeComment(comment) {
		k.Comment = comment
		k.Line += " " + comment
	}
	return k
}

func safeComment(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// keyBits returns the size of an accepted key type, or an error naming why
// the type is not accepted (DSA, ML-DSA and anything unknown).
func keyBits(pub ssh.PublicKey) (int, error) {
	switch pub.Type() {
	case ssh.KeyAlgoED25519, ssh.KeyAlgoSKED25519, ssh.KeyAlgoSKECDSA256:
		return 256, nil
	case ssh.KeyAlgoECDSA256, ssh.KeyAlgoECDSA384, ssh.KeyAlgoECDSA521:
		if k, ok := pub.(ssh.CryptoPublicKey).CryptoPublicKey().(*ecdsa.PublicKey); ok {
			return k.Curve.Params().BitSize, nil
		}
	case ssh.KeyAlgoRSA:
		if k, ok := pub.(ssh.CryptoPublicKey).CryptoPublicKey().(*rsa.PublicKey); ok {
			return k.N.BitLen(), nil
		}
	}
	return 0, fmt.Errorf("key type %q is not accepted", pub.Type())
}

// explain builds the reason for a line ssh.ParseAuthorizedKey refused. It
// reads the declared type and the type inside the blob, so that DSA keys and
// unknown types get a precise reason and a fingerprint.
func explain(line []byte) *RejectError {
	fields := bytes.FieldsFunc(line, func(r rune) bool { return r == ' ' || r == '\t' })
	if len(fields) < 2 {
		return reject("", "not an authorized_keys key line")
	}
	declared := fields[0]
	blob, err := base64.StdEncoding.DecodeString(string(fields[1]))
	if err != nil || len(blob) == 0 {
		return reject("", "not an authorized_keys key line (bad base64 after %.40q)", declared)
	}
	sum := sha256.Sum256(blob)
	fp := "SHA256:" + base64.RawStdEncoding.EncodeToString(sum[:])
	encoded, ok := blobType(blob)
	switch {
	case !ok:
		return reject(fp, "malformed %.40q key", declared)
	case encoded != string(declared):
		return reject(fp, "declared key type %.40q does not match encoded type %.40q", declared, encoded)
	case encoded == dsaKeyType:
		return reject(fp, "dsa keys are not accepted")
	case strings.HasSuffix(encoded, "-cert-v01@openssh.com"):
		return reject(fp, "certificates are not accepted (%.60q)", encoded)
	case acceptedTypes[encoded]:
		return reject(fp, "malformed %q key", encoded)
	}
	return reject(fp, "key type %.40q is not accepted", encoded)
}

var acceptedTypes = map[string]bool{
	ssh.KeyAlgoED25519:    true,
	ssh.KeyAlgoSKED25519:  true,
	ssh.KeyAlgoECDSA256:   true,
	ssh.KeyAlgoECDSA384:   true,
	ssh.KeyAlgoECDSA521:   true,
	ssh.KeyAlgoSKECDSA256: true,
	ssh.KeyAlgoRSA:        true,
}

// blobType reads the leading SSH string (RFC 4253, section 6.6) of a key blob.
func blobType(blob []byte) (string, bool) {
	if len(blob) < 4 {
		return "", false
	}
	n := binary.BigEndian.Uint32(blob)
	if uint64(n) > uint64(len(blob)-4) {
		return "", false
	}
	return string(blob[4 : 4+n]), true
}
