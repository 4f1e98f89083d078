package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/hookflow/hookflow/internal/ordersync"
)

// Sources of the order sync in inbound_events.
const (
	// BitrixSource: Bitrix site webhooks and Bitrix24 outbound events, one
	// workflow per Bitrix order (bitrix-order-<bitrix id>).
	BitrixSource = "bitrix"
	// BitrixBackSyncSource: back-sync requests made by PATCH /api/orders/{id},
	// one workflow per CRM order (bitrix-backsync-<crm id>), so an order's
	// pushes reach Bitrix in order.
	BitrixBackSyncSource = "bitrix-backsync"
)

// Event types of source BitrixSource (inbound_events.event_type).
const (
	OrderEventCreated       = "order_created"  // site: order.saved with is_new
	OrderEventUpdated       = "order_updated"  // site: order.saved
	OrderEventStatusChanged = "status_changed" // site: order.status_changed
	OrderEventB24Saved      = "b24_order_saved"
	OrderEventB24Deleted    = "b24_order_deleted"
	OrderEventB24Other      = "b24_other"
	OrderEventSiteOther     = "site_other" // a site event of another kind: ignored at the edge
)

// Bitrix24Event is the payload recorded for a Bitrix24 outbound event: the
// form's fields without the application token (a secret).
type Bitrix24Event struct {
	Event     string     `json:"event"`
	OrderID   int64      `json:"order_id"`
	Action    string     `json:"action,omitempty"`
	HandlerID string     `json:"event_handler_id,omitempty"`
	TS        *time.Time `json:"ts,omitempty"`
	Domain    string     `json:"domain,omitempty"`
	MemberID  string     `json:"member_id,omitempty"`
}

// Sync states of a CRM order (orders.sync_state).
const (
	SyncStateSynced  = "synced"  // CRM and Bitrix agree as far as hookflow knows
	SyncStatePending = "pending" // a back sync is under way
	SyncStateFailed  = "failed"  // the last back sync failed for good (sync_error says why)
	SyncStateSkipped = "skipped" // the last back sync was not sent (SYNC_ENABLED=false)
)

// ErrOrderNotFound is returned for a CRM id that does not exist.
var ErrOrderNotFound = errors.New("order not found")

// BackSyncWorkflowID is the workflow that pushes a CRM order's changes.
func BackSyncWorkflowID(crmID int64) string { return fmt.Sprintf("bitrix-backsync-%d", crmID) }

// Order is a CRM order as the API shows it.
type Order struct {
	ID              int64             `json:"id"`
	BitrixID        int64             `json:"bitrix_id"`
	Number          string            `json:"number"`
	Status          string            `json:"status"`
	BitrixStatus    string            `json:"bitrix_status"`
	StatusUnknown   bool              `json:"status_unknown"`
	Total           ordersync.Decimal `json:"total"`
	DeliveryPrice   ordersync.Decimal `json:"delivery_price"`
	Currency        string            `json:"currency"`
	Paid            bool              `json:"paid"`
	Canceled        bool              `json:"canceled"`
	Customer        OrderCustomer     `json:"customer"`
	DeliveryAddress string            `json:"delivery_address"`
	CustomerComment string            `json:"customer_comment"`
	Comments        string            `json:"comments"`
	TrackingNumber  string            `json:"tracking_number"`
	BitrixCreatedAt *time.Time        `json:"bitrix_created_at"`
	BitrixUpdatedAt *time.Time        `json:"bitrix_updated_at"`
	SyncState       string            `json:"sync_state"`
	SyncError       *string           `json:"sync_error"`
	CreatedAt       time.Time         `json:"created_at"`
	UpdatedAt       time.Time         `json:"updated_at"`
	Items           []OrderItem       `json:"items,omitempty"`
}

// OrderCustomer is who ordered.
type OrderCustomer struct {
	Name  string `json:"name"`
	Phone string `json:"phone"`
	Email string `json:"email"`
}

// OrderItem is one order line.
type OrderItem struct {
	ProductID int64             `json:"product_id"`
	Name      string            `json:"name"`
	Price     ordersync.Decimal `json:"price"`
	Quantity  ordersync.Decimal `json:"quantity"`
	Currency  string            `json:"currency"`
}

