package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/hookflow/hookflow/internal/config"
	"github.com/hookflow/hookflow/internal/integrations/bitrix"
	"github.com/hookflow/hookflow/internal/ordersync"
	"github.com/hookflow/hookflow/internal/store"
)

// Outcomes of order events (inbound_events.outcome).
const (
	OutcomeApplied   = "applied"
	OutcomeStale     = "stale"
	OutcomeUnchanged = "unchanged"
	OutcomeEcho      = "echo" // the webhook Bitrix sent after hookflow's own back sync
	OutcomeIgnored   = "ignored"
	OutcomeFailed    = "failed"
	OutcomeSynced    = "synced" // a back-sync request Bitrix accepted
)

// SyncDisabled is the error text of events recorded with SYNC_ENABLED=false.
const SyncDisabled = "sync_disabled"

// Orders syncs Bitrix orders into the CRM tables and pushes CRM changes
// back to Bitrix.
type Orders struct {
	Store  *store.Store
	Config config.OrdersConfig
	REST   *bitrix.RESTClient // nil when BITRIX_REST_URL is unset
	Site   *bitrix.SiteClient // nil when BITRIX_API_URL is unset
	Log    *slog.Logger
	// setupErr explains why a configured client could not be built.
	setupErr error
}

// NewOrders builds the activities with Bitrix clients from cfg (hc nil uses
// a plain client); BITRIX_TIMEOUT bounds every call. The REST client gets an
// untraced client: a traced one would put the webhook code, which is part
// of every REST URL, into the spans' url.full.
func NewOrders(cfg config.OrdersConfig, st *store.Store, hc *http.Client, log *slog.Logger) *Orders {
	c := http.Client{}
	if hc != nil {
		c = *hc
	}
	c.Timeout = cfg.Timeout
	a := &Orders{Store: st, Config: cfg, Log: log}
	var errs []error
	if cfg.RESTURL != "" {
		rc, err := bitrix.NewRESTClient(cfg.RESTURL, &http.Client{Timeout: cfg.Timeout})
		errs = append(errs, err)
		a.REST = rc
	}
	if cfg.APIURL != "" {
		sc, err := bitrix.NewSiteClient(cfg.APIURL, cfg.Token(), &c)
		errs = append(errs, err)
		a.Site = sc
	}
	a.setupErr = errors.Join(errs...)
	return a
}

type fetched struct {
	order ordersync.BitrixOrder
	err   error // permanent failure: the events are recorded as failed
}

// OrderApplyEvents applies one Bitrix order's recorded events in id order,
// exactly once. Bitrix24 events carry only the order id: the order is
// fetched with sale.order.get first (outside the transaction; a retryable
// failure fails the activity and Temporal retries it).
func (a *Orders) OrderApplyEvents(ctx context.Context, ids []int64) (ApplyResult, error) {
	events, err := a.Store.EventsByID(ctx, ids)
	if err != nil {
		return ApplyResult{}, err
	}
	fetches := map[int64]fetched{}
	for _, e := range events {
		if e.Processed || e.EventType != store.OrderEventB24Saved || !a.Config.SyncEnabled {
			continue
		}
		var p store.Bitrix24Event
		if err := json.Unmarshal(e.Payload, &p); err != nil || p.OrderID <= 0 {
			continue // recorded as failed by the applier
		}
		if _, done := fetches[p.OrderID]; done {
			continue
		}
		f, err := a.fetchOrder(ctx, p.OrderID, e.ID)
		if err != nil {
			return ApplyResult{}, err
		}
		fetches[p.OrderID] = f
	}
	n, err := a.Store.ProcessEvents(ctx, ids, "", func(ctx context.Context, tx pgx.Tx, evs []store.InboundEvent) ([]store.EventOutcome, error) {
		out := make([]store.EventOutcome, len(evs))
		for i, ev := range evs {
			o, err := a.applyEvent(ctx, tx, ev, fetches)
			if err != nil {
				return nil, fmt.Errorf("event %d: %w", ev.ID, err)
			}
			out[i] = o
		}
		return out, nil
	})
	return ApplyResult{Processed: n}, nonRetryableData(err)
}

