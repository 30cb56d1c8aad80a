package keys

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
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
		{name: "first line, indented", in: "  " + line(bound, "") + "\n" + line(other, "x") + "\n", want: line(other, "x") + "\n", adopted: []string{k.Fingerprint}},
		{name: "the key's tail after another prefix", in: "ssh-ed25519 AAAA" + tailOf(bound) + "\n", want: "ssh-ed25519 AAAA" + tailOf(bound) + "\n"},
		{name: "the key's tail alone", in: tailOf(bound) + "\n", want: tailOf(bound) + "\n"},
		{name: "copies glued together", in: line(bound, "") + line(bound, "") + "\n", want: line(bound, "") + line(bound, "") + "\n"},
		{name: "among many keys of its type", in: strings.Repeat(line(other, "o")+"\n", 100) + line(bound, "") + "\n" + strings.Repeat(line(other, "o")+"\n", 100),
			want: strings.Repeat(line(other, "o")+"\n", 200), adopted: []string{k.Fingerprint}},
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

// tailOf is the end of pub's base64, the part Adopt searches for.
func tailOf(pub ssh.PublicKey) string {
	b64 := strings.Fields(line(pub, ""))[1]
	return b64[len(b64)-adoptTail:]
}

// refAdopt is Adopt as it was first written: a search for each key's whole
// base64 from the start of the file. FuzzAdopt holds Adopt to it.
func refAdopt(existing []byte, managed []Key) ([]byte, []string, error) {
	b, err := findBlock(existing)
	if err != nil {
		return nil, nil, err
	}
	var drop []span
	var adopted []string
	for _, k := range managed {
		fields := strings.Fields(k.Line)
		if len(fields) < 2 {
			continue
		}
		needle := []byte(fields[1])
		for off := 0; ; {
			i := bytes.Index(existing[off:], needle)
			if i < 0 {
				break
			}
			at := off + i
			off = at + len(needle)
			if b.found && at >= b.start && at < b.end {
				continue
			}
			start := bytes.LastIndexByte(existing[:at], '\n') + 1
			end := len(existing)
			if j := bytes.IndexByte(existing[at:], '\n'); j >= 0 {
				end = at + j + 1
			}
			if plainLineOf(existing[start:end], k) {
				drop = append(drop, span{start, end})
				adopted = append(adopted, k.Fingerprint)
				off = end
			}
		}
	}
	if len(drop) == 0 {
		return existing, nil, nil
	}
	out := make([]byte, 0, len(existing))
	last := 0
	slices.SortFunc(drop, func(a, b span) int { return a.start - b.start })
	for _, s := range drop {
		out = append(out, existing[last:s.start]...)
		last = s.end
	}
	out = append(out, existing[last:]...)
	return out, slices.Compact(adopted), nil
}

// FuzzAdopt holds Adopt's search (the tail of each key, then the rest) to
// the plain search it replaced, on files built around two bound keys: the
// same lines dropped, the same keys adopted, the same errors.
func FuzzAdopt(f *testing.F) {
	a, b := key(edPub(f, 1), 0, "skp-a"), key(edPub(f, 2), 0, "skp-b")
	la, lb := line(edPub(f, 1), "x"), line(edPub(f, 2), "")
	block := BeginMarker + "\n" + a.Line + "\n" + EndMarker + "\n"
	for _, s := range []string{la + "\n", la + "\n" + lb + "\n" + block, block + la, "  " + la + "\r\n", la + la + "\n",
		`restrict ` + la + "\n", "# " + la + "\n" + lb, la[:40] + "\n" + la[50:] + "\n", BeginMarker + "\n" + la + "\n"} {
		f.Add([]byte(s), uint8(3))
	}
	f.Fuzz(func(t *testing.T, data []byte, which uint8) {
		var managed []Key
		if which&1 != 0 {
			managed = append(managed, a)
		}
		if which&2 != 0 {
			managed = append(managed, b)
		}
		got, gotAdopted, gotErr := Adopt(data, managed)
		want, wantAdopted, wantErr := refAdopt(data, managed)
		if (gotErr == nil) != (wantErr == nil) || !bytes.Equal(got, want) || !slices.Equal(gotAdopted, wantAdopted) {
			t.Fatalf("Adopt(%q) = %q, %q, %v; the plain search gives %q, %q, %v", data, got, gotAdopted, gotErr, want, wantAdopted, wantErr)
		}
	})
}
