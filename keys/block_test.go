package keys

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// testKeys returns n distinct managed keys as ParseKey makes them.
func testKeys(t testing.TB, n int) []Key {
	t.Helper()
	ks := make([]Key, n)
	for i := range ks {
		ks[i] = key(edPub(t, byte(100+i)), 256, fmt.Sprintf("metadata-%d", i))
	}
	return ks
}

func blockOf(ks ...Key) string {
	s := BeginMarker + "\n"
	for _, k := range ks {
		s += k.Line + "\n"
	}
	return s + EndMarker + "\n"
}

func TestMerge(t *testing.T) {
	ks := testKeys(t, 3)
	k1, k2, k3 := ks[0], ks[1], ks[2]
	user := line(edPub(t, 50), "admin@desk")
	odd := `from="10.0.0.0/8",command="uptime" ` + user + "\r\n# note\r\n\r\nnot a key at all\n"
	tests := []struct {
		name     string
		existing string
		managed  []Key
		want     string
	}{
		{name: "empty file", existing: "", managed: []Key{k1}, want: blockOf(k1)},
		{name: "append after final newline", existing: user + "\n", managed: []Key{k1}, want: user + "\n" + blockOf(k1)},
		{name: "append adds missing newline", existing: user, managed: []Key{k1}, want: user + "\n" + blockOf(k1)},
		{name: "crlf file without final newline", existing: "a\r\nb", managed: []Key{k1}, want: "a\r\nb\n" + blockOf(k1)},
		{name: "odd lines kept", existing: odd, managed: []Key{k1, k2}, want: odd + blockOf(k1, k2)},
		{name: "order kept", existing: "", managed: []Key{k3, k1, k2}, want: blockOf(k3, k1, k2)},
		{name: "replace in place", existing: "x\n" + blockOf(k1) + "y", managed: []Key{k2, k3}, want: "x\n" + blockOf(k2, k3) + "y"},
		{name: "already right", existing: "x\n" + blockOf(k1, k2) + "y\n", managed: []Key{k1, k2}, want: "x\n" + blockOf(k1, k2) + "y\n"},
		{name: "remove block in middle", existing: odd + blockOf(k1) + user + "\n", managed: nil, want: odd + user + "\n"},
		{name: "remove block at end", existing: user + "\n" + blockOf(k1), managed: []Key{}, want: user + "\n"},
		{name: "remove block without final newline", existing: user + "\n" + strings.TrimSuffix(blockOf(k1), "\n"), managed: nil, want: user + "\n"},
		{name: "remove only block", existing: blockOf(k1, k2), managed: nil, want: ""},
		{name: "no block no keys", existing: odd, managed: nil, want: odd},
		{name: "no block no keys no newline", existing: user, managed: nil, want: user},
		{name: "end marker without newline", existing: "x\n" + strings.TrimSuffix(blockOf(k1), "\n"), managed: []Key{k2}, want: "x\n" + blockOf(k2)},
		{name: "crlf markers rewritten", existing: "x\r\n" + strings.ReplaceAll(blockOf(k1), "\n", "\r\n") + "y\r\n", managed: []Key{k1}, want: "x\r\n" + blockOf(k1) + "y\r\n"},
		{name: "edited marker text still found", existing: "# BEGIN ecs-keyagent keys\n" + k1.Line + "\n  # END ecs-keyagent\n", managed: []Key{k2}, want: blockOf(k2)},
		{name: "hand edits inside block dropped", existing: BeginMarker + "\n# mine\n" + user + "\n\n" + EndMarker + "\n", managed: []Key{k1}, want: blockOf(k1)},
		{name: "marker text inside a key line is not a marker", existing: user + " # BEGIN ecs-keyagent\n", managed: []Key{k1}, want: user + " # BEGIN ecs-keyagent\n" + blockOf(k1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Merge([]byte(tt.existing), tt.managed)
			if err != nil {
				t.Fatalf("Merge(%q) error: %v", tt.existing, err)
			}
			if string(got) != tt.want {
				t.Fatalf("Merge(%q) = %q, want %q", tt.existing, got, tt.want)
			}
			again, err := Merge(got, tt.managed)
			if err != nil || string(again) != string(got) {
				t.Errorf("Merge(%q) = %q, %v; want the fixed point %q", got, again, err, got)
			}
		})
	}
}

func TestMergeUnchangedReturnsExisting(t *testing.T) {
	ks := testKeys(t, 2)
	for _, existing := range []string{"x\n" + blockOf(ks...) + "y", "no block\n"} {
		in := []byte(existing)
		managed := ks
		if !strings.Contains(existing, BeginMarker) {
			managed = nil
		}
		got, err := Merge(in, managed)
		if err != nil {
			t.Fatal(err)
		}
		if &got[0] != &in[0] {
			t.Errorf("Merge(%q) returned a copy, want existing itself", existing)
		}
	}
}

