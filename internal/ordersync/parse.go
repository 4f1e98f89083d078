package ordersync

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// ErrInvalid is matched (errors.Is) by every validation error of
// ParseSiteOrder, ParseSiteOrderFields and FromREST.
var ErrInvalid = errors.New("invalid order payload")

// FieldError names the field that is wrong, as a path into the payload
// ("order.PRICE", "order.BASKET[2].QUANTITY", "order.basketItems[0].price";
// "" for the body as a whole). The parsers return one FieldError or several
// joined with errors.Join; errors.As finds the first.
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string {
	if e.Field == "" {
		return "ordersync: " + e.Msg
	}
	return "ordersync: " + e.Field + ": " + e.Msg
}

// Unwrap makes errors.Is(err, ErrInvalid) true.
func (e *FieldError) Unwrap() error { return ErrInvalid }

// SiteEvent is the envelope our PHP handler posts (see
// contrib/bitrix/README.md):
//
//	{"event":"order.saved","is_new":true,"order":{...},"old_values":{...},
//	 "sent_at":"2025-01-09T12:00:05+05:00","origin":"backsync"}
type SiteEvent struct {
	Event string      `json:"event"` // EventOrderSaved or EventStatusChanged
	IsNew bool        `json:"is_new"`
	Order BitrixOrder `json:"order"`
	// OldValues are the previous values of the fields the save changed
	// (Bitrix's VALUES; for a status change {"STATUS_ID": old}), as strings.
	OldValues map[string]string `json:"old_values,omitempty"`
	SentAt    time.Time         `json:"sent_at"`          // zero when not sent
	Origin    string            `json:"origin,omitempty"` // OriginBackSync or ""
}

// ParseSiteOrder parses and validates the JSON envelope posted by
// contrib/bitrix/webhook_integration.php. Field values are accepted the way
// PHP and Bitrix produce them: numbers as JSON numbers or strings, Y/N (or
// JSON booleans) for flags, dates as RFC 3339 or Bitrix's "02.01.2006
// 15:04:05", and an empty PHP array [] where an object is expected.
// Required: event, order.ID, order.STATUS_ID, order.DATE_UPDATE.
func ParseSiteOrder(body []byte) (SiteEvent, error) {
	top, err := decodeObject(body)
	if err != nil {
		return SiteEvent{}, &FieldError{Msg: "body is not a JSON object: " + err.Error()}
	}
	var errs []error
	env := fields{m: top, errs: &errs, fold: true}
	ev := SiteEvent{
		Event:  env.str("event"),
		IsNew:  env.flag("is_new"),
		SentAt: env.time("sent_at", false),
		Origin: env.str("origin"),
	}
	switch ev.Event {
	case EventOrderSaved, EventStatusChanged:
	case "":
		env.fail("event", "is required (%q or %q)", EventOrderSaved, EventStatusChanged)
	default:
		env.fail("event", "%q is not %q or %q", truncate(ev.Event, 40), EventOrderSaved, EventStatusChanged)
	}
	ev.OldValues = env.stringMap("old_values")
	if raw, ok := env.raw("order"); !ok || isNull(raw) {
		env.fail("order", "is required")
	} else if om, err := decodeObject(raw); err != nil {
		env.fail("order", "must be an object")
	} else {
		ev.Order = parseOrder(fields{path: "order", m: om, errs: &errs, fold: true}, siteDialect)
	}
	if len(errs) > 0 {
		return SiteEvent{}, errors.Join(errs...)
	}
	return ev, nil
}

// OtherEvent recognises a site envelope of a kind the order sync does not
// handle: a JSON object whose "event" is a string other than
// EventOrderSaved and EventStatusChanged (ParseSiteOrder refuses it). A
// newer PHP handler may send such events; they are acknowledged and
// recorded as ignored.
func OtherEvent(body []byte) (event string, ok bool) {
	var env struct {
		Event json.RawMessage `json:"event"`
	}
	if json.Unmarshal(body, &env) != nil || len(env.Event) == 0 || json.Unmarshal(env.Event, &event) != nil {
		return "", false
	}
	event = strings.TrimSpace(event)
	return event, event != "" && event != EventOrderSaved && event != EventStatusChanged
}

