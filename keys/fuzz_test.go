package keys

import (
	"bytes"
	"crypto/elliptic"
	"errors"
	"slices"
	"strings"
	"testing"
	"unicode"

	"golang.org/x/crypto/ssh"
)

// refSplit is the spec of the block written independently of findBlock: it
// returns the bytes before and after the one well-formed block, or ok=false
// when the markers are damaged.
func refSplit(data []byte) (before, after []byte, found, ok bool) {
	kind := func(l string) string {
		l = strings.TrimLeft(l, " \t")
		switch {
		case strings.HasPrefix(l, "# BEGIN ecs-keyagent"):
			return "begin"
		case strings.HasPrefix(l, "# END ecs-keyagent"):
			return "end"
		}
		return ""
	}
	lines := strings.SplitAfter(string(data), "\n")
	begin, end, off := -1, -1, 0
	for _, l := range lines {
		switch kind(strings.TrimSuffix(l, "\n")) {
		case "begin":
			if begin >= 0 {
				return nil, nil, false, false
			}
			begin = off
		case "end":
			if begin < 0 || end >= 0 {
				return nil, nil, false, false
			}
			end = off + len(l)
		}
		off += len(l)
	}
	if begin >= 0 && end < 0 {
		return nil, nil, false, false
	}
	if begin < 0 {
		return data, nil, false, true
	}
	return data[:begin], data[end:], true, true
}

// refValidLine says which lines may go into the block: one non-empty line of
// printable ASCII that reads back unchanged and is not a comment.
func refValidLine(l string) bool {
	return l != "" && l[0] != '#' && l[0] != ' ' && l[len(l)-1] != ' ' &&
		strings.IndexFunc(l, func(r rune) bool { return r < 0x20 || r > 0x7e }) < 0
}

func FuzzMerge(f *testing.F) {
	pool := testKeys(f, 4)
	user := line(edPub(f, 60), "u")
	f.Add([]byte(""), uint8(1), "")
	f.Add([]byte(user), uint8(3), "")
	f.Add([]byte("x\r\n"+blockOf(pool[0])+"y"), uint8(0), "")
	f.Add([]byte(strings.ReplaceAll(blockOf(pool[1], pool[2]), "\n", "\r\n")), uint8(0x85), "")
	f.Add([]byte(BeginMarker+"\n"+user+"\n"), uint8(2), "")
	f.Add([]byte(EndMarker+"\n"+blockOf(pool[3])), uint8(2), "")
	f.Add([]byte("# note\n\n"+user+"\n"), uint8(15), pool[0].Line+"\n")
	f.Fuzz(func(t *testing.T, existing []byte, sel uint8, extra string) {
		var managed []Key
		for i := range pool {
			if sel&(1<<i) != 0 {
				managed = append(managed, pool[i])
			}
		}
		if sel&0x80 != 0 {
			slices.Reverse(managed)
		}
		if extra != "" {
			managed = append(managed, Key{Line: extra})
		}
		in := bytes.Clone(existing)
		out, err := Merge(existing, managed)
		if !bytes.Equal(in, existing) {
			t.Fatalf("Merge(%q) modified its input", in)
		}
		before, after, found, ok := refSplit(existing)
		badLine := extra != "" && !refValidLine(extra)
		if err != nil {
			damaged := errors.Is(err, ErrDamagedBlock)
			if (damaged && ok) || (!damaged && !badLine) {
				t.Fatalf("Merge(%q, %q) = %v, but the reference says damaged=%v, bad line=%v", existing, extra, err, !ok, badLine)
			}
			return
		}
		if !ok || badLine {
			t.Fatalf("Merge(%q, %q) = %q, want an error (damaged=%v, bad line=%v)", existing, extra, out, !ok, badLine)
		}
		if !found && len(managed) == 0 && !bytes.Equal(out, existing) {
			t.Fatalf("Merge(%q, no keys) = %q, want it unchanged", existing, out)
		}
		if !bytes.HasPrefix(out, before) || !bytes.HasSuffix(out[len(before):], after) {
			t.Fatalf("Merge(%q) = %q, lost bytes outside the block (before %q, after %q)", existing, out, before, after)
		}
		middle := out[len(before) : len(out)-len(after)]
		if !found && len(before) > 0 && before[len(before)-1] != '\n' && len(managed) > 0 {
			if middle[0] != '\n' {
				t.Fatalf("Merge(%q) = %q, glued the block to the last line", existing, out)
			}
			middle = middle[1:]
		}
		var wantLines []string
		for _, k := range managed {
			wantLines = append(wantLines, k.Line)
		}
		if len(managed) > 0 && string(middle) != blockOf(managed...) {
			t.Fatalf("Merge(%q) block = %q, want %q", existing, middle, blockOf(managed...))
		}
		if len(managed) == 0 && len(middle) != 0 {
			t.Fatalf("Merge(%q, no keys) left %q", existing, middle)
		}
		got, err := BlockLines(out)
		if err != nil || !slices.Equal(got, wantLines) {
			t.Fatalf("BlockLines(%q) = %q, %v; want %q", out, got, err, wantLines)
		}
		again, err := Merge(out, managed)
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("Merge(%q) = %q, %v; want the fixed point", out, again, err)
		}
	})
}

func FuzzParseKey(f *testing.F) {
	ed := edPub(f, 1)
	for _, s := range []string{
		line(ed, "alice") + "\n",
		line(ecdsaPub(f, elliptic.P384()), ""),
		line(rsaPub(f, 2048), "r"),
		line(rsaPub(f, 1024), ""),
		line(certPub(f), ""),
		blobLine(f, dsaBlob(f), ""),
		blobLine(f, skEd25519Blob(f), "sk"),
		blobLine(f, skECDSABlob(f), "sk"),
		"restrict " + line(ed, ""),
		line(ed, "a\tb\rc"),
		"",
	} {
		f.Add([]byte(s), 0)
	}
	f.Fuzz(func(t *testing.T, body []byte, minBits int) {
		k, err := ParseKey(body, Policy{MinRSABits: minBits})
		if err != nil {
			var re *RejectError
			if !errors.As(err, &re) || re.Reason == "" || unicode.IsUpper(rune(re.Reason[0])) {
				t.Fatalf("ParseKey(%q) error = %#v, want a *RejectError with a lowercase reason", body, err)
			}
			return
		}
		if checkLine(k.Line) != nil || k.Type == "" || k.Bits == 0 {
			t.Fatalf("ParseKey(%q) = %+v, want a single printable line", body, k)
		}
		pub, comment, options, _, err := ssh.ParseAuthorizedKey([]byte(k.Line))
		if err != nil || len(options) > 0 || comment != k.Comment || ssh.FingerprintSHA256(pub) != k.Fingerprint {
			t.Fatalf("ParseKey(%q) line %q re-parses as %v %q %q: %v", body, k.Line, pub, comment, options, err)
		}
		again, err := ParseKey([]byte(k.Line), Policy{MinRSABits: minBits})
		if err != nil || again != k {
			t.Fatalf("ParseKey(%q) = %+v, %v; want the fixed point %+v", k.Line, again, err, k)
		}
	})
}
