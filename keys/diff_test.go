package keys

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
)

func TestUnifiedDiff(t *testing.T) {
	const fifteen = "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n13\n14\n15\n"
	tests := []struct {
		name string
		a, b string
		want string // expected output after the "--- a\n+++ b\n" header; as diff -u prints it
	}{
		{name: "equal", a: "x\ny\n", b: "x\ny\n", want: ""},
		{name: "both empty", a: "", b: "", want: ""},
		{name: "one line changed", a: "a\nb\nc\n", b: "a\nB\nc\n", want: "@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n"},
		{name: "from empty", a: "", b: "x\n", want: "@@ -0,0 +1 @@\n+x\n"},
		{name: "to empty", a: "x\n", b: "", want: "@@ -1 +0,0 @@\n-x\n"},
		{name: "newline added at end", a: "a\nb", b: "a\nb\n", want: "@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+b\n"},
		{name: "no newline either side", a: "abc", b: "abd", want: "@@ -1 +1 @@\n-abc\n\\ No newline at end of file\n+abd\n\\ No newline at end of file\n"},
		{name: "line moved", a: "a\nb\nc\nd\n", b: "a\nc\nd\nb\n", want: "@@ -1,4 +1,4 @@\n a\n-b\n c\n d\n+b\n"},
		{name: "two hunks", a: fifteen, b: strings.Replace(strings.Replace(fifteen, "\n3\n", "\nX\n", 1), "\n13\n", "\nY\n", 1),
			want: "@@ -1,6 +1,6 @@\n 1\n 2\n-3\n+X\n 4\n 5\n 6\n@@ -10,6 +10,6 @@\n 10\n 11\n 12\n-13\n+Y\n 14\n 15\n"},
		{name: "gap of six joins hunks", a: fifteen, b: strings.Replace(strings.Replace(fifteen, "\n3\n", "\nX\n", 1), "\n10\n", "\nY\n", 1),
			want: "@@ -1,13 +1,13 @@\n 1\n 2\n-3\n+X\n 4\n 5\n 6\n 7\n 8\n 9\n-10\n+Y\n 11\n 12\n 13\n"},
		{name: "gap of seven splits hunks", a: fifteen, b: strings.Replace(strings.Replace(fifteen, "\n3\n", "\nX\n", 1), "\n11\n", "\nY\n", 1),
			want: "@@ -1,6 +1,6 @@\n 1\n 2\n-3\n+X\n 4\n 5\n 6\n@@ -8,7 +8,7 @@\n 8\n 9\n 10\n-11\n+Y\n 12\n 13\n 14\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := tt.want
			if want != "" {
				want = "--- a\n+++ b\n" + want
			}
			got := UnifiedDiff("a", "b", []byte(tt.a), []byte(tt.b))
			if got != want {
				t.Errorf("UnifiedDiff(%q, %q) = %q, want %q", tt.a, tt.b, got, want)
			}
			checkPatch(t, tt.a, tt.b, got)
		})
	}
}

func TestUnifiedDiffPastEditLimit(t *testing.T) {
	var a, b strings.Builder
	for i := 0; i < maxEditDistance; i++ {
		fmt.Fprintf(&a, "a%d\n", i)
		fmt.Fprintf(&b, "b%d\n", i)
	}
	d := UnifiedDiff("a", "b", []byte(a.String()), []byte(b.String()))
	checkPatch(t, a.String(), b.String(), d)
}

// checkPatch applies diff to a and requires b, the property that makes the
// dry-run output trustworthy.
func checkPatch(t *testing.T, a, b, diff string) {
	t.Helper()
	got, err := applyDiff(a, diff)
	if err != nil {
		t.Fatalf("apply UnifiedDiff(%q, %q) = %q: %v", a, b, diff, err)
	}
	if got != b {
		t.Fatalf("apply UnifiedDiff(%q, %q) = %q gives %q, want %q", a, b, diff, got, b)
	}
}

// applyDiff is a small patch(1) for the diffs UnifiedDiff writes.
func applyDiff(a, diff string) (string, error) {
	if diff == "" {
		return a, nil
	}
	old := splitLines(a)
	rows := strings.SplitAfter(diff, "\n")
	if len(rows) < 3 || !strings.HasPrefix(rows[0], "--- ") || !strings.HasPrefix(rows[1], "+++ ") {
		return "", fmt.Errorf("bad header")
	}
	var out strings.Builder
	pos := 0
	type row struct {
		kind byte
		text string
	}
	var hunk []row
	flush := func() error {
		for _, r := range hunk {
			switch r.kind {
			case ' ', '-':
				if pos >= len(old) || old[pos] != r.text {
					return fmt.Errorf("line %d: have %q, diff says %q", pos+1, old[min(pos, len(old)-1)], r.text)
				}
				if r.kind == ' ' {
					out.WriteString(r.text)
				}
				pos++
			case '+':
				out.WriteString(r.text)
			}
		}
		hunk = nil
		return nil
	}
	for _, r := range rows[2:] {
		switch {
		case r == "":
		case strings.HasPrefix(r, "@@ -"):
			if err := flush(); err != nil {
				return "", err
			}
			start, n, _ := strings.Cut(strings.Fields(r)[1][1:], ",")
			s, err := strconv.Atoi(start)
			if err != nil {
				return "", err
			}
			if n != "0" {
				s--
			}
			if s < pos || s > len(old) {
				return "", fmt.Errorf("hunk %q out of order", r)
			}
			for ; pos < s; pos++ {
				out.WriteString(old[pos])
			}
		case r == "\\ No newline at end of file\n" && len(hunk) > 0:
			hunk[len(hunk)-1].text = strings.TrimSuffix(hunk[len(hunk)-1].text, "\n")
		case r[0] == ' ' || r[0] == '-' || r[0] == '+':
			hunk = append(hunk, row{r[0], r[1:]})
		default:
			return "", fmt.Errorf("bad row %q", r)
		}
	}
	if err := flush(); err != nil {
		return "", err
	}
	for ; pos < len(old); pos++ {
		out.WriteString(old[pos])
	}
	return out.String(), nil
}

func FuzzUnifiedDiff(f *testing.F) {
	f.Add("a\nb\nc\n", "a\nc\nb")
	f.Add("", "x")
	f.Add("1\n2\n3\n4\n5\n6\n7\n8\n9\n", "0\n1\n2\n3\n5\n6\n7\n8\n")
	f.Fuzz(func(t *testing.T, a, b string) {
		d := UnifiedDiff("a", "b", []byte(a), []byte(b))
		if (d == "") != (a == b) {
			t.Fatalf("UnifiedDiff(%q, %q) = %q", a, b, d)
		}
		checkPatch(t, a, b, d)
	})
}
