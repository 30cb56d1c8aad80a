package keys

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

// benchFile is an authorized_keys file of n lines as users grow them: their
// own keys with comments, a few comment lines and blank lines, the managed
// block in the middle holding old.
func benchFile(b *testing.B, n int, old Key) []byte {
	b.Helper()
	var own [200]string // ed25519 derivation is slow: 200 distinct keys, repeated
	for i := range own {
		own[i] = line(edPub(b, byte(i)), "")
	}
	var sb strings.Builder
	for i := range n {
		switch {
		case i == n/2:
			sb.WriteString(blockOf(old))
		case i%50 == 1:
			fmt.Fprintf(&sb, "# team key %d\n", i)
		case i%50 == 2:
			sb.WriteString("\n")
		default:
			fmt.Fprintf(&sb, "%s user-%d@laptop\n", own[i%len(own)], i)
		}
	}
	return []byte(sb.String())
}

// metadataBody is an openssh-key body as the metadata service serves it.
func metadataBody(b *testing.B, seed byte) []byte {
	b.Helper()
	s := make([]byte, ed25519.SeedSize)
	s[0], s[1] = seed, 0xec
	pub, err := ssh.NewPublicKey(ed25519.NewKeyFromSeed(s).Public())
	if err != nil {
		b.Fatal(err)
	}
	return append(bytes.TrimSuffix(ssh.MarshalAuthorizedKey(pub), []byte("\n")), " skp-bench\n"...)
}

// BenchmarkFileSync is the keys side of one user's sync as the engine
// does it (agent.Engine.apply): parse the metadata key, adopt a copy of it
// found outside the block, merge it into the file, read the old block back
// and compare, and learn whether sshd can use a key in the result, which
// the block's key settles. "changed" rotates the bound key, "unchanged"
// finds it in place. ns/line shows whether the cost grows with the file;
// allocs/op should not.
func BenchmarkFileSync(b *testing.B) {
	oldBody, newBody := metadataBody(b, 1), metadataBody(b, 2)
	old, err := ParseKey(oldBody, Policy{})
	if err != nil {
		b.Fatal(err)
	}
	for _, n := range []int{10, 1000, 100000} {
		file := benchFile(b, n, old)
		for _, c := range []struct {
			name string
			body []byte
		}{{"unchanged", oldBody}, {"changed", newBody}} {
			b.Run(fmt.Sprintf("lines=%d/%s", n, c.name), func(b *testing.B) {
				b.SetBytes(int64(len(file)))
				b.ReportAllocs()
				for b.Loop() {
					k, err := ParseKey(c.body, Policy{})
					if err != nil {
						b.Fatal(err)
					}
					managed := []Key{k}
					next, _, err := Adopt(file, managed)
					if err != nil {
						b.Fatal(err)
					}
					if next, err = Merge(next, managed); err != nil {
						b.Fatal(err)
					}
					before, err := BlockLines(file)
					if err != nil {
						b.Fatal(err)
					}
					Compare(before, managed)
					if !Usable(k) && len(next) > 0 {
						b.Fatal("the bound key is not usable")
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/line")
			})
		}
	}
}

// BenchmarkUsableScan reads every line of the same files: UsableTypes is
// what the engine does when the block holds no usable key (none bound) or
// when sshd accepts none of the block's key types, and what it did on
// every sync before the block settled the question; UsableKeys also
// renders and fingerprints each key, as status and doctor do.
func BenchmarkUsableScan(b *testing.B) {
	old, err := ParseKey(metadataBody(b, 1), Policy{})
	if err != nil {
		b.Fatal(err)
	}
	for _, n := range []int{10, 1000, 100000} {
		file := benchFile(b, n, old)
		for _, c := range []struct {
			name string
			scan func([]byte) int
		}{
			{"UsableTypes", func(d []byte) int { n, _ := UsableTypes(d); return n }},
			{"UsableKeys", func(d []byte) int { return len(UsableKeys(d)) }},
		} {
			b.Run(fmt.Sprintf("lines=%d/%s", n, c.name), func(b *testing.B) {
				b.SetBytes(int64(len(file)))
				b.ReportAllocs()
				for b.Loop() {
					if c.scan(file) == 0 {
						b.Fatal("no usable key")
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/line")
			})
		}
	}
}

// BenchmarkMergeOnly is Merge alone on the same files: find the block,
// render the new one, splice. It is what scales with the file when the
// usable-key check is left out.
func BenchmarkMergeOnly(b *testing.B) {
	old, err := ParseKey(metadataBody(b, 1), Policy{})
	if err != nil {
		b.Fatal(err)
	}
	k, err := ParseKey(metadataBody(b, 2), Policy{})
	if err != nil {
		b.Fatal(err)
	}
	for _, n := range []int{10, 1000, 100000} {
		file := benchFile(b, n, old)
		b.Run(fmt.Sprintf("lines=%d", n), func(b *testing.B) {
			b.SetBytes(int64(len(file)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Merge(file, []Key{k}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/line")
		})
	}
}
