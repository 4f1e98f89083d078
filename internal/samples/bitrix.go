package samples

import (
	"fmt"
	"time"
)

// BitrixSiteZone is the zone the shop's PHP handler writes dates in (UTC+5).
var BitrixSiteZone = time.FixedZone("ALMT", 5*3600)

// BitrixSampleTime is the DATE_INSERT of sample orders; DATE_UPDATE is
// one minute later.
var BitrixSampleTime = time.Date(2025, 1, 9, 12, 0, 0, 0, time.FixedZone("MSK", 3*3600))

// BitrixSiteOrder returns a site-shaped order (upper-case b_sale_order
// fields, BASKET, PROPERTIES by CODE) as contrib/bitrix/webhook_integration.php
// serialises it, with the given id and status, inserted at
// BitrixSampleTime and updated a minute later.
func BitrixSiteOrder(id int64, statusID string) map[string]any {
	ins := BitrixSampleTime.In(BitrixSiteZone).Format(time.RFC3339)
	upd := BitrixSampleTime.Add(time.Minute).In(BitrixSiteZone).Format(time.RFC3339)
	return map[string]any{
		"ID": id, "ACCOUNT_NUMBER": fmt.Sprint(id), "USER_ID": 5817, "STATUS_ID": statusID,
		"DATE_STATUS": ins, "PAYED": "N", "CANCELED": "N", "PRICE": 17500, "PRICE_DELIVERY": 2000,
		"CURRENCY": "KZT", "USER_DESCRIPTION": "Позвонить за час", "COMMENTS": "",
		"DATE_INSERT": ins, "DATE_UPDATE": upd, "TRACKING_NUMBER": "",
		"BASKET": []any{map[string]any{
			"ID": id*10 + 1, "PRODUCT_ID": 3921, "NAME": "Букет из 25 роз", "PRICE": 15500, "CURRENCY": "KZT", "QUANTITY": 1,
		}},
		"PROPERTIES": map[string]any{
			"FIO": "Айгерим Сапарова", "EMAIL": "aigerim@example.kz", "PHONE": "+77015551234", "ADDRESS": "Алматы, ул. Абая 150",
		},
	}
}

// BitrixSiteEvent is the JSON envelope contrib/bitrix/webhook_integration.php
// posts (see contrib/bitrix/README.md).
type BitrixSiteEvent struct {
	Event     string         // "order.saved" or "order.status_changed"
	IsNew     bool           // IS_NEW of OnSaleOrderSaved
	Order     map[string]any // site-shaped order, see BitrixSiteOrder
	OldValues map[string]any // changed fields' previous values; nil -> {}
	SentAt    time.Time      // zero -> now
	Origin    string         // "backsync" for echoes of hookflow's calls, else ""
}

// JSON renders the envelope as the PHP handler does.
func (e BitrixSiteEvent) JSON() []byte {
	old := e.OldValues
	if old == nil {
		old = map[string]any{}
	}
	sent := e.SentAt
	if sent.IsZero() {
		sent = time.Now()
	}
	m := map[string]any{
		"event": e.Event, "is_new": e.IsNew, "order": e.Order, "old_values": old,
		"sent_at": sent.In(BitrixSiteZone).Format(time.RFC3339),
	}
	if e.Origin != "" {
		m["origin"] = e.Origin
	}
	return mustJSON("BitrixSiteEvent.JSON", m)
}

// BitrixSitePath is where the PHP handler posts an event, relative to the
// base: /api/webhooks/bitrix/status for order.status_changed, else
// /api/webhooks/bitrix/order.
func BitrixSitePath(event string) string {
	if event == "order.status_changed" {
		return "/api/webhooks/bitrix/status"
	}
	return "/api/webhooks/bitrix/order"
}
