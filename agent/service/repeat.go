package service

import (
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// maxRepeats bounds the distinct warnings remembered (guest-agent #481:
// bound every list); the oldest is forgotten first.
const maxRepeats = 64

// repeatCore passes warnings and errors through the first time and swallows
// identical ones after that, so a metadata server down for a day costs a few
// log lines, not one per retry. It writes a summary when the count
// reaches 10, 100, 1000…, and one "resolved" line when the daemon ends a
// sync cycle in which the warning did not come back. Lower levels pass
// through untouched: those are one line per change already.
type repeatCore struct {
	zapcore.Core
	fields []zapcore.Field // from With, part of the identity of an entry
	st     *repeatState
}

type repeatState struct {
	mu      sync.Mutex
	cycle   int
	entries map[string]*repeat
	out     zapcore.Core // the undecorated core, for summaries
}

type repeat struct {
	entry     zapcore.Entry
	fields    []zapcore.Field
	first     time.Time
	count     int
	lastCycle int
}

// newRepeatCore wraps next.
func newRepeatCore(next zapcore.Core) *repeatCore {
	return &repeatCore{Core: next, st: &repeatState{entries: map[string]*repeat{}, out: next}}
}

func (c *repeatCore) With(fields []zapcore.Field) zapcore.Core {
	return &repeatCore{
		Core:   c.Core.With(fields),
		fields: append(append([]zapcore.Field(nil), c.fields...), fields...),
		st:     c.st,
	}
}

func (c *repeatCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if e.Level < zapcore.WarnLevel {
		return c.Core.Check(e, ce)
	}
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c *repeatCore) Write(e zapcore.Entry, fields []zapcore.Field) error {
	all := append(append([]zapcore.Field(nil), c.fields...), fields...)
	key := repeatKey(e, all)
	st := c.st
	st.mu.Lock()
	r, seen := st.entries[key]
	if !seen {
		st.evictLocked()
		st.entries[key] = &repeat{entry: e, fields: all, first: e.Time, count: 1, lastCycle: st.cycle}
		st.mu.Unlock()
		return c.Core.Write(e, fields)
	}
	r.count++
	r.lastCycle = st.cycle
	count, first := r.count, r.first
	st.mu.Unlock()
	if !powerOfTen(count) {
		return nil
	}
	e.Message = fmt.Sprintf("%s (still failing: %d times since %s)", e.Message, count, first.Format(time.RFC3339))
	return c.Core.Write(e, append(fields, zap.Int("repeats", count), zap.Time("since", first)))
}

// endCycle closes one sync: warnings that did not come back during it are
// forgotten, with a line saying so when they had repeated, so a later
// recurrence is logged afresh.
func (c *repeatCore) endCycle(now time.Time) {
	st := c.st
	st.mu.Lock()
	var done []*repeat
	for k, r := range st.entries {
		if r.lastCycle < st.cycle {
			delete(st.entries, k)
			if r.count > 1 {
				done = append(done, r)
			}
		}
	}
	st.cycle++
	st.mu.Unlock()
	for _, r := range done {
		e := r.entry
		e.Level, e.Time = zapcore.InfoLevel, now
		e.Message = fmt.Sprintf("%s: resolved after %d times since %s", r.entry.Message, r.count, r.first.Format(time.RFC3339))
		if ce := st.out.Check(e, nil); ce != nil {
			ce.Write(r.fields...)
		}
	}
}

// evictLocked forgets the oldest entry when the table is full.
func (st *repeatState) evictLocked() {
	if len(st.entries) < maxRepeats {
		return
	}
	var oldest string
	for k, r := range st.entries {
		if oldest == "" || r.first.Before(st.entries[oldest].first) {
			oldest = k
		}
	}
	delete(st.entries, oldest)
}

// repeatKey identifies an entry by level, message and fields, not time.
func repeatKey(e zapcore.Entry, fields []zapcore.Field) string {
	enc := zapcore.NewMapObjectEncoder()
	for _, f := range fields {
		f.AddTo(enc)
	}
	return fmt.Sprintf("%d\x00%s\x00%s\x00%v", e.Level, e.LoggerName, e.Message, enc.Fields) // fmt sorts map keys
}

func powerOfTen(n int) bool {
	for n >= 10 && n%10 == 0 {
		n /= 10
	}
	return n == 1
}
