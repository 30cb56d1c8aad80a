package agent

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/rogpeppe/go-internal/diff"
	"go.uber.org/zap"

	"github.com/ecs-keyagent/ecs-keyagent/agent/account"
	"github.com/ecs-keyagent/ecs-keyagent/agent/config"
	"github.com/ecs-keyagent/ecs-keyagent/agent/filestamp"
	"github.com/ecs-keyagent/ecs-keyagent/agent/metadata"
	"github.com/ecs-keyagent/ecs-keyagent/agent/securefs"
	"github.com/ecs-keyagent/ecs-keyagent/agent/sshd"
	"github.com/ecs-keyagent/ecs-keyagent/keys"
)

// Paths of the agent's own files, relative to the filesystem root in use.
const (
	LockPath     = "/run/ecs-keyagent/lock"
	LastSyncPath = "/run/ecs-keyagent/last-sync"
	FailurePath  = "/run/ecs-keyagent/failure.json"
	StateDir     = "/var/lib/ecs-keyagent"
	StateFile    = "state.json"
)

// maxAuthorizedKeys bounds the authorized_keys file we read: a user can make
// it any size, and we hold it in memory twice.
const maxAuthorizedKeys = 16 << 20

// ErrNoUsableKey: the metadata service lists keys and the agent rejected
// every one of them.
var ErrNoUsableKey = errors.New("no usable key")

// Options configure an Engine.
type Options struct {
	Config config.Config
	Root   string // filesystem root for every path; "" means "/"
	DryRun bool   // compute and report, write nothing
	Logger *zap.Logger
	// Version is the agent's, for the metrics textfile.
	Version string
	// Started is when the service started: the metrics' failure count runs
	// from then. Zero for a one-shot sync, which carries the count on from
	// the previous metrics file (see metrics.go).
	Started time.Time
	// Progress, when not nil, hears about waits a person at a terminal
	// should know of: for the lock, for a slow metadata service.
	Progress func(msg string)
}

// Engine runs syncs. The one-shot command and the daemon share it, so they
// share the lock, the state file and every decision.
type Engine struct {
	opts        Options
	client      *metadata.Client
	sshd        sshd.Step             // remembers the last sshd step; Sync calls are serialised by the lock
	last        *Report               // the last recorded result, see saveState
	lastJSON    []byte                // resultJSON(last), nil until needed
	failing     *Failure              // the failures since the last sync that reached metadata
	lastSuccess time.Time             // when that sync ran, if known
	usable      map[string]usableMemo // per user, see usableKeys
	users       map[string]userMemo   // per user, see cachedUser
	parsed      map[string]parsedKey  // the last poll's keys by body, see fetch
	accounts    *account.Files        // passwd, group and shadow, kept while unchanged
	fips        bool                  // the kernel's FIPS mode, read once: see fipsMode
	runDir      *securefs.Dir         // LastSyncPath's directory, see writeLastSync
	runDeps     *filestamp.Set        // the stamps of the path to runDir
	runTouched  bool                  // the last-sync file in runDir was touched through it
	lockFile    *securefs.LockFile    // LockPath, kept open between syncs; nil until the first
}

