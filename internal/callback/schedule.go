package callback

import (
	"math"
	"time"
)

// Schedule is the retry schedule of one callback. The default is the seed's:
// a first attempt, then retries 1, 2, 4, 8 and 16 minutes after each failure,
// 6 attempts in all. It is a pure function of its inputs, so workflow code may
// call it (the waits themselves are durable workflow timers).
//
// Zero fields take the defaults, so Schedule{} is the seed's schedule.
type Schedule struct {
	Base          time.Duration // delay after the first failed attempt (1 min)
	Factor        float64       // growth per further attempt (2)
	MaxAttempts   int           // attempts in all, the first included (6)
	MaxRetryAfter time.Duration // cap on a receiver's Retry-After, so one header cannot park a callback for days (1 h)
}

// Defaults of Schedule.
const (
	DefaultBase          = time.Minute
	DefaultFactor        = 2.0
	DefaultMaxAttempts   = 6
	DefaultMaxRetryAfter = time.Hour
)

// DefaultSchedule returns the seed's schedule with every field spelled out.
func DefaultSchedule() Schedule {
	return Schedule{Base: DefaultBase, Factor: DefaultFactor, MaxAttempts: DefaultMaxAttempts, MaxRetryAfter: DefaultMaxRetryAfter}
}

func (s Schedule) withDefaults() Schedule {
	if s.Base <= 0 {
		s.Base = DefaultBase
	}
	if s.Factor <= 0 {
		s.Factor = DefaultFactor
	}
	if s.MaxAttempts <= 0 {
		s.MaxAttempts = DefaultMaxAttempts
	}
	if s.MaxRetryAfter <= 0 {
		s.MaxRetryAfter = DefaultMaxRetryAfter
	}
	return s
}

// NextDelay says how long to wait after failed attempt number attempt (1 for
// the first attempt) before the next one, and false when attempt was the last
// allowed. The delay is Base*Factor^(attempt-1), or the receiver's Retry-After
// when that is longer (capped at MaxRetryAfter); Retry-After never shortens
// the schedule.
func (s Schedule) NextDelay(attempt int, retryAfter time.Duration) (time.Duration, bool) {
	s = s.withDefaults()
	if attempt < 1 || attempt >= s.MaxAttempts {
		return 0, false
	}
	d := s.delay(attempt)
	if retryAfter > s.MaxRetryAfter {
		retryAfter = s.MaxRetryAfter
	}
	return max(d, retryAfter), true
}

// Delays lists the waits between attempts when no Retry-After intervenes
// (MaxAttempts-1 of them): [1m 2m 4m 8m 16m] by default.
func (s Schedule) Delays() []time.Duration {
	s = s.withDefaults()
	out := make([]time.Duration, 0, s.MaxAttempts-1)
	for a := 1; a < s.MaxAttempts; a++ {
		out = append(out, s.delay(a))
	}
	return out
}

func (s Schedule) delay(attempt int) time.Duration {
	f := float64(s.Base) * math.Pow(s.Factor, float64(attempt-1))
	if f >= math.MaxInt64 {
		return time.Duration(math.MaxInt64)
	}
	return time.Duration(f)
}
