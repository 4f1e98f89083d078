// Package retention purges what is past its retention period (inbound
// events, callback attempts, sync_log, carried-out rating actions) in small
// batches, optionally archiving every purged row first. The hookflow-retention
// Temporal Schedule runs it through activities.Retention.
package retention

import (
	"compress/gzip"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"syscall"
	"time"

	"github.com/hookflow/hookflow/internal/config"
	"github.com/hookflow/hookflow/internal/store"
)

// Counts is how many rows a purge removed, per kind (events per source:
// "events/<source>").
type Counts map[string]int64

// Add adds other into c. Workflows call it: the map's order does not
// change a sum.
//
//workflowcheck:ignore
func (c Counts) Add(other Counts) {
	for k, n := range other {
		c[k] += n
	}
}

// Total is the number of rows in all (in any order: a workflow may call it).
//
//workflowcheck:ignore
func (c Counts) Total() int64 {
	var t int64
	for _, n := range c {
		t += n
	}
	return t
}

// Options tune one Purge call.
type Options struct {
	Now       time.Time     // cutoffs are Now minus each period
	BatchSize int           // rows per transaction
	Budget    time.Duration // stop after this long (0: run to the end), with More set
	Archive   *Archive      // nil: purge without a copy
	// Pause after each batch: lets the ack path's transactions through
	// between purge transactions (0: none).
	Pause time.Duration
	// Progress is called after every batch with what has gone so far.
	Progress func(Counts)
}

// Result is what one Purge call did.
type Result struct {
	Purged Counts `json:"purged"`
	// More: the budget ran out with rows still past their period.
	More bool `json:"more"`
	// Compacted: callback counter rows folded into others
	// (store.CompactCallbackCounts), after everything was purged.
	Compacted int64 `json:"compacted"`
}

// CompactWindow is how far back Purge compacts the callback counters: the
// hours before the last one, back to this long ago. Older hours were
// compacted by earlier runs (the schedule runs every RETENTION_EVERY) or
// backfilled into one slot by the migration.
const CompactWindow = 48 * time.Hour

type target struct {
	kind, source string
	period       time.Duration
}

func (t target) key() string {
	if t.kind == store.PurgeEvents {
		return t.kind + "/" + t.source
	}
	return t.kind
}

// Purge deletes, batch by batch, every row past its period under cfg, until
// none is left or the budget is spent.
func Purge(ctx context.Context, st *store.Store, cfg config.RetentionConfig, opt Options) (Result, error) {
	res := Result{Purged: Counts{}}
	targets, err := targets(ctx, st, cfg)
	if err != nil {
		return res, err
	}
	if opt.BatchSize <= 0 {
		opt.BatchSize = 2000
	}
	if opt.Now.IsZero() {
		opt.Now = time.Now()
	}
	start := time.Now()
	var keep func([]store.PurgedRow) error
	if opt.Archive != nil {
		keep = opt.Archive.Write
	}
	for _, t := range targets {
		cutoff := opt.Now.Add(-t.period)
		for {
			if opt.Budget > 0 && time.Since(start) >= opt.Budget {
				res.More = true
				return res, nil
			}
			n, err := st.PurgeBatch(ctx, t.kind, t.source, cutoff, opt.BatchSize, keep)
			if err != nil {
				return res, err
			}
			if n > 0 {
				res.Purged[t.key()] += int64(n)
				if opt.Progress != nil {
					opt.Progress(res.Purged)
				}
			}
			if n < opt.BatchSize {
				break
			}
			if opt.Pause > 0 {
				select {
				case <-ctx.Done():
					return res, ctx.Err()
				case <-time.After(opt.Pause):
				}
			}
		}
	}
	// Fold the callback counters' slots of the past hours, which retention's
	// own deletes of attempts also write to: reads of long windows then sum
	// one row per hour and key.
	n, err := st.CompactCallbackCounts(ctx, opt.Now.Add(-CompactWindow), opt.Now.Truncate(time.Hour))
	if err != nil {
		return res, err
	}
	res.Compacted = n
	return res, nil
}

// targets lists what cfg purges; a period of 0 keeps its kind for ever.
func targets(ctx context.Context, st *store.Store, cfg config.RetentionConfig) ([]target, error) {
	var out []target
	sources, err := st.EventSources(ctx)
	if err != nil {
		return nil, fmt.Errorf("list event sources: %w", err)
	}
	for _, s := range sources {
		if p := cfg.EventRetention(s); p > 0 {
			out = append(out, target{kind: store.PurgeEvents, source: s, period: p})
		}
	}
	for _, t := range []target{
		{kind: store.PurgeCallbackAttempts, period: cfg.Attempts.Duration()},
		{kind: store.PurgeSyncLog, period: cfg.SyncLog.Duration()},
		{kind: store.PurgeRatingActions, period: cfg.RatingActions.Duration()},
	} {
		if t.period > 0 {
			out = append(out, t)
		}
	}
	return out, nil
}

// Archive writes purged rows under a directory as gzipped JSON lines, one
// file per group (an event source, or a table) and day:
// <dir>/<group>/<YYYY-MM-DD>.jsonl.gz. Each batch appends one gzip member
// (gzip readers, zcat included, read a file of several members as one
// stream), under an exclusive lock on the file and synced to disk before the
// purge commits.
type Archive struct {
	Dir string
}

// Write appends rows to their files; the purge commits only if it succeeds.
func (a *Archive) Write(rows []store.PurgedRow) error {
	files := map[string][]store.PurgedRow{}
	for _, r := range rows {
		p := filepath.Join(a.Dir, safeName(r.Group), safeName(r.Day)+".jsonl.gz")
		files[p] = append(files[p], r)
	}
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		if err := appendMember(p, files[p]); err != nil {
			return fmt.Errorf("archive %s: %w", p, err)
		}
	}
	return nil
}

func appendMember(path string, rows []store.PurgedRow) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return err
	}
	defer f.Close()
	// Two purges (an activity retried while its first attempt still runs)
	// must not interleave their members.
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		return err
	}
	zw := gzip.NewWriter(f)
	for _, r := range rows {
		if _, err := zw.Write(r.JSON); err != nil {
			return err
		}
		if _, err := zw.Write([]byte{'\n'}); err != nil {
			return err
		}
	}
	if err := zw.Close(); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	return f.Close()
}

// safeName keeps a group or day name a single path element.
func safeName(s string) string {
	out := []rune(s)
	for i, r := range out {
		if r == '/' || r == '\\' || r == 0 || (i == 0 && r == '.') {
			out[i] = '_'
		}
	}
	if len(out) == 0 {
		return "_"
	}
	return string(out)
}