// NewEngine returns an engine; its metadata client (and token) lives as long
// as the engine.
func NewEngine(o Options) *Engine {
	if o.Root == "" {
		o.Root = "/"
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	c := o.Config
	return &Engine{opts: o, fips: fipsMode(o.Root), client: metadata.New(metadata.Config{
		Endpoint:       string(c.Endpoint),
		Token:          c.Token,
		TokenTTL:       c.TokenTTL.Duration,
		RequestTimeout: c.RequestTimeout.Duration,
		Logger:         o.Logger,
		Fallback:       fallback(c.Endpoint),
	})}
}

// fallback is the metadata endpoint tried when the configured one cannot
// be reached: ECS's IPv6 address for the default endpoint; none for an
// explicit one, which the administrator chose.
func fallback(ep metadata.Endpoint) string {
	if ep == metadata.DefaultEndpoint {
		return string(metadata.DefaultFallback)
	}
	return ""
}

// Close closes the metadata client's kept-alive connections, the directory
// kept open for the last-sync time and the lock file; an engine replaced
// after a reload would otherwise hold them. No sync may be running.
func (e *Engine) Close() {
	e.client.CloseIdleConnections()
	if e.lockFile != nil {
		e.lockFile.Close()
	}
	if e.runDir != nil {
		e.runDir.Close()
		e.runDir, e.runTouched = nil, false
	}
}

// Users returns the target users: the configured ones, else ECS's logon
// user, which is ecs-user when the instance was created with it (root is
// then not used to log in, Alibaba Cloud "Manage the username used to log
// on to an ECS instance"), else root.
func (e *Engine) Users() []string {
	if len(e.opts.Config.Users) > 0 {
		return e.opts.Config.Users
	}
	if _, err := e.accountFiles().Lookup("ecs-user"); err == nil {
		return []string{"ecs-user"}
	}
	return []string{"root"}
}

// accountFiles returns the engine's reader of passwd, group and shadow.
func (e *Engine) accountFiles() *account.Files {
	if e.accounts == nil {
		e.accounts = account.NewFiles(e.opts.Root)
	}
	return e.accounts
}

// Config returns the configuration the engine runs with.
func (e *Engine) Config() config.Config { return e.opts.Config }

// Sync makes every target user's authorized_keys match the metadata service.
// It never returns nil; failures are in the report.
func (e *Engine) Sync(ctx context.Context) *Report {
	o := e.opts
	r := &Report{Time: time.Now().UTC(), DryRun: o.DryRun, Endpoint: string(o.Config.Endpoint), Outcome: OutcomeOK}
	if !o.DryRun {
		unlock, err := e.lock(ctx)
		if err != nil {
			r.fail(err)
			return r
		}
		defer unlock()
	}
	managed, err := e.fetch(ctx, r)
	if err != nil {
		r.fail(err)
		e.saveState(r)
		e.writeMetrics(r)
		return r
	}
	for _, name := range e.Users() {
		ur, err := e.syncUser(name, managed)
		if err != nil {
			r.fail(err)
		}
		r.Users = append(r.Users, ur)
	}
	e.release(r)
	e.syncSSHD(ctx, r)
	for i := range r.Users {
		r.Users[i].moreTypes = nil // it holds the file's content: let it go
	}
	if r.Outcome == OutcomeOK {
		for _, k := range r.Keys {
			if !k.Installed {
				r.Outcome = OutcomePartial
			}
		}
	}
	e.saveState(r)
	e.writeMetrics(r)
	return r
}

// fetch reads the bound keys and validates them. Rejected keys are reported
// and skipped; the rest are returned de-duplicated by fingerprint.
func (e *Engine) fetch(ctx context.Context, r *Report) ([]keys.Key, error) {
	if p := e.opts.Progress; p != nil {
		t := time.AfterFunc(time.Second, func() { p("waiting for the metadata service at " + string(e.opts.Config.Endpoint)) })
		defer t.Stop()
	}
	snap, err := e.client.Fetch(ctx)
	r.InstanceID = snap.InstanceID
	if snap.Endpoint != "" {
		r.Endpoint = snap.Endpoint // which answered, or was asked last
	}
	if errors.Is(err, metadata.ErrNoKeyBound) {
		r.NoKeyBound = true
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	policy := keys.Policy{MinRSABits: e.opts.Config.MinRSABits}
	var managed []keys.Key
	seen := map[string]bool{}
	parsed := make(map[string]parsedKey, len(snap.Keys))
	for _, entry := range snap.Keys {
		// keys.ParseKey is a pure function of the body and the policy, which
		// is the engine's: a key listed at the last poll too is not parsed,
		// rendered and fingerprinted again.
		p, ok := e.parsed[string(entry.Body)]
		if !ok {
			p.key, p.err = keys.ParseKey(entry.Body, policy)
		}
		parsed[string(entry.Body)] = p
		k, err := p.key, p.err
		if err != nil {
			kr := KeyReport{ID: entry.ID, Reason: err.Error()}
			var rej *keys.RejectError
			if errors.As(err, &rej) {
				kr.Reason, kr.Fingerprint = rej.Reason, rej.Fingerprint
			}
			e.opts.Logger.Warn("key rejected", zap.String("key_id", entry.ID),
				zap.String("fingerprint", kr.Fingerprint), zap.String("reason", kr.Reason),
				zap.String("instance_id", r.InstanceID))
			r.Keys = append(r.Keys, kr)
			continue
		}
		r.Keys = append(r.Keys, KeyReport{ID: entry.ID, Type: k.Type, Fingerprint: k.Fingerprint, Installed: true})
		if !seen[k.Fingerprint] {
			seen[k.Fingerprint] = true
			managed = append(managed, k)
		}
	}
	e.parsed = parsed
	if len(managed) == 0 && len(snap.Keys) > 0 {
		// Removing the block because the one bound key is unusable would
		// lock the user out for a console mistake: keep what works.
		return nil, fmt.Errorf("%w among the %d the metadata service lists: authorized_keys left as it was", ErrNoUsableKey, len(snap.Keys))
	}
	return managed, nil
}

// parsedKey is what keys.ParseKey returned for one body.
type parsedKey struct {
	key keys.Key
	err error
}

// syncUser converges one user's ~/.ssh/authorized_keys.
func (e *Engine) syncUser(name string, managed []keys.Key) (UserReport, error) {
	ur := UserReport{User: name}
	err := e.convergeUser(&ur, managed)
	if err != nil {
		ur.Error = err.Error()
		e.opts.Logger.Error("sync failed", zap.String("user", name), zap.String("path", ur.Path), zap.Error(err))
	}
	return ur, err
}

func (e *Engine) convergeUser(ur *UserReport, managed []keys.Key) error {
	o := e.opts
	acct, err := e.accountFiles().Lookup(ur.User)
	if err != nil {
		return err
	}
	ur.Path = filepath.Join(acct.Home, ".ssh", "authorized_keys")
	ur.home, ur.uid = acct.Home, acct.UID
	if ur.groups, err = e.accountFiles().Groups(acct); err != nil {
		return err
	}
	if e.cachedUser(ur, acct, managed) {
		return nil
	}
	deps := e.userStamps(acct) // before reading: a change during the read changes them
	delete(e.users, ur.User)
	home, err := securefs.OpenHome(o.Root, acct.Home, acct.UID)
	if err != nil {
		return err
	}
	defer home.Close()
	create := len(managed) > 0 && !o.DryRun
	sshDir, err := home.Subdir(".ssh", create, acct.UID, acct.GID)
	if errors.Is(err, fs.ErrNotExist) {
		if len(managed) > 0 { // dry run: show the file we would create
			return e.apply(ur, nil, nil, managed, acct)
		}
		return nil // nothing bound, nothing there: nothing to remove
	}
	if err != nil {
		return err
	}
	defer sshDir.Close()
	old, _, err := sshDir.ReadFile("authorized_keys", maxAuthorizedKeys, acct.UID)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if errors.Is(err, fs.ErrNotExist) && len(managed) == 0 {
		return nil
	}
	if err := e.apply(ur, sshDir, old, managed, acct); err != nil {
		return err
	}
	e.rememberUser(ur, acct, managed, deps)
	return nil
}

// apply merges managed into old and writes the result if it differs.
func (e *Engine) apply(ur *UserReport, dir *securefs.Dir, old []byte, managed []keys.Key, acct account.Account) error {
	next := old
	if e.opts.Config.AdoptBoundKeys {
		var err error
		if next, ur.Adopted, err = keys.Adopt(old, managed); err != nil {
			return fmt.Errorf("update %s: %w", ur.Path, err)
		}
	}
	next, err := keys.Merge(next, managed)
	if err != nil {
		return fmt.Errorf("update %s: %w", ur.Path, err)
	}
	before, err := keys.BlockLines(old)
	if err != nil {
		return fmt.Errorf("update %s: %w", ur.Path, err)
	}
	ur.Added, ur.Removed, ur.Kept = keys.Compare(before, managed)
	ur.Usable, ur.keyTypes, ur.moreTypes = e.usableKeys(ur.User, next, managed)
	if string(next) == string(old) {
		e.opts.Logger.Debug("authorized_keys already right: not written", zap.String("user", ur.User), zap.String("path", ur.Path),
			zap.Int("usable_keys", ur.Usable))
		return nil
	}
	ur.Changed = true
	e.opts.Logger.Debug("authorized_keys differs", zap.String("user", ur.User), zap.String("path", ur.Path),
		zap.Strings("added", ur.Added), zap.Strings("removed", ur.Removed), zap.Strings("adopted", ur.Adopted), zap.Bool("dry_run", e.opts.DryRun))
	if e.opts.DryRun {
		ur.Diff = string(diff.Diff(ur.Path, old, ur.Path, next))
		return nil
	}
	if _, err := dir.CleanTemp("authorized_keys"); err != nil {
		return fmt.Errorf("clean temporary files in %s: %w", dir.Path(), err)
	}
	if err := dir.WriteFile("authorized_keys", next, 0o600, acct.UID, acct.GID); err != nil {
		return err
	}
	e.opts.Logger.Info("authorized_keys updated", zap.String("user", ur.User), zap.String("path", ur.Path),
		zap.Strings("added", ur.Added), zap.Strings("removed", ur.Removed), zap.Strings("adopted", ur.Adopted))
	return nil
}

// usableKeys says what the logon model needs of a user's file after the
// keys step: how many keys sshd can use in it and their types.
//
// After Merge the block holds exactly managed, each key validated by
// keys.ParseKey, so when one of them is usable the block settles the
// question without reading the file: n counts the block's usable keys, a
// lower bound (the user's own keys are not counted), and types are theirs.
// The model needs the other lines only when sshd's
// PubkeyAcceptedAlgorithms refuses every type in the block; more gives
// the types of every usable key in the file then, on demand. An
// unchanged sync of a large file thus costs no parse of its lines.
//
// With no usable key in the block (none bound, or none sshd accepts) every
// line is read, at about 1 µs a line; an idle daemon polling a large file
// that has not changed reuses the answer, keyed by the content's hash, as
// does more.
func (e *Engine) usableKeys(user string, data []byte, managed []keys.Key) (n int, types []string, more func() []string) {
	for _, k := range managed {
		if keys.Usable(k) {
			n++
			if !slices.Contains(types, k.Type) {
				types = append(types, k.Type)
			}
		}
	}
	if n > 0 {
		return n, types, func() []string {
			_, all := e.fileUsable(user, data)
			return all
		}
	}
	n, types = e.fileUsable(user, data)
	return n, types, nil
}

// fileUsable is keys.UsableTypes of data, remembered per user while the
// content's hash is unchanged.
func (e *Engine) fileUsable(user string, data []byte) (int, []string) {
	sum := sha256.Sum256(data)
	if m, ok := e.usable[user]; ok && m.sum == sum {
		return m.n, m.types
	}
	n, types := keys.UsableTypes(data)
	if e.usable == nil {
		e.usable = map[string]usableMemo{}
	}
	e.usable[user] = usableMemo{sum: sum, n: n, types: types}
	return n, types
}

type usableMemo struct {
	sum   [sha256.Size]byte
	n     int
	types []string
}

// syncSSHD runs the sshd step after the keys step, with what that step
// left in each target's file.
func (e *Engine) syncSSHD(ctx context.Context, r *Report) {
	o := e.opts
	c := o.Config.SSHD
	req := sshd.Request{
		Options: sshd.Options{Root: o.Root, Config: c.Config, Logger: o.Logger, FIPS: e.fips,
			Password: c.PasswordAuthentication, KbdInteractive: c.KeyboardInteractive},
		DryRun:        o.DryRun,
		KeysFailed:    r.Outcome == OutcomeFailed,
		ReloadPending: !o.DryRun && e.reloadPending(),
		KeyBound:      !r.NoKeyBound,
		Now:           r.Time,
	}
	if prev := e.previous(); prev != nil && prev.SSHD != nil {
		req.Previous = prev.SSHD.Contract
	}
	var names []string
	for _, u := range r.Users {
		req.Targets = append(req.Targets, sshd.Target{User: u.User, Home: u.home, UID: u.uid, Groups: u.groups,
			Usable: u.Usable, KeyTypes: u.keyTypes, MoreKeyTypes: u.moreTypes})
		names = append(names, u.User)
	}
	for _, k := range r.Keys {
		if k.Installed && !slices.Contains(req.Keys, k.Fingerprint) {
			req.Keys = append(req.Keys, k.Fingerprint)
		}
	}
	slices.Sort(req.Keys)
	var err error
	if req.Passwords, err = e.accountFiles().ReadPasswords(names); err != nil {
		o.Logger.Warn("password resets cannot be seen", zap.Error(err))
	}
	for i, t := range req.Targets {
		if p, ok := req.Passwords[t.User]; ok {
			req.Targets[i].NoPassword = !p.Usable
		}
	}
	req.Others = func() []string { return e.othersWithoutKeys(names) }
	rep, err := e.sshd.Run(ctx, req)
	r.SSHD = rep
	if err != nil {
		r.fail(fmt.Errorf("sshd: %w", err))
	}
}

// reloadPending reports whether the last sync wrote sshd's configuration but
// could not reload sshd: this sync must reload even though it writes nothing.
func (e *Engine) reloadPending() bool {
	last := e.previous()
	return last != nil && last.SSHD != nil && last.SSHD.ReloadPending
}

// othersWithoutKeys names the users other than targets who have a usable
// password and no usable key in ~/.ssh/authorized_keys: password login
// going off for everyone leaves them without a way in.
func (e *Engine) othersWithoutKeys(targets []string) []string {
	all, err := account.List(e.opts.Root)
	if err != nil {
		return nil
	}
	var names []string
	for _, a := range all {
		if !slices.Contains(targets, a.Name) {
			names = append(names, a.Name)
		}
	}
	pw, err := e.accountFiles().ReadPasswords(names)
	if err != nil {
		return nil
	}
	var out []string
	for _, a := range all {
		if p, ok := pw[a.Name]; !ok || !p.Usable || slices.Contains(targets, a.Name) {
			continue
		}
		if !e.hasUsableKey(a) {
			out = append(out, a.Name)
		}
	}
	return out
}

// hasUsableKey reports whether a's ~/.ssh/authorized_keys holds a key sshd
// can use; a file that cannot be read safely counts as none.
func (e *Engine) hasUsableKey(a account.Account) bool {
	data, err := e.readAuthorizedKeys(a)
	return err == nil && keys.AnyUsable(data)
}

// readAuthorizedKeys reads a's ~/.ssh/authorized_keys with securefs's
// checks, creating nothing.
func (e *Engine) readAuthorizedKeys(a account.Account) ([]byte, error) {
	home, err := securefs.OpenHome(e.opts.Root, a.Home, a.UID)
	if err != nil {
		return nil, err
	}
	defer home.Close()
	dir, err := home.Subdir(".ssh", false, a.UID, a.GID)
	if err != nil {
		return nil, err
	}
	defer dir.Close()
	data, _, err := dir.ReadFile("authorized_keys", maxAuthorizedKeys, a.UID)
	return data, err
}

// fipsMode reports whether the running kernel is in FIPS mode
// (/proc/sys/crypto/fips_enabled is 1); an offline tree (root other than
// "/") is not judged by this kernel. The engine reads it once: the kernel
// sets it from the fips= boot parameter and the sysctl is read-only
// (mode 0444), so it holds until the next boot.
func fipsMode(root string) bool {
	if root != "/" {
		return false
	}
	b, err := os.ReadFile("/proc/sys/crypto/fips_enabled")
	return err == nil && strings.TrimSpace(string(b)) == "1"
}

// release removes the agent's block from users it served at the last sync
// and serves no more (users changed, or ecs-user appeared, after which root
// is not used to log in): the keys it put there must not keep granting
// access after a rotation or detach it no longer applies to them.
func (e *Engine) release(r *Report) {
	prev := e.previous()
	if e.opts.DryRun || prev == nil {
		return
	}
	for _, u := range prev.Users {
		if slices.ContainsFunc(r.Users, func(c UserReport) bool { return c.User == u.User }) || len(u.Added)+len(u.Kept) == 0 {
			continue
		}
		ur, err := e.syncUser(u.User, nil)
		if err != nil {
			r.fail(err)
		}
		r.Released = append(r.Released, ur)
	}
}