// ParseSiteOrderFields parses one site-shaped order object (the "order" of
// the envelope; also the "order" hookflow_order_update.php answers with).
func ParseSiteOrderFields(raw []byte) (BitrixOrder, error) {
	om, err := decodeObject(raw)
	if err != nil {
		return BitrixOrder{}, &FieldError{Field: "order", Msg: "is not a JSON object: " + err.Error()}
	}
	var errs []error
	o := parseOrder(fields{path: "order", m: om, errs: &errs, fold: true}, siteDialect)
	if len(errs) > 0 {
		return BitrixOrder{}, errors.Join(errs...)
	}
	return o, nil
}

// FromREST normalises a Bitrix24 REST order (camelCase). raw may be the
// order object, {"order":{...}} (the "result" of sale.order.get or
// sale.order.update) or the whole response {"result":{"order":{...}}}.
// Delivery price and tracking number come from the order when present,
// otherwise from its non-system shipments (sum of priceDelivery, first
// non-empty trackingNumber). Required: id, statusId, dateUpdate.
func FromREST(raw []byte) (BitrixOrder, error) {
	m, err := decodeObject(raw)
	if err != nil {
		return BitrixOrder{}, &FieldError{Msg: "REST order is not a JSON object: " + err.Error()}
	}
	path := "order"
	// Unwrap {"result":{...}} and {"order":{...}}; an order object itself
	// has an "id" and never a "result" or "order" key.
	for _, wrap := range []string{"result", "order"} {
		inner, ok := m[wrap]
		if _, hasID := m["id"]; !ok || hasID {
			continue
		}
		im, err := decodeObject(inner)
		if err != nil {
			return BitrixOrder{}, &FieldError{Field: wrap, Msg: "must be an object"}
		}
		m = im
	}
	var errs []error
	o := parseOrder(fields{path: path, m: m, errs: &errs}, restDialect)
	if len(errs) > 0 {
		return BitrixOrder{}, errors.Join(errs...)
	}
	return o, nil
}

// dialect names the fields of one wire shape.
type dialect struct {
	site bool
	id, accountNumber, userID, statusID, dateStatus, paid, canceled,
	price, priceDelivery, currency, userDescription, comments,
	dateInsert, dateUpdate, trackingNumber, basket string
	itemID, itemProductID, itemName, itemPrice, itemCurrency, itemQuantity string
}

var siteDialect = dialect{
	site: true,
	id:   "ID", accountNumber: "ACCOUNT_NUMBER", userID: "USER_ID", statusID: "STATUS_ID",
	dateStatus: "DATE_STATUS", paid: "PAYED", canceled: "CANCELED", price: "PRICE",
	priceDelivery: "PRICE_DELIVERY", currency: "CURRENCY", userDescription: "USER_DESCRIPTION",
	comments: "COMMENTS", dateInsert: "DATE_INSERT", dateUpdate: "DATE_UPDATE",
	trackingNumber: "TRACKING_NUMBER", basket: "BASKET",
	itemID: "ID", itemProductID: "PRODUCT_ID", itemName: "NAME", itemPrice: "PRICE",
	itemCurrency: "CURRENCY", itemQuantity: "QUANTITY",
}

var restDialect = dialect{
	id: "id", accountNumber: "accountNumber", userID: "userId", statusID: "statusId",
	dateStatus: "dateStatus", paid: "payed", canceled: "canceled", price: "price",
	priceDelivery: "priceDelivery", currency: "currency", userDescription: "userDescription",
	comments: "comments", dateInsert: "dateInsert", dateUpdate: "dateUpdate",
	trackingNumber: "trackingNumber", basket: "basketItems",
	itemID: "id", itemProductID: "productId", itemName: "name", itemPrice: "price",
	itemCurrency: "currency", itemQuantity: "quantity",
}

var currencyRe = regexp.MustCompile(`^[A-Z]{3}$`)

