package keys

import (
	"bytes"
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
func UsableKeys(data []byte) []Key {
	var out []Key
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
		k := newKey(pub, comment, bits)
		k.Line = string(line)
		out = append(out, k)
	}
	return out
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
