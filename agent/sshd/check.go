package sshd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"strings"
	"time"

	"go.uber.org/zap"
)

// Values of Result.CheckedBy.
const (
	CheckedBySSHD   = "sshd"
	CheckedByParser = "agent parser, not sshd"
)

// testConn is the client sshd -T -C pretends to be. 192.0.2.1 is TEST-NET-1
// (RFC 5737): no real network, so no admin's Match Address block names it and
// the answer is what an ordinary remote client gets. host equals addr because
// with the default UseDNS no sshd matches Host against the address text. Match
// blocks that do differ for some clients are reported as warnings instead.
const testAddr = "192.0.2.1"

// maxOutput bounds what is kept of sshd's output.
const maxOutput = 256 << 10

// sshdRunner runs the real sshd against the configuration in place.
type sshdRunner struct {
	bin    string
	config string
	args   []string
	log    *zap.Logger
}

// run runs sshd with the config and extra args. sshd -t and -T refuse to
// run without their privilege separation directory (/run/sshd on Debian),
// which systemd creates as the unit's RuntimeDirectory; when sshd names it
// as missing, create it as the unit would and try once more.
func (r sshdRunner) run(ctx context.Context, args ...string) ([]byte, error) {
	out, err := r.runOnce(ctx, args)
	if dir, ok := missingPrivsep(out); err != nil && ok {
		if mkErr := os.Mkdir(dir, 0o755); mkErr == nil || errors.Is(mkErr, os.ErrExist) {
			r.log.Info("created privilege separation directory for sshd", zap.String("dir", dir))
			out, err = r.runOnce(ctx, args)
		}
	}
	return out, err
}

func (r sshdRunner) runOnce(ctx context.Context, args []string) ([]byte, error) {
	argv := append([]string{"-f", r.config}, r.args...)
	argv = append(argv, args...)
	cmd := exec.CommandContext(ctx, r.bin, argv...)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C"}
	var out limitedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	r.log.Debug("ran sshd", zap.Strings("args", argv), zap.Duration("took", time.Since(start)), zap.Bool("ok", err == nil))
	b := out.buf.Bytes()
	if err != nil {
		msg := strings.TrimSpace(string(b))
		if msg == "" {
			msg = err.Error()
		}
		return b, errors.New(msg)
	}
	return b, nil
}

func missingPrivsep(out []byte) (string, bool) {
	const m = "Missing privilege separation directory: "
	i := bytes.Index(out, []byte(m))
	if i < 0 {
		return "", false
	}
	dir := strings.TrimSpace(strings.SplitN(string(out[i+len(m):]), "\n", 2)[0])
	ok := path.IsAbs(dir) && path.Clean(dir) == dir && (strings.HasPrefix(dir, "/run/") || strings.HasPrefix(dir, "/var/run/"))
	return dir, ok
}

// test is sshd -t: the whole configuration, includes and Match blocks too.
func (r sshdRunner) test(ctx context.Context) error {
	if _, err := r.run(ctx, "-t"); err != nil {
		return fmt.Errorf("check sshd config: %w", err)
	}
	return nil
}

// show is sshd -T -C for the connection ci: the effective configuration
// sshd would apply to it.
func (r sshdRunner) show(ctx context.Context, ci *connInfo) ([]byte, error) {
	out, err := r.run(ctx, "-T", "-C", ci.spec())
	if err != nil {
		return nil, fmt.Errorf("show sshd config for %q: %w", ci.user, err)
	}
	if !bytes.Contains(out, []byte("\n"+kwPassword+" ")) || !bytes.Contains(out, []byte("\n"+kwKbd+" ")) {
		return nil, fmt.Errorf("show sshd config for %q: no %s or %s in sshd -T output", ci.user, kwPassword, kwKbd)
	}
	return out, nil
}

// withWhere gives sshd's view the lines the parser found for each value.
// A value the two disagree on gets no line: the parser's would mislead.
func withWhere(sshd, parsed view) view {
	for k, w := range parsed.where {
		if sshd.get(k) == parsed.get(k) {
			sshd.where[k] = w
		}
	}
	return sshd
}

// limitedBuffer keeps the first maxOutput bytes and drops the rest.
type limitedBuffer struct{ buf bytes.Buffer }

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := maxOutput - l.buf.Len(); room > 0 {
		l.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

// matchWarnings names every Match block that still lets someone log on
// with a password: the agent never edits an administrator's Match block
// (cloud-init did, canonical/cloud-init#3613).
func matchWarnings(c *config) []string {
	var out []string
	for _, d := range c.directives {
		if d.match == nil || (d.key != kwPassword && d.key != kwKbd) {
			continue
		}
		if v, _ := flagValue(d.args); v != "no" {
			out = append(out, fmt.Sprintf("%s sets %s %s at %s:%d; the agent leaves Match blocks alone",
				d.match, keyNames[d.key], strings.Join(d.args, " "), d.file, d.line))
		}
	}
	return out
}