// fetchOrder reads an order from Bitrix24 REST and logs the call (a
// permanent failure is logged by the applier, with the event's outcome).
func (a *Orders) fetchOrder(ctx context.Context, orderID, eventID int64) (fetched, error) {
	entry := store.SyncLogEntry{Direction: store.DirectionInbound, EntityID: strconv.FormatInt(orderID, 10),
		Action: "fetch", EventID: &eventID}
	if a.REST == nil { // a permanent failure: the applier records it with the event
		msg := "BITRIX_REST_URL is not set: cannot fetch the order of a Bitrix24 event"
		if a.setupErr != nil {
			msg = a.setupErr.Error()
		}
		return fetched{err: errors.New(msg)}, nil
	}
	start := time.Now()
	raw, err := a.REST.GetOrder(ctx, orderID)
	var o ordersync.BitrixOrder
	if err == nil {
		o, err = ordersync.FromREST(raw)
		if err != nil {
			err = fmt.Errorf("sale.order.get answered an order hookflow cannot read: %w", err)
		}
	}
	entry.DurationMS = ms(time.Since(start))
	entry.Detail = "sale.order.get, attempt " + strconv.Itoa(int(activity.GetInfo(ctx).Attempt))
	if err == nil {
		entry.Status = store.SyncSuccess
		a.logSync(ctx, entry)
		return fetched{order: o}, nil
	}
	msg := err.Error()
	entry.Error = &msg
	if bitrix.IsRetryable(err) {
		entry.Status = store.SyncRetry
		a.logSync(ctx, entry)
		return fetched{}, bitrixErrors(a.Config.BackSyncRetryMax).ActivityError(err)
	}
	return fetched{err: err}, nil // permanent: the applier records it with the event
}