func TestMergeDamaged(t *testing.T) {
	k := testKeys(t, 1)
	b := blockOf(k...)
	tests := []struct {
		name     string
		existing string
		detail   string
	}{
		{name: "begin without end", existing: "a\n" + BeginMarker + "\n" + k[0].Line + "\n", detail: "begin marker on line 2 has no end marker"},
		{name: "end without begin", existing: "a\nb\n" + EndMarker + "\n", detail: "end marker on line 3 without a begin marker"},
		{name: "end before begin", existing: EndMarker + "\n" + BeginMarker + "\n", detail: "end marker on line 1 without a begin marker"},
		{name: "nested begin", existing: BeginMarker + "\n" + b, detail: "begin marker on line 2 inside the block begun on line 1"},
		{name: "two blocks", existing: b + "x\n" + b, detail: "second begin marker on line 5 after the block ended on line 3"},
		{name: "two ends", existing: b + EndMarker + "\n", detail: "end marker on line 4 without a begin marker"},
		{name: "crlf begin without end", existing: "a\r\n" + BeginMarker + "\r\n", detail: "begin marker on line 2 has no end marker"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := "damaged managed block: " + tt.detail
			for _, managed := range [][]Key{k, nil} {
				got, err := Merge([]byte(tt.existing), managed)
				if !errors.Is(err, ErrDamagedBlock) || err.Error() != want {
					t.Errorf("Merge(%q, %d keys) = %q, %v; want error %q", tt.existing, len(managed), got, err, want)
				}
			}
			if got, err := BlockLines([]byte(tt.existing)); !errors.Is(err, ErrDamagedBlock) {
				t.Errorf("BlockLines(%q) = %q, %v; want ErrDamagedBlock", tt.existing, got, err)
			}
		})
	}
}

func TestMergeRejectsBadLines(t *testing.T) {
	good := testKeys(t, 1)[0]
	tests := []struct {
		name string
		line string
	}{
		{name: "empty", line: ""},
		{name: "newline", line: good.Line + "\n" + good.Line},
		{name: "carriage return", line: good.Line + "\r"},
		{name: "comment", line: "# " + good.Line},
		{name: "marker", line: EndMarker},
		{name: "leading space", line: " " + good.Line},
		{name: "trailing space", line: good.Line + " "},
		{name: "tab", line: strings.Replace(good.Line, " ", "\t", 1)},
		{name: "non-ascii", line: good.Line + " é"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Merge([]byte("x\n"), []Key{good, {Line: tt.line}})
			if err == nil || !strings.HasPrefix(err.Error(), "merge key 2: ") || errors.Is(err, ErrDamagedBlock) {
				t.Errorf("Merge with line %q = %q, %v; want a merge key 2 error", tt.line, got, err)
			}
		})
	}
}

func TestBlockLines(t *testing.T) {
	ks := testKeys(t, 2)
	tests := []struct {
		name     string
		existing string
		want     []string
	}{
		{name: "empty file", existing: "", want: nil},
		{name: "no block", existing: ks[0].Line + "\n", want: nil},
		{name: "empty block", existing: BeginMarker + "\n" + EndMarker + "\n", want: []string{}},
		{name: "two keys", existing: "x\n" + blockOf(ks...) + "y", want: []string{ks[0].Line, ks[1].Line}},
		{name: "blank comment and crlf lines", existing: BeginMarker + "\r\n\r\n# mine\r\n  " + ks[1].Line + "\r\n" + EndMarker, want: []string{ks[1].Line}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := BlockLines([]byte(tt.existing))
			if err != nil {
				t.Fatalf("BlockLines(%q) error: %v", tt.existing, err)
			}
			if !slices.Equal(got, tt.want) || (got == nil) != (tt.want == nil) {
				t.Errorf("BlockLines(%q) = %#v, want %#v", tt.existing, got, tt.want)
			}
		})
	}
}

func BenchmarkMerge(b *testing.B) {
	ks := testKeys(b, 3)
	plain := line(edPub(b, 1), "") // a user's own key, outside the block
	for _, n := range []int{10, 1000, 100000} {
		b.Run(fmt.Sprintf("lines=%d", n), func(b *testing.B) {
			var sb strings.Builder
			for i := 0; i < n; i++ {
				if i == n/2 {
					sb.WriteString(blockOf(ks[0]))
				}
				fmt.Fprintf(&sb, "%s user-%d\n", plain, i)
			}
			existing := []byte(sb.String())
			b.SetBytes(int64(len(existing)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Merge(existing, ks[:2]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