func parseOrder(f fields, d dialect) BitrixOrder {
	o := BitrixOrder{
		ID:              f.id(d.id, true),
		AccountNumber:   strings.TrimSpace(f.str(d.accountNumber)),
		UserID:          f.id(d.userID, false),
		StatusID:        strings.TrimSpace(f.str(d.statusID)),
		DateStatus:      f.time(d.dateStatus, false),
		Paid:            f.flag(d.paid),
		Canceled:        f.flag(d.canceled),
		Price:           f.dec(d.price, false),
		PriceDelivery:   f.dec(d.priceDelivery, false),
		Currency:        f.currency(d.currency),
		UserDescription: f.str(d.userDescription),
		Comments:        f.str(d.comments),
		DateInsert:      f.time(d.dateInsert, false),
		DateUpdate:      f.time(d.dateUpdate, true),
		TrackingNumber:  strings.TrimSpace(f.str(d.trackingNumber)),
	}
	if _, present := f.raw(d.statusID); !present || o.StatusID == "" {
		if present {
			f.fail(d.statusID, "must not be empty")
		} else {
			f.fail(d.statusID, "is required")
		}
	} else if !statusCodeRe.MatchString(o.StatusID) {
		f.fail(d.statusID, "%q is not a status code (1-32 letters, digits or underscores)", truncate(o.StatusID, 40))
	}
	for _, item := range f.objects(d.basket) {
		o.Basket = append(o.Basket, BasketItem{
			ID:        item.id(d.itemID, false),
			ProductID: item.id(d.itemProductID, false),
			Name:      strings.TrimSpace(item.str(d.itemName)),
			Price:     item.dec(d.itemPrice, false),
			Currency:  item.currency(d.itemCurrency),
			Quantity:  item.dec(d.itemQuantity, true),
		})
	}
	if d.site {
		o.Properties = f.siteProperties("PROPERTIES")
	} else {
		o.Properties = f.restProperties()
		f.restShipments(&o)
	}
	return o
}

// fields reads typed values out of one JSON object and collects errors.
type fields struct {
	path string // "order", "order.BASKET[1]"; "" at the top level
	m    map[string]json.RawMessage
	errs *[]error
	fold bool // fall back to a case-insensitive key match
}

func (f fields) name(key string) string {
	if f.path == "" {
		return key
	}
	return f.path + "." + key
}

func (f fields) fail(key, format string, args ...any) {
	*f.errs = append(*f.errs, &FieldError{Field: f.name(key), Msg: fmt.Sprintf(format, args...)})
}

func (f fields) raw(key string) (json.RawMessage, bool) {
	if v, ok := f.m[key]; ok {
		return v, true
	}
	if f.fold {
		keys := make([]string, 0, len(f.m))
		for k := range f.m {
			keys = append(keys, k)
		}
		sort.Strings(keys) // deterministic pick among duplicates differing in case
		for _, k := range keys {
			if strings.EqualFold(k, key) {
				return f.m[k], true
			}
		}
	}
	return nil, false
}

func isNull(raw json.RawMessage) bool {
	return len(raw) == 0 || string(raw) == "null"
}

// kind returns the JSON kind of raw: '"', '{', '[', 't' (true/false), 'n'
// (null), '0' (number).
func kind(raw json.RawMessage) byte {
	if len(raw) == 0 {
		return 'n'
	}
	switch c := raw[0]; c {
	case '"', '{', '[', 'n':
		return c
	case 't', 'f':
		return 't'
	}
	return '0'
}

// scalar returns the text of a string, number or boolean ("Y"/"N").
func scalar(raw json.RawMessage) (string, bool) {
	switch kind(raw) {
	case '"':
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return "", false
		}
		return s, true
	case '0':
		return string(raw), true
	case 't':
		if raw[0] == 't' {
			return "Y", true
		}
		return "N", true
	case 'n':
		return "", true
	}
	return "", false
}