func (a *Orders) applyEvent(ctx context.Context, tx pgx.Tx, ev store.InboundEvent, fetches map[int64]fetched) (store.EventOutcome, error) {
	start := time.Now()
	entry := store.SyncLogEntry{Direction: store.DirectionInbound, EntityID: ev.EntityID, EventID: &ev.ID}
	finish := func(o store.EventOutcome, action, status string) (store.EventOutcome, error) {
		entry.Action, entry.Status, entry.DurationMS = action, status, ms(time.Since(start))
		if o.Error != "" && status != store.SyncSuccess {
			entry.Error = &o.Error
		}
		return o, store.LogSync(ctx, tx, entry)
	}
	if !a.Config.SyncEnabled {
		return finish(store.EventOutcome{Outcome: OutcomeIgnored, Error: SyncDisabled}, "ignored", store.SyncSkipped)
	}

	var order ordersync.BitrixOrder
	origin := ""
	switch ev.EventType {
	case store.OrderEventCreated, store.OrderEventUpdated, store.OrderEventStatusChanged:
		se, err := ordersync.ParseSiteOrder(ev.Payload)
		if err != nil { // accepted once, so only if the parser changed since
			return finish(store.EventOutcome{Outcome: OutcomeFailed, Error: err.Error()}, "parse", store.SyncError)
		}
		order, origin = se.Order, se.Origin
	case store.OrderEventB24Saved:
		var p store.Bitrix24Event
		if err := json.Unmarshal(ev.Payload, &p); err != nil || p.OrderID <= 0 {
			return finish(store.EventOutcome{Outcome: OutcomeFailed, Error: "unreadable Bitrix24 event payload"}, "parse", store.SyncError)
		}
		f, ok := fetches[p.OrderID]
		switch {
		case !ok:
			return store.EventOutcome{}, fmt.Errorf("order %d was not fetched", p.OrderID) // cannot happen: retried
		case f.err != nil:
			msg := f.err.Error()
			if !strings.Contains(msg, "sale.order.get") {
				msg = "sale.order.get: " + msg
			}
			return finish(store.EventOutcome{Outcome: OutcomeFailed, Error: msg}, "fetch", store.SyncError)
		}
		order = f.order
	default:
		return finish(store.EventOutcome{Outcome: OutcomeIgnored, Error: "event " + ev.Event + " is not synced"}, "ignored", store.SyncSkipped)
	}

	m, err := store.LockOrderMapping(ctx, tx, order.ID)
	if err != nil {
		return store.EventOutcome{}, err
	}
	var appliedVersion time.Time
	appliedHash := ""
	if m != nil {
		entry.CRMID = &m.CRMID
		appliedHash = m.AppliedHash
		if m.AppliedVersion != nil {
			appliedVersion = *m.AppliedVersion
		}
	}
	hash := ordersync.Hash(order)
	// The echo of hookflow's own back sync: marked by the shop's endpoint,
	// or the status being pushed, or the version Bitrix answered the push with.
	echo := origin == ordersync.OriginBackSync || (m != nil &&
		((m.PushingStatus != nil && *m.PushingStatus == order.StatusID) || (m.PushedHash != nil && *m.PushedHash == hash)))
	version := ordersync.Version(order)

	switch ordersync.Decide(order, appliedVersion, appliedHash) {
	case ordersync.Stale:
		return finish(store.EventOutcome{Outcome: OutcomeStale, Error: fmt.Sprintf("version %s is older than the applied %s",
			version.Format(time.RFC3339), appliedVersion.Format(time.RFC3339))}, "stale", store.SyncSkipped)
	case ordersync.Unchanged:
		if err := store.AdvanceOrderVersion(ctx, tx, order.ID, version); err != nil {
			return store.EventOutcome{}, err
		}
		if echo {
			entry.Detail = "echo of hookflow's back sync; content unchanged"
			return finish(store.EventOutcome{Outcome: OutcomeEcho}, "echo", store.SyncSkipped)
		}
		return finish(store.EventOutcome{Outcome: OutcomeUnchanged}, "unchanged", store.SyncSkipped)
	}

	c := ordersync.ToCRM(order, a.Config.Statuses())
	keep := m != nil && m.PushingStatus != nil && *m.PushingStatus != order.StatusID
	saved, err := store.SaveBitrixOrder(ctx, tx, c, keep, ev.ID)
	if err != nil {
		return store.EventOutcome{}, err
	}
	entry.CRMID = &saved.CRMID
	var notes []string
	action := "update"
	switch {
	case saved.Created:
		action = "create"
		notes = append(notes, fmt.Sprintf("order %s, status %s (%s), %d items", c.Number, c.Status, c.BitrixStatus, len(c.Items)))
	case saved.PrevBitrixStatus != c.BitrixStatus:
		action = "status"
		notes = append(notes, "Bitrix status "+saved.PrevBitrixStatus+" → "+c.BitrixStatus)
	}
	if c.StatusFlaggedUnknown {
		notes = append(notes, "unknown Bitrix status "+strconv.Quote(c.BitrixStatus)+" kept as the CRM status")
	}
	if saved.StatusKept {
		notes = append(notes, "CRM status kept: its back sync to Bitrix is pending")
	}
	outcome := OutcomeApplied
	if echo {
		outcome, action = OutcomeEcho, "echo"
		notes = append(notes, "echo of hookflow's back sync, applied; not synced back")
	}
	entry.Detail = strings.Join(notes, "; ")
	return finish(store.EventOutcome{Outcome: outcome}, action, store.SyncSuccess)
}

// PushResult says what one OrderPushToBitrix call did.
type PushResult struct {
	Pushed   int    `json:"pushed"`    // requests sent to Bitrix now (0: already done, or sync disabled)
	StatusID string `json:"status_id"` // the Bitrix status sent
}

