package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/hookflow/hookflow/internal/store"
	"github.com/hookflow/hookflow/internal/testenv"
)

// TestGeneratorPacer: the pacer gives n turns per window and tells the
// others how long to wait; a hold refuses every turn until it ends, and a
// shorter hold never shortens it. Pacers of other names are apart.
func TestGeneratorPacer(t *testing.T) {
	_, st := testenv.Database(t)
	ctx := context.Background()
	const window = 400 * time.Millisecond
	take := func(name string) time.Duration {
		t.Helper()
		wait, err := st.TakeGeneratorTurn(ctx, name, 2, window)
		if err != nil {
			t.Fatal(err)
		}
		return wait
	}
	if w1, w2 := take(store.GeneratorPacer), take(store.GeneratorPacer); w1 != 0 || w2 != 0 {
		t.Fatalf("first two turns wait %s and %s, want none", w1, w2)
	}
	if w := take(store.GeneratorPacer); w <= 0 || w > window {
		t.Fatalf("third turn in the window: wait %s, want some, at most %s", w, window)
	}
	if w := take("other"); w != 0 {
		t.Fatalf("another pacer's turn waits %s", w)
	}
	time.Sleep(window)
	if w := take(store.GeneratorPacer); w != 0 {
		t.Fatalf("turn after the window waits %s", w)
	}

	if err := st.HoldGenerator(ctx, store.GeneratorPacer, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := st.HoldGenerator(ctx, store.GeneratorPacer, 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	time.Sleep(window)
	if w := take(store.GeneratorPacer); w < time.Second || w > 2*time.Second {
		t.Fatalf("turn during a 2 s hold: wait %s, want what is left of it", w)
	}
	if w := take("other"); w != 0 {
		t.Fatalf("the hold of one pacer made another wait %s", w)
	}
}
