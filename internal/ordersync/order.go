// Package ordersync is the domain of the Bitrix ↔ CRM order sync (the seed's
// order_transformer): it normalises a Bitrix order from either of its two
// wire shapes into BitrixOrder, maps it to the CRMOrder the CRM stores, maps
// statuses both ways, and decides whether an incoming version is new, stale
// or unchanged.
//
// The two wire shapes:
//
//   - the JSON our PHP handler (contrib/bitrix/webhook_integration.php) posts
//     from a 1C-Bitrix site: upper-case b_sale_order fields, see
//     ParseSiteOrder and contrib/bitrix/README.md for the contract;
//   - the Bitrix24 REST sale.order.get result (camelCase), see FromREST.
//
// Everything here is pure and deterministic, so workflow code may call it.
package ordersync

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Events of the site JSON envelope.
const (
	EventOrderSaved    = "order.saved"          // OnSaleOrderSaved, posted to /api/webhooks/bitrix/order
	EventStatusChanged = "order.status_changed" // OnSaleStatusOrderChange, posted to /api/webhooks/bitrix/status
)

// OriginBackSync marks site events caused by hookflow's own back-sync call
// (hookflow_order_update.php sets it), so echoes can be recognised.
const OriginBackSync = "backsync"

// Property codes ToCRM reads (b_sale_order_props.CODE).
const (
	PropName    = "FIO"
	PropEmail   = "EMAIL"
	PropPhone   = "PHONE"
	PropAddress = "ADDRESS"
)

// BitrixOrder is a Bitrix order normalised from either wire shape. Times are
// UTC; zero when absent. Properties are keyed by upper-cased property CODE
// (a property without a code is keyed "ORDER_PROP_<property id>"); empty
// values are dropped.
type BitrixOrder struct {
	ID              int64             `json:"id"`
	AccountNumber   string            `json:"account_number,omitempty"`
	UserID          int64             `json:"user_id,omitempty"`
	StatusID        string            `json:"status_id"`
	DateStatus      time.Time         `json:"date_status"`
	Paid            bool              `json:"paid"`
	Canceled        bool              `json:"canceled"`
	Price           Decimal           `json:"price"`
	PriceDelivery   Decimal           `json:"price_delivery"`
	Currency        string            `json:"currency,omitempty"`
	UserDescription string            `json:"user_description,omitempty"`
	Comments        string            `json:"comments,omitempty"`
	DateInsert      time.Time         `json:"date_insert"`
	DateUpdate      time.Time         `json:"date_update"`
	TrackingNumber  string            `json:"tracking_number,omitempty"`
	Basket          []BasketItem      `json:"basket,omitempty"`
	Properties      map[string]string `json:"properties,omitempty"`
}

// BasketItem is one basket line (b_sale_basket).
type BasketItem struct {
	ID        int64   `json:"id,omitempty"` // basket row id, 0 when not sent
	ProductID int64   `json:"product_id"`   // 0 for items not from the catalog
	Name      string  `json:"name"`
	Price     Decimal `json:"price"` // unit price
	Currency  string  `json:"currency,omitempty"`
	Quantity  Decimal `json:"quantity"`
}

// Property returns the value of the order property with the given CODE
// (case-insensitive), "" when absent.
func (o BitrixOrder) Property(code string) string {
	return o.Properties[strings.ToUpper(code)]
}

// CRMOrder is the order as the CRM stores it.
type CRMOrder struct {
	BitrixID int64  `json:"bitrix_id"`
	Number   string `json:"number"` // ACCOUNT_NUMBER, or the id when Bitrix has none
	// Status is the mapped CRM status; for an unknown Bitrix status it is the
	// Bitrix code itself and StatusFlaggedUnknown is set.
	Status               string    `json:"status"`
	BitrixStatus         string    `json:"bitrix_status"`
	StatusFlaggedUnknown bool      `json:"status_flagged_unknown"`
	Total                Decimal   `json:"total"` // PRICE: what the customer pays, delivery included
	DeliveryPrice        Decimal   `json:"delivery_price"`
	Currency             string    `json:"currency"`
	Paid                 bool      `json:"paid"`
	Canceled             bool      `json:"canceled"`
	CustomerName         string    `json:"customer_name"`
	CustomerPhone        string    `json:"customer_phone"`
	CustomerEmail        string    `json:"customer_email"`
	DeliveryAddress      string    `json:"delivery_address"`
	CustomerComment      string    `json:"customer_comment"` // USER_DESCRIPTION
	Comments             string    `json:"comments"`         // COMMENTS (manager's)
	TrackingNumber       string    `json:"tracking_number"`
	Items                []CRMItem `json:"items"`
	BitrixCreatedAt      time.Time `json:"bitrix_created_at"`
	BitrixUpdatedAt      time.Time `json:"bitrix_updated_at"` // the version, see Version
	BitrixHash           string    `json:"bitrix_hash"`       // Hash of the source order
}

