package systemd

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/coreos/go-systemd/v22/dbus"
)

// UnitState is what systemd says of a unit, for `status`.
type UnitState struct {
	Unit        string    `json:"unit"`
	ActiveState string    `json:"active_state"` // active, inactive, failed, activating...
	SubState    string    `json:"sub_state"`    // running, dead...
	Since       time.Time `json:"since,omitzero"`
	PID         uint32    `json:"pid,omitempty"`
	Logs        string    `json:"logs"` // the command that shows its logs
}

// Booted reports whether systemd is the init system, as sd_booted(3)
// checks: /run/systemd/system exists.
func Booted() bool {
	fi, err := os.Stat("/run/systemd/system")
	return err == nil && fi.IsDir()
}

// State reads unit's state from systemd over D-Bus.
func State(ctx context.Context, unit string) (*UnitState, error) {
	conn, err := dbus.NewSystemConnectionContext(ctx)
	if err != nil {
		return nil, fmt.Errorf("connect to systemd: %w", err)
	}
	defer conn.Close()
	props, err := conn.GetUnitPropertiesContext(ctx, unit)
	if err != nil {
		return nil, fmt.Errorf("get state of %s: %w", unit, err)
	}
	st := &UnitState{Unit: unit, Logs: "journalctl -u " + unit}
	st.ActiveState, _ = props["ActiveState"].(string)
	st.SubState, _ = props["SubState"].(string)
	if us, ok := props["ActiveEnterTimestamp"].(uint64); ok && us > 0 {
		st.Since = time.UnixMicro(int64(us))
	}
	if p, err := conn.GetServicePropertyContext(ctx, unit, "MainPID"); err == nil {
		st.PID, _ = p.Value.Value().(uint32)
	}
	return st, nil
}
