package agent

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"go.uber.org/zap"

	"github.com/ecs-keyagent/ecs-keyagent/agent/securefs"
	"github.com/ecs-keyagent/ecs-keyagent/agent/sshd"
)

// The metrics textfile: after every sync (not a dry run) the engine writes
// the sync's outcome for the node exporter's textfile collector, in the
// Prometheus text exposition format, when metrics_textfile names a file.
// The collector reads every *.prom file of its directory at each scrape,
// so the file is replaced atomically: securefs writes a temporary file
// named ".NAME.ecs-keyagent-RANDOM" in the same directory (it does not end
// in .prom, so the collector never reads it half written) and renames it.
// The mode is 0644 whatever the umask: the unit's UMask is 0077 and the
// exporter runs as its own user.
//
// ecs_keyagent_sync_failures_total counts failed syncs since
// ecs_keyagent_start_time_seconds. Every sync, the service's or one run by
// hand, reads the count in the previous file and adds to it, under the
// agent's lock: the service starts it again at 0 when it starts (its
// start time differs from the file's), a one-shot sync carries it on. The
// last success, the instance id, each user's managed keys and the password
// state are also carried over from the previous file when this sync did
// not get as far as finding them: a failed sync changes no file, so the
// last values found are still the truth.

// Metric names, in the order they are written.
const (
	metricInfo          = "ecs_keyagent_info"
	metricManagedKeys   = "ecs_keyagent_managed_keys"
	metricPasswordOff   = "ecs_keyagent_password_logon_disabled"
	metricStart         = "ecs_keyagent_start_time_seconds"
	metricFailures      = "ecs_keyagent_sync_failures_total"
	metricLastAttempt   = "ecs_keyagent_sync_last_attempt_timestamp_seconds"
	metricLastSuccess   = "ecs_keyagent_sync_last_success_timestamp_seconds"
	maxMetricsFileBytes = 1 << 20
)

// metrics are the values one textfile holds.
type metrics struct {
	Version     string
	InstanceID  string
	ManagedKeys map[string]int // per target user; a user left out is unknown
	PasswordOff *bool          // nil: unknown, not written
	Start       int64          // Unix seconds the failure count runs from
	Failures    int64
	LastAttempt time.Time
	LastSuccess time.Time // zero: none known, written as 0
}

// writeMetrics writes the metrics textfile for r, when one is configured
// and this is not a dry run. It runs under the agent's lock, which
// securefs's CleanTemp relies on. A failure is a warning, never a failed
// sync.
func (e *Engine) writeMetrics(r *Report) {
	p := string(e.opts.Config.MetricsTextfile)
	if p == "" || e.opts.DryRun {
		return
	}
	if err := e.publishMetrics(r, p); err != nil {
		e.opts.Logger.Warn("metrics not written", zap.String("path", p), zap.Error(err))
	}
}

func (e *Engine) publishMetrics(r *Report, p string) error {
	dirName, name := path.Split(p)
	dir, err := securefs.OpenOutputDir(e.opts.Root, dirName)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("directory %s does not exist: install the node exporter (Debian and Ubuntu: prometheus-node-exporter), "+
			"or create it owned by root, mode 0755: %w", path.Clean(dirName), err)
	}
	if err != nil {
		return err
	}
	defer dir.Close()
	var prev *metrics
	data, _, err := dir.ReadFile(name, maxMetricsFileBytes, os.Geteuid())
	switch {
	case err == nil:
		prev = parseMetrics(data)
	case !errors.Is(err, fs.ErrNotExist):
		e.opts.Logger.Debug("previous metrics not read; counting from 0", zap.String("path", p), zap.Error(err))
	}
	m := e.nextMetrics(r, prev)
	if _, err := dir.CleanTemp(name); err != nil {
		return fmt.Errorf("clean temporary files in %s: %w", dir.Path(), err)
	}
	err = dir.WriteFile(name, renderMetrics(m), 0o644, os.Geteuid(), os.Getegid())
	if errors.Is(err, syscall.EROFS) {
		return fmt.Errorf("%w: the unit's sandbox keeps %s read-only; add ReadWritePaths=%s in a drop-in (systemctl edit ecs-keyagent)",
			err, dir.Path(), dir.Path())
	}
	return err
}