const orderColumns = `o.id, o.bitrix_id, o.number, o.status, o.bitrix_status, o.status_unknown, o.total::text,
	o.delivery_price::text, o.currency, o.paid, o.canceled, o.customer_name, o.customer_phone, o.customer_email,
	o.delivery_address, o.customer_comment, o.comments, o.tracking_number, o.bitrix_created_at, o.bitrix_updated_at,
	o.sync_state, o.sync_error, o.created_at, o.updated_at`

func scanOrder(r pgx.Row) (Order, error) {
	var o Order
	var total, delivery string
	err := r.Scan(&o.ID, &o.BitrixID, &o.Number, &o.Status, &o.BitrixStatus, &o.StatusUnknown, &total, &delivery,
		&o.Currency, &o.Paid, &o.Canceled, &o.Customer.Name, &o.Customer.Phone, &o.Customer.Email,
		&o.DeliveryAddress, &o.CustomerComment, &o.Comments, &o.TrackingNumber, &o.BitrixCreatedAt, &o.BitrixUpdatedAt,
		&o.SyncState, &o.SyncError, &o.CreatedAt, &o.UpdatedAt)
	if err != nil {
		return o, err
	}
	if o.Total, err = ordersync.ParseDecimal(total); err != nil {
		return o, fmt.Errorf("orders.total %q: %w", total, err)
	}
	if o.DeliveryPrice, err = ordersync.ParseDecimal(delivery); err != nil {
		return o, fmt.Errorf("orders.delivery_price %q: %w", delivery, err)
	}
	return o, nil
}

// OrderMapping is the sync_mapping row of an order.
type OrderMapping struct {
	BitrixID       int64      `json:"bitrix_id"`
	CRMID          int64      `json:"crm_id"`
	AppliedVersion *time.Time `json:"applied_version"`
	AppliedHash    string     `json:"applied_hash"`
	AppliedEventID *int64     `json:"applied_event_id"`
	PushingEventID *int64     `json:"pushing_event_id"`
	PushingStatus  *string    `json:"pushing_status"`
	PushedStatus   *string    `json:"pushed_status"`
	PushedVersion  *time.Time `json:"pushed_version"`
	PushedHash     *string    `json:"pushed_hash"`
	PushedAt       *time.Time `json:"pushed_at"`
}

const mappingColumns = `bitrix_id, crm_id, applied_version, applied_hash, applied_event_id, pushing_event_id,
	pushing_status, pushed_status, pushed_version, pushed_hash, pushed_at`

