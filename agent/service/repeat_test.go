package service

import (
	"errors"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// A failure repeated on every retry is logged once, then summarised at 10
// and 100, then said to be resolved once it stops; other levels pass.
func TestRepeatCore(t *testing.T) {
	obs, logs := observer.New(zapcore.DebugLevel)
	rc := newRepeatCore(obs)
	log := zap.New(rc).With(zap.String("endpoint", "http://x"))
	for range 100 {
		log.Warn("sync failed", zap.Error(errors.New("connection refused")))
		log.Info("authorized_keys updated")
		rc.endCycle(time.Now())
	}
	log.Info("something else")
	rc.endCycle(time.Now()) // the failure did not come back

	var warns []string
	infos := 0
	for _, e := range logs.All() {
		switch {
		case e.Level == zapcore.WarnLevel:
			warns = append(warns, e.Message)
		case e.Message == "authorized_keys updated":
			infos++
		case strings.Contains(e.Message, "resolved"):
			if want := "sync failed: resolved after 100 times since "; !strings.HasPrefix(e.Message, want) {
				t.Errorf("resolution = %q, want prefix %q", e.Message, want)
			}
			if e.ContextMap()["endpoint"] != "http://x" {
				t.Errorf("resolution fields = %v, want the original ones", e.ContextMap())
			}
		}
	}
	if infos != 100 {
		t.Errorf("info lines = %d, want all 100", infos)
	}
	if len(warns) != 3 || warns[0] != "sync failed" ||
		!strings.HasPrefix(warns[1], "sync failed (still failing: 10 times since ") ||
		!strings.HasPrefix(warns[2], "sync failed (still failing: 100 times since ") {
		t.Errorf("warnings = %q, want the first, then summaries at 10 and 100", warns)
	}
}

// Distinct warnings are each logged; the table stays bounded.
func TestRepeatCoreBounded(t *testing.T) {
	obs, logs := observer.New(zapcore.DebugLevel)
	rc := newRepeatCore(obs)
	log := zap.New(rc)
	for i := range 10 * maxRepeats {
		log.Warn("sync failed", zap.Int("n", i))
	}
	if got := logs.Len(); got != 10*maxRepeats {
		t.Errorf("distinct warnings logged = %d, want %d", got, 10*maxRepeats)
	}
	if got := len(rc.st.entries); got > maxRepeats {
		t.Errorf("remembered %d warnings, want at most %d", got, maxRepeats)
	}
}

func TestPowerOfTen(t *testing.T) {
	for n, want := range map[int]bool{1: true, 2: false, 10: true, 11: false, 20: false, 100: true, 1000: true, 1010: false} {
		if got := powerOfTen(n); got != want {
			t.Errorf("powerOfTen(%d) = %v, want %v", n, got, want)
		}
	}
}
