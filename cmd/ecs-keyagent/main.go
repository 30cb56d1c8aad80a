// Command ecs-keyagent keeps the SSH key pair bound to an Alibaba Cloud ECS
// instance in its users' authorized_keys and password login off in sshd.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	os.Exit(mainStatus())
}

// mainStatus owns the process's signals: SIGINT and SIGTERM cancel the
// command's context (naming the signal as the cause), SIGHUP asks `run` to
// reload its configuration; the one-shot commands ignore SIGHUP.
func mainStatus() int {
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	reload := make(chan struct{}, 1)
	go func() {
		for s := range sigs {
			if s != syscall.SIGHUP {
				cancel(fmt.Errorf("received %s", s))
				continue
			}
			select {
			case reload <- struct{}{}:
			default: // one pending reload is enough
			}
		}
	}()
	return Run(ctx, os.Args[1:], os.Stdout, os.Stderr, reload)
}