// CRMItem is one order line in the CRM.
type CRMItem struct {
	ProductID int64   `json:"product_id"`
	Name      string  `json:"name"`
	Price     Decimal `json:"price"`
	Quantity  Decimal `json:"quantity"`
	Currency  string  `json:"currency"`
}

// ToCRM maps a normalised Bitrix order to the CRM order. The customer name
// is the FIO property (falling back to NAME, then CONTACT_PERSON), phone
// PHONE, email EMAIL, address ADDRESS. Canceled is carried as its own flag;
// it does not override the mapped status.
func ToCRM(o BitrixOrder, m StatusMap) CRMOrder {
	status, known := m.ToCRM(o.StatusID)
	number := o.AccountNumber
	if number == "" {
		number = fmt.Sprint(o.ID)
	}
	c := CRMOrder{
		BitrixID:             o.ID,
		Number:               number,
		Status:               status,
		BitrixStatus:         o.StatusID,
		StatusFlaggedUnknown: !known,
		Total:                o.Price,
		DeliveryPrice:        o.PriceDelivery,
		Currency:             o.Currency,
		Paid:                 o.Paid,
		Canceled:             o.Canceled,
		CustomerName:         firstNonEmpty(o.Property(PropName), o.Property("NAME"), o.Property("CONTACT_PERSON")),
		CustomerPhone:        o.Property(PropPhone),
		CustomerEmail:        o.Property(PropEmail),
		DeliveryAddress:      o.Property(PropAddress),
		CustomerComment:      o.UserDescription,
		Comments:             o.Comments,
		TrackingNumber:       o.TrackingNumber,
		Items:                make([]CRMItem, 0, len(o.Basket)),
		BitrixCreatedAt:      o.DateInsert,
		BitrixUpdatedAt:      Version(o),
		BitrixHash:           Hash(o),
	}
	for _, it := range o.Basket {
		cur := it.Currency
		if cur == "" {
			cur = o.Currency
		}
		c.Items = append(c.Items, CRMItem{
			ProductID: it.ProductID, Name: it.Name, Price: it.Price, Quantity: it.Quantity, Currency: cur,
		})
	}
	return c
}

// Version is the order's version: DATE_UPDATE (UTC). Bitrix bumps it on
// every save, with one-second resolution.
func Version(o BitrixOrder) time.Time { return o.DateUpdate.UTC() }

// Hash is a content hash (hex SHA-256) of the normalised order without
// DATE_UPDATE, so a re-save that changed nothing hashes the same, and the
// same order read from the site JSON and from REST hashes the same when the
// two carry the same data.
func Hash(o BitrixOrder) string {
	o.DateUpdate = time.Time{}
	o.DateStatus = o.DateStatus.UTC()
	o.DateInsert = o.DateInsert.UTC()
	if len(o.Basket) == 0 {
		o.Basket = nil
	}
	if len(o.Properties) == 0 {
		o.Properties = nil
	}
	b, err := json.Marshal(o) // map keys are sorted: deterministic
	if err != nil {
		panic(fmt.Sprintf("ordersync: hash: %v", err)) // plain data, cannot fail
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Decision says what to do with an incoming order version.
type Decision int

const (
	// Apply: newer than (or as new as, but different from) what was applied.
	Apply Decision = iota
	// Stale: older than what was applied; record and skip.
	Stale
	// Unchanged: same content as applied (a repeat or a no-op re-save); skip
	// the CRM write but advance the stored version to max(applied, incoming),
	// or a late older event could later be applied over it.
	Unchanged
)

func (d Decision) String() string {
	switch d {
	case Apply:
		return "apply"
	case Stale:
		return "stale"
	case Unchanged:
		return "unchanged"
	}
	return fmt.Sprintf("Decision(%d)", int(d))
}

// Decide compares an incoming order with the version and hash last applied
// (zero time and "" when none was). Equal versions with different content
// are applied: DATE_UPDATE has one-second resolution and events of one
// order are processed in arrival order.
func Decide(incoming BitrixOrder, appliedVersion time.Time, appliedHash string) Decision {
	if appliedVersion.IsZero() && appliedHash == "" {
		return Apply
	}
	if Version(incoming).Before(appliedVersion) {
		return Stale
	}
	if Hash(incoming) == appliedHash {
		return Unchanged
	}
	return Apply
}

// WorkflowID is the readable workflow id of an order: "bitrix-order-236".
func WorkflowID(orderID int64) string { return fmt.Sprintf("bitrix-order-%d", orderID) }

// DedupKey identifies one order version for inbound dedup:
// "<id>:<DATE_UPDATE RFC 3339>:<first 16 hex of Hash>". A repeat of the
// same content at the same version has the same key; different content
// saved within the same second does not.
func DedupKey(o BitrixOrder) string {
	return fmt.Sprintf("%d:%s:%s", o.ID, Version(o).Format(time.RFC3339Nano), Hash(o)[:16])
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}
