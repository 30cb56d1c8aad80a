package service

import (
	"fmt"
	"strings"
	"time"

	"github.com/ecs-keyagent/ecs-keyagent/agent"
	"github.com/ecs-keyagent/ecs-keyagent/agent/sshd"
)

// status is what the STATUS= line is made of: the last sync that
// reached the metadata service, and the failures since.
type status struct {
	good     *agent.Report // last sync that got an answer from metadata; nil before the first
	goodAt   time.Time     // when it finished
	failing  int           // consecutive syncs that did not reach metadata
	failErr  string        // the last one's error
	failedAt time.Time     // the first of them
}

// line renders one human line for systemctl status, e.g.
// "root: 1 key (SHA256:…), synced 12 s ago; password login off".
func (s *status) line(now time.Time) string {
	var b strings.Builder
	if s.good == nil {
		b.WriteString("waiting for the metadata service")
	} else {
		var users []string
		for _, u := range s.good.Users {
			users = append(users, userStatus(u, s.good.NoKeyBound))
		}
		b.WriteString(strings.Join(users, ", "))
		fmt.Fprintf(&b, ", synced %s ago", ago(now.Sub(s.goodAt)))
		if p := passwordStatus(s.good.SSHD); p != "" {
			b.WriteString("; " + p)
		}
	}
	if s.failing > 0 {
		fmt.Fprintf(&b, "; failing since %s (%d attempts): %s", s.failedAt.Format("15:04:05"), s.failing, s.failErr)
	}
	return b.String()
}

func userStatus(u agent.UserReport, noKey bool) string {
	if u.Error != "" {
		return u.User + ": failed: " + u.Error
	}
	fps := append(append([]string(nil), u.Added...), u.Kept...)
	switch {
	case len(fps) == 0 && noKey:
		return u.User + ": no key bound"
	case len(fps) == 1:
		return fmt.Sprintf("%s: 1 key (%s)", u.User, fps[0])
	default:
		return fmt.Sprintf("%s: %d keys (%s)", u.User, len(fps), strings.Join(fps, ", "))
	}
}

// passwordStatus sums up the sshd step: "password login off" when every
// user's effective sshd settings close both password paths.
func passwordStatus(s *sshd.Report) string {
	switch {
	case s == nil:
		return ""
	case s.Error != "":
		return "sshd: failed: " + s.Error
	case s.Skipped != "":
		return "sshd left alone"
	}
	var open []string
	for _, u := range s.Users {
		if u.PasswordAuthentication != "no" || u.KbdInteractiveAuthentication != "no" {
			open = append(open, u.User)
		}
	}
	if len(s.Users) == 0 {
		return ""
	}
	if len(open) == 0 {
		return "password login off"
	}
	return "password login on for " + strings.Join(open, ", ")
}

// ago renders a duration coarsely: the line is refreshed at most every few
// seconds, so finer is noise.
func ago(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%d s", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d.Minutes()))
	default:
		return fmt.Sprintf("%d h", int(d.Hours()))
	}
}
