package config

import (
	"strings"
	"testing"
	"time"
)

func TestJobsConfig(t *testing.T) {
	cfg := mustLoad(t, map[string]string{"JOBS_CLIENTS": "acme:s3cret,globex:x:y", "JOBS_SHARED_SECRET": "seed"})
	cs, err := cfg.Jobs.ClientSet()
	if err != nil || len(cs) != 3 || cs[1].Secret != "x:y" || cs[2].ID != "default" {
		t.Fatalf("clients %v (%v)", cs.IDs(), err)
	}
	if s := cfg.Jobs.Schedule(); s.MaxAttempts != 6 || s.Base != time.Minute || s.Factor != 2 || len(s.Delays()) != 5 {
		t.Fatalf("default schedule %+v", s)
	}
	if l := cfg.Jobs.Limits(); l.MaxLots != 1000 || l.MaxImagesPerLot != 20 {
		t.Fatalf("limits %+v", l)
	}
	if cfg.Jobs.CallbackTimeout != 30*time.Second || cfg.Jobs.GeneratorConcurrency != 4 || cfg.Jobs.GeneratorAttempts != 3 || cfg.Jobs.CallbackAllowPrivate ||
		cfg.Jobs.GeneratorMaxRPS != 0 {
		t.Fatalf("defaults %+v", cfg.Jobs)
	}
}

func TestJobsConfigMaxRPS(t *testing.T) {
	cfg, err := LoadFrom(map[string]string{"GENERATOR_MAX_RPS": "0.5", "TEMPORAL_TASK_QUEUE": "q"})
	if err != nil || cfg.Jobs.GeneratorMaxRPS != 0.5 || GeneratorQueue(cfg.Temporal.TaskQueue) != "q-generator" {
		t.Fatalf("GENERATOR_MAX_RPS=0.5: %v %v", cfg.Jobs.GeneratorMaxRPS, err)
	}
	for _, c := range []struct {
		rps    float64
		turns  int
		window time.Duration
	}{{0.5, 1, 2050 * time.Millisecond}, {5, 5, 1050 * time.Millisecond}, {7.5, 7, 983333333 * time.Nanosecond}} {
		turns, window, rate := JobsConfig{GeneratorMaxRPS: c.rps}.GeneratorPace()
		if turns != c.turns || window != c.window || rate > c.rps || rate < 0.9*c.rps {
			t.Errorf("GENERATOR_MAX_RPS=%g: %d turns per %s (%g/s), want %d per %s", c.rps, turns, window, rate, c.turns, c.window)
		}
	}
}

func TestJobsConfigInvalid(t *testing.T) {
	cases := []struct {
		vars map[string]string
		want string
	}{
		{map[string]string{"JOBS_CLIENTS": "acme:topsecret,broken"}, "JOBS_CLIENTS entry 2"},
		{map[string]string{"JOBS_CLIENTS": "acme:topsecret,acme:other"}, "repeats client"},
		{map[string]string{"GENERATOR_CONCURRENCY": "0"}, "GENERATOR_CONCURRENCY"},
		{map[string]string{"GENERATOR_MAX_ATTEMPTS": "0"}, "GENERATOR_MAX_ATTEMPTS"},
		{map[string]string{"GENERATOR_URL": "ftp://topsecret@x"}, "GENERATOR_URL"},
		{map[string]string{"CALLBACK_RETRY_MAX_ATTEMPTS": "0"}, "CALLBACK_RETRY_MAX_ATTEMPTS"},
		{map[string]string{"CALLBACK_RETRY_FACTOR": "0.5"}, "CALLBACK_RETRY_FACTOR"},
		{map[string]string{"CALLBACK_RETRY_BASE": "0s"}, "CALLBACK_RETRY_BASE"},
		{map[string]string{"JOBS_MAX_LOTS": "-1"}, "JOBS_MAX_LOTS"},
		{map[string]string{"GENERATOR_MAX_RPS": "-1"}, "GENERATOR_MAX_RPS"},
		{map[string]string{"GENERATOR_MAX_RPS": "NaN"}, "GENERATOR_MAX_RPS"},
	}
	for _, c := range cases {
		if err := loadFails(t, c.vars, c.want); err != nil && strings.Contains(err.Error(), "topsecret") {
			t.Errorf("%v: error shows a secret: %v", c.vars, err)
		}
	}
}
