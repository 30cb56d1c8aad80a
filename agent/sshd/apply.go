package sshd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"strings"

	"go.uber.org/zap"
)

// Mode says what to do with one password path.
type Mode string

// Modes, as in the [sshd] section of the agent's configuration.
const (
	Disable Mode = "disable" // make the effective value "no"
	Keep    Mode = "keep"    // remove what the agent wrote; never turns anything on
)

// UnmarshalText accepts "disable" or "keep".
func (m *Mode) UnmarshalText(text []byte) error {
	switch v := Mode(text); v {
	case Disable, Keep:
		*m = v
		return nil
	}
	return fmt.Errorf("want %q or %q, got %q", Disable, Keep, text)
}

// MarshalText returns the mode's name.
func (m Mode) MarshalText() ([]byte, error) { return []byte(m), nil }

// DefaultConfig is where sshd reads its main configuration file.
const DefaultConfig = "/etc/ssh/sshd_config"

// Options configures Apply and Inspect.
type Options struct {
	Root           string // filesystem root in use; "" is "/"
	Config         string // main configuration as sshd sees it; "" is DefaultConfig
	Password       Mode   // PasswordAuthentication; "" is Disable
	KbdInteractive Mode   // KbdInteractiveAuthentication; "" is Disable
	Users          []string
	SSHD           string   // sshd binary; "" is /usr/sbin/sshd under Root
	SSHDArgs       []string // extra arguments for every sshd run
	Reloader       Reloader // nil is SystemReloader with sshd's PidFile
	RetryReload    bool     // reload even if nothing changed: an earlier reload failed (ErrReload)
	Logger         *zap.Logger

	trust string // securefs root; tests set it below the world-writable /tmp
}

// UserResult is the effective configuration for one user.
type UserResult struct {
	User                         string
	PasswordAuthentication       string
	KbdInteractiveAuthentication string
	// AuthorizedKeysFiles are the files sshd reads keys from for the user,
	// unexpanded (%h, %u, relative to the home), as sshd -T prints them.
	AuthorizedKeysFiles []string
}

// Result says what Apply did or Inspect found.
type Result struct {
	Method    string   // where the agent's settings go: "drop-in PATH", "marked block in PATH" or "none: ..."
	Managed   string   // Apply: the file holding the agent's settings, as sshd sees it; "" when none
	Changed   []string // files written or removed, as sshd sees them
	Reloaded  bool
	Reload    string // what was done about reloading, in words
	CheckedBy string // CheckedBySSHD or CheckedByParser
	Users     []UserResult
	Warnings  []string
}

// ErrReload is wrapped when the configuration was written and checked but
// sshd could not be reloaded; a later Apply writes nothing and so will not
// retry, so the caller should call the Reloader again.
var ErrReload = errors.New("reload sshd")

func (o Options) normalize() (Options, error) {
	if o.Root == "" {
		o.Root = "/"
	}
	o.Root = path.Clean(o.Root)
	if o.Config == "" {
		o.Config = DefaultConfig
	}
	if !path.IsAbs(o.Config) {
		return o, fmt.Errorf("use config %q: not an absolute path", o.Config)
	}
	if o.trust == "" {
		o.trust = o.Root
	}
	for _, m := range []*Mode{&o.Password, &o.KbdInteractive} {
		if *m == "" {
			*m = Disable
		}
		if err := m.UnmarshalText([]byte(*m)); err != nil {
			return o, fmt.Errorf("use mode: %w", err)
		}
	}
	for _, u := range o.Users {
		if u == "" || strings.ContainsAny(u, ", \t\r\n=") {
			return o, fmt.Errorf("use user %q: not a user name", u)
		}
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	return o, nil
}

func (o Options) logger() *zap.Logger {
	if o.Logger == nil {
		return zap.NewNop()
	}
	return o.Logger
}

func (o Options) keys() []string {
	var k []string
	if o.Password == Disable {
		k = append(k, kwPassword)
	}
	if o.KbdInteractive == Disable {
		k = append(k, kwKbd)
	}
	return k
}

// runner returns the sshd to check with, or nil for the agent's parser.
// Only the running system is checked by sshd: under another root the
// image's sshd would run as root on this host (chroot is no boundary for
// root), and offline images lack the host keys and /run/sshd sshd -t needs.
func (o Options) runner() *sshdRunner {
	if o.Root != "/" {
		return nil
	}
	bin := o.SSHD
	if bin == "" {
		bin = "/usr/sbin/sshd"
	}
	if fi, err := os.Stat(bin); err != nil || fi.IsDir() {
		return nil
	}
	return &sshdRunner{bin: bin, config: o.Config, args: o.SSHDArgs, log: o.Logger}
}

// Inspect reports the effective values for o.Users and the Match blocks
// that allow passwords, writing nothing.
func Inspect(ctx context.Context, o Options) (Result, error) {
	o, err := o.normalize()
	if err != nil {
		return Result{}, err
	}
	cfg, err := parseConfig(newSource(o.Root), o.Config)
	if err != nil {
		return Result{}, err
	}
	res := Result{Method: "none: inspect only", Warnings: matchWarnings(cfg)}
	_, err = report(ctx, o, cfg, &res)
	return res, err
}

// report fills CheckedBy and Users and returns sshd's global values (sshd -T
// without -C), or nil when the parser answered.
func report(ctx context.Context, o Options, cfg *config, res *Result) (map[string]string, error) {
	r := o.runner()
	if r == nil {
		res.CheckedBy = CheckedByParser
		if len(cfg.problems) > 0 {
			return nil, fmt.Errorf("check %s: %s", o.Config, strings.Join(cfg.problems, "; "))
		}
		for _, u := range o.Users {
			ci := &connInfo{user: u, host: testAddr, addr: testAddr}
			pw, _ := cfg.effective(kwPassword, ci)
			kbd, _ := cfg.effective(kwKbd, ci)
			res.Users = append(res.Users, UserResult{User: u, PasswordAuthentication: pw, KbdInteractiveAuthentication: kbd,
				AuthorizedKeysFiles: cfg.authorizedKeysFiles(ci)})
		}
		return nil, nil
	}
	res.CheckedBy = CheckedBySSHD
	global, err := r.effective(ctx, "")
	if err != nil {
		return nil, err
	}
	for _, u := range o.Users {
		v, err := r.effective(ctx, u)
		if err != nil {
			return nil, err
		}
		res.Users = append(res.Users, UserResult{User: u, PasswordAuthentication: v[kwPassword], KbdInteractiveAuthentication: v[kwKbd],
			AuthorizedKeysFiles: strings.Fields(v[kwAuthorizedKeysFile])})
	}
	return global, nil
}

// changes compares the plan with the disk and returns the files to write,
// each with its state before.
func changes(p *plan, st store) (before, after []fileState, err error) {
	for _, f := range p.touched {
		old, err := st.load(f)
		if err != nil {
			return nil, nil, err
		}
		if seen, ok := p.src.disk[f]; ok && (!old.exists || !bytes.Equal(seen, old.data)) {
			return nil, nil, fmt.Errorf("write %s: it changed while the agent read it; try again", f)
		}
		want := fileState{path: f, mode: 0o644, uid: os.Geteuid(), gid: os.Getegid()}
		if old.exists {
			want.mode, want.uid, want.gid = old.mode, old.uid, old.gid
		}
		if b, err := p.src.read(f); err == nil {
			want.exists, want.data = true, b
		}
		if old.exists == want.exists && bytes.Equal(old.data, want.data) {
			continue
		}
		before, after = append(before, old), append(after, want)
	}
	return before, after, nil
}