// OrderPushToBitrix sends a CRM order's pending back-sync requests (ids, in order)
// to Bitrix as one call: the newest status and every comment. It uses
// Bitrix24 REST sale.order.update when BITRIX_REST_URL is set, else the
// shop's hookflow_order_update.php. Retryable failures (5xx, 408, 429,
// QUERY_LIMIT_EXCEEDED, transport) fail the attempt for Temporal to retry,
// honouring Retry-After; the rest are non-retryable. Both calls are
// idempotent (status set, comment added once), so an attempt repeated after
// a crash changes nothing more.
func (a *Orders) OrderPushToBitrix(ctx context.Context, ids []int64) (PushResult, error) {
	reqs, pending, err := a.pendingBackSyncs(ctx, ids)
	if err != nil || len(reqs) == 0 {
		return PushResult{}, err
	}
	crmID, bitrixID := reqs[0].CRMID, reqs[0].BitrixID
	last := pending[len(pending)-1]
	entry := store.SyncLogEntry{Direction: store.DirectionOutbound, EntityID: strconv.FormatInt(bitrixID, 10),
		CRMID: &crmID, EventID: &last}
	if !a.Config.SyncEnabled {
		_, err := a.Store.ProcessEvents(ctx, pending, "", func(ctx context.Context, tx pgx.Tx, evs []store.InboundEvent) ([]store.EventOutcome, error) {
			if err := store.FinishBackSync(ctx, tx, store.BackSyncOutcome{CRMID: crmID, LastEventID: last,
				State: store.SyncStateSkipped, Error: SyncDisabled}); err != nil {
				return nil, err
			}
			entry.Action, entry.Status, entry.Error = "backsync", store.SyncSkipped, ptr(SyncDisabled)
			return sameOutcome(len(evs), store.EventOutcome{Outcome: OutcomeIgnored, Error: SyncDisabled}), store.LogSync(ctx, tx, entry)
		})
		return PushResult{}, err
	}

	// Coalesce: the newest status wins; comments are added in order.
	var statusID, comments string
	var added []string
	for _, r := range reqs {
		if r.StatusID != "" {
			statusID = r.StatusID
		}
		if r.Comment != "" {
			added = append(added, r.Comment)
		}
		comments = r.Comments
	}
	comment := strings.Join(added, "\n")
	var what []string
	if statusID != "" {
		what = append(what, "status "+statusID)
	}
	if comment != "" {
		what = append(what, "comment")
	}
	attempt := int(activity.GetInfo(ctx).Attempt)
	start := time.Now()
	order, target, err := a.push(ctx, bitrixID, statusID, comment, comments)
	entry.Action = "backsync"
	entry.DurationMS = ms(time.Since(start))
	entry.Detail = fmt.Sprintf("%s via %s, attempt %d", strings.Join(what, " + "), target, attempt)
	if len(reqs) > 1 {
		entry.Detail += fmt.Sprintf(", %d requests coalesced", len(reqs))
	}
	if err != nil {
		msg := err.Error()
		entry.Error = &msg
		retry := bitrix.IsRetryable(err)
		entry.Status = store.SyncError
		if retry {
			entry.Status = store.SyncRetry
		}
		a.logSync(ctx, entry)
		return PushResult{}, bitrixErrors(a.Config.BackSyncRetryMax).ActivityError(err)
	}
	outcome := store.BackSyncOutcome{CRMID: crmID, LastEventID: last, State: store.SyncStateSynced, BitrixStatus: statusID}
	if order != nil {
		outcome.BitrixStatus, outcome.Version, outcome.Hash = order.StatusID, ordersync.Version(*order), ordersync.Hash(*order)
	}
	_, err = a.Store.ProcessEvents(ctx, pending, "", func(ctx context.Context, tx pgx.Tx, evs []store.InboundEvent) ([]store.EventOutcome, error) {
		if err := store.FinishBackSync(ctx, tx, outcome); err != nil {
			return nil, err
		}
		entry.Status = store.SyncSuccess
		return sameOutcome(len(evs), store.EventOutcome{Outcome: OutcomeSynced}), store.LogSync(ctx, tx, entry)
	})
	return PushResult{Pushed: len(reqs), StatusID: statusID}, err
}

