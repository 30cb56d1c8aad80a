package keys

import (
	"bytes"
	"slices"
	"strings"

	"golang.org/x/crypto/ssh"
)

// sshdMinRSABits is OpenSSH's RequiredRSASize default (sshd_config(5),
// OpenSSH 9.1 and later): smaller RSA keys are refused at logon.
const sshdMinRSABits = 1024

// UsableKeys returns the keys in an authorized_keys file that sshd would
// accept for logon, in file order, the managed block included. Lines with
// options such as "restrict", "command=" or "from=" still count: they allow
// a logon, if a narrower one. Blank lines, comments, lines that do not parse,
// certificates, "cert-authority" lines (they trust a CA, they are not keys)
// and key types this package does not accept are skipped, as are RSA keys
// below sshd's default RequiredRSASize. Options are not evaluated further,
// so an expired "expiry-time" still counts. Line is the original line
// without its terminator.
//
// It renders and fingerprints every key it returns, which costs far more
// than the parse: to count keys or learn their types use UsableTypes, to
// learn whether there is one use AnyUsable.
func UsableKeys(data []byte) []Key {
	var out []Key
	eachUsable(data, func(line []byte, pub ssh.PublicKey, comment string, bits int) bool {
		k := newKey(pub, comment, bits)
		k.Line = string(line)
		out = append(out, k)
		return true
	})
	return out
}

// UsableTypes returns how many keys UsableKeys would return for data and
// their distinct types in order of first appearance, without rendering or
// fingerprinting any of them.
func UsableTypes(data []byte) (n int, types []string) {
	eachUsable(data, func(_ []byte, pub ssh.PublicKey, _ string, _ int) bool {
		n++
		if t := pub.Type(); !slices.Contains(types, t) {
			types = append(types, t)
		}
		return true
	})
	return n, types
}

// AnyUsable reports whether UsableKeys would return at least one key for
// data; it stops at the first.
func AnyUsable(data []byte) bool {
	found := false
	eachUsable(data, func([]byte, ssh.PublicKey, string, int) bool {
		found = true
		return false
	})
	return found
}

// Usable reports whether sshd accepts k, a key ParseKey returned, at logon:
// every such key is of a type sshd knows, so only an RSA key below sshd's
// default RequiredRSASize is refused (Policy.MinRSABits may be set lower).
// It is what UsableKeys would say of k.Line, without parsing it again.
func Usable(k Key) bool {
	return k.Type != ssh.KeyAlgoRSA || k.Bits >= sshdMinRSABits
}

// eachUsable calls fn for every line of data UsableKeys counts, with the
// line trimmed of its terminator and surrounding blanks, until fn returns
// false.
func eachUsable(data []byte, fn func(line []byte, pub ssh.PublicKey, comment string, bits int) bool) {
	for len(data) > 0 {
		var raw []byte
		raw, data, _ = bytes.Cut(data, []byte("\n"))
		line := bytes.Trim(bytes.TrimSuffix(raw, []byte("\r")), " \t")
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		pub, comment, options, _, err := ssh.ParseAuthorizedKey(line)
		if err != nil || hasOption(options, "cert-authority") {
			continue
		}
		if _, ok := pub.(*ssh.Certificate); ok {
			continue
		}
		bits, err := keyBits(pub)
		if err != nil || (pub.Type() == ssh.KeyAlgoRSA && bits < sshdMinRSABits) {
			continue
		}
		if !fn(line, pub, comment, bits) {
			return
		}
	}
}

// hasOption reports whether options holds name; sshd matches option names
// case-insensitively (auth-options.c, opt_flag).
func hasOption(options []string, name string) bool {
	for _, o := range options {
		if strings.EqualFold(o, name) {
			return true
		}
	}
	return false
}
