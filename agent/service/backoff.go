package service

import (
	"math/rand/v2"
	"time"
)

// Retry delays while syncs fail: start small so a boot where
// metadata answers a moment late loses little time, cap it so a dead
// metadata server costs one request batch every half minute at most.
const (
	backoffMin = 250 * time.Millisecond
	backoffMax = 30 * time.Second
)

// backoff is capped exponential backoff with jitter. The zero value starts
// at backoffMin.
type backoff struct {
	failures int // consecutive, capped so the shift never overflows
}

// next returns the delay before the next attempt, at most limit (the poll
// interval: a failing agent never tries less often than a healthy one), and
// counts one more failure. Equal jitter: half the step fixed, half random,
// so retries of a fleet spread out but never collapse to zero.
func (b *backoff) next(limit time.Duration) time.Duration {
	step := backoffMax
	if b.failures < 10 { // 250 ms << 7 already passes 30 s
		step = min(backoffMin<<b.failures, backoffMax)
	}
	b.failures = min(b.failures+1, 10)
	step = min(step, limit)
	return step/2 + rand.N(step/2+1)
}

// reset starts over after a success.
func (b *backoff) reset() { b.failures = 0 }

// jitter returns d ±10 %, so a fleet started together does not poll the
// metadata service in step: the service has access frequency limits
// (Alibaba Cloud, "Instance metadata").
func jitter(d time.Duration) time.Duration {
	spread := d / 10
	if spread <= 0 {
		return d
	}
	return d - spread + rand.N(2*spread+1)
}
