package config

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// RetentionConfig says how long hookflow keeps what only records history:
// inbound events (raw payloads), callback attempts, sync_log and carried-out
// rating actions. Read models (printers, print jobs, orders, ratings, jobs
// and their callback deliveries) are kept for ever.
type RetentionConfig struct {
	Events        Period `env:"EVENT_RETENTION" envDefault:"30d" desc:"how long inbound events (and their raw payloads) are kept once processed, e.g. 30d, 12h; 0 keeps them for ever. It is also the window in which a repeated delivery is recognised as a duplicate"`
	EventsSources string `env:"EVENT_RETENTION_SOURCES" desc:"per-source overrides of EVENT_RETENTION, source=period,... (sources: simplyprint, okdesk, telegram, bitrix, bitrix-backsync, jobs, and those of SOURCES_FILE), e.g. simplyprint=90d,telegram=7d"`
	Attempts      Period `env:"CALLBACK_ATTEMPT_RETENTION" envDefault:"30d" desc:"how long the attempts of a finished callback delivery are kept (the delivery itself is kept); 0 keeps them for ever"`
	SyncLog       Period `env:"SYNC_LOG_RETENTION" envDefault:"30d" desc:"how long sync_log entries are kept; 0 keeps them for ever"`
	RatingActions Period `env:"RATING_ACTION_RETENTION" envDefault:"30d" desc:"how long carried-out rating actions are kept (pending ones always are); 0 keeps them for ever"`

	Every      time.Duration `env:"RETENTION_EVERY" envDefault:"1h" desc:"cadence of the hookflow-retention Temporal Schedule that purges what is past its retention"`
	BatchSize  int           `env:"RETENTION_BATCH_SIZE" envDefault:"2000" desc:"rows deleted per transaction: small batches keep each lock short"`
	BatchPause time.Duration `env:"RETENTION_BATCH_PAUSE" envDefault:"20ms" desc:"pause between two purge transactions, which lets the ack path's writes through (measured: ack p99 during a purge 1.56x without a pause, 1.27x with 20ms); 0 purges as fast as Postgres allows"`
	ArchiveDir string        `env:"RETENTION_ARCHIVE_DIR" desc:"when set, the worker writes every purged row there first, as gzipped JSON lines, one file per source (or table) and day: <dir>/<source>/<YYYY-MM-DD>.jsonl.gz"`
	// Declared are the sources of SOURCES_FILE (set by LoadFrom): their
	// events are purged like the built-in ones', and EVENT_RETENTION_SOURCES
	// may name them.
	Declared []string `env:"-"`
}

// EventSources are the sources EVENT_RETENTION_SOURCES may name.
var EventSources = []string{"simplyprint", "okdesk", "telegram", "bitrix", "bitrix-backsync", "jobs"}

// Period is a duration that also reads whole days ("30d"); 0 means for ever.
type Period time.Duration

// UnmarshalText reads 30d, 36h, 90m or 0.
func (p *Period) UnmarshalText(b []byte) error {
	d, err := ParsePeriod(string(b))
	*p = Period(d)
	return err
}

// Duration is the period as a time.Duration (0: for ever).
func (p Period) Duration() time.Duration { return time.Duration(p) }

// ParsePeriod reads 30d, 36h, 90m or 0.
func ParsePeriod(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("%q is not a number of days", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%q is not a period (e.g. 30d, 12h, 0)", s)
	}
	return d, nil
}

// SourceOverrides parses EVENT_RETENTION_SOURCES (checked at load).
func (c RetentionConfig) SourceOverrides() (map[string]time.Duration, error) {
	out := map[string]time.Duration{}
	for i, entry := range strings.Split(c.EventsSources, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		source, period, ok := strings.Cut(entry, "=")
		source = strings.TrimSpace(source)
		if !ok {
			return nil, fmt.Errorf("EVENT_RETENTION_SOURCES: entry %d (%q) is not source=period", i+1, entry)
		}
		if !c.knownSource(source) {
			known := strings.Join(append(append([]string(nil), EventSources...), c.Declared...), ", ")
			return nil, fmt.Errorf("EVENT_RETENTION_SOURCES: entry %d names source %q; sources are %s (and those of SOURCES_FILE, when it is set for this process)", i+1, source, known)
		}
		if _, dup := out[source]; dup {
			return nil, fmt.Errorf("EVENT_RETENTION_SOURCES: source %q is named twice", source)
		}
		d, err := ParsePeriod(period)
		if err != nil {
			return nil, fmt.Errorf("EVENT_RETENTION_SOURCES: entry %d: %w", i+1, err)
		}
		out[source] = d
	}
	return out, nil
}

// EventRetention is how long events of source are kept (0: for ever).
func (c RetentionConfig) EventRetention(source string) time.Duration {
	if o, _ := c.SourceOverrides(); o != nil {
		if d, ok := o[source]; ok {
			return d
		}
	}
	return c.Events.Duration()
}

// Describe is the policy in words, for logs and the ops console.
func (c RetentionConfig) Describe() string {
	word := func(d time.Duration) string {
		if d == 0 {
			return "for ever"
		}
		if d%(24*time.Hour) == 0 {
			return fmt.Sprintf("%dd", d/(24*time.Hour))
		}
		if d%time.Hour == 0 {
			return fmt.Sprintf("%dh", d/time.Hour)
		}
		return d.String()
	}
	parts := []string{"events " + word(c.Events.Duration())}
	o, _ := c.SourceOverrides()
	sources := make([]string, 0, len(o))
	for s := range o {
		sources = append(sources, s)
	}
	sort.Strings(sources)
	for _, s := range sources {
		parts = append(parts, s+" events "+word(o[s]))
	}
	parts = append(parts, "callback attempts "+word(c.Attempts.Duration()), "sync_log "+word(c.SyncLog.Duration()),
		"rating actions "+word(c.RatingActions.Duration()))
	return strings.Join(parts, ", ")
}

func (c RetentionConfig) knownSource(s string) bool {
	return slices.Contains(EventSources, s) || slices.Contains(c.Declared, s)
}

func (c RetentionConfig) validate() error {
	var errs []error
	if _, err := c.SourceOverrides(); err != nil {
		errs = append(errs, err)
	}
	if c.Every <= 0 {
		errs = append(errs, fmt.Errorf("RETENTION_EVERY: must be positive, got %s", c.Every))
	}
	if c.BatchPause < 0 || c.BatchPause > time.Minute {
		errs = append(errs, fmt.Errorf("RETENTION_BATCH_PAUSE: must be between 0 and 1m, got %s", c.BatchPause))
	}
	if c.BatchSize <= 0 || c.BatchSize > 100000 {
		errs = append(errs, fmt.Errorf("RETENTION_BATCH_SIZE: must be between 1 and 100000, got %d", c.BatchSize))
	}
	return errors.Join(errs...)
}
