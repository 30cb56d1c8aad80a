package systemd

import (
	"fmt"
	"sort"
	"strings"

	"github.com/coreos/go-systemd/v22/journal"
	"go.uber.org/zap/zapcore"
)

// identifier is SYSLOG_IDENTIFIER on every entry, what `journalctl -t` selects.
const identifier = "ecs-keyagent"

// UnderJournal reports whether standard error is connected to the journal:
// JOURNAL_STREAM is set and names the device and inode of our stderr, as
// systemd.exec(5) says to check (a child that inherited the variable but not
// the stream must not pick the journal), and the journal socket exists.
func UnderJournal() bool {
	ok, err := journal.StderrIsJournalStream()
	return err == nil && ok && journal.Enabled()
}

// JournalCore returns a zap core that writes native journal entries: the
// message and the fields in MESSAGE (journalctl shows only that), and every
// field again as its own journal field (user=root becomes USER=root) for
// `journalctl USER=root`. An entry the journal refuses goes to fallback.
func JournalCore(level zapcore.LevelEnabler, fallback zapcore.Core) zapcore.Core {
	return &journalCore{LevelEnabler: level, send: journal.Send, fallback: fallback}
}

type journalCore struct {
	zapcore.LevelEnabler
	send     func(msg string, p journal.Priority, vars map[string]string) error
	fallback zapcore.Core
	fields   []zapcore.Field
}

func (c *journalCore) With(fields []zapcore.Field) zapcore.Core {
	clone := *c
	clone.fields = append(append([]zapcore.Field(nil), c.fields...), fields...)
	clone.fallback = c.fallback.With(fields)
	return &clone
}

func (c *journalCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c *journalCore) Write(e zapcore.Entry, fields []zapcore.Field) error {
	msg, vars := journalEntry(e, append(append([]zapcore.Field(nil), c.fields...), fields...))
	if err := c.send(msg, priority(e.Level), vars); err != nil {
		return c.fallback.Write(e, fields)
	}
	return nil
}

func (c *journalCore) Sync() error { return nil }

// journalEntry renders an entry as MESSAGE and journal fields.
func journalEntry(e zapcore.Entry, fields []zapcore.Field) (string, map[string]string) {
	enc := zapcore.NewMapObjectEncoder()
	for _, f := range fields {
		f.AddTo(enc)
	}
	keys := make([]string, 0, len(enc.Fields))
	for k := range enc.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var msg strings.Builder
	msg.WriteString(e.Message)
	vars := map[string]string{"SYSLOG_IDENTIFIER": identifier}
	for _, k := range keys {
		v := value(enc.Fields[k])
		fmt.Fprintf(&msg, " %s=%s", k, quoteIfNeeded(v))
		if name := fieldName(k); name != "" {
			vars[name] = v
		}
	}
	return msg.String(), vars
}

func value(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case []any:
		parts := make([]string, len(v))
		for i, x := range v {
			parts[i] = value(x)
		}
		return strings.Join(parts, ",")
	default:
		return fmt.Sprint(v)
	}
}

func quoteIfNeeded(s string) string {
	if s == "" || strings.ContainsAny(s, " \t\"=") {
		return fmt.Sprintf("%q", s)
	}
	return s
}

// fieldName maps a zap key to a journal field name: upper case letters,
// digits and underscores, not starting with an underscore (those are the
// journal's trusted fields) or a digit, at most 64 bytes. Keys that would
// collide with what we set ourselves are dropped, "" returned.
func fieldName(key string) string {
	var b strings.Builder
	for _, r := range strings.ToUpper(key) {
		switch {
		case r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	name := strings.TrimLeft(b.String(), "_0123456789")
	if len(name) > 64 {
		name = name[:64]
	}
	switch name {
	case "", "MESSAGE", "PRIORITY", "SYSLOG_IDENTIFIER":
		return ""
	}
	return name
}

// priority maps zap levels to syslog priorities (sd-daemon(3)).
func priority(l zapcore.Level) journal.Priority {
	switch {
	case l <= zapcore.DebugLevel:
		return journal.PriDebug
	case l == zapcore.InfoLevel:
		return journal.PriInfo
	case l == zapcore.WarnLevel:
		return journal.PriWarning
	case l == zapcore.ErrorLevel:
		return journal.PriErr
	default:
		return journal.PriCrit
	}
}
