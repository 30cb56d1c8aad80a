package keys

import "golang.org/x/crypto/ssh"

// LineFingerprint returns the SHA256 fingerprint of the key on an
// authorized_keys line, as ssh-keygen -l prints it, or "" when the line
// holds no key that parses.
func LineFingerprint(line string) string {
	pub, _, _, _, err := ssh.ParseAuthorizedKey([]byte(line))
	if err != nil {
		return ""
	}
	return ssh.FingerprintSHA256(pub)
}

// Compare sets the managed block's previous lines (BlockLines) against the
// keys it holds now and returns their fingerprints: added, removed, and kept.
func Compare(before []string, managed []Key) (added, removed, kept []string) {
	had := map[string]bool{}
	for _, line := range before {
		if fp := LineFingerprint(line); fp != "" {
			had[fp] = true
		}
	}
	now := map[string]bool{}
	for _, k := range managed {
		now[k.Fingerprint] = true
		if had[k.Fingerprint] {
			kept = append(kept, k.Fingerprint)
		} else {
			added = append(added, k.Fingerprint)
		}
	}
	for _, line := range before {
		if fp := LineFingerprint(line); fp != "" && !now[fp] {
			removed = append(removed, fp)
		}
	}
	return added, removed, kept
}
