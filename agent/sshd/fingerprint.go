package sshd

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"

	"github.com/ecs-keyagent/ecs-keyagent/agent/filestamp"
)

// Fingerprint hashes everything Apply and Inspect depend on that can be read
// without running sshd: the options, every configuration file sshd would
// read, and the sshd binary's identity. Equal fingerprints mean a repeated
// Apply would write nothing and report what it reported before, so a daemon
// polling every 30 seconds need not run sshd -T each time: that was most of
// an idle poll's CPU time.
func Fingerprint(o Options) (string, error) {
	return fingerprint(o, nil)
}

// fingerprint is Fingerprint, recording in deps every path it looked at.
func fingerprint(o Options, deps *filestamp.Set) (string, error) {
	o, err := o.normalize()
	if err != nil {
		return "", err
	}
	src := newSource(o.Root)
	src.deps = deps
	if _, err := parseConfig(src, o.Config); err != nil {
		return "", err
	}
	h := sha256.New()
	fmt.Fprintf(h, "%q %q %q %q %q\n", o.Root, o.Config, o.Password, o.KbdInteractive, o.Users)
	if o.Root == "/" { // the binary o.runner would run, stamped even when missing: installing it changes the fingerprint
		bin := o.SSHD
		if bin == "" {
			bin = defaultSSHD
		}
		st := filestamp.Stat(bin)
		deps.Add(bin, true, st)
		if st.Exists() && !st.IsDir() {
			fmt.Fprintf(h, "sshd %q %v\n", bin, st)
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

// fingerprintMemo is the last fingerprint computed and what it depends on.
type fingerprintMemo struct {
	opts string // the options it was computed for
	deps *filestamp.Set
	fp   string
}

// fingerprint is Fingerprint(o), reused while o and every file, directory
// listing and path the last computation looked at are unchanged (see
// package filestamp): an idle poll then stats sshd's files instead of
// reading and parsing them.
func (s *Step) fingerprint(o Options) (string, error) {
	key := fmt.Sprintf("%q %q %q %q %q %q %q", o.Root, o.Config, o.Password, o.KbdInteractive, o.Users, o.SSHD, o.trust)
	if m := &s.fp; m.opts == key && m.deps.Unchanged() {
		return m.fp, nil
	}
	deps := &filestamp.Set{}
	fp, err := fingerprint(o, deps)
	if err != nil {
		s.fp = fingerprintMemo{}
		return "", err
	}
	s.fp = fingerprintMemo{opts: key, deps: deps, fp: fp}
	return fp, nil
}