// nextMetrics works out the values after r from those of the previous file
// (nil when there is none).
func (e *Engine) nextMetrics(r *Report, prev *metrics) metrics {
	if prev == nil {
		prev = &metrics{}
	}
	failed := r.Outcome == OutcomeFailed
	m := metrics{Version: e.opts.Version, InstanceID: r.InstanceID, ManagedKeys: map[string]int{},
		LastAttempt: r.Time, LastSuccess: prev.LastSuccess}
	if m.Version == "" {
		m.Version = "unknown"
	}
	if m.InstanceID == "" {
		m.InstanceID = prev.InstanceID
	}
	if !failed {
		m.LastSuccess = r.Time
	}
	switch started := e.opts.Started; {
	case prev.Start == 0 && started.IsZero():
		m.Start = r.Time.Unix() // the first one-shot sync to write the file
	case prev.Start == 0, !started.IsZero() && prev.Start != started.Unix():
		m.Start = started.Unix() // the service started: count from 0
	default:
		m.Start, m.Failures = prev.Start, prev.Failures
	}
	if failed {
		m.Failures++
	}
	if len(r.Users) > 0 {
		for _, u := range r.Users {
			if u.Error == "" {
				m.ManagedKeys[u.User] = len(u.Added) + len(u.Kept)
			} else if n, ok := prev.ManagedKeys[u.User]; ok {
				m.ManagedKeys[u.User] = n
			}
		}
	} else if failed {
		for _, name := range e.Users() {
			if n, ok := prev.ManagedKeys[name]; ok {
				m.ManagedKeys[name] = n
			}
		}
	}
	m.PasswordOff = passwordOff(r.SSHD)
	if m.PasswordOff == nil {
		m.PasswordOff = prev.PasswordOff
	}
	return m
}

// passwordOff says whether sshd's effective settings, as the sync's sshd
// step found them, turn password and keyboard-interactive logon off for
// every target user; nil when the sync did not find out.
func passwordOff(s *sshd.Report) *bool {
	if s == nil || (len(s.Users) == 0 && s.Error != "") {
		return nil
	}
	off := len(s.Users) > 0 // no sshd, or none to ask about: nothing the agent turned off
	for _, u := range s.Users {
		if u.PasswordAuthentication != "no" || u.KbdInteractiveAuthentication != "no" {
			off = false
		}
	}
	return &off
}

// renderMetrics writes m in the text exposition format (version 0.0.4):
// each metric with its # HELP and # TYPE lines.
func renderMetrics(m metrics) []byte {
	var b bytes.Buffer
	family := func(name, typ, help string) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", name, escapeHelp(help), name, typ)
	}
	family(metricInfo, "gauge", "The agent's version and the ECS instance it serves; always 1.")
	fmt.Fprintf(&b, "%s{instance_id=\"%s\",version=\"%s\"} 1\n", metricInfo, escapeLabel(m.InstanceID), escapeLabel(m.Version))
	if len(m.ManagedKeys) > 0 {
		family(metricManagedKeys, "gauge", "Keys in the agent's block of the user's ~/.ssh/authorized_keys after the last sync that reached the file.")
		users := make([]string, 0, len(m.ManagedKeys))
		for u := range m.ManagedKeys {
			users = append(users, u)
		}
		slices.Sort(users)
		for _, u := range users {
			fmt.Fprintf(&b, "%s{user=\"%s\"} %d\n", metricManagedKeys, escapeLabel(u), m.ManagedKeys[u])
		}
	}
	if m.PasswordOff != nil {
		family(metricPasswordOff, "gauge", "1 when sshd's effective settings turn password and keyboard-interactive login off for every target user, as the last sync that asked sshd found them; else 0.")
		v := 0
		if *m.PasswordOff {
			v = 1
		}
		fmt.Fprintf(&b, "%s %d\n", metricPasswordOff, v)
	}
	family(metricStart, "gauge", "Unix time the failure count runs from: when the service started, or the first one-shot sync that wrote this file.")
	fmt.Fprintf(&b, "%s %d\n", metricStart, m.Start)
	family(metricFailures, "counter", "Syncs that failed since ecs_keyagent_start_time_seconds.")
	fmt.Fprintf(&b, "%s %d\n", metricFailures, m.Failures)
	family(metricLastAttempt, "gauge", "Unix time of the last sync.")
	fmt.Fprintf(&b, "%s %s\n", metricLastAttempt, unixSeconds(m.LastAttempt))
	family(metricLastSuccess, "gauge", "Unix time of the last sync that did not fail (outcome ok or partial); 0 if none is known.")
	fmt.Fprintf(&b, "%s %s\n", metricLastSuccess, unixSeconds(m.LastSuccess))
	return b.Bytes()
}

