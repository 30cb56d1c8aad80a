package service

import (
	"testing"
	"time"

	"github.com/ecs-keyagent/ecs-keyagent/agent"
	"github.com/ecs-keyagent/ecs-keyagent/agent/sshd"
)

func TestStatusLine(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	off := &sshd.Report{Users: []sshd.UserReport{{User: "root", PasswordAuthentication: "no", KbdInteractiveAuthentication: "no"}}}
	tests := []struct {
		name string
		st   status
		want string
	}{
		{"booting", status{}, "waiting for the metadata service"},
		{"boot failing", status{failing: 3, failErr: "connection refused", failedAt: now.Add(-time.Minute)},
			"waiting for the metadata service; failing since 03:03:05 (3 attempts): connection refused"},
		{"one key", status{good: &agent.Report{Users: []agent.UserReport{{User: "root", Kept: []string{"SHA256:abc"}}}, SSHD: off},
			goodAt: now.Add(-12 * time.Second)},
			"root: 1 key (SHA256:abc), synced 12 s ago; password login off"},
		{"two users, no sshd step", status{good: &agent.Report{Users: []agent.UserReport{
			{User: "root", Added: []string{"SHA256:b"}, Kept: []string{"SHA256:a"}},
			{User: "ecs-user", Error: "refusing /home/ecs-user/.ssh: writable by group"}}}, goodAt: now.Add(-3 * time.Minute)},
			"root: 2 keys (SHA256:b, SHA256:a), ecs-user: failed: refusing /home/ecs-user/.ssh: writable by group, synced 3 min ago"},
		{"no key, metadata down since", status{good: &agent.Report{NoKeyBound: true, Users: []agent.UserReport{{User: "root"}},
			SSHD: &sshd.Report{Users: []sshd.UserReport{{User: "root", PasswordAuthentication: "yes", KbdInteractiveAuthentication: "no"}}}},
			goodAt: now.Add(-2 * time.Hour), failing: 7, failErr: "timeout", failedAt: now.Add(-time.Hour)},
			"root: no key bound, synced 2 h ago; password login on for root; failing since 02:04:05 (7 attempts): timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.st.line(now); got != tt.want {
				t.Errorf("line() = %q, want %q", got, tt.want)
			}
		})
	}
}