func scanMapping(r pgx.Row) (*OrderMapping, error) {
	var m OrderMapping
	err := r.Scan(&m.BitrixID, &m.CRMID, &m.AppliedVersion, &m.AppliedHash, &m.AppliedEventID, &m.PushingEventID,
		&m.PushingStatus, &m.PushedStatus, &m.PushedVersion, &m.PushedHash, &m.PushedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	return &m, err
}

// LockOrderMapping returns the mapping of a Bitrix order (nil when the
// order was never applied) and locks it until tx ends, so the order's
// writers (its workflow and back-sync results) take turns.
func LockOrderMapping(ctx context.Context, tx pgx.Tx, bitrixID int64) (*OrderMapping, error) {
	return scanMapping(tx.QueryRow(ctx, `SELECT `+mappingColumns+` FROM sync_mapping
		WHERE entity = 'order' AND bitrix_id = $1 FOR UPDATE`, bitrixID))
}

// SavedOrder says what SaveBitrixOrder did.
type SavedOrder struct {
	CRMID            int64
	Created          bool
	PrevBitrixStatus string // "" when created
	StatusKept       bool   // the CRM status was left alone (a back sync is pending)
}

// SaveBitrixOrder upserts the CRM order of a Bitrix order version with its
// items and records the version as applied. keepStatus leaves the CRM status
// as it is (a back sync of a CRM change is under way) while bitrix_status
// still follows Bitrix. Call it with the mapping locked.
func SaveBitrixOrder(ctx context.Context, tx pgx.Tx, c ordersync.CRMOrder, keepStatus bool, eventID int64) (SavedOrder, error) {
	var res SavedOrder
	var prev *string
	err := tx.QueryRow(ctx, `SELECT bitrix_status FROM orders WHERE bitrix_id = $1 FOR UPDATE`, c.BitrixID).Scan(&prev)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return res, err
	}
	res.Created = prev == nil
	if prev != nil {
		res.PrevBitrixStatus = *prev
	}
	res.StatusKept = keepStatus && !res.Created
	err = tx.QueryRow(ctx, `
		INSERT INTO orders (bitrix_id, number, status, bitrix_status, status_unknown, total, delivery_price, currency,
			paid, canceled, customer_name, customer_phone, customer_email, delivery_address, customer_comment,
			comments, tracking_number, bitrix_created_at, bitrix_updated_at)
		VALUES ($1, $2, $3, $4, $5, $6::numeric, $7::numeric, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)
		ON CONFLICT (bitrix_id) DO UPDATE SET
			number = excluded.number,
			status = CASE WHEN $20 THEN orders.status ELSE excluded.status END,
			status_unknown = CASE WHEN $20 THEN orders.status_unknown ELSE excluded.status_unknown END,
			bitrix_status = excluded.bitrix_status, total = excluded.total, delivery_price = excluded.delivery_price,
			currency = excluded.currency, paid = excluded.paid, canceled = excluded.canceled,
			customer_name = excluded.customer_name, customer_phone = excluded.customer_phone,
			customer_email = excluded.customer_email, delivery_address = excluded.delivery_address,
			customer_comment = excluded.customer_comment, comments = excluded.comments,
			tracking_number = excluded.tracking_number, bitrix_created_at = excluded.bitrix_created_at,
			bitrix_updated_at = excluded.bitrix_updated_at, updated_at = now()
		RETURNING id`,
		c.BitrixID, c.Number, c.Status, c.BitrixStatus, c.StatusFlaggedUnknown, c.Total.String(), c.DeliveryPrice.String(),
		c.Currency, c.Paid, c.Canceled, c.CustomerName, c.CustomerPhone, c.CustomerEmail, c.DeliveryAddress,
		c.CustomerComment, c.Comments, c.TrackingNumber, nullTime(c.BitrixCreatedAt), nullTime(c.BitrixUpdatedAt),
		res.StatusKept).Scan(&res.CRMID)
	if err != nil {
		return res, err
	}
	batch := &pgx.Batch{}
	batch.Queue(`DELETE FROM order_items WHERE order_id = $1`, res.CRMID)
	for i, it := range c.Items {
		batch.Queue(`INSERT INTO order_items (order_id, position, product_id, name, price, quantity, currency)
			VALUES ($1, $2, $3, $4, $5::numeric, $6::numeric, $7)`,
			res.CRMID, i+1, it.ProductID, it.Name, it.Price.String(), it.Quantity.String(), it.Currency)
	}
	batch.Queue(`INSERT INTO sync_mapping (entity, bitrix_id, crm_id, applied_version, applied_hash, applied_event_id)
		VALUES ('order', $1, $2, $3, $4, $5)
		ON CONFLICT (entity, bitrix_id) DO UPDATE SET applied_version = greatest(sync_mapping.applied_version, excluded.applied_version),
			applied_hash = excluded.applied_hash, applied_event_id = excluded.applied_event_id, updated_at = now()`,
		c.BitrixID, res.CRMID, nullTime(c.BitrixUpdatedAt), c.BitrixHash, nullInt(eventID))
	return res, tx.SendBatch(ctx, batch).Close()
}

// AdvanceOrderVersion records that a version with the applied content was
// seen (ordersync.Unchanged): the applied version becomes the newer of the
// two, so that an older event arriving later is still recognised as stale.
func AdvanceOrderVersion(ctx context.Context, tx pgx.Tx, bitrixID int64, version time.Time) error {
	_, err := tx.Exec(ctx, `UPDATE sync_mapping SET applied_version = greatest(applied_version, $2), updated_at = now()
		WHERE entity = 'order' AND bitrix_id = $1`, bitrixID, version)
	return err
}

