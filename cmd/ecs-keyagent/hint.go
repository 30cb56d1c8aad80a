package main

import (
	"errors"
	"net"

	"github.com/ecs-keyagent/ecs-keyagent/agent/metadata"
	"github.com/ecs-keyagent/ecs-keyagent/agent/securefs"
	"github.com/ecs-keyagent/ecs-keyagent/keys"
)

// hint says what to do about err, or "" when there is nothing useful to say.
func hint(err error) string {
	var ue usageError
	var netErr *net.OpError
	switch {
	case errors.As(err, &ue):
		return "see 'ecs-keyagent -h' and the configuration reference in the README"
	case errors.Is(err, securefs.ErrUnsafe):
		return "the agent never follows symbolic links or writes files others control: fix the owner and mode (chown USER, chmod go-w) or remove the link, then run sync again"
	case errors.Is(err, keys.ErrDamagedBlock):
		return "repair or delete the '# BEGIN/# END ecs-keyagent' marker lines in that file, then run sync again"
	case errors.As(err, &netErr):
		return "is this an ECS instance with the metadata service reachable? set endpoint in the configuration or --endpoint"
	case errors.Is(err, metadata.ErrNoKeyBound):
		return ""
	}
	return ""
}
