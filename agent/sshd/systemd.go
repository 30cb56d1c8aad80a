package sshd

import (
	"context"
	"fmt"

	"github.com/coreos/go-systemd/v22/dbus"
)

// Unit names: Debian and Ubuntu ship ssh.service (and ssh.socket on Ubuntu
// 22.10+), RHEL, Fedora and SUSE sshd.service (their openssh packages).
var (
	serviceUnits = []string{"ssh.service", "sshd.service"}
	socketUnits  = []string{"ssh.socket", "sshd.socket"}
)

// systemdReload reloads whichever sshd service unit is active. With only a
// socket unit active, every connection starts an sshd that reads the
// configuration afresh, so there is nothing to reload. It returns an empty
// what when no unit runs sshd.
func systemdReload(ctx context.Context) (bool, string, error) {
	conn, err := dbus.NewSystemConnectionContext(ctx)
	if err != nil {
		return false, "", fmt.Errorf("connect to systemd: %w", err)
	}
	defer conn.Close()
	state := func(unit string) (string, error) {
		p, err := conn.GetUnitPropertyContext(ctx, unit, "ActiveState")
		if err != nil {
			return "", fmt.Errorf("get state of %s: %w", unit, err)
		}
		s, _ := p.Value.Value().(string)
		return s, nil
	}
	for _, u := range serviceUnits {
		s, err := state(u)
		if err != nil {
			return false, "", err
		}
		if s != "active" && s != "reloading" {
			continue
		}
		done := make(chan string, 1)
		if _, err := conn.ReloadUnitContext(ctx, u, "replace", done); err != nil {
			return false, "", fmt.Errorf("reload %s: %w", u, err)
		}
		select {
		case res := <-done:
			if res != "done" {
				return false, "", fmt.Errorf("reload %s: job %s", u, res)
			}
			return true, "reloaded " + u + " through systemd", nil
		case <-ctx.Done():
			return false, "", fmt.Errorf("reload %s: %w", u, ctx.Err())
		}
	}
	for _, u := range socketUnits {
		if s, err := state(u); err == nil && s == "active" {
			return false, u + " is socket-activated: each connection reads the new configuration", nil
		}
	}
	return false, "", nil
}