// SyncLogEntry is one row of sync_log.
type SyncLogEntry struct {
	ID         int64     `json:"id"`
	Direction  string    `json:"direction"` // inbound, outbound, crm
	Entity     string    `json:"entity"`    // order
	EntityID   string    `json:"entity_id"` // Bitrix id
	CRMID      *int64    `json:"crm_id"`
	Action     string    `json:"action"`
	Status     string    `json:"status"` // success, skipped, retry, error
	Error      *string   `json:"error"`
	Detail     string    `json:"detail,omitempty"`
	DurationMS float64   `json:"duration_ms"`
	EventID    *int64    `json:"event_id"`
	At         time.Time `json:"at"`
}

// Sync log directions and statuses.
const (
	DirectionInbound  = "inbound"
	DirectionOutbound = "outbound"
	DirectionCRM      = "crm"

	SyncSuccess = "success"
	SyncSkipped = "skipped"
	SyncRetry   = "retry"
	SyncError   = "error"
)

// Execer is a pool or a transaction.
type Execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// LogSync appends one entry to sync_log (At is now).
func LogSync(ctx context.Context, db Execer, e SyncLogEntry) error {
	if e.Entity == "" {
		e.Entity = "order"
	}
	_, err := db.Exec(ctx, `INSERT INTO sync_log (direction, entity, entity_id, crm_id, action, status, error, detail, duration_ms, event_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		e.Direction, e.Entity, e.EntityID, e.CRMID, e.Action, e.Status, e.Error, e.Detail, e.DurationMS, e.EventID)
	return err
}

// OrderBackSync is the payload of a bitrix-backsync event: what a PATCH
// asked to push to Bitrix.
type OrderBackSync struct {
	CRMID    int64  `json:"crm_id"`
	BitrixID int64  `json:"bitrix_id"`
	Seq      int    `json:"seq"`                 // per-order request number
	Status   string `json:"status,omitempty"`    // CRM status set by the PATCH
	StatusID string `json:"status_id,omitempty"` // its Bitrix status id
	Comment  string `json:"comment,omitempty"`   // comment added by the PATCH
	Comments string `json:"comments"`            // the CRM order's comments after the PATCH
}

// OrderPatch is a CRM change of an order (PATCH /api/orders/{id}).
type OrderPatch struct {
	Status   string // CRM status; "" keeps it
	StatusID string // Bitrix status id of Status
	Comment  string // appended to comments (once); "" adds none
	Actor    string // the token's name: the change is audited (order.update) in its transaction; "" records none
}

// PatchResult is what PatchOrder did.
type PatchResult struct {
	Order      Order
	EventID    int64  // the back-sync request recorded, 0 when nothing needed pushing
	WorkflowID string // its workflow
}

// PatchOrder applies a CRM change and, in the same transaction, records the
// back-sync request (an inbound_events row of BitrixBackSyncSource that the
// relay hands to bitrix-backsync-<crm id>), so a committed change always
// reaches Bitrix. The comment is appended on a new line unless the order's
// comments contain it already (the shop's endpoint does the same). Nothing
// is recorded when the change leaves both the CRM and Bitrix as they are.
func (s *Store) PatchOrder(ctx context.Context, crmID int64, p OrderPatch, traceParent string) (PatchResult, error) {
	var res PatchResult
	apply := func(tx pgx.Tx) error {
		// Lock order: the mapping, then the order (as the inbound path and
		// FinishBackSync do), so writers of one order never deadlock.
		m, err := scanMapping(tx.QueryRow(ctx, `SELECT `+mappingColumns+` FROM sync_mapping
			WHERE entity = 'order' AND crm_id = $1 FOR UPDATE`, crmID))
		if err != nil {
			return err
		}
		o, err := scanOrder(tx.QueryRow(ctx, `SELECT `+orderColumns+` FROM orders o WHERE o.id = $1 FOR UPDATE`, crmID))
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrOrderNotFound
		} else if err != nil {
			return err
		}
		comments := o.Comments
		if p.Comment != "" && !strings.Contains(comments, p.Comment) {
			if comments != "" {
				comments += "\n"
			}
			comments += p.Comment
		}
		pending := m != nil && m.PushingEventID != nil
		statusPush := p.Status != "" && (p.Status != o.Status || p.StatusID != o.BitrixStatus || pending)
		if !statusPush && p.Comment == "" {
			res.Order = o
			return nil
		}
		var changes []string
		if p.Status != "" && p.Status != o.Status {
			changes = append(changes, "status "+o.Status+" → "+p.Status)
		}
		if comments != o.Comments {
			changes = append(changes, "comment added")
		}
		var seq int
		if err := tx.QueryRow(ctx, `UPDATE orders SET status = CASE WHEN $2 = '' THEN status ELSE $2 END,
				status_unknown = CASE WHEN $2 = '' THEN status_unknown ELSE false END,
				comments = $3, sync_state = 'pending', sync_error = NULL, backsync_seq = backsync_seq + 1, updated_at = now()
			WHERE id = $1 RETURNING backsync_seq`, crmID, p.Status, comments).Scan(&seq); err != nil {
			return err
		}
		req := OrderBackSync{CRMID: crmID, BitrixID: o.BitrixID, Seq: seq, Comment: p.Comment, Comments: comments}
		if statusPush {
			req.Status, req.StatusID = p.Status, p.StatusID
		}
		payload, err := json.Marshal(req)
		if err != nil {
			return err
		}
		attrs, _ := json.Marshal(map[string]any{"crm_id": crmID, "bitrix_id": o.BitrixID, "seq": seq, "status_id": req.StatusID})
		eventType := "comment"
		switch {
		case statusPush && p.Comment != "":
			eventType = "status_comment"
		case statusPush:
			eventType = "status"
		}
		res.WorkflowID = BackSyncWorkflowID(crmID)
		if err := tx.QueryRow(ctx, `INSERT INTO inbound_events (source, dedup_key, workflow_id, event, event_type, entity_id, attrs, payload, traceparent)
			VALUES ($1, $2, $3, 'order.patch', $4, $5, $6::jsonb, $7::json, nullif($8, '')) RETURNING id`,
			BitrixBackSyncSource, fmt.Sprintf("%d:%d", crmID, seq), res.WorkflowID, eventType, strconv.FormatInt(crmID, 10),
			string(attrs), string(payload), traceParent).Scan(&res.EventID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE sync_mapping SET pushing_event_id = $2,
				pushing_status = CASE WHEN $3 = '' THEN pushing_status ELSE $3 END, updated_at = now()
			WHERE entity = 'order' AND crm_id = $1`, crmID, res.EventID, req.StatusID); err != nil {
			return err
		}
		detail := strings.Join(changes, "; ")
		if detail == "" {
			detail = "push again"
		}
		if err := LogSync(ctx, tx, SyncLogEntry{Direction: DirectionCRM, EntityID: strconv.FormatInt(o.BitrixID, 10), CRMID: &crmID,
			Action: "patch", Status: SyncSuccess, Detail: detail + " (back sync #" + strconv.Itoa(seq) + ")", EventID: &res.EventID}); err != nil {
			return err
		}
		res.Order, err = scanOrder(tx.QueryRow(ctx, `SELECT `+orderColumns+` FROM orders o WHERE o.id = $1`, crmID))
		return err
	}
	err := pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		if err := apply(tx); err != nil || p.Actor == "" {
			return err
		}
		// Audited in the change's transaction: an entry exists exactly
		// when the change does (refusals are audited by the caller).
		detail := map[string]any{"status": p.Status, "comment": p.Comment != "", "back_sync_event": res.EventID}
		if res.EventID == 0 {
			detail["unchanged"] = true
		}
		return RecordAudit(ctx, tx, AuditEntry{Actor: p.Actor, Action: AuditOrderUpdate, Target: strconv.FormatInt(crmID, 10),
			Count: 1, Result: AuditOK, Detail: AuditDetail(detail)})
	})
	return res, err
}

