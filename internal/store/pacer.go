package store

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
)

// GeneratorPacer is the generator_pacer row shared by every worker of a
// deployment.
const GeneratorPacer = "generator"

// ReserveGeneratorSlot takes the next send time of the pacer name: the later
// of its next free slot, its hold and now, and moves the next free slot one
// interval on. It returns how long to wait until that time (0 or more), by
// Postgres's clock.
func (s *Store) ReserveGeneratorSlot(ctx context.Context, name string, interval time.Duration) (time.Duration, error) {
	var wait float64
	err := s.Pool.QueryRow(ctx, `
		INSERT INTO generator_pacer AS p (name, next_slot) VALUES ($1, clock_timestamp() + $2 * interval '1 second')
		ON CONFLICT (name) DO UPDATE
			SET next_slot = greatest(p.next_slot, p.hold_until, clock_timestamp()) + $2 * interval '1 second'
		RETURNING greatest(extract(epoch FROM p.next_slot - $2 * interval '1 second' - clock_timestamp()), 0)::float8`,
		name, interval.Seconds()).Scan(&wait)
	return time.Duration(wait * float64(time.Second)), err
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

// GeneratorHold is what is left of the pacer's hold (0 when none).
func (s *Store) GeneratorHold(ctx context.Context, name string) (time.Duration, error) {
	var left float64
	err := s.Pool.QueryRow(ctx, `SELECT greatest(extract(epoch FROM hold_until - clock_timestamp()), 0)::float8
		FROM generator_pacer WHERE name = $1`, name).Scan(&left)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	return time.Duration(left * float64(time.Second)), err
}
