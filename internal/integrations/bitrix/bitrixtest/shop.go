package bitrixtest

import (
	"fmt"
	"sync"
	"time"
)

// shop is what the REST portal and the Site fake both keep: the orders by
// id, the status ids an update may set and the clock of the dates it
// writes. mu guards it and the rest of the fake's state.
type shop struct {
	mu       sync.Mutex
	orders   map[int64]map[string]any
	statuses map[string]bool
	now      func() time.Time
}

// newShop has no orders, statuses N, P, F, S and D, and time.Now.
func newShop() shop {
	return shop{
		orders:   map[int64]map[string]any{},
		statuses: map[string]bool{"N": true, "P": true, "F": true, "S": true, "D": true},
		now:      time.Now,
	}
}

// SetClock sets the clock of the dates an update writes (DATE_UPDATE and
// DATE_STATUS, or dateUpdate and dateStatus; default time.Now).
func (s *shop) SetClock(now func() time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = now
}

// SetStatuses replaces the status ids an update may set (default N, P, F,
// S, D).
func (s *shop) SetStatuses(ids ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.statuses = map[string]bool{}
	for _, id := range ids {
		s.statuses[id] = true
	}
}

// putOrder stores a copy of order under its numeric idKey; a missing or
// other id panics, naming the caller (who).
func (s *shop) putOrder(who, idKey string, order map[string]any) {
	id, ok := intOf(order[idKey])
	if !ok {
		panic(fmt.Sprintf("bitrixtest: %s: order has no numeric %s: %v", who, idKey, order[idKey]))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.orders[id] = clone(order)
}

// Order returns a copy of the stored order.
func (s *shop) Order(id int64) (map[string]any, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.orders[id]
	if !ok {
		return nil, false
	}
	return clone(o), true
}