func (f fields) str(key string) string {
	raw, ok := f.raw(key)
	if !ok {
		return ""
	}
	s, ok := scalar(raw)
	if !ok {
		f.fail(key, "must be a string, got a JSON %s", kindName(raw))
	}
	return s
}

func kindName(raw json.RawMessage) string {
	switch kind(raw) {
	case '{':
		return "object"
	case '[':
		return "array"
	}
	return "value"
}

func (f fields) id(key string, required bool) int64 {
	raw, ok := f.raw(key)
	if !ok || isNull(raw) {
		if required {
			f.fail(key, "is required")
		}
		return 0
	}
	s, ok := scalar(raw)
	if !ok || kind(raw) == 't' {
		f.fail(key, "must be an integer, got a JSON %s", kindName(raw))
		return 0
	}
	s = strings.TrimSpace(s)
	if s == "" {
		if required {
			f.fail(key, "must not be empty")
		}
		return 0
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		// PHP floats: 236.0
		if d, derr := ParseDecimal(s); derr == nil && d%decimalScale == 0 {
			n, err = int64(d/decimalScale), nil
		}
	}
	switch {
	case err != nil:
		f.fail(key, "%q is not an integer", truncate(s, 40))
	case n < 0:
		f.fail(key, "must not be negative, got %d", n)
	case required && n == 0:
		f.fail(key, "must be positive, got 0")
	default:
		return n
	}
	return 0
}

func (f fields) dec(key string, nonNegative bool) Decimal {
	raw, ok := f.raw(key)
	if !ok || isNull(raw) {
		return 0
	}
	s, ok := scalar(raw)
	if !ok || kind(raw) == 't' {
		f.fail(key, "must be a number, got a JSON %s", kindName(raw))
		return 0
	}
	if strings.TrimSpace(s) == "" {
		return 0
	}
	d, err := ParseDecimal(s)
	switch {
	case err != nil:
		f.fail(key, "%q is not a decimal number: %v", truncate(s, 40), err)
	case nonNegative && d < 0:
		f.fail(key, "must not be negative, got %s", d)
	default:
		return d
	}
	return 0
}

func (f fields) flag(key string) bool {
	raw, ok := f.raw(key)
	if !ok || isNull(raw) {
		return false
	}
	s, ok := scalar(raw)
	if !ok {
		f.fail(key, "must be Y or N, got a JSON %s", kindName(raw))
		return false
	}
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "Y", "1", "TRUE":
		return true
	case "N", "0", "FALSE", "":
		return false
	}
	f.fail(key, "%q is not Y or N", truncate(s, 40))
	return false
}

func (f fields) currency(key string) string {
	c := strings.ToUpper(strings.TrimSpace(f.str(key)))
	if c != "" && !currencyRe.MatchString(c) {
		f.fail(key, "%q is not a 3-letter currency code", truncate(c, 40))
		return ""
	}
	return c
}

func (f fields) time(key string, required bool) time.Time {
	raw, ok := f.raw(key)
	if !ok || isNull(raw) {
		if required {
			f.fail(key, "is required")
		}
		return time.Time{}
	}
	s, ok := scalar(raw)
	if !ok || kind(raw) != '"' {
		f.fail(key, "must be a date-time string, got a JSON %s", kindName(raw))
		return time.Time{}
	}
	if strings.TrimSpace(s) == "" {
		if required {
			f.fail(key, "must not be empty")
		}
		return time.Time{}
	}
	t, err := ParseTime(s, time.UTC)
	if err != nil {
		f.fail(key, "%v", err)
		return time.Time{}
	}
	return t
}

