package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// GeneratorPacer is the generator_pacer row shared by every worker of a
// deployment.
const GeneratorPacer = "generator"

// TakeGeneratorTurn asks the pacer name for a turn to send one request now:
// granted when no hold is on and fewer than n turns were given in the last
// window. Granted, the turn is recorded and the wait is 0; refused, nothing
// changes and the wait is how long until a turn may be free (ask again
// then: others may take it first). Times are Postgres's clock.
func (s *Store) TakeGeneratorTurn(ctx context.Context, name string, n int, window time.Duration) (wait time.Duration, err error) {
	n = max(n, 1)
	err = pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO generator_pacer (name) VALUES ($1) ON CONFLICT DO NOTHING`, name); err != nil {
			return err
		}
		var sends []time.Time
		var hold, now time.Time
		if err := tx.QueryRow(ctx, `SELECT sends, hold_until FROM generator_pacer WHERE name = $1 FOR UPDATE`,
			name).Scan(&sends, &hold); err != nil {
			return err
		}
		// Read once the row is ours: time spent waiting for the lock is
		// not counted as past.
		if err := tx.QueryRow(ctx, `SELECT clock_timestamp()`).Scan(&now); err != nil {
			return err
		}
		wait = hold.Sub(now)
		if len(sends) >= n {
			wait = max(wait, sends[len(sends)-n].Add(window).Sub(now))
		}
		if wait > 0 {
			return nil
		}
		wait = 0
		// The turn is recorded at the update, the latest time the
		// database knows before the request leaves.
		keep := append([]time.Time{}, sends[max(0, len(sends)-(n-1)):]...)
		_, err := tx.Exec(ctx, `UPDATE generator_pacer SET sends = $2::timestamptz[] || clock_timestamp() WHERE name = $1`, name, keep)
		return err
	})
	return wait, err
}

// HoldGenerator keeps every worker of the pacer from sending for d from now
// (a longer hold already set stays).
func (s *Store) HoldGenerator(ctx context.Context, name string, d time.Duration) error {
	_, err := s.Pool.Exec(ctx, `
		INSERT INTO generator_pacer AS p (name, hold_until) VALUES ($1, clock_timestamp() + $2 * interval '1 second')
		ON CONFLICT (name) DO UPDATE SET hold_until = greatest(p.hold_until, clock_timestamp() + $2 * interval '1 second')`,
		name, d.Seconds())
	return err
}
