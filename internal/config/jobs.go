package config

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/hookflow/hookflow/internal/callback"
	"github.com/hookflow/hookflow/internal/jobs"
)

// JobsConfig configures description jobs (POST /api/v1/generate-descriptions),
// the generator they call and the signed callbacks they end with.
type JobsConfig struct {
	Clients         string `env:"JOBS_CLIENTS" desc:"clients allowed to submit jobs, id:secret,id2:secret2; a client's secret verifies its submissions and signs its callbacks"`
	ClientsPrevious string `env:"JOBS_CLIENTS_PREVIOUS" desc:"during a rotation, clients' secrets being replaced, id:previous-secret@until,... (until: RFC 3339, e.g. 2027-06-30T00:00:00Z; id from JOBS_CLIENTS, or default): until then submissions signed with it are accepted and callbacks' webhook-signature carries a second signature made with it (docs/jobs.md)"`
	SharedSecret    string `env:"JOBS_SHARED_SECRET" desc:"the seed's single shared secret (client \"default\"); may be combined with JOBS_CLIENTS"`

	MaxLots         int `env:"JOBS_MAX_LOTS" envDefault:"1000" desc:"most lots per submission (0: no limit); more get 422"`
	MaxImagesPerLot int `env:"JOBS_MAX_IMAGES_PER_LOT" envDefault:"20" desc:"most images per lot (0: no limit); more get 422"`

	GeneratorURL         string        `env:"GENERATOR_URL" desc:"OpenAI-compatible API root, e.g. https://api.openai.com/v1; unset fails every lot with a clear error"`
	GeneratorAPIKey      string        `env:"GENERATOR_API_KEY" desc:"Bearer key for GENERATOR_URL (unset sends none, for local servers)"`
	GeneratorModel       string        `env:"GENERATOR_MODEL" envDefault:"gpt-4o-mini" desc:"model named in every chat completions request"`
	GeneratorConcurrency int           `env:"GENERATOR_CONCURRENCY" envDefault:"4" desc:"lots of one job generated at the same time"`
	GeneratorTimeout     time.Duration `env:"GENERATOR_TIMEOUT" envDefault:"2m" desc:"longest wait for one generator answer"`
	GeneratorAttempts    int           `env:"GENERATOR_MAX_ATTEMPTS" envDefault:"3" desc:"attempts per lot before it is failed with its error"`
	GeneratorRetryBase   time.Duration `env:"GENERATOR_RETRY_BASE" envDefault:"5s" desc:"wait before a lot's second attempt; doubles per attempt (a Retry-After from the API wins)"`
	GeneratorMaxRPS      float64       `env:"GENERATOR_MAX_RPS" envDefault:"0" desc:"generator requests per second across all jobs and all workers (0: no limit); set, lots go one activity each onto the task queue <TEMPORAL_TASK_QUEUE>-generator, rate-limited by Temporal and paced through Postgres, and a 429's Retry-After holds every worker's requests (docs/jobs.md)"`

	CallbackRetryBase        time.Duration `env:"CALLBACK_RETRY_BASE" envDefault:"1m" desc:"wait after the first failed callback attempt"`
	CallbackRetryFactor      float64       `env:"CALLBACK_RETRY_FACTOR" envDefault:"2" desc:"growth of the wait per further attempt (1, 2, 4, 8, 16 min by default)"`
	CallbackRetryMaxAttempts int           `env:"CALLBACK_RETRY_MAX_ATTEMPTS" envDefault:"6" desc:"callback attempts in all, the first included"`
	CallbackMaxRetryAfter    time.Duration `env:"CALLBACK_MAX_RETRY_AFTER" envDefault:"1h" desc:"cap on a receiver's Retry-After (429/503)"`
	CallbackTimeout          time.Duration `env:"CALLBACK_TIMEOUT" envDefault:"30s" desc:"longest wait for a receiver's complete answer"`
	CallbackPausePoll        time.Duration `env:"CALLBACK_PAUSE_POLL" envDefault:"1m" desc:"while a client is paused (POST /api/v1/clients/{client}/pause), how long its deliveries wait before looking again; the wait doubles per look up to 10m, and a waiting attempt is not spent"`
	CallbackAllowPrivate     bool          `env:"CALLBACK_ALLOW_PRIVATE_NETWORKS" envDefault:"false" desc:"allow webhook_url and image URLs on loopback, private and link-local networks (never the cloud metadata address)"`
}

// ClientSet parses JOBS_CLIENTS, JOBS_SHARED_SECRET and
// JOBS_CLIENTS_PREVIOUS (checked at load).
func (c JobsConfig) ClientSet() (jobs.ClientSet, error) {
	return jobs.ParseClientsWithPrevious(c.Clients, c.SharedSecret, c.ClientsPrevious)
}