// objects returns the elements of an array of objects (a PHP list), or of
// an object whose values are objects (a PHP array keyed by id, in key order).
func (f fields) objects(key string) []fields {
	raw, ok := f.raw(key)
	if !ok || isNull(raw) {
		return nil
	}
	var elems []json.RawMessage
	var names []string
	switch kind(raw) {
	case '[':
		if json.Unmarshal(raw, &elems) != nil {
			f.fail(key, "is not a valid JSON array")
			return nil
		}
		for i := range elems {
			names = append(names, fmt.Sprintf("%s[%d]", f.name(key), i))
		}
	case '{':
		var m map[string]json.RawMessage
		if json.Unmarshal(raw, &m) != nil {
			f.fail(key, "is not a valid JSON object")
			return nil
		}
		keys := sortedKeys(m)
		for _, k := range keys {
			elems = append(elems, m[k])
			names = append(names, fmt.Sprintf("%s[%s]", f.name(key), k))
		}
	default:
		f.fail(key, "must be an array, got a JSON %s", kindName(raw))
		return nil
	}
	out := make([]fields, 0, len(elems))
	for i, e := range elems {
		m, err := decodeObject(e)
		if err != nil {
			*f.errs = append(*f.errs, &FieldError{Field: names[i], Msg: "must be an object"})
			continue
		}
		out = append(out, fields{path: names[i], m: m, errs: f.errs, fold: f.fold})
	}
	return out
}

// sortedKeys sorts numerically when every key is an integer, else as text.
func sortedKeys(m map[string]json.RawMessage) []string {
	keys := make([]string, 0, len(m))
	numeric := true
	for k := range m {
		keys = append(keys, k)
		if _, err := strconv.ParseInt(k, 10, 64); err != nil {
			numeric = false
		}
	}
	sort.Slice(keys, func(i, j int) bool {
		if numeric {
			a, _ := strconv.ParseInt(keys[i], 10, 64)
			b, _ := strconv.ParseInt(keys[j], 10, 64)
			return a < b
		}
		return keys[i] < keys[j]
	})
	return keys
}

// propertyValue flattens a property value: scalars as text, lists of
// scalars joined with ", ", anything else as compact JSON.
func propertyValue(raw json.RawMessage) string {
	if s, ok := scalar(raw); ok {
		return strings.TrimSpace(s)
	}
	if kind(raw) == '[' {
		var elems []json.RawMessage
		if json.Unmarshal(raw, &elems) == nil {
			parts := make([]string, 0, len(elems))
			flat := true
			for _, e := range elems {
				s, ok := scalar(e)
				if !ok {
					flat = false
					break
				}
				if s = strings.TrimSpace(s); s != "" {
					parts = append(parts, s)
				}
			}
			if flat {
				return strings.Join(parts, ", ")
			}
		}
	}
	var buf bytes.Buffer
	if json.Compact(&buf, raw) != nil {
		return ""
	}
	return buf.String()
}

func addProperty(props map[string]string, code, value string) {
	code = strings.ToUpper(strings.TrimSpace(code))
	if code == "" || value == "" {
		return
	}
	props[code] = value
}

// siteProperties reads PROPERTIES: {"FIO":"..",...}, [] (empty PHP array),
// or a list of {"CODE":..,"VALUE":..,"ORDER_PROPS_ID":..}.
func (f fields) siteProperties(key string) map[string]string {
	raw, ok := f.raw(key)
	if !ok || isNull(raw) {
		return nil
	}
	props := map[string]string{}
	switch kind(raw) {
	case '{':
		var m map[string]json.RawMessage
		if json.Unmarshal(raw, &m) != nil {
			f.fail(key, "is not a valid JSON object")
			return nil
		}
		for k, v := range m {
			addProperty(props, k, propertyValue(v))
		}
	case '[':
		for _, p := range f.objects(key) {
			addProperty(props, propertyCode(p, "CODE", "ORDER_PROPS_ID"), p.propertyValue("VALUE"))
		}
	default:
		f.fail(key, "must be an object of CODE: value, got a JSON %s", kindName(raw))
		return nil
	}
	if len(props) == 0 {
		return nil
	}
	return props
}

func propertyCode(p fields, codeKey, idKey string) string {
	code := strings.TrimSpace(p.str(codeKey))
	if code == "" {
		if id := p.id(idKey, false); id > 0 {
			code = fmt.Sprintf("ORDER_PROP_%d", id)
		}
	}
	return code
}

func (f fields) propertyValue(key string) string {
	raw, ok := f.raw(key)
	if !ok {
		return ""
	}
	return propertyValue(raw)
}

