package agent

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/ecs-keyagent/ecs-keyagent/agent/securefs"
)

// lockWait bounds how long a sync waits for another to finish: a sync takes
// well under a second, one stuck on the network a few request timeouts.
const lockWait = 2 * time.Minute

// Lock takes the agent's lock under root, waiting up to two minutes for
// another holder. Every writer of the agent's files holds it: a sync, and
// restore-sshd. securefs's temporary-file cleanup relies on it, since it
// removes what a killed writer left behind.
func Lock(ctx context.Context, root string) (unlock func() error, err error) {
	ctx, cancel := context.WithTimeout(ctx, lockWait)
	defer cancel()
	unlock, err = securefs.Lock(ctx, filepath.Join(root, LockPath))
	if err != nil {
		return nil, fmt.Errorf("take lock %s (another sync holds it?): %w", LockPath, err)
	}
	return unlock, nil
}
