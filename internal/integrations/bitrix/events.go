package bitrix

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// ErrInvalidEvent is matched (errors.Is) by every ParseOutboundEvent error.
var ErrInvalidEvent = errors.New("bitrix: invalid outbound event")

// Bitrix24 outbound event names for orders (the "event" field, upper case).
const (
	EventSaleOrderSaved   = "ONSALEORDERSAVED"
	EventSaleOrderDeleted = "ONSALEORDERDELETED"
)

// OutboundEvent is a Bitrix24 outbound event post:
//
//	event=ONSALEORDERSAVED&event_handler_id=201&data[FIELDS][ID]=300
//	&data[FIELDS][ACTION]=save&ts=1736405807&auth[domain]=x.bitrix24.ru
//	&auth[member_id]=...&auth[application_token]=...
//
// It carries only the order id: fetch the order with sale.order.get.
type OutboundEvent struct {
	Event            string    // upper-cased, e.g. EventSaleOrderSaved
	HandlerID        string    // event_handler_id
	OrderID          int64     // data[FIELDS][ID]
	Action           string    // data[FIELDS][ACTION], e.g. "save"; may be empty
	TS               time.Time // ts (Unix seconds), UTC; zero when absent
	Domain           string    // auth[domain]
	MemberID         string    // auth[member_id]
	ApplicationToken string    // auth[application_token]; compare with Authenticate
}

// ParseOutboundEvent reads an outbound event from its form fields
// (r.PostForm). Required: event and a positive data[FIELDS][ID]; ts must be
// Unix seconds when present. The token is not checked here: call
// Authenticate.
func ParseOutboundEvent(form url.Values) (OutboundEvent, error) {
	ev := OutboundEvent{
		Event:            strings.ToUpper(strings.TrimSpace(form.Get("event"))),
		HandlerID:        strings.TrimSpace(form.Get("event_handler_id")),
		Action:           strings.TrimSpace(form.Get("data[FIELDS][ACTION]")),
		Domain:           strings.TrimSpace(form.Get("auth[domain]")),
		MemberID:         strings.TrimSpace(form.Get("auth[member_id]")),
		ApplicationToken: form.Get("auth[application_token]"),
	}
	var errs []error
	if ev.Event == "" {
		errs = append(errs, fmt.Errorf("%w: event is required", ErrInvalidEvent))
	}
	idText := strings.TrimSpace(form.Get("data[FIELDS][ID]"))
	if idText == "" {
		errs = append(errs, fmt.Errorf("%w: data[FIELDS][ID] is required", ErrInvalidEvent))
	} else if id, err := strconv.ParseInt(idText, 10, 64); err != nil || id <= 0 {
		errs = append(errs, fmt.Errorf("%w: data[FIELDS][ID] %q is not a positive integer", ErrInvalidEvent, clip(idText)))
	} else {
		ev.OrderID = id
	}
	if ts := strings.TrimSpace(form.Get("ts")); ts != "" {
		secs, err := strconv.ParseInt(ts, 10, 64)
		if err != nil || secs < 0 || secs > 1<<40 {
			errs = append(errs, fmt.Errorf("%w: ts %q is not Unix seconds", ErrInvalidEvent, clip(ts)))
		} else {
			ev.TS = time.Unix(secs, 0).UTC()
		}
	}
	if len(errs) > 0 {
		return OutboundEvent{}, errors.Join(errs...)
	}
	return ev, nil
}

// ParseOutboundEventBody parses an application/x-www-form-urlencoded body.
func ParseOutboundEventBody(body []byte) (OutboundEvent, error) {
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return OutboundEvent{}, fmt.Errorf("%w: body is not form-encoded: %v", ErrInvalidEvent, err)
	}
	return ParseOutboundEvent(form)
}

// Authenticate compares the event's application token with the configured
// one in constant time. An empty configured token authenticates nothing.
func (e OutboundEvent) Authenticate(applicationToken string) bool {
	if applicationToken == "" || e.ApplicationToken == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(e.ApplicationToken), []byte(applicationToken)) == 1
}

func clip(s string) string {
	if r := []rune(s); len(r) > 40 {
		return string(r[:40]) + "…"
	}
	return s
}