// BackSyncOutcome is how a batch of back-sync requests ended.
type BackSyncOutcome struct {
	CRMID       int64
	LastEventID int64 // the newest request of the batch
	State       string
	Error       string
	// On success: what Bitrix answered with (zero when unknown).
	BitrixStatus string
	Version      time.Time
	Hash         string
}

// FinishBackSync records the end of the requests up to LastEventID inside
// tx: the order's sync state and, on success, the status Bitrix confirmed,
// and the pushed version and hash (to recognise the echo). A newer request
// still pending keeps the order pending.
func FinishBackSync(ctx context.Context, tx pgx.Tx, o BackSyncOutcome) error {
	var errText *string
	if o.Error != "" {
		errText = &o.Error
	}
	var hash *string
	if o.Hash != "" {
		hash = &o.Hash
	}
	var status *string
	if o.BitrixStatus != "" {
		status = &o.BitrixStatus
	}
	var newer bool
	if err := tx.QueryRow(ctx, `SELECT coalesce(pushing_event_id > $2, false) FROM sync_mapping WHERE entity = 'order' AND crm_id = $1 FOR UPDATE`,
		o.CRMID, o.LastEventID).Scan(&newer); err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return err
	}
	if _, err := tx.Exec(ctx, `UPDATE sync_mapping SET
			pushing_event_id = CASE WHEN pushing_event_id <= $2 THEN NULL ELSE pushing_event_id END,
			pushing_status = CASE WHEN pushing_event_id <= $2 THEN NULL ELSE pushing_status END,
			pushed_status = CASE WHEN $3 THEN coalesce($4, pushed_status) ELSE pushed_status END,
			pushed_version = CASE WHEN $3 THEN $5 ELSE pushed_version END,
			pushed_hash = CASE WHEN $3 THEN $6 ELSE pushed_hash END,
			pushed_at = CASE WHEN $3 THEN now() ELSE pushed_at END,
			updated_at = now()
		WHERE entity = 'order' AND crm_id = $1`,
		o.CRMID, o.LastEventID, o.State == SyncStateSynced, status, nullTime(o.Version), hash); err != nil {
		return err
	}
	if newer {
		if status != nil {
			_, err := tx.Exec(ctx, `UPDATE orders SET bitrix_status = $2 WHERE id = $1`, o.CRMID, *status)
			return err
		}
		return nil
	}
	_, err := tx.Exec(ctx, `UPDATE orders SET sync_state = $2, sync_error = $3, bitrix_status = coalesce($4, bitrix_status),
		updated_at = now() WHERE id = $1`, o.CRMID, o.State, errText, status)
	return err
}

