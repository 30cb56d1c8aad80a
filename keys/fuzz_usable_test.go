package keys

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

// FuzzUsableKeys checks the reading of a user's authorized_keys, which
// decides whether turning password login off is safe: on any file it never
// panics, returns at most one key per line, and each key it returns is a
// line of the file that parses on its own to the same fingerprint and is no
// certificate authority. UsableTypes and AnyUsable agree with it.
func FuzzUsableKeys(f *testing.F) {
	key := "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl user"
	for _, s := range []string{key + "\n", "# c\n\n" + key, `command="x" ` + key + "\r\n",
		"cert-authority " + key + "\n", "  \t" + key + "  \n", key + "\x00\n", "\xff\n" + key,
		"# BEGIN ecs-keyagent managed keys\n" + key + "\n# END ecs-keyagent managed keys\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got := UsableKeys(data)
		n, types := UsableTypes(data)
		if n != len(got) || AnyUsable(data) != (n > 0) {
			t.Fatalf("UsableKeys(%q) has %d keys, UsableTypes says %d, AnyUsable %v", data, len(got), n, AnyUsable(data))
		}
		for i, k := range got {
			if !slices.Contains(types, k.Type) || slices.Index(types, k.Type) > i {
				t.Fatalf("UsableTypes(%q) = %q, without %s in its place", data, types, k.Type)
			}
		}
		if n := bytes.Count(data, []byte("\n")) + 1; len(got) > n {
			t.Fatalf("UsableKeys(%q): %d keys from %d lines", data, len(got), n)
		}
		for _, k := range got {
			if strings.ContainsAny(k.Line, "\n") || !bytes.Contains(data, []byte(k.Line)) {
				t.Fatalf("UsableKeys(%q): line %q is not a line of the file", data, k.Line)
			}
			pub, _, options, _, err := ssh.ParseAuthorizedKey([]byte(k.Line))
			if err != nil {
				t.Fatalf("UsableKeys(%q): %q does not parse: %v", data, k.Line, err)
			}
			if fp := ssh.FingerprintSHA256(pub); fp != k.Fingerprint {
				t.Fatalf("UsableKeys(%q): %q has fingerprint %s, reported %s", data, k.Line, fp, k.Fingerprint)
			}
			for _, o := range options {
				if strings.EqualFold(o, "cert-authority") {
					t.Fatalf("UsableKeys(%q): counted a cert-authority line %q", data, k.Line)
				}
			}
		}
	})
}
