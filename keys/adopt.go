package keys

import (
	"bytes"
	"slices"
	"strings"

	"golang.org/x/crypto/ssh"
)

// Adopt removes from existing every line outside the managed block that
// holds one of managed's keys and nothing else: no options, only the key
// type, the key and an optional comment, as cloud-init writes the bound key
// at first boot. Merge then puts the key in the block, so that a later
// rotation or detach revokes it. A line with options (from=, command=,
// restrict, ...) is left alone: moving it into the block would drop the
// limits it sets. Every other byte stays as it was. It returns the
// fingerprints of the keys adopted; existing itself when there are none.
func Adopt(existing []byte, managed []Key) ([]byte, []string, error) {
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
		// The search looks for the needle's tail, then checks the rest:
		// base64 key blobs of one type share a long prefix (the encoded type
		// name), which every key line of the file matches, while the tail
		// is the key itself. One pass over the file per bound key.
		tail := needle[max(0, len(needle)-adoptTail):]
		lead := len(needle) - len(tail)
		for off := lead; off <= len(existing); {
			i := bytes.Index(existing[off:], tail)
			if i < 0 {
				break
			}
			at := off + i - lead
			off += i + len(tail)
			if !bytes.Equal(existing[at:at+lead], needle[:lead]) {
				continue
			}
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
				off = max(off, end+lead)
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

// adoptTail is how much of a key's base64 Adopt searches for: within
// bytes.Index's vectorised needle length on amd64 and arm64, and long
// enough to be the key's own bytes.
const adoptTail = 32

// plainLineOf reports whether line holds k's key with no options.
func plainLineOf(line []byte, k Key) bool {
	line = bytes.Trim(bytes.TrimRight(line, "\r\n"), " \t")
	if len(line) == 0 || line[0] == '#' {
		return false
	}
	pub, _, options, rest, err := ssh.ParseAuthorizedKey(line)
	return err == nil && len(options) == 0 && len(bytes.TrimSpace(rest)) == 0 &&
		ssh.FingerprintSHA256(pub) == k.Fingerprint
}

// span is a byte range [start, end) of a line to drop.
type span struct{ start, end int }
