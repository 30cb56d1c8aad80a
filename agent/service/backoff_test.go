package service

import (
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	var b backoff
	wantSteps := []time.Duration{250 * time.Millisecond, 500 * time.Millisecond, time.Second, 2 * time.Second,
		4 * time.Second, 8 * time.Second, 16 * time.Second, 30 * time.Second, 30 * time.Second}
	for i, step := range wantSteps {
		got := b.next(time.Hour)
		if got < step/2 || got > step {
			t.Errorf("attempt %d: next() = %v, want in [%v, %v]", i, got, step/2, step)
		}
	}
	for range 1000 { // stays capped, never overflows
		if got := b.next(time.Hour); got < backoffMax/2 || got > backoffMax {
			t.Fatalf("after many failures next() = %v, want in [%v, %v]", got, backoffMax/2, backoffMax)
		}
	}
	if got := b.next(time.Second); got > time.Second {
		t.Errorf("next(1s) = %v, want at most the poll interval", got)
	}
	b.reset()
	if got := b.next(time.Hour); got > backoffMin {
		t.Errorf("after reset next() = %v, want at most %v", got, backoffMin)
	}
}

func TestJitter(t *testing.T) {
	for _, d := range []time.Duration{0, time.Nanosecond, time.Second, 30 * time.Second} {
		for range 200 {
			if got := jitter(d); got < d-d/10 || got > d+d/10 {
				t.Fatalf("jitter(%v) = %v, want within 10 %%", d, got)
			}
		}
	}
}
