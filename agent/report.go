package agent

import (
	"time"

	"github.com/ecs-keyagent/ecs-keyagent/agent/sshd"
)

// Outcome values of a sync, also the exit status the command line maps them to.
const (
	OutcomeOK      = "ok"      // every key installed (changed or not)
	OutcomeFailed  = "failed"  // nothing changed for at least one part; see Error
	OutcomePartial = "partial" // some metadata keys rejected, the rest installed
)

// Report is the result of one sync: printed by `sync`, kept as the state
// file for `status`.
type Report struct {
	Time       time.Time    `json:"time"`
	DryRun     bool         `json:"dry_run,omitempty"`
	InstanceID string       `json:"instance_id,omitempty"`
	Endpoint   string       `json:"endpoint"`
	NoKeyBound bool         `json:"no_key_bound"`
	Keys       []KeyReport  `json:"keys"`
	Users      []UserReport `json:"users"`
	// Released are users served at the last sync and no more: the agent's
	// block was removed from their file.
	Released []UserReport `json:"released,omitempty"`
	SSHD     *sshd.Report `json:"sshd,omitempty"`
	Outcome  string       `json:"outcome"`
	Error    string       `json:"error,omitempty"`

	err error // the first failure, for the command line's hint
}

// Err returns the failure behind Outcome "failed", or nil.
func (r *Report) Err() error { return r.err }

// KeyReport is one key the metadata service listed.
type KeyReport struct {
	ID          string `json:"id"`
	Type        string `json:"type,omitempty"`
	Fingerprint string `json:"fingerprint,omitempty"`
	Installed   bool   `json:"installed"`
	Reason      string `json:"reason,omitempty"` // why it was rejected
}

// UserReport is what a sync did to one user's authorized_keys.
type UserReport struct {
	User    string   `json:"user"`
	Path    string   `json:"path,omitempty"`
	Changed bool     `json:"changed"`
	Added   []string `json:"added,omitempty"`   // fingerprints
	Removed []string `json:"removed,omitempty"` // fingerprints
	Kept    []string `json:"unchanged,omitempty"`
	// Adopted are bound keys found outside the block (cloud-init writes the
	// bound key at first boot) and moved into it.
	Adopted []string `json:"adopted,omitempty"`
	// Usable counts keys sshd can use in the file after the sync. When the
	// managed block holds one, only the block's keys are counted (a lower
	// bound: the rest of the file is not parsed); else every line's.
	Usable int    `json:"usable_keys"`
	Diff   string `json:"diff,omitempty"`
	Error  string `json:"error,omitempty"`

	home     string // from passwd, for matching sshd's AuthorizedKeysFile
	uid      int
	groups   []string
	keyTypes []string // of the keys Usable counts
	// moreTypes, when set, returns the types of every usable key in the
	// file, for the logon model when sshd accepts none of keyTypes; Sync
	// drops it after the sshd step.
	moreTypes func() []string
}

// Reached reports whether the sync got past the lock and the metadata
// service, which is when it visits users: a failure on one user's file
// still counts as reached, a lock or metadata failure does not.
func (r *Report) Reached() bool { return len(r.Users) > 0 || r.Outcome != OutcomeFailed }

// Changed reports whether the sync wrote something: a user's file or
// sshd's configuration.
func (r *Report) Changed() bool {
	for _, u := range append(r.Users, r.Released...) {
		if u.Changed {
			return true
		}
	}
	return r.SSHD != nil && len(r.SSHD.Changed) > 0
}

func (r *Report) fail(err error) {
	if r.err == nil {
		r.err = err
		r.Error = err.Error()
	}
	r.Outcome = OutcomeFailed
}
