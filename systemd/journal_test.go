package systemd

import (
	"errors"
	"maps"
	"testing"

	"github.com/coreos/go-systemd/v22/journal"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

type sent struct {
	msg  string
	pri  journal.Priority
	vars map[string]string
}

func TestJournalCore(t *testing.T) {
	var got []sent
	fallback, fellBack := observer.New(zapcore.DebugLevel)
	fail := false
	core := &journalCore{LevelEnabler: zapcore.InfoLevel, fallback: fallback,
		send: func(msg string, p journal.Priority, vars map[string]string) error {
			if fail {
				return errors.New("journal gone")
			}
			got = append(got, sent{msg, p, vars})
			return nil
		}}
	log := zap.New(core).With(zap.String("instance_id", "i-1"))
	log.Debug("not enabled")
	log.Info("authorized_keys updated", zap.String("user", "root"), zap.String("path", "/root/.ssh/authorized_keys"),
		zap.Strings("added", []string{"SHA256:a", "SHA256:b"}))
	log.Warn("sync failed", zap.Error(errors.New("dial tcp: connection refused")), zap.String("_uid", "0"))
	fail = true
	log.Error("sync failed", zap.String("user", "root"))

	want := []sent{
		{"authorized_keys updated added=SHA256:a,SHA256:b instance_id=i-1 path=/root/.ssh/authorized_keys user=root", journal.PriInfo,
			map[string]string{"SYSLOG_IDENTIFIER": "ecs-keyagent", "ADDED": "SHA256:a,SHA256:b", "INSTANCE_ID": "i-1",
				"PATH": "/root/.ssh/authorized_keys", "USER": "root"}},
		{`sync failed _uid=0 error="dial tcp: connection refused" instance_id=i-1`, journal.PriWarning,
			map[string]string{"SYSLOG_IDENTIFIER": "ecs-keyagent", "ERROR": "dial tcp: connection refused", "INSTANCE_ID": "i-1", "UID": "0"}},
	}
	if len(got) != len(want) {
		t.Fatalf("journal got %d entries, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if got[i].msg != want[i].msg || got[i].pri != want[i].pri || !maps.Equal(got[i].vars, want[i].vars) {
			t.Errorf("entry %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	if fellBack.Len() != 1 || fellBack.All()[0].Message != "sync failed" {
		t.Errorf("fallback got %v, want the one entry the journal refused", fellBack.All())
	}
}

func TestFieldName(t *testing.T) {
	tests := []struct{ key, want string }{
		{"user", "USER"},
		{"instance_id", "INSTANCE_ID"},
		{"key-id", "KEY_ID"},
		{"_SYSTEMD_UNIT", "SYSTEMD_UNIT"},
		{"9lives", "LIVES"},
		{"message", ""},
		{"priority", ""},
		{"…", ""},
	}
	for _, tt := range tests {
		if got := fieldName(tt.key); got != tt.want {
			t.Errorf("fieldName(%q) = %q, want %q", tt.key, got, tt.want)
		}
	}
}

// A process started by hand, with no JOURNAL_STREAM, never picks the journal.
func TestUnderJournalOutsideSystemd(t *testing.T) {
	t.Setenv("JOURNAL_STREAM", "")
	if UnderJournal() {
		t.Error("UnderJournal() = true without JOURNAL_STREAM")
	}
	t.Setenv("JOURNAL_STREAM", "1:1")
	if UnderJournal() {
		t.Error("UnderJournal() = true with a JOURNAL_STREAM that is not our stderr")
	}
}
