package keys

import (
	"slices"
	"testing"
)

func TestCompare(t *testing.T) {
	a, b, c := edPub(t, 1), edPub(t, 2), edPub(t, 3)
	ka, kb, kc := key(a, 0, "a"), key(b, 0, "b"), key(c, 0, "c")
	tests := []struct {
		name                 string
		before               []string
		managed              []Key
		added, removed, kept []string
	}{
		{name: "first bind", managed: []Key{ka}, added: []string{ka.Fingerprint}},
		{name: "unchanged", before: []string{line(a, "a")}, managed: []Key{ka}, kept: []string{ka.Fingerprint}},
		{name: "rotation", before: []string{line(a, "a"), line(b, "b")}, managed: []Key{kb, kc},
			added: []string{kc.Fingerprint}, removed: []string{ka.Fingerprint}, kept: []string{kb.Fingerprint}},
		{name: "detach", before: []string{line(a, "a")}, removed: []string{ka.Fingerprint}},
		{name: "unparsable line ignored", before: []string{"ssh-ed25519 !!!", line(a, "a")}, managed: []Key{ka}, kept: []string{ka.Fingerprint}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			added, removed, kept := Compare(tt.before, tt.managed)
			if !slices.Equal(added, tt.added) || !slices.Equal(removed, tt.removed) || !slices.Equal(kept, tt.kept) {
				t.Errorf("Compare(%q) = %q, %q, %q, want %q, %q, %q", tt.before, added, removed, kept, tt.added, tt.removed, tt.kept)
			}
		})
	}
}

func TestLineFingerprint(t *testing.T) {
	pub := edPub(t, 9)
	if got, want := LineFingerprint(line(pub, "c")), key(pub, 0, "c").Fingerprint; got != want {
		t.Errorf("LineFingerprint = %q, want %q", got, want)
	}
	if got := LineFingerprint("# a comment"); got != "" {
		t.Errorf("LineFingerprint(comment) = %q, want \"\"", got)
	}
}
