package main

import (
	"math"
	"runtime/debug"
	"testing"
)

// The service's GC settings apply unless the environment sets GOGC or
// GOMEMLIMIT, and the restorer puts back what was there.
func TestCollectAtLimit(t *testing.T) {
	for _, tt := range []struct {
		name        string
		env         map[string]string
		wantPercent int
		wantLimit   int64
	}{
		{name: "environment silent", wantPercent: -1, wantLimit: gcMemoryLimit},
		{name: "GOGC set", env: map[string]string{"GOGC": "50"}, wantPercent: 100, wantLimit: math.MaxInt64},
		{name: "GOMEMLIMIT set", env: map[string]string{"GOMEMLIMIT": "64MiB"}, wantPercent: 100, wantLimit: math.MaxInt64},
		{name: "GOGC off set", env: map[string]string{"GOGC": "off"}, wantPercent: 100, wantLimit: math.MaxInt64},
	} {
		t.Run(tt.name, func(t *testing.T) {
			// The test process's own settings, whatever its environment, stand
			// for what the service starts with.
			defer debug.SetGCPercent(debug.SetGCPercent(100))
			defer debug.SetMemoryLimit(debug.SetMemoryLimit(math.MaxInt64))
			restore := collectAtLimit(func(k string) string { return tt.env[k] })
			percent := debug.SetGCPercent(-1)
			debug.SetGCPercent(percent)
			if limit := debug.SetMemoryLimit(-1); percent != tt.wantPercent || limit != tt.wantLimit {
				t.Errorf("collectAtLimit(%v): GOGC %d, memory limit %d; want %d, %d", tt.env, percent, limit, tt.wantPercent, tt.wantLimit)
			}
			restore()
			percent = debug.SetGCPercent(-1)
			debug.SetGCPercent(percent)
			if limit := debug.SetMemoryLimit(-1); percent != 100 || limit != math.MaxInt64 {
				t.Errorf("after restore: GOGC %d, memory limit %d; want 100, %d", percent, limit, int64(math.MaxInt64))
			}
		})
	}
}
