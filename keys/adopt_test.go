package keys

import (
	"slices"
	"testing"
)

func TestAdopt(t *testing.T) {
	bound, other := edPub(t, 1), edPub(t, 2)
	k := key(bound, 0, "skp-bound")
	block := BeginMarker + "\n" + k.Line + "\n" + EndMarker + "\n"
	tests := []struct {
		name, in, want string
		adopted        []string
	}{
		{name: "cloud-init's copy outside the block", in: "# mine\n" + line(bound, "root@cloud-init") + "\n" + line(other, "laptop") + "\n",
			want: "# mine\n" + line(other, "laptop") + "\n", adopted: []string{k.Fingerprint}},
		{name: "copy next to the block", in: line(bound, "") + "\n" + block, want: block, adopted: []string{k.Fingerprint}},
		{name: "last line without newline", in: line(other, "laptop") + "\n" + line(bound, "x"), want: line(other, "laptop") + "\n", adopted: []string{k.Fingerprint}},
		{name: "two copies", in: line(bound, "a") + "\n" + line(bound, "b") + "\n", want: "", adopted: []string{k.Fingerprint}},
		{name: "options are left alone", in: `from="10.0.0.0/8" ` + line(bound, "limited") + "\n", want: `from="10.0.0.0/8" ` + line(bound, "limited") + "\n"},
		{name: "commented out", in: "# " + line(bound, "old") + "\n", want: "# " + line(bound, "old") + "\n"},
		{name: "only in the block", in: block, want: block},
		{name: "another key", in: line(other, "x") + "\n", want: line(other, "x") + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, adopted, err := Adopt([]byte(tt.in), []Key{k})
			if err != nil || string(got) != tt.want || !slices.Equal(adopted, tt.adopted) {
				t.Errorf("Adopt(%q) = %q, %q, %v, want %q, %q", tt.in, got, adopted, err, tt.want, tt.adopted)
			}
		})
	}
	if _, _, err := Adopt([]byte(BeginMarker+"\n"), []Key{k}); err == nil {
		t.Errorf("Adopt with a damaged block = nil error, want one")
	}
}
