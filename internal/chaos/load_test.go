package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// ackDeadline is how long a sender keeps retrying one request before the
// run counts it as never acked (a failure: real senders give up too).
const ackDeadline = 2 * time.Minute

// ack is one acknowledged request: when the attempt that got the 2xx
// started, and when the answer came.
type ack struct{ start, end time.Time }

// ackLog records every ack of every flow, to tell when acks resumed after a
// fault.
type ackLog struct {
	mu   sync.Mutex
	acks []ack
}

func (l *ackLog) add(a ack) {
	l.mu.Lock()
	l.acks = append(l.acks, a)
	l.mu.Unlock()
}

// firstAfter is the earliest ack of an attempt started at or after t.
func (l *ackLog) firstAfter(t time.Time) (time.Time, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var first time.Time
	for _, a := range l.acks {
		if !a.start.Before(t) && (first.IsZero() || a.end.Before(first)) {
			first = a.end
		}
	}
	return first, !first.IsZero()
}

// flow counts what one flow sent. Identities are the sender's own names for
// its events (what makes a redelivery the same event); ids are what
// hookflow answered (inbound_events.id, or the job id).
type flow struct {
	name    string
	source  string // inbound_events.source
	acked   atomic.Int64
	retries atomic.Int64

	mu        sync.Mutex
	ids       map[string]string // identity -> id from the first ack
	conflicts int               // acks of one identity that named another id
	errs      []error
}

func newFlow(name, source string) *flow {
	return &flow{name: name, source: source, ids: map[string]string{}}
}

// acknowledged records the ack of identity with hookflow's id for it ("" when
// the answer names none).
func (f *flow) acknowledged(identity, id string) {
	f.acked.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	prev, seen := f.ids[identity]
	switch {
	case !seen:
		f.ids[identity] = id
	case id != "" && prev != "" && prev != id:
		f.conflicts++
	case prev == "":
		f.ids[identity] = id
	}
}

func (f *flow) fail(err error) {
	f.mu.Lock()
	f.errs = append(f.errs, err)
	f.mu.Unlock()
}

// ackedIDs are the distinct ids hookflow answered, and how many identities
// were acked.
func (f *flow) ackedIDs() (ids []string, identities int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, id := range f.ids {
		if id != "" {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids, len(f.ids)
}

// sender posts to the API replicas the way webhook senders behind a load
// balancer do: spread over both, and what was not acked (no answer, 5xx,
// 429) is sent again, the same bytes, to the other replica until it is.
type sender struct {
	apis []string
	hc   *http.Client
	log  *ackLog
	next atomic.Uint64
}

// request is one delivery: the same method, path, headers and bytes on
// every attempt.
type request struct {
	method, path string
	header       http.Header
	body         []byte
}

// send delivers r until a 2xx and returns its body. A 4xx other than 408
// and 429 is an error: the load is built to be valid, so it is a bug here
// or in hookflow, never a reason to resend.
func (s *sender) send(ctx context.Context, f *flow, r request) ([]byte, error) {
	deadline := time.Now().Add(ackDeadline)
	target := int(s.next.Add(1))
	var last error
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			f.retries.Add(1)
			// Fail over at once; back off a little once both refused.
			if attempt%len(s.apis) == 0 {
				select {
				case <-ctx.Done():
					return nil, fmt.Errorf("%s %s: %w (last: %v)", r.method, r.path, ctx.Err(), last)
				case <-time.After(250 * time.Millisecond):
				}
			}
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%s %s not acked within %s: %v", r.method, r.path, ackDeadline, last)
		}
		base := s.apis[(target+attempt)%len(s.apis)]
		start := time.Now()
		status, body, err := s.do(ctx, base, r)
		switch {
		case err != nil:
			last = err
		case status/100 == 2:
			s.log.add(ack{start: start, end: time.Now()})
			return body, nil
		case status >= 500 || status == http.StatusRequestTimeout || status == http.StatusTooManyRequests:
			last = fmt.Errorf("%s: HTTP %d: %s", base, status, bytes.TrimSpace(body))
		default:
			return nil, fmt.Errorf("%s %s%s: HTTP %d: %s", r.method, base, r.path, status, bytes.TrimSpace(body))
		}
	}
}