// ClientIDs are the callback clients' ids, in JOBS_CLIENTS' order (none
// when the setting does not parse: Load refuses that).
func (c JobsConfig) ClientIDs() []string {
	clients, err := c.ClientSet()
	if err != nil {
		return nil
	}
	ids := make([]string, 0, len(clients))
	for _, cl := range clients {
		ids = append(ids, cl.ID)
	}
	return ids
}

// Limits are the submission limits.
func (c JobsConfig) Limits() jobs.Limits {
	return jobs.Limits{MaxLots: c.MaxLots, MaxImagesPerLot: c.MaxImagesPerLot}
}

// GeneratorQueue is the task queue of generator calls when GENERATOR_MAX_RPS
// is set: <TEMPORAL_TASK_QUEUE>-generator.
func GeneratorQueue(taskQueue string) string { return taskQueue + "-generator" }

// GeneratorPaceMargin widens the pacer's window beyond
// n/GENERATOR_MAX_RPS, so that the few milliseconds between a turn and its
// request leaving never put more than GENERATOR_MAX_RPS requests in a second.
const GeneratorPaceMargin = 50 * time.Millisecond

// GeneratorPace is the pacer's rule for GENERATOR_MAX_RPS > 0: at most turns
// requests in any window (turns is the whole part of the rate, at least 1;
// window turns/rate seconds plus GeneratorPaceMargin), and the rate that
// makes (turns/window), which the generator queue asks Temporal for.
func (c JobsConfig) GeneratorPace() (turns int, window time.Duration, rate float64) {
	rps := c.GeneratorMaxRPS
	if rps <= 0 {
		return 0, 0, 0
	}
	turns = max(1, int(math.Floor(rps)))
	window = time.Duration(float64(turns)/rps*float64(time.Second)) + GeneratorPaceMargin
	return turns, window, float64(turns) / window.Seconds()
}

// Schedule is the callback retry schedule.
func (c JobsConfig) Schedule() callback.Schedule {
	return callback.Schedule{Base: c.CallbackRetryBase, Factor: c.CallbackRetryFactor,
		MaxAttempts: c.CallbackRetryMaxAttempts, MaxRetryAfter: c.CallbackMaxRetryAfter}
}

func (c JobsConfig) validate() error {
	var errs []error
	if _, err := c.ClientSet(); err != nil {
		errs = append(errs, err) // names entries by position and id, never a secret
	}
	if c.MaxLots < 0 || c.MaxImagesPerLot < 0 {
		errs = append(errs, errors.New("JOBS_MAX_LOTS and JOBS_MAX_IMAGES_PER_LOT: must not be negative"))
	}
	if c.GeneratorURL != "" {
		if _, ok := httpURL(c.GeneratorURL); !ok {
			errs = append(errs, errors.New("GENERATOR_URL: not an http(s) URL")) // the URL may embed a key: not repeated
		}
	}
	if c.GeneratorConcurrency < 1 {
		errs = append(errs, fmt.Errorf("GENERATOR_CONCURRENCY: must be at least 1, got %d", c.GeneratorConcurrency))
	}
	if c.GeneratorAttempts < 1 {
		errs = append(errs, fmt.Errorf("GENERATOR_MAX_ATTEMPTS: must be at least 1, got %d", c.GeneratorAttempts))
	}
	if c.GeneratorMaxRPS < 0 || math.IsNaN(c.GeneratorMaxRPS) || math.IsInf(c.GeneratorMaxRPS, 0) {
		errs = append(errs, fmt.Errorf("GENERATOR_MAX_RPS: must be a number >= 0 (0: no limit), got %g", c.GeneratorMaxRPS))
	}
	if c.GeneratorTimeout <= 0 || c.GeneratorRetryBase <= 0 {
		errs = append(errs, errors.New("GENERATOR_TIMEOUT and GENERATOR_RETRY_BASE: must be positive"))
	}
	if c.CallbackRetryBase <= 0 || c.CallbackTimeout <= 0 || c.CallbackMaxRetryAfter <= 0 || c.CallbackPausePoll <= 0 {
		errs = append(errs, errors.New("CALLBACK_RETRY_BASE, CALLBACK_TIMEOUT, CALLBACK_MAX_RETRY_AFTER and CALLBACK_PAUSE_POLL: must be positive"))
	}
	if c.CallbackRetryFactor < 1 {
		errs = append(errs, fmt.Errorf("CALLBACK_RETRY_FACTOR: must be at least 1, got %g", c.CallbackRetryFactor))
	}
	if c.CallbackRetryMaxAttempts < 1 {
		errs = append(errs, fmt.Errorf("CALLBACK_RETRY_MAX_ATTEMPTS: must be at least 1, got %d", c.CallbackRetryMaxAttempts))
	}
	return errors.Join(errs...)
}