// push makes the Bitrix call and returns the saved order (nil when the
// answer could not be read; the update itself went through).
func (a *Orders) push(ctx context.Context, bitrixID int64, statusID, comment, comments string) (*ordersync.BitrixOrder, string, error) {
	switch {
	case a.REST != nil:
		fields := map[string]any{}
		if statusID != "" {
			fields["statusId"] = statusID
		}
		if comment != "" {
			fields["comments"] = comments // REST replaces COMMENTS: send the CRM's whole text
		}
		raw, err := a.REST.UpdateOrder(ctx, bitrixID, fields)
		if err != nil {
			return nil, "sale.order.update", err
		}
		if o, err := ordersync.FromREST(raw); err == nil {
			return &o, "sale.order.update", nil
		}
		return nil, "sale.order.update", nil
	case a.Site != nil:
		raw, err := a.Site.UpdateOrder(ctx, bitrix.OrderUpdate{OrderID: bitrixID, StatusID: statusID, Comment: comment})
		if err != nil {
			return nil, bitrix.SiteUpdatePath, err
		}
		if o, err := ordersync.ParseSiteOrderFields(raw); err == nil {
			return &o, bitrix.SiteUpdatePath, nil
		}
		return nil, bitrix.SiteUpdatePath, nil
	}
	msg := "no back-sync target: set BITRIX_API_URL (the shop's endpoint) or BITRIX_REST_URL (Bitrix24 REST)"
	if a.setupErr != nil {
		msg = a.setupErr.Error()
	}
	return nil, "nowhere", bitrix.InvalidRequest("back sync", "%s", msg)
}

// OrderFailBackSync records back-sync requests that cannot be delivered (a
// permanent refusal, or no success within BITRIX_BACKSYNC_RETRY_FOR): the
// events as failed and the order's sync state as failed with the reason.
func (a *Orders) OrderFailBackSync(ctx context.Context, ids []int64, reason string) error {
	reqs, pending, err := a.pendingBackSyncs(ctx, ids)
	if err != nil || len(reqs) == 0 {
		return err
	}
	crmID, last := reqs[0].CRMID, pending[len(pending)-1]
	reason = store.Text(reason) // Bitrix's words: storable whatever they hold
	_, err = a.Store.ProcessEvents(ctx, pending, "", func(ctx context.Context, tx pgx.Tx, evs []store.InboundEvent) ([]store.EventOutcome, error) {
		if err := store.FinishBackSync(ctx, tx, store.BackSyncOutcome{CRMID: crmID, LastEventID: last,
			State: store.SyncStateFailed, Error: reason}); err != nil {
			return nil, err
		}
		err := store.LogSync(ctx, tx, store.SyncLogEntry{Direction: store.DirectionOutbound,
			EntityID: strconv.FormatInt(reqs[0].BitrixID, 10), CRMID: &crmID, EventID: &last,
			Action: "backsync", Status: store.SyncError, Error: &reason, Detail: "gave up"})
		return sameOutcome(len(evs), store.EventOutcome{Outcome: OutcomeFailed, Error: reason}), err
	})
	return err
}

// pendingBackSyncs loads the unprocessed back-sync requests among ids.
func (a *Orders) pendingBackSyncs(ctx context.Context, ids []int64) ([]store.OrderBackSync, []int64, error) {
	events, err := a.Store.EventsByID(ctx, ids)
	if err != nil {
		return nil, nil, err
	}
	var reqs []store.OrderBackSync
	var pending []int64
	for _, e := range events {
		if e.Processed {
			continue
		}
		var r store.OrderBackSync
		if err := json.Unmarshal(e.Payload, &r); err != nil {
			return nil, nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("back-sync event %d: %v", e.ID, err), "BadPayload", nil)
		}
		reqs = append(reqs, r)
		pending = append(pending, e.ID)
	}
	return reqs, pending, nil
}

// logSync writes a log entry outside any transaction (an attempt happened
// whatever comes next); a failure to log is only logged.
func (a *Orders) logSync(ctx context.Context, e store.SyncLogEntry) {
	if err := store.LogSync(ctx, a.Store.Pool, e); err != nil && a.Log != nil {
		a.Log.Warn("orders: cannot write sync_log", "action", e.Action, "error", err)
	}
}

// bitrixErrors maps a Bitrix failure to an activity error; a Retry-After
// hint (capped at maxDelay) sets the next attempt's delay. Every error of
// a back-sync that is not the client's is permanent.
func bitrixErrors(maxDelay time.Duration) VendorErrors {
	return VendorErrors{Retryable: "BitrixRetryable", Permanent: "BitrixPermanent", MaxDelay: maxDelay, UnknownPermanent: true}
}

func sameOutcome(n int, o store.EventOutcome) []store.EventOutcome {
	out := make([]store.EventOutcome, n)
	for i := range out {
		out[i] = o
	}
	return out
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func ptr[T any](v T) *T { return &v }
