package agent

import (
	"path/filepath"
	"slices"

	"github.com/ecs-keyagent/ecs-keyagent/agent/account"
	"github.com/ecs-keyagent/ecs-keyagent/agent/filestamp"
	"github.com/ecs-keyagent/ecs-keyagent/keys"
)

// userMemo is the last keys step of one user that found the file already
// right, and the stamps of the file and of every directory leading to it
// (package filestamp), taken before it was read. While the account, the
// bound keys and every stamp are the same, the step would read the same
// bytes and find them right again: a poll then costs a stat of each path
// instead of opening, checking and reading them.
type userMemo struct {
	acct    account.Account
	managed []keys.Key
	deps    *filestamp.Set
	report  UserReport // Added, Removed, Kept, Usable and the types
	more    bool       // report.moreTypes was set
}

// userStamps stamps the root, each directory from it to acct's
// ~/.ssh and the authorized_keys file in it. It returns nil, and the file
// is read as always, when a component is a symbolic link (securefs follows
// some above the home, and the directories a link leads through would need
// stamps too) or when a stamp is not settled.
func (e *Engine) userStamps(acct account.Account) *filestamp.Set {
	deps := e.stampPath(filepath.Join(acct.Home, ".ssh", "authorized_keys"))
	if !deps.Trusted() {
		return nil
	}
	return deps
}

// cachedUser fills ur from the memo of its last keys step when nothing it
// depends on has changed since, and reports whether it did.
func (e *Engine) cachedUser(ur *UserReport, acct account.Account, managed []keys.Key) bool {
	m, ok := e.users[ur.User]
	if !ok || e.opts.DryRun || m.acct != acct || !slices.Equal(m.managed, managed) || !m.deps.Unchanged() {
		return false
	}
	r := m.report
	ur.Added, ur.Removed, ur.Kept, ur.Adopted = r.Added, r.Removed, r.Kept, r.Adopted
	ur.Usable, ur.keyTypes = r.Usable, r.keyTypes
	if m.more {
		ur.moreTypes = func() []string {
			data, err := e.readAuthorizedKeys(acct)
			if err != nil {
				return nil
			}
			_, all := e.fileUsable(ur.User, data)
			return all
		}
	}
	return true
}

// rememberUser keeps the outcome of a keys step that found the file right
// and wrote nothing, with the stamps taken before the file was read.
func (e *Engine) rememberUser(ur *UserReport, acct account.Account, managed []keys.Key, deps *filestamp.Set) {
	if deps == nil || ur.Changed || ur.Error != "" || e.opts.DryRun {
		delete(e.users, ur.User)
		return
	}
	if e.users == nil {
		e.users = map[string]userMemo{}
	}
	r := *ur
	r.moreTypes = nil
	e.users[ur.User] = userMemo{acct: acct, managed: slices.Clone(managed), deps: deps, report: r, more: ur.moreTypes != nil}
}
