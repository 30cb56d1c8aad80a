package agent

import (
	"errors"
	"path/filepath"
)

// WatchPaths returns the files whose drift the daemon repairs, as paths under
// the root in use: each target user's ~/.ssh/authorized_keys and the sshd
// step's files. A user that cannot be looked up is left out and reported;
// the others are still returned.
func (e *Engine) WatchPaths() ([]string, error) {
	var paths []string
	var errs []error
	for _, name := range e.Users() {
		acct, err := e.accountFiles().Lookup(name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		paths = append(paths, filepath.Join(e.opts.Root, acct.Home, ".ssh", "authorized_keys"))
	}
	if m := e.sshd.Managed(); m != "" {
		paths = append(paths, filepath.Join(e.opts.Root, m))
	}
	return paths, errors.Join(errs...)
}