// restProperties reads propertyValues (or properties) of a REST order:
// [{"code":"FIO","orderPropsId":20,"value":"..."}].
func (f fields) restProperties() map[string]string {
	key := "propertyValues"
	if _, ok := f.raw(key); !ok {
		key = "properties"
	}
	props := map[string]string{}
	for _, p := range f.objects(key) {
		addProperty(props, propertyCode(p, "code", "orderPropsId"), p.propertyValue("value"))
	}
	if len(props) == 0 {
		return nil
	}
	return props
}

// restShipments fills delivery price and tracking number from shipments
// when the order itself does not carry them.
func (f fields) restShipments(o *BitrixOrder) {
	_, hasPrice := f.raw("priceDelivery")
	var sum Decimal
	var found bool
	tracking := ""
	for _, s := range f.objects("shipments") {
		if s.flag("system") {
			continue
		}
		if _, ok := s.raw("priceDelivery"); ok {
			sum += s.dec("priceDelivery", false)
			found = true
		}
		if t := strings.TrimSpace(s.str("trackingNumber")); t != "" && tracking == "" {
			tracking = t
		}
	}
	if !hasPrice && found {
		o.PriceDelivery = sum
	}
	if o.TrackingNumber == "" {
		o.TrackingNumber = tracking
	}
}

// stringMap reads an object of scalars (old_values); [] is an empty map.
// Non-scalar values are kept as compact JSON.
func (f fields) stringMap(key string) map[string]string {
	raw, ok := f.raw(key)
	if !ok || isNull(raw) {
		return nil
	}
	m, err := decodeObject(raw)
	if err != nil {
		f.fail(key, "must be an object: %v", err)
		return nil
	}
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = propertyValue(v)
	}
	return out
}

// decodeObject decodes a JSON object; an empty JSON array (PHP's empty
// array) is an empty object.
func decodeObject(raw []byte) (map[string]json.RawMessage, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '[' {
		var a []json.RawMessage
		if err := json.Unmarshal(raw, &a); err != nil {
			return nil, err
		}
		if len(a) != 0 {
			return nil, errors.New("got a non-empty JSON array")
		}
		return map[string]json.RawMessage{}, nil
	}
	if len(raw) == 0 || raw[0] != '{' {
		if len(raw) == 0 {
			return nil, errors.New("empty")
		}
		return nil, fmt.Errorf("got a JSON %s", kindName(raw))
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	return m, nil
}

// Layouts ParseTime tries, in order.
var timeLayouts = []struct {
	layout string
	zoned  bool
}{
	{time.RFC3339Nano, true},           // 2025-01-09T12:00:05+05:00 (REST, our handler)
	{"2006-01-02T15:04:05-0700", true}, // PHP DATE_ISO8601
	{"2006-01-02T15:04:05", false},     // REST input without zone
	{"2006-01-02 15:04:05", false},     // MySQL
	{"02.01.2006 15:04:05", false},     // Bitrix site format (ru)
	{"02.01.2006 15:04", false},
	{"2006-01-02", false},
	{"02.01.2006", false},
}

// ParseTime parses the date-time formats Bitrix produces: RFC 3339 (with
// or without fraction), PHP's ISO 8601 with a +0500 offset,
// "2006-01-02T15:04:05", "2006-01-02 15:04:05", "02.01.2006 15:04:05" and
// the date-only forms. Values without a zone are read in loc (UTC when nil).
// The result is in UTC.
func ParseTime(s string, loc *time.Location) (time.Time, error) {
	if loc == nil {
		loc = time.UTC
	}
	t := strings.TrimSpace(s)
	for _, l := range timeLayouts {
		var v time.Time
		var err error
		if l.zoned {
			v, err = time.Parse(l.layout, t)
		} else {
			v, err = time.ParseInLocation(l.layout, t, loc)
		}
		if err == nil {
			return v.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a date-time (want RFC 3339, 2006-01-02 15:04:05 or 02.01.2006 15:04:05)", truncate(s, 40))
}
