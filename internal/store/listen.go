package store

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// Notifier fans Postgres NOTIFY payloads of one channel out to in-process
// subscribers over one dedicated connection, reconnecting when it drops.
type Notifier struct {
	store   *Store
	channel string
	log     *slog.Logger

	mu   sync.Mutex
	subs map[chan string]struct{}
}

// NewNotifier listens on channel once Run is called.
func NewNotifier(s *Store, channel string, log *slog.Logger) *Notifier {
	return &Notifier{store: s, channel: channel, log: log, subs: map[chan string]struct{}{}}
}

// Subscribe returns a channel of payloads and a function that ends the
// subscription. A subscriber that does not keep up loses payloads (the SSE
// handler reads them fast; a lost payload shows as a gap, never a block).
func (n *Notifier) Subscribe() (<-chan string, func()) {
	ch := make(chan string, 256)
	n.mu.Lock()
	n.subs[ch] = struct{}{}
	n.mu.Unlock()
	return ch, func() {
		n.mu.Lock()
		delete(n.subs, ch)
		n.mu.Unlock()
	}
}

// Run listens until ctx ends.
func (n *Notifier) Run(ctx context.Context) {
	for ctx.Err() == nil {
		if err := n.listen(ctx); err != nil && ctx.Err() == nil {
			n.log.Warn("notify listener lost its connection; reconnecting", "channel", n.channel, "error", err)
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	}
}

func (n *Notifier) listen(ctx context.Context) error {
	conn, err := n.store.Pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{n.channel}.Sanitize()); err != nil {
		return err
	}
	defer func() {
		// The connection goes back to the pool: stop listening first.
		if _, err := conn.Exec(context.WithoutCancel(ctx), "UNLISTEN *"); err != nil {
			_ = conn.Conn().Close(context.WithoutCancel(ctx)) // the pool drops a closed connection
		}
	}()
	for {
		note, err := conn.Conn().WaitForNotification(ctx)
		if err != nil {
			return err
		}
		n.mu.Lock()
		for ch := range n.subs {
			select {
			case ch <- note.Payload:
			default:
			}
		}
		n.mu.Unlock()
	}
}
