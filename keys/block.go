package keys

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
)

const (
	// BeginMarker and EndMarker are the lines Merge writes around the block.
	BeginMarker = "# BEGIN ecs-keyagent managed keys: edits inside this block are overwritten"
	EndMarker   = "# END ecs-keyagent managed keys"

	beginPrefix = "# BEGIN ecs-keyagent"
	endPrefix   = "# END ecs-keyagent"
)

// ErrDamagedBlock means the markers do not form exactly one well-formed
// block; Merge refuses to guess which keys are ours.
var ErrDamagedBlock = errors.New("damaged managed block")

// block is the byte span [start, end) of the managed block, from the first
// byte of the begin marker to just after the end marker's line terminator.
type block struct {
	start, end int
	found      bool
}

type marker int

const (
	notMarker marker = iota
	beginMark
	endMark
)

// markerOf classifies one line; see the package comment for why
// recognition is broad. Matching by prefix also covers a CRLF marker.
func markerOf(line []byte) marker {
	i := 0
	for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
		i++
	}
	if i == len(line) || line[i] != '#' { // most lines: no marker
		return notMarker
	}
	line = line[i:]
	switch {
	case bytes.HasPrefix(line, []byte(beginPrefix)):
		return beginMark
	case bytes.HasPrefix(line, []byte(endPrefix)):
		return endMark
	}
	return notMarker
}

// findBlock locates the managed block in one pass over data.
func findBlock(data []byte) (block, error) {
	var b block
	beginLine := 0 // line number of an open begin marker, 0 when none
	doneLine := 0  // line number of the end of a complete block
	lineNo := 0
	for off := 0; off < len(data); {
		lineNo++
		next := len(data)
		if i := bytes.IndexByte(data[off:], '\n'); i >= 0 {
			next = off + i + 1
		}
		switch markerOf(data[off:next]) {
		case beginMark:
			switch {
			case beginLine != 0:
				return block{}, fmt.Errorf("%w: begin marker on line %d inside the block begun on line %d", ErrDamagedBlock, lineNo, beginLine)
			case doneLine != 0:
				return block{}, fmt.Errorf("%w: second begin marker on line %d after the block ended on line %d", ErrDamagedBlock, lineNo, doneLine)
			}
			beginLine = lineNo
			b.start = off
		case endMark:
			if beginLine == 0 {
				return block{}, fmt.Errorf("%w: end marker on line %d without a begin marker", ErrDamagedBlock, lineNo)
			}
			beginLine, doneLine = 0, lineNo
			b.end, b.found = next, true
		}
		off = next
	}
	if beginLine != 0 {
		return block{}, fmt.Errorf("%w: begin marker on line %d has no end marker", ErrDamagedBlock, beginLine)
	}
	return b, nil
}

// Merge returns existing with the managed block set to exactly managed, in
// the given order. Only the block changes: every byte outside it is kept. An
// empty managed removes the block. Without a block, a non-empty managed is
// appended at the end, after a "\n" if the file does not end with one, so
// two lines are never glued together.
//
// When nothing needs to change Merge returns existing itself, so callers can
// skip the write with bytes.Equal.
func Merge(existing []byte, managed []Key) ([]byte, error) {
	for i, k := range managed {
		if err := checkLine(k.Line); err != nil {
			return nil, fmt.Errorf("merge key %d: %w", i+1, err)
		}
	}
	b, err := findBlock(existing)
	if err != nil {
		return nil, err
	}
	var want []byte
	if len(managed) > 0 {
		want = renderBlock(managed)
	}
	if !b.found {
		if want == nil {
			return existing, nil
		}
		b.start, b.end = len(existing), len(existing)
	}
	if bytes.Equal(existing[b.start:b.end], want) {
		return existing, nil
	}
	sep := !b.found && len(existing) > 0 && existing[len(existing)-1] != '\n'
	out := make([]byte, 0, len(existing)-(b.end-b.start)+len(want)+1)
	out = append(out, existing[:b.start]...)
	if sep {
		out = append(out, '\n')
	}
	out = append(out, want...)
	out = append(out, existing[b.end:]...)
	return out, nil
}

func renderBlock(managed []Key) []byte {
	n := len(BeginMarker) + len(EndMarker) + 2
	for _, k := range managed {
		n += len(k.Line) + 1
	}
	var buf bytes.Buffer
	buf.Grow(n)
	buf.WriteString(BeginMarker + "\n")
	for _, k := range managed {
		buf.WriteString(k.Line)
		buf.WriteByte('\n')
	}
	buf.WriteString(EndMarker + "\n")
	return buf.Bytes()
}

// checkLine makes sure a line written into the block reads back as the same
// single key line: ParseKey output always passes, a hand-built Key may not.
func checkLine(line string) error {
	switch {
	case line == "":
		return errors.New("empty key line")
	case line[0] == '#':
		return errors.New("key line starts with '#'")
	case strings.Trim(line, " ") != line:
		return errors.New("key line has surrounding spaces")
	}
	for i := 0; i < len(line); i++ {
		if line[i] < 0x20 || line[i] > 0x7e {
			return fmt.Errorf("key line has byte %#02x at %d", line[i], i)
		}
	}
	return nil
}

// BlockLines returns the key lines inside the managed block, without line
// terminators, skipping blank and comment lines. It returns nil when there is
// no block and an empty slice for an empty block.
func BlockLines(existing []byte) ([]string, error) {
	b, err := findBlock(existing)
	if err != nil || !b.found {
		return nil, err
	}
	inner := existing[b.start:b.end]
	lines := []string{}
	for _, raw := range bytes.Split(inner, []byte("\n")) {
		line := bytes.Trim(bytes.TrimSuffix(raw, []byte("\r")), " \t")
		if len(line) == 0 || line[0] == '#' {
			continue // the begin marker, blank lines, comments and the end marker
		}
		lines = append(lines, string(line))
	}
	return lines, nil
}
