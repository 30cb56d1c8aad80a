package sshd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
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

// UnmarshalText accepts "platform", "disable" or "keep".
func (m *Mode) UnmarshalText(text []byte) error {
	switch v := Mode(text); v {
	case Platform, Disable, Keep:
		*m = v
		return nil
	}
	return fmt.Errorf("want %q, %q or %q, got %q", Platform, Disable, Keep, text)
}

// MarshalText returns the mode's name.
func (m Mode) MarshalText() ([]byte, error) { return []byte(m), nil }

// DefaultConfig is where sshd reads its main configuration file.
const DefaultConfig = "/etc/ssh/sshd_config"

// VendorConfig is the vendor configuration openSUSE's sshd reads while
// DefaultConfig does not exist; it includes /etc/ssh/sshd_config.d/*.conf,
// then /usr/etc/ssh/sshd_config.d/*.conf. Creating DefaultConfig would
// replace the whole vendor configuration, so the agent never does.
const VendorConfig = "/usr/etc/ssh/sshd_config"

// mainConfig returns the main file sshd reads under root for the configured
// one: DefaultConfig, or VendorConfig when DefaultConfig is absent and the
// vendor file is there (vendor true). An explicit other file is taken as is.
func mainConfig(root, config string) (main string, vendor bool) {
	main, vendor, _ = resolveMain(root, config)
	return main, vendor
}

// resolveMain is mainConfig, also saying whether it saw the file it
// returns exist (false when it did not look: an explicit config).
func resolveMain(root, config string) (main string, vendor, exists bool) {
	if config == "" {
		config = DefaultConfig
	}
	if config != DefaultConfig {
		return config, false, false
	}
	if _, err := os.Lstat(filepath.Join(root, DefaultConfig)); err == nil {
		return DefaultConfig, false, true
	}
	if _, err := os.Lstat(filepath.Join(root, VendorConfig)); err == nil {
		return VendorConfig, true, true
	}
	return DefaultConfig, false, false
}

// defaultSSHD is the sshd binary run when Options.SSHD is "".
const defaultSSHD = "/usr/sbin/sshd"

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
	// DryRun plans the change and reports it (Result.Changed, Removed and
	// Diff) without writing, running sshd or reloading it.
	DryRun bool
	Logger *zap.Logger
	// FIPS: the kernel runs in FIPS mode (/proc/sys/crypto/fips_enabled
	// is 1), where sshd refuses ed25519 keys.
	FIPS bool

	trust  string              // securefs root; tests set it below the world-writable /tmp
	vendor bool                // Config is VendorConfig: never edit it, never create DefaultConfig
	groups map[string][]string // the users' groups, for the parser's Match Group
	// check, when set, judges the users' views of the written configuration
	// before sshd is reloaded; an error restores the earlier files.
	check func(map[string][]view) error
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
	Removed   []string // those of Changed that were removed
	Diff      string   // DryRun: the change as a unified diff
	Reloaded  bool
	Reload    string // what was done about reloading, in words
	CheckedBy string // CheckedBySSHD or CheckedByParser
	Users     []UserResult
	Warnings  []string

	views map[string][]view // per user, per port
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
	o.Config, o.vendor = mainConfig(o.Root, o.Config)
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
		if err := m.UnmarshalText([]byte(*m)); err != nil || *m == Platform {
			return o, fmt.Errorf("use mode %q: want %q or %q (Step.Run resolves %q)", *m, Disable, Keep, Platform)
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
		bin = defaultSSHD
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
	res.views, _, err = report(ctx, o, cfg, &res)
	return res, err
}

// report fills CheckedBy and Users with the effective values for each of
// o.Users and returns what sshd applies to their connections, one view per
// port sshd listens on: sshd -T -C with every criterion when sshd can run,
// else the agent's parser. pidfile is sshd's PidFile.
func report(ctx context.Context, o Options, cfg *config, res *Result) (views map[string][]view, pidfile string, err error) {
	r := o.runner()
	if r == nil {
		res.CheckedBy = CheckedByParser
		if len(cfg.problems) > 0 {
			return nil, "", fmt.Errorf("check %s: %s", o.Config, strings.Join(cfg.problems, "; "))
		}
	} else {
		res.CheckedBy = CheckedBySSHD
	}
	views = map[string][]view{}
	users := o.Users
	if len(users) == 0 {
		users = []string{"root"} // only for PidFile
	}
	for _, u := range users {
		for _, ci := range cfg.connections(u, o.groups[u]) {
			v := cfg.view(ci)
			if r != nil {
				out, err := r.show(ctx, ci)
				if err != nil {
					return nil, "", err
				}
				v = withWhere(parseView(out), v)
			} else if slices.Contains(o.Users, u) {
				for _, w := range slices.Concat(v.problems, v.doubts()) {
					if !slices.Contains(res.Warnings, w) {
						res.Warnings = append(res.Warnings, w)
					}
				}
			}
			v.fips = o.FIPS
			views[u] = append(views[u], v)
			if pidfile == "" {
				pidfile = v.get(kwPidFile)
			}
		}
		if !slices.Contains(o.Users, u) {
			continue
		}
		v := views[u][0]
		res.Users = append(res.Users, UserResult{User: u, PasswordAuthentication: v.get(kwPassword),
			KbdInteractiveAuthentication: v.get(kwKbd), AuthorizedKeysFiles: strings.Fields(v.get(kwAuthorizedKeysFile))})
	}
	return views, pidfile, nil
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
