package bitrix

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"net/url"
	"sort"
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

// FieldError is one ParseOutboundEvent error; Field is the form key
// ("data[FIELDS][ID]"). errors.Is(err, ErrInvalidEvent) holds for it.
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string { return ErrInvalidEvent.Error() + ": " + e.Field + " " + e.Msg }

// Unwrap makes errors.Is(err, ErrInvalidEvent) true.
func (e *FieldError) Unwrap() error { return ErrInvalidEvent }

// scalarFields are the form keys read as one value each.
var scalarFields = []string{"event", "event_handler_id", "data[FIELDS][ID]", "data[FIELDS][ACTION]", "ts",
	"auth[domain]", "auth[member_id]", "auth[application_token]"}

// IsOrderEvent says whether a (upper-cased) event name is about an order
// (ONSALEORDER...): those must name one in data[FIELDS][ID].
func IsOrderEvent(name string) bool { return strings.HasPrefix(name, "ONSALEORDER") }

// ParseOutboundEvent reads an outbound event from its form fields
// (r.PostForm). Required: event and, for order events (IsOrderEvent), a
// positive data[FIELDS][ID]; for other events the id is optional but must
// be a positive integer when given. ts must be Unix seconds when present.
// Each field is one value: a key given twice, or as an array or object
// (event[]=..., data[FIELDS][ID][0]=...), is an error, as the event would
// otherwise be read from one of several values. Errors are *FieldError
// (several joined with errors.Join). The token is not checked here: call
// Authenticate.
func ParseOutboundEvent(form url.Values) (OutboundEvent, error) {
	var errs []error
	for _, key := range scalarFields {
		if n := len(form[key]); n > 1 {
			errs = append(errs, &FieldError{key, fmt.Sprintf("is given %d times; send it once", n)})
		}
	}
	keys := make([]string, 0, len(form))
	for key := range form {
		keys = append(keys, key)
	}
	sort.Strings(keys)
	for _, key := range keys {
		for _, scalar := range scalarFields {
			if strings.HasPrefix(key, scalar+"[") {
				errs = append(errs, &FieldError{scalar, fmt.Sprintf("must be a single value, not an array or object (got %s)", clip(key))})
			}
		}
	}
	ev := OutboundEvent{
		Event:            strings.ToUpper(strings.TrimSpace(form.Get("event"))),
		HandlerID:        strings.TrimSpace(form.Get("event_handler_id")),
		Action:           strings.TrimSpace(form.Get("data[FIELDS][ACTION]")),
		Domain:           strings.TrimSpace(form.Get("auth[domain]")),
		MemberID:         strings.TrimSpace(form.Get("auth[member_id]")),
		ApplicationToken: form.Get("auth[application_token]"),
	}
	if ev.Event == "" {
		errs = append(errs, &FieldError{"event", "is required"})
	}
	idText := strings.TrimSpace(form.Get("data[FIELDS][ID]"))
	if idText == "" {
		if IsOrderEvent(ev.Event) {
			errs = append(errs, &FieldError{"data[FIELDS][ID]", "is required"})
		}
	} else if id, err := strconv.ParseInt(idText, 10, 64); err != nil || id <= 0 {
		errs = append(errs, &FieldError{"data[FIELDS][ID]", fmt.Sprintf("%q is not a positive integer", clip(idText))})
	} else {
		ev.OrderID = id
	}
	if ts := strings.TrimSpace(form.Get("ts")); ts != "" {
		secs, err := strconv.ParseInt(ts, 10, 64)
		if err != nil || secs < 0 || secs > 1<<40 {
			errs = append(errs, &FieldError{"ts", fmt.Sprintf("%q is not Unix seconds", clip(ts))})
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