// unixSeconds renders t as Unix seconds with milliseconds; 0 for the zero time.
func unixSeconds(t time.Time) string {
	if t.IsZero() {
		return "0"
	}
	return strconv.FormatFloat(float64(t.UnixMilli())/1e3, 'f', 3, 64)
}

// escapeLabel escapes a label value as the exposition format wants:
// backslash, double quote and line feed. Bytes that are not UTF-8 (the
// format is UTF-8, and the collector drops a file it cannot parse) become
// U+FFFD.
func escapeLabel(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(strings.ToValidUTF8(s, string(utf8.RuneError)))
}

// escapeHelp escapes a HELP text: backslash and line feed.
func escapeHelp(s string) string {
	return strings.NewReplacer(`\`, `\\`, "\n", `\n`).Replace(s)
}

// parseMetrics reads back what renderMetrics wrote; it understands only
// that. Anything it does not recognise is skipped.
func parseMetrics(data []byte) *metrics {
	m := &metrics{ManagedKeys: map[string]int{}}
	for line := range strings.SplitSeq(string(data), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, labels, value, ok := parseSample(line)
		if !ok {
			continue
		}
		f, err := strconv.ParseFloat(value, 64)
		if err != nil {
			continue
		}
		switch name {
		case metricInfo:
			m.InstanceID = labels["instance_id"]
		case metricManagedKeys:
			if u := labels["user"]; u != "" {
				m.ManagedKeys[u] = int(f)
			}
		case metricPasswordOff:
			off := f == 1
			m.PasswordOff = &off
		case metricStart:
			m.Start = int64(f)
		case metricFailures:
			m.Failures = int64(f)
		case metricLastSuccess:
			if f > 0 {
				m.LastSuccess = time.UnixMilli(int64(f * 1e3)).UTC()
			}
		}
	}
	return m
}

// parseSample splits `name{k="v",...} value` into its parts, undoing
// escapeLabel.
func parseSample(line string) (name string, labels map[string]string, value string, ok bool) {
	i := strings.IndexAny(line, "{ ")
	if i <= 0 {
		return "", nil, "", false
	}
	name, rest := line[:i], line[i:]
	labels = map[string]string{}
	if rest[0] == '{' {
		rest = rest[1:]
		for {
			if strings.HasPrefix(rest, "}") {
				rest = rest[1:]
				break
			}
			key, after, found := strings.Cut(rest, `="`)
			if !found {
				return "", nil, "", false
			}
			var v strings.Builder
			j := 0
			for ; j < len(after) && after[j] != '"'; j++ {
				if after[j] == '\\' && j+1 < len(after) {
					j++
					switch after[j] {
					case 'n':
						v.WriteByte('\n')
					default:
						v.WriteByte(after[j])
					}
					continue
				}
				v.WriteByte(after[j])
			}
			if j == len(after) {
				return "", nil, "", false
			}
			labels[strings.TrimPrefix(key, ",")] = v.String()
			rest = strings.TrimPrefix(after[j+1:], ",")
		}
	}
	fields := strings.Fields(rest)
	if len(fields) == 0 {
		return "", nil, "", false
	}
	return name, labels, fields[0], true
}
