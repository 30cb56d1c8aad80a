package sshd

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"slices"
)

// Fingerprint hashes everything Apply and Inspect depend on that can be read
// without running sshd: the options, every configuration file sshd would
// read, and the sshd binary's identity. Equal fingerprints mean a repeated
// Apply would write nothing and report what it reported before, so a daemon
// polling every 30 seconds need not run sshd -T each time: that was most of
// an idle poll's CPU time.
func Fingerprint(o Options) (string, error) {
	o, err := o.normalize()
	if err != nil {
		return "", err
	}
	src := newSource(o.Root)
	if _, err := parseConfig(src, o.Config); err != nil {
		return "", err
	}
	h := sha256.New()
	fmt.Fprintf(h, "%q %q %q %q %q\n", o.Root, o.Config, o.Password, o.KbdInteractive, o.Users)
	if r := o.runner(); r != nil {
		if fi, err := os.Stat(r.bin); err == nil {
			fmt.Fprintf(h, "sshd %q %d %d\n", r.bin, fi.Size(), fi.ModTime().UnixNano())
		}
	}
	paths := make([]string, 0, len(src.disk))
	for p := range src.disk {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	for _, p := range paths {
		fmt.Fprintf(h, "%q %d\n", p, len(src.disk[p]))
		h.Write(src.disk[p])
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
