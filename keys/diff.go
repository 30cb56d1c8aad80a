package keys

import (
	"fmt"
	"strings"
)

const (
	diffContext = 3

	// maxEditDistance bounds the Myers search (memory grows with its square).
	// Past it the differing middle is shown as one deletion and one
	// insertion: still a correct diff, only not a minimal one.
	maxEditDistance = 1000
)

type opKind byte

const (
	opEqual  opKind = ' '
	opDelete opKind = '-'
	opInsert opKind = '+'
)

// op is one line of the edit script; a and b are the positions in the two
// files before the op is applied.
type op struct {
	kind opKind
	a, b int
	text string
}

// UnifiedDiff renders a unified diff of a and b, with three lines of context,
// for --dry-run. It returns "" when a and b are equal. A last line without
// a newline is marked as diff(1) does.
func UnifiedDiff(oldName, newName string, a, b []byte) string {
	if string(a) == string(b) {
		return ""
	}
	ops := diffLines(splitLines(string(a)), splitLines(string(b)))
	var sb strings.Builder
	fmt.Fprintf(&sb, "--- %s\n+++ %s\n", oldName, newName)
	for i := 0; i < len(ops); {
		if ops[i].kind == opEqual {
			i++
			continue
		}
		start := max(i-diffContext, 0)
		end := i // one past the last change of this hunk
		for j := i; j < len(ops) && j < end+2*diffContext+1; j++ {
			if ops[j].kind != opEqual {
				end = j + 1
			}
		}
		stop := min(end+diffContext, len(ops))
		writeHunk(&sb, ops[start:stop])
		i = stop
	}
	return sb.String()
}

func writeHunk(sb *strings.Builder, h []op) {
	var na, nb int
	for _, o := range h {
		if o.kind != opInsert {
			na++
		}
		if o.kind != opDelete {
			nb++
		}
	}
	fmt.Fprintf(sb, "@@ -%s +%s @@\n", hunkRange(h[0].a, na), hunkRange(h[0].b, nb))
	for _, o := range h {
		sb.WriteByte(byte(o.kind))
		sb.WriteString(o.text)
		if !strings.HasSuffix(o.text, "\n") {
			sb.WriteString("\n\\ No newline at end of file\n")
		}
	}
}

// hunkRange follows diff(1): an empty range names the line before it.
func hunkRange(start, n int) string {
	switch n {
	case 0:
		return fmt.Sprintf("%d,0", start)
	case 1:
		return fmt.Sprintf("%d", start+1)
	}
	return fmt.Sprintf("%d,%d", start+1, n)
}

// splitLines splits s after each "\n", keeping the terminators, so that a
// missing final newline is a difference.
func splitLines(s string) []string {
	lines := strings.SplitAfter(s, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}

// diffLines returns the edit script turning a into b. The common prefix and
// suffix are matched first, so the usual change (one block) costs linear time.
func diffLines(a, b []string) []op {
	pre := 0
	for pre < len(a) && pre < len(b) && a[pre] == b[pre] {
		pre++
	}
	suf := 0
	for suf < len(a)-pre && suf < len(b)-pre && a[len(a)-1-suf] == b[len(b)-1-suf] {
		suf++
	}
	ops := make([]op, 0, len(a)+len(b)-pre-suf)
	for i := 0; i < pre; i++ {
		ops = append(ops, op{opEqual, i, i, a[i]})
	}
	ops = append(ops, myers(a[pre:len(a)-suf], b[pre:len(b)-suf], pre, pre)...)
	for i := suf; i > 0; i-- {
		ai, bi := len(a)-i, len(b)-i
		ops = append(ops, op{opEqual, ai, bi, a[ai]})
	}
	return ops
}

// myers is E. Myers' O(ND) diff (Algorithmica 1986) with the V array saved
// after each step for the backtrack. ao and bo offset the reported positions.
func myers(a, b []string, ao, bo int) []op {
	n, m := len(a), len(b)
	limit := min(n+m, maxEditDistance)
	v := make([]int, 2*limit+3)
	off := limit + 1
	var trace [][]int // trace[d] is v[off-d-1 : off+d+2] before step d
	found := -1
	for d := 0; d <= limit && found < 0; d++ {
		trace = append(trace, append([]int(nil), v[off-d-1:off+d+2]...))
		for k := -d; k <= d; k += 2 {
			var x int
			if k == -d || (k != d && v[off+k-1] < v[off+k+1]) {
				x = v[off+k+1]
			} else {
				x = v[off+k-1] + 1
			}
			y := x - k
			for x < n && y < m && a[x] == b[y] {
				x, y = x+1, y+1
			}
			v[off+k] = x
			if x >= n && y >= m {
				found = d
				break
			}
		}
	}
	if found < 0 {
		ops := make([]op, 0, n+m)
		for i := range a {
			ops = append(ops, op{opDelete, ao + i, bo, a[i]})
		}
		for j := range b {
			ops = append(ops, op{opInsert, ao + n, bo + j, b[j]})
		}
		return ops
	}
	var rev []op
	x, y := n, m
	for d := found; d > 0; d-- {
		prev := trace[d]
		at := func(k int) int { return prev[k+d+1] }
		k := x - y
		pk := k - 1
		if k == -d || (k != d && at(k-1) < at(k+1)) {
			pk = k + 1
		}
		px := at(pk)
		py := px - pk
		for x > px && y > py {
			x, y = x-1, y-1
			rev = append(rev, op{opEqual, ao + x, bo + y, a[x]})
		}
		if x == px {
			rev = append(rev, op{opInsert, ao + px, bo + py, b[py]})
		} else {
			rev = append(rev, op{opDelete, ao + px, bo + py, a[px]})
		}
		x, y = px, py
	}
	for x > 0 && y > 0 {
		x, y = x-1, y-1
		rev = append(rev, op{opEqual, ao + x, bo + y, a[x]})
	}
	for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
		rev[i], rev[j] = rev[j], rev[i]
	}
	return rev
}