func (s *sender) do(ctx context.Context, base string, r request) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, r.method, base+r.path, bytes.NewReader(r.body))
	if err != nil {
		return 0, nil, err
	}
	for k, v := range r.header {
		req.Header[k] = v
	}
	resp, err := s.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, body, err
}

// idOf reads the numeric "id" of an ack ("" when it has none).
func idOf(body []byte) string {
	var a struct {
		ID json.Number `json:"id"`
	}
	if json.Unmarshal(body, &a) != nil {
		return ""
	}
	return a.ID.String()
}

// paced calls fn(i) for i = 0, 1, ... at rate per second on workers
// goroutines until ctx ends or max calls were made. A worker stuck in a
// sender's retries holds its slot, as a real sender's would: the offered
// load then drops rather than piling up unboundedly.
func paced(ctx context.Context, wg *sync.WaitGroup, rate float64, workers, max int, fn func(i int)) {
	work := make(chan int)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				fn(i)
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(work)
		tick := time.NewTicker(time.Duration(float64(time.Second) / rate))
		defer tick.Stop()
		for i := 0; i < max; i++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			select {
			case <-ctx.Done():
				return
			case work <- i:
			}
		}
	}()
}

// backlog samples, four times a second, the relay outbox (events recorded,
// not yet handed to Temporal) and the events not yet processed (handed over
// or not): the first says whether hand-over keeps up, the second whether
// the workers do.
type backlog struct {
	mu      sync.Mutex
	samples []sample
}

type sample struct {
	at                 time.Time
	outbox, unfinished int64 // -1: Postgres did not answer
}

func (b *backlog) run(ctx context.Context, db *pgxpool.Pool) {
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		qctx, cancel := context.WithTimeout(ctx, time.Second)
		s := sample{outbox: -1, unfinished: -1}
		_ = db.QueryRow(qctx, `SELECT (SELECT count(*) FROM relay_outbox), (SELECT count(*) FROM inbound_events WHERE NOT processed)`).
			Scan(&s.outbox, &s.unfinished)
		cancel()
		s.at = time.Now()
		b.mu.Lock()
		b.samples = append(b.samples, s)
		b.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// peaks are the largest samples in [from, to).
func (b *backlog) peaks(from, to time.Time) (outbox, unfinished int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, s := range b.samples {
		if !s.at.Before(from) && s.at.Before(to) {
			outbox, unfinished = max(outbox, s.outbox), max(unfinished, s.unfinished)
		}
	}
	return outbox, unfinished
}

// last is the newest sample.
func (b *backlog) last() sample {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.samples) == 0 {
		return sample{outbox: -1, unfinished: -1}
	}
	return b.samples[len(b.samples)-1]
}

// steadySince is when the outbox went back to at most threshold after from,
// for good (for hold).
func (b *backlog) steadySince(from time.Time, threshold int64, hold time.Duration) (time.Time, bool) {
	return b.lowSince(from, hold, func(s sample) int64 { return s.outbox }, threshold)
}

// caughtUpSince is the same for unprocessed events: the workers caught up.
func (b *backlog) caughtUpSince(from time.Time, threshold int64, hold time.Duration) (time.Time, bool) {
	return b.lowSince(from, hold, func(s sample) int64 { return s.unfinished }, threshold)
}

// lowSince is the start of the first run of samples after from whose value
// stays at or under threshold for hold: one low sample right after a fault
// (before the backlog has had time to grow) is not a drain.
func (b *backlog) lowSince(from time.Time, hold time.Duration, value func(sample) int64, threshold int64) (time.Time, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var start time.Time
	for _, s := range b.samples {
		if s.at.Before(from) {
			continue
		}
		if v := value(s); v < 0 || v > threshold {
			start = time.Time{}
			continue
		}
		if start.IsZero() {
			start = s.at
		}
		if s.at.Sub(start) >= hold {
			return start, true
		}
	}
	return time.Time{}, false
}
