package agent

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"time"

	"github.com/ecs-keyagent/ecs-keyagent/agent/account"
	"github.com/ecs-keyagent/ecs-keyagent/agent/securefs"
	"github.com/ecs-keyagent/ecs-keyagent/agent/sshd"
	"github.com/ecs-keyagent/ecs-keyagent/keys"
)

// Outcome of a status when no sync has run yet.
const OutcomeNone = "none"

// Status is the state in force, read from the machine itself: the users'
// files and sshd's configuration as they are now, and what the last syncs
// recorded about the metadata service. Its JSON form is documented in the
// README; fields are added, never renamed.
type Status struct {
	LastAttempt *time.Time     `json:"last_attempt"`
	LastSuccess *time.Time     `json:"last_success"`
	Outcome     string         `json:"outcome"` // of the last attempt: ok, partial, failed, or none
	Failure     *Failure       `json:"failure,omitempty"`
	Metadata    MetadataStatus `json:"metadata"`
	Users       []UserStatus   `json:"users"`
	SSHD        *SSHDStatus    `json:"sshd,omitempty"`
}

// MetadataStatus is what the metadata service said at the last sync that
// reached it.
type MetadataStatus struct {
	Endpoint   string      `json:"endpoint"`
	InstanceID string      `json:"instance_id,omitempty"`
	NoKeyBound bool        `json:"no_key_bound"`
	Keys       []KeyReport `json:"keys"`
	AnsweredAt *time.Time  `json:"answered_at"`
}

// UserStatus is one target user's authorized_keys as it is now.
type UserStatus struct {
	User    string    `json:"user"`
	Path    string    `json:"path,omitempty"`
	Managed []KeyInfo `json:"managed_keys"`
	Others  int       `json:"other_keys"` // usable keys outside the managed block
	// Files is "ok" when the home, ~/.ssh and the file pass sshd's
	// StrictModes and the agent's own checks, else what is wrong.
	Files string `json:"files"`
	Error string `json:"error,omitempty"`
}

// KeyInfo describes a key as ssh-keygen -l does.
type KeyInfo struct {
	Type        string `json:"type"`
	Bits        int    `json:"bits"`
	Fingerprint string `json:"fingerprint"`
	Comment     string `json:"comment,omitempty"`
}

// SSHDStatus is sshd's configuration in force for the target users.
type SSHDStatus struct {
	CheckedBy string           `json:"checked_by,omitempty"`
	Users     []sshd.UserState `json:"users,omitempty"`
	Contract  *sshd.Contract   `json:"contract,omitempty"`
	AlsoOff   []string         `json:"also_off,omitempty"`
	Skipped   string           `json:"skipped,omitempty"`
	Error     string           `json:"error,omitempty"`
}

// Status reads the state in force. It writes nothing and takes no lock.
func (e *Engine) Status(ctx context.Context) *Status {
	o := e.opts
	st := &Status{Outcome: OutcomeNone, Metadata: MetadataStatus{Endpoint: string(o.Config.Endpoint)}}
	last, _ := LoadState(o.Root)
	fail, _ := LoadFailure(o.Root)
	if t := LastSync(o.Root); !t.IsZero() {
		st.LastAttempt = &t
	}
	if last != nil {
		success := last.Time
		if st.LastAttempt != nil && st.LastAttempt.After(success) {
			success = *st.LastAttempt
		}
		if fail != nil {
			success = last.Time
			if fail.LastSuccess.After(success) {
				success = fail.LastSuccess
			}
		}
		st.LastSuccess, st.Outcome = &success, last.Outcome
		st.Metadata.InstanceID, st.Metadata.NoKeyBound, st.Metadata.Keys = last.InstanceID, last.NoKeyBound, last.Keys
		st.Metadata.AnsweredAt = &success
	}
	if fail != nil {
		st.Failure, st.Outcome = fail, OutcomeFailed
		if st.LastAttempt == nil || st.LastAttempt.Before(fail.Last) {
			st.LastAttempt = &fail.Last
		}
	}
	if last != nil && last.Endpoint != "" {
		st.Metadata.Endpoint = last.Endpoint
	}
	users := e.Users()
	if len(e.opts.Config.Users) == 0 && last != nil && len(last.Users) > 0 {
		users = nil // the users the last sync served (set with --user, say)
		for _, u := range last.Users {
			users = append(users, u.User)
		}
	}
	var targets []sshd.Target
	for _, name := range users {
		us, t := e.userStatus(name)
		st.Users = append(st.Users, us)
		if t != nil {
			targets = append(targets, *t)
		}
	}
	c := o.Config.SSHD
	ss := &SSHDStatus{}
	if last != nil && last.SSHD != nil {
		ss.Contract, ss.AlsoOff = last.SSHD.Contract, last.SSHD.AlsoOff
	}
	var err error
	ss.CheckedBy, ss.Users, err = sshd.Current(ctx, sshd.Options{Root: o.Root, Config: c.Config, Logger: o.Logger, FIPS: fipsMode(o.Root)}, targets)
	switch {
	case errors.Is(err, sshd.ErrNoConfig):
		ss.Skipped = "no sshd configuration at " + c.Config
	case err != nil:
		ss.Error = err.Error()
	}
	st.SSHD = ss
	return st
}

// userStatus reads one user's file as sshd would, and returns the user as
// a target of the logon model (nil when the account is missing).
func (e *Engine) userStatus(name string) (UserStatus, *sshd.Target) {
	us := UserStatus{User: name, Files: "ok"}
	acct, err := account.Lookup(e.opts.Root, name)
	if err != nil {
		us.Error, us.Files = err.Error(), "unknown"
		return us, nil
	}
	us.Path = filepath.Join(acct.Home, ".ssh", "authorized_keys")
	t := &sshd.Target{User: name, Home: acct.Home, UID: acct.UID}
	t.Groups, _ = account.Groups(e.opts.Root, acct)
	if pw, err := account.ReadPasswords(e.opts.Root, []string{name}); err == nil {
		if p, ok := pw[name]; ok {
			t.NoPassword = !p.Usable
		}
	}
	data, err := readKeysFile(e.opts.Root, acct)
	if err != nil {
		us.Files = err.Error()
		if !errors.Is(err, securefs.ErrUnsafe) {
			us.Files, us.Error = "unreadable", err.Error()
		}
		return us, t
	}
	block, err := keys.BlockLines(data)
	if err != nil {
		us.Error = err.Error()
	}
	for _, k := range keys.UsableKeys(data) {
		if slices.Contains(block, k.Line) {
			us.Managed = append(us.Managed, KeyInfo{Type: k.Type, Bits: k.Bits, Fingerprint: k.Fingerprint, Comment: k.Comment})
		} else {
			us.Others++
		}
		t.Usable++
		if !slices.Contains(t.KeyTypes, k.Type) {
			t.KeyTypes = append(t.KeyTypes, k.Type)
		}
	}
	return us, t
}

// readKeysFile reads a's ~/.ssh/authorized_keys through securefs, with the
// checks a sync makes; a missing file or ~/.ssh reads as empty.
func readKeysFile(root string, a account.Account) ([]byte, error) {
	home, err := securefs.OpenHome(root, a.Home, a.UID)
	if err != nil {
		return nil, err
	}
	defer home.Close()
	dir, err := home.Subdir(".ssh", false, a.UID, a.GID)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer dir.Close()
	data, _, err := dir.ReadFile("authorized_keys", maxAuthorizedKeys, a.UID)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", filepath.Join(a.Home, ".ssh/authorized_keys"), err)
	}
	return data, nil
}
