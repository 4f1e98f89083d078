package store_test

import (
	"context"
	"sync"
	"testing"

	"github.com/hookflow/hookflow/internal/store"
)

// execer returns exec(sql, args...): one statement on st's pool, failing
// the test with the statement when it errs.
func execer(t *testing.T, st *store.Store) func(sql string, args ...any) {
	return func(sql string, args ...any) {
		t.Helper()
		if _, err := st.Pool.Exec(context.Background(), sql, args...); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
}

// inParallel runs work(0) to work(n-1) at once, waits for all of them and
// returns the first error one of them returned.
func inParallel(n int, work func(w int) error) error {
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for w := range n {
		wg.Go(func() {
			if err := work(w); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// pageKeys reads pages (read, then next with the page's last item to move
// the cursor on) until a page shorter than limit, at most maxPages of them,
// and returns the keys of their items in order.
func pageKeys[T any](t *testing.T, maxPages, limit int, read func() ([]T, error), next func(last T), key func(T) int64) []int64 {
	t.Helper()
	var keys []int64
	for range maxPages {
		page, err := read()
		if err != nil {
			t.Fatal(err)
		}
		for _, item := range page {
			keys = append(keys, key(item))
		}
		if len(page) < limit {
			break
		}
		next(page[len(page)-1])
	}
	return keys
}