// OrderFilter narrows ListOrders.
type OrderFilter struct {
	Status    string // CRM status
	SyncState string
	Limit     int
	After     *OrderCursor // keyset pagination: only orders after this one in the list's order
}

// OrderCursor is the position of an order in ListOrders' order
// (updated_at DESC, id DESC): the next page starts after it. Paging by
// position instead of OFFSET keeps a deep page as cheap as the first.
type OrderCursor struct {
	UpdatedAt time.Time
	ID        int64
}

// ListOrders returns orders, most recently updated first, walking
// orders_by_updated from the cursor.
func (s *Store) ListOrders(ctx context.Context, f OrderFilter) ([]Order, error) {
	if f.Limit <= 0 || f.Limit > 1000 {
		f.Limit = 50
	}
	// Each condition is in the statement only when it is set: with
	// "($1 = '' OR ...)" a generic plan could not use the filter's index
	// (orders_by_status, orders_by_sync_state: migration 00022), nor the
	// cursor's position in it.
	q, args := `SELECT `+orderColumns+` FROM orders o WHERE true`, []any{f.Limit}
	if f.Status != "" {
		args = append(args, f.Status)
		q += fmt.Sprintf(` AND o.status = $%d`, len(args))
	}
	if f.SyncState != "" {
		args = append(args, f.SyncState)
		q += fmt.Sprintf(` AND o.sync_state = $%d`, len(args))
	}
	if f.After != nil {
		args = append(args, f.After.UpdatedAt, f.After.ID)
		q += fmt.Sprintf(` AND (o.updated_at, o.id) < ($%d, $%d)`, len(args)-1, len(args))
	}
	rows, err := s.Pool.Query(ctx, q+` ORDER BY o.updated_at DESC, o.id DESC LIMIT $1`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Order{}
	for rows.Next() {
		o, err := scanOrder(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

// OrderDetail is one order with its items, mapping and sync history.
type OrderDetail struct {
	Order
	Mapping *OrderMapping  `json:"mapping"`
	History []SyncLogEntry `json:"sync_history"`
}

// GetOrder loads an order by CRM id with its items, mapping and the newest
// historyLimit sync_log entries; ErrOrderNotFound when absent.
func (s *Store) GetOrder(ctx context.Context, crmID int64, historyLimit int) (OrderDetail, error) {
	var d OrderDetail
	o, err := scanOrder(s.Pool.QueryRow(ctx, `SELECT `+orderColumns+` FROM orders o WHERE o.id = $1`, crmID))
	if errors.Is(err, pgx.ErrNoRows) {
		return d, ErrOrderNotFound
	} else if err != nil {
		return d, err
	}
	d.Order = o
	rows, err := s.Pool.Query(ctx, `SELECT product_id, name, price::text, quantity::text, currency FROM order_items
		WHERE order_id = $1 ORDER BY position`, crmID)
	if err != nil {
		return d, err
	}
	d.Items = []OrderItem{}
	var price, qty string
	var it OrderItem
	if _, err := pgx.ForEachRow(rows, []any{&it.ProductID, &it.Name, &price, &qty, &it.Currency}, func() error {
		var err error
		if it.Price, err = ordersync.ParseDecimal(price); err != nil {
			return err
		}
		if it.Quantity, err = ordersync.ParseDecimal(qty); err != nil {
			return err
		}
		d.Items = append(d.Items, it)
		return nil
	}); err != nil {
		return d, err
	}
	if d.Mapping, err = scanMapping(s.Pool.QueryRow(ctx, `SELECT `+mappingColumns+` FROM sync_mapping
		WHERE entity = 'order' AND crm_id = $1`, crmID)); err != nil {
		return d, err
	}
	d.History, err = s.ListSyncLog(ctx, SyncLogFilter{EntityID: strconv.FormatInt(o.BitrixID, 10), Limit: historyLimit})
	return d, err
}

// SyncLogFilter narrows ListSyncLog.
type SyncLogFilter struct {
	EntityID   string // Bitrix order id
	ErrorsOnly bool   // failed attempts (retry) and failures (error)
	Limit      int
}

// listSyncLogQuery builds ListSyncLog's statement. Only the filters that are
// set go into it: a generic plan of "(NOT $2 OR status IN ...)" cannot use
// the partial index sync_log_errors, nor "($1 = ” OR ...)"
// sync_log_by_entity.
const syncLogColumns = `id, direction, entity, entity_id, crm_id, action, status, error, detail, duration_ms, event_id, at`

func scanSyncLogEntry(r pgx.CollectableRow) (SyncLogEntry, error) {
	var e SyncLogEntry
	err := r.Scan(&e.ID, &e.Direction, &e.Entity, &e.EntityID, &e.CRMID, &e.Action, &e.Status, &e.Error, &e.Detail,
		&e.DurationMS, &e.EventID, &e.At)
	return e, err
}

func listSyncLogQuery(f SyncLogFilter) (string, []any) {
	q, args := `SELECT `+syncLogColumns+` FROM sync_log WHERE true`, []any{f.Limit}
	if f.EntityID != "" {
		args = append(args, f.EntityID)
		q += fmt.Sprintf(` AND entity = 'order' AND entity_id = $%d`, len(args))
	}
	if f.ErrorsOnly {
		q += ` AND status IN ('error', 'retry')`
	}
	return q + ` ORDER BY id DESC LIMIT $1`, args
}

// ListSyncLog returns the newest sync_log entries first.
func (s *Store) ListSyncLog(ctx context.Context, f SyncLogFilter) ([]SyncLogEntry, error) {
	if f.Limit <= 0 || f.Limit > 1000 {
		f.Limit = 100
	}
	q, args := listSyncLogQuery(f)
	rows, err := s.Pool.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	out, err := pgx.CollectRows(rows, scanSyncLogEntry)
	if out == nil {
		out = []SyncLogEntry{}
	}
	return out, err
}

// SyncStatus summarises the order sync for monitoring.
type SyncStatus struct {
	// Totals counts sync_log entries per direction and status.
	Totals      map[string]map[string]int64 `json:"totals"`
	Orders      int64                       `json:"orders"`
	LastSuccess *SyncLogEntry               `json:"last_success"`
	LastFailure *SyncLogEntry               `json:"last_failure"`
	Backlog     SyncBacklog                 `json:"backlog"`
	// OrdersBySyncState counts orders per sync_state.
	OrdersBySyncState map[string]int64 `json:"orders_by_sync_state"`
	RecentErrors      []SyncLogEntry   `json:"recent_errors"`
}

// SyncBacklog is the work accepted but not finished.
type SyncBacklog struct {
	Inbound              int64 `json:"inbound"`                // Bitrix events not processed yet
	InboundUndispatched  int64 `json:"inbound_undispatched"`   // of which not yet handed to Temporal
	BackSync             int64 `json:"backsync"`               // back-sync requests not finished yet
	OldestPendingSeconds int64 `json:"oldest_pending_seconds"` // age of the oldest of them
}

// SyncStatus computes the monitoring summary; recentErrors bounds
// RecentErrors.
func (s *Store) SyncStatus(ctx context.Context, recentErrors int) (SyncStatus, error) {
	st := SyncStatus{Totals: map[string]map[string]int64{}, OrdersBySyncState: map[string]int64{}}
	for _, dir := range []string{DirectionInbound, DirectionOutbound, DirectionCRM} {
		st.Totals[dir] = map[string]int64{SyncSuccess: 0, SyncSkipped: 0, SyncRetry: 0, SyncError: 0}
	}
	// Counters kept by triggers (migration 00021): the cost does not grow
	// with sync_log and orders.
	rows, err := s.Pool.Query(ctx, `SELECT direction, status, sum(n)::bigint FROM sync_log_counts GROUP BY 1, 2 HAVING sum(n) <> 0`)
	if err != nil {
		return st, err
	}
	var dir, status string
	var n int64
	if _, err := pgx.ForEachRow(rows, []any{&dir, &status, &n}, func() error {
		if st.Totals[dir] == nil {
			st.Totals[dir] = map[string]int64{}
		}
		st.Totals[dir][status] = n
		return nil
	}); err != nil {
		return st, err
	}
	rows, err = s.Pool.Query(ctx, `SELECT sync_state, sum(n)::bigint FROM order_state_counts GROUP BY 1 HAVING sum(n) <> 0`)
	if err != nil {
		return st, err
	}
	if _, err := pgx.ForEachRow(rows, []any{&status, &n}, func() error {
		st.OrdersBySyncState[status] = n
		st.Orders += n
		return nil
	}); err != nil {
		return st, err
	}
	var oldest *time.Time
	// outcome IS NULL adds nothing (processing sets the outcome) but lets
	// inbound_events_by_outcome find the backlog without a scan.
	if err := s.Pool.QueryRow(ctx, `SELECT
			count(*) FILTER (WHERE source = $1),
			count(*) FILTER (WHERE source = $1 AND EXISTS (SELECT 1 FROM relay_outbox o WHERE o.event_id = inbound_events.id)),
			count(*) FILTER (WHERE source = $2),
			min(received_at)
		FROM inbound_events WHERE source IN ($1, $2) AND outcome IS NULL AND NOT processed`, BitrixSource, BitrixBackSyncSource).
		Scan(&st.Backlog.Inbound, &st.Backlog.InboundUndispatched, &st.Backlog.BackSync, &oldest); err != nil {
		return st, err
	}
	if oldest != nil {
		st.Backlog.OldestPendingSeconds = int64(time.Since(*oldest).Seconds())
	}
	last := func(where string) (*SyncLogEntry, error) {
		rows, err := s.Pool.Query(ctx, `SELECT `+syncLogColumns+` FROM sync_log WHERE `+where+` ORDER BY id DESC LIMIT 1`)
		if err != nil {
			return nil, err
		}
		e, err := pgx.CollectExactlyOneRow(rows, scanSyncLogEntry)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, nil
		}
		return &e, err
	}
	if st.LastSuccess, err = last(`status = 'success'`); err != nil {
		return st, err
	}
	if st.LastFailure, err = last(`status IN ('error', 'retry')`); err != nil {
		return st, err
	}
	st.RecentErrors, err = s.ListSyncLog(ctx, SyncLogFilter{ErrorsOnly: true, Limit: recentErrors})
	return st, err
}

func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func nullInt(n int64) *int64 {
	if n == 0 {
		return nil
	}
	return &n
}
