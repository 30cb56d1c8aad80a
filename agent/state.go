package agent

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"go.uber.org/zap"
	"golang.org/x/crypto/ssh"

	"github.com/ecs-keyagent/ecs-keyagent/keys/securefs"
)

// maxStateSize bounds the state file `status` reads.
const maxStateSize = 1 << 20

// saveState records r as the last sync's result. A dry run records nothing.
// Failing to save is logged, not fatal: the files themselves are the truth.
func (e *Engine) saveState(r *Report) {
	if e.opts.DryRun {
		return
	}
	if err := writeState(e.opts.Root, r); err != nil {
		e.opts.Logger.Warn("state not saved", zap.Error(err))
	}
}

func writeState(root string, r *Report) error {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encode state: %w", err)
	}
	dir, err := openStateDir(root)
	if err != nil {
		return err
	}
	defer dir.Close()
	return dir.WriteFile(StateFile, append(data, '\n'), 0o644, os.Geteuid(), os.Getegid())
}

// openStateDir opens the state directory, creating it and any missing
// parent (a scratch --root tree may have no /var/lib) root-owned 0755.
func openStateDir(root string) (*securefs.Dir, error) {
	var dir *securefs.Dir
	prefix := ""
	for _, part := range strings.Split(strings.Trim(StateDir, "/"), "/") {
		prefix += "/" + part
		if dir != nil {
			dir.Close()
		}
		var err error
		if dir, err = securefs.OpenSystemDir(root, prefix, true); err != nil {
			return nil, err
		}
	}
	return dir, nil
}

// LoadState returns the last sync's report from the state file under root.
func LoadState(root string) (*Report, error) {
	if root == "" {
		root = "/"
	}
	dir, err := securefs.OpenSystemDir(root, StateDir, false)
	if err != nil {
		return nil, fmt.Errorf("read state: %w", err)
	}
	defer dir.Close()
	data, _, err := dir.ReadFile(StateFile, maxStateSize, os.Geteuid())
	if err != nil {
		return nil, fmt.Errorf("read state %s: %w", filepath.Join(StateDir, StateFile), err)
	}
	var r Report
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("decode state %s: %w", filepath.Join(StateDir, StateFile), err)
	}
	return &r, nil
}

// lineFingerprint returns the SHA256 fingerprint of an authorized_keys line,
// or "" if it does not parse.
func lineFingerprint(line string) string {
	pub, _, _, _, err := ssh.ParseAuthorizedKey([]byte(line))
	if err != nil {
		return ""
	}
	return ssh.FingerprintSHA256(pub)
}
