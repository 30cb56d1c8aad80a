package sshd

import (
	"errors"
	"slices"
	"strings"
)

// lines splits b after each '\n', so joining the result gives b back.
func lines(b []byte) []string {
	var out []string
	s := string(b)
	for s != "" {
		i := strings.IndexByte(s, '\n')
		if i < 0 {
			out = append(out, s)
			break
		}
		out = append(out, s[:i+1])
		s = s[i+1:]
	}
	return out
}

// isBegin and isEnd recognise our block markers, also in a CRLF file.
func isBegin(l string) bool {
	t := strings.TrimRight(l, "\r\n")
	return t == blockBegin || strings.HasPrefix(t, blockBegin+":")
}

func isEnd(l string) bool { return strings.TrimRight(l, "\r\n") == blockEnd }

// editMain inserts our block into the main file before its first Include or
// Match line (or at the end) and comments out, with disabledPrefix, every
// global line of the main file that sets one of keys to anything but "no".
// All other bytes stay as they are, so revertMain restores them exactly.
func editMain(data []byte, c *config, keys []string) []byte {
	ls := lines(data)
	at := len(ls) // index of the line the block goes before
	for _, inc := range c.includes {
		if inc.file == c.main {
			at = min(at, inc.line-1)
			break
		}
	}
	for _, m := range c.matches {
		if m.file == c.main {
			at = min(at, m.line-1)
			break
		}
	}
	for _, d := range c.directives {
		if d.file != c.main || d.match != nil || !slices.Contains(keys, d.key) {
			continue
		}
		if v, ok := flagValue(d.args); ok && v != "no" && d.line-1 < len(ls) {
			ls[d.line-1] = disabledPrefix + ls[d.line-1]
		}
	}
	block := renderBlock(keys)
	if at == len(ls) && len(ls) > 0 && !strings.HasSuffix(ls[len(ls)-1], "\n") {
		// The file ends without a newline: start the block on a line of its
		// own and leave its last line unterminated, so revertMain knows to
		// take the newline away again.
		block = "\n" + strings.TrimSuffix(block, "\n")
	}
	ls = slices.Insert(ls, at, block)
	return []byte(strings.Join(ls, ""))
}

// revertMain removes our block and our comment markers.
func revertMain(data []byte) ([]byte, error) {
	var out strings.Builder
	in := false
	for _, l := range lines(data) {
		switch {
		case !in && isBegin(l):
			in = true
		case in && isEnd(l):
			in = false
			if !strings.HasSuffix(l, "\n") {
				s := strings.TrimSuffix(out.String(), "\n")
				out.Reset()
				out.WriteString(s)
			}
		case in:
		case strings.HasPrefix(l, disabledPrefix):
			out.WriteString(strings.TrimPrefix(l, disabledPrefix))
		default:
			out.WriteString(l)
		}
	}
	if in {
		return nil, errors.New("\"" + blockBegin + "\" without \"" + blockEnd + "\"")
	}
	return []byte(out.String()), nil
}
