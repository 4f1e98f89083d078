package ordersync

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	require.NoError(t, err)
	return b
}

func dec(t *testing.T, s string) Decimal {
	t.Helper()
	d, err := ParseDecimal(s)
	require.NoError(t, err)
	return d
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	require.NoError(t, err)
	return v.UTC()
}

func TestParseSiteOrder_Fixtures(t *testing.T) {
	ev, err := ParseSiteOrder(readFixture(t, "site_order_saved.json"))
	require.NoError(t, err)
	assert.Equal(t, EventOrderSaved, ev.Event)
	assert.True(t, ev.IsNew)
	assert.Nil(t, ev.OldValues, "PHP's empty array [] is no old values")
	assert.Equal(t, mustTime(t, "2025-01-09T07:00:05Z"), ev.SentAt)
	assert.Equal(t, "", ev.Origin)
	want := BitrixOrder{
		ID: 122045, AccountNumber: "122045", UserID: 5817, StatusID: "N",
		DateStatus: mustTime(t, "2025-01-09T07:00:01Z"),
		Price:      dec(t, "18500"), PriceDelivery: dec(t, "2000"), Currency: "KZT",
		UserDescription: "Позвонить получателю за час",
		DateInsert:      mustTime(t, "2025-01-09T07:00:01Z"),
		DateUpdate:      mustTime(t, "2025-01-09T07:00:05Z"),
		Basket: []BasketItem{
			{ID: 310551, ProductID: 3921, Name: "Букет из 25 роз «Нежность»", Price: dec(t, "15500"), Currency: "KZT", Quantity: dec(t, "1")},
			{ID: 310552, ProductID: 118, Name: "Открытка", Price: dec(t, "500"), Currency: "KZT", Quantity: dec(t, "2")},
		},
		Properties: map[string]string{
			"FIO": "Айгерим Сапарова", "EMAIL": "aigerim@example.kz", "PHONE": "+7 701 555 12 34",
			"ADDRESS": "Алматы, ул. Абая 150, кв. 12", "DELIVERY_DATE": "10.01.2025",
		},
	}
	assert.Equal(t, want, ev.Order)

	ev, err = ParseSiteOrder(readFixture(t, "site_status_changed.json"))
	require.NoError(t, err)
	assert.Equal(t, EventStatusChanged, ev.Event)
	assert.False(t, ev.IsNew)
	assert.Equal(t, OriginBackSync, ev.Origin)
	assert.Equal(t, map[string]string{"STATUS_ID": "N", "PAYED": "N", "DATE_UPDATE": "2025-01-09T12:00:05+05:00"}, ev.OldValues)
	assert.Equal(t, "PD", ev.Order.StatusID)
	assert.True(t, ev.Order.Paid)
	assert.Equal(t, "Оплачено Kaspi", ev.Order.Comments)
	// Zone-less Bitrix dates are read as UTC.
	assert.Equal(t, mustTime(t, "2025-01-09T13:10:00Z"), ev.Order.DateStatus)
	assert.Equal(t, mustTime(t, "2025-01-09T13:10:00Z"), ev.Order.DateUpdate)
	assert.Nil(t, ev.Order.Basket)
	assert.Nil(t, ev.Order.Properties)
}

func TestFromREST_Fixture(t *testing.T) {
	raw := readFixture(t, "rest_sale_order_get.json")
	o, err := FromREST(raw)
	require.NoError(t, err)
	want := BitrixOrder{
		ID: 236, AccountNumber: "236", UserID: 1, StatusID: "N",
		DateStatus: mustTime(t, "2024-02-28T14:36:38Z"),
		Price:      dec(t, "1480"), PriceDelivery: dec(t, "500"), Currency: "RUB",
		DateInsert:     mustTime(t, "2024-02-28T14:36:55Z"),
		DateUpdate:     mustTime(t, "2024-02-28T14:37:11Z"),
		TrackingNumber: "RA123456789RU",
		Basket: []BasketItem{
			{ID: 255, ProductID: 348, Name: "Футболка мужская", Price: dec(t, "980"), Currency: "RUB", Quantity: dec(t, "1")},
		},
		Properties: map[string]string{
			"FIO": "Иван Иванов", "EMAIL": "ivan@example.ru", "PHONE": "79814561312",
			"ADDRESS": "Москва, ул. Тверская 1", "ORDER_PROP_27": "a, b",
		},
	}
	assert.Equal(t, want, o)
}

func TestFromREST_Wrappers(t *testing.T) {
	order := `{"id":"81","statusId":"P","dateUpdate":"2018-08-17T18:18:21+03:00","price":"4627.3000","priceDelivery":"300.5","currency":"RUB","payed":"Y","properties":[{"code":"fio","value":"Пётр"}]}`
	for name, raw := range map[string]string{
		"order object":    order,
		"result":          `{"order":` + order + `}`,
		"whole response":  `{"result":{"order":` + order + `},"time":{"start":1}}`,
		"result no order": `{"result":` + order + `}`,
	} {
		t.Run(name, func(t *testing.T) {
			o, err := FromREST([]byte(raw))
			require.NoError(t, err)
			assert.Equal(t, int64(81), o.ID)
			assert.Equal(t, "P", o.StatusID)
			assert.True(t, o.Paid)
			assert.Equal(t, "4627.3", o.Price.String())
			assert.Equal(t, "300.5", o.PriceDelivery.String(), "order-level priceDelivery wins over shipments")
			assert.Equal(t, "Пётр", o.Property("FIO"), "legacy 'properties' list, lower-case code")
			assert.Equal(t, mustTime(t, "2018-08-17T15:18:21Z"), Version(o))
		})
	}
}

func TestSiteAndRESTHashEqual(t *testing.T) {
	site := `{"event":"order.saved","order":{"ID":"300","ACCOUNT_NUMBER":"300","USER_ID":"7","STATUS_ID":"P","PAYED":"Y","CANCELED":"N",
		"PRICE":"1500.0000","PRICE_DELIVERY":"0.0000","CURRENCY":"KZT","DATE_INSERT":"2025-02-01T10:00:00+05:00","DATE_STATUS":"2025-02-01T10:05:00+05:00",
		"DATE_UPDATE":"01.02.2025 05:05:00","BASKET":[{"ID":"1","PRODUCT_ID":"5","NAME":"Розы","PRICE":"1500.0000","CURRENCY":"KZT","QUANTITY":"1.0000"}],
		"PROPERTIES":{"FIO":"Иван","PHONE":"","EMAIL":null}}}`
	rest := `{"id":300,"accountNumber":"300","userId":7,"statusId":"P","payed":"Y","canceled":"N","price":1500,"currency":"KZT",
		"dateInsert":"2025-02-01T05:00:00+00:00","dateStatus":"2025-02-01T10:05:00+05:00","dateUpdate":"2025-02-01T10:06:00+05:00",
		"basketItems":[{"id":1,"productId":5,"name":"Розы","price":1500,"currency":"KZT","quantity":1}],
		"propertyValues":[{"code":"FIO","value":"Иван"},{"code":"PHONE","value":""}],
		"shipments":[{"system":"N","priceDelivery":0,"trackingNumber":""}]}`
	ev, err := ParseSiteOrder([]byte(site))
	require.NoError(t, err)
	o, err := FromREST([]byte(rest))
	require.NoError(t, err)
	assert.Equal(t, Hash(ev.Order), Hash(o), "same content from both shapes hashes equal (DATE_UPDATE excluded)")
	assert.NotEqual(t, Version(ev.Order), Version(o))
}

func TestParseSiteOrder_Errors(t *testing.T) {
	base := func(order string) string {
		return `{"event":"order.saved","order":{"ID":1,"STATUS_ID":"N","DATE_UPDATE":"2025-01-09T12:00:05+05:00"` + order + `}}`
	}
	cases := []struct {
		name   string
		body   string
		fields []string // every FieldError.Field expected, in order
		msg    string   // substring of the joined message
	}{
		{"not json", `{"event":`, []string{""}, "body is not a JSON object"},
		{"array body", `[1]`, []string{""}, "non-empty JSON array"},
		{"string body", `"x"`, []string{""}, "got a JSON value"},
		{"missing event", `{"order":{"ID":1,"STATUS_ID":"N","DATE_UPDATE":"2025-01-09 12:00:00"}}`, []string{"event"}, "event: is required"},
		{"unknown event", `{"event":"order.deleted","order":{"ID":1,"STATUS_ID":"N","DATE_UPDATE":"2025-01-09 12:00:00"}}`, []string{"event"}, `"order.deleted" is not`},
		{"missing order", `{"event":"order.saved"}`, []string{"order"}, "order: is required"},
		{"order not object", `{"event":"order.saved","order":"1"}`, []string{"order"}, "must be an object"},
		{"missing everything", `{"event":"order.saved","order":{}}`, []string{"order.ID", "order.DATE_UPDATE", "order.STATUS_ID"}, "order.ID: is required"},
		{"id text", base(`,"ID":"abc"`), []string{"order.ID"}, `"abc" is not an integer`},
		{"id zero", base(`,"ID":0`), []string{"order.ID"}, "must be positive"},
		{"id negative", base(`,"ID":"-5"`), []string{"order.ID"}, "must not be negative"},
		{"id fraction", base(`,"ID":1.5`), []string{"order.ID"}, `"1.5" is not an integer`},
		{"id object", base(`,"ID":{}`), []string{"order.ID"}, "must be an integer, got a JSON object"},
		{"status empty", base(`,"STATUS_ID":" "`), []string{"order.STATUS_ID"}, "must not be empty"},
		{"status junk", base(`,"STATUS_ID":"N;DROP"`), []string{"order.STATUS_ID"}, "is not a status code"},
		{"price", base(`,"PRICE":"12,5,0"`), []string{"order.PRICE"}, `"12,5,0" is not a decimal number`},
		{"price bool", base(`,"PRICE":true`), []string{"order.PRICE"}, "must be a number"},
		{"payed", base(`,"PAYED":"maybe"`), []string{"order.PAYED"}, `"maybe" is not Y or N`},
		{"currency", base(`,"CURRENCY":"tenge"`), []string{"order.CURRENCY"}, "3-letter currency"},
		{"date update junk", base(`,"DATE_UPDATE":"yesterday"`), []string{"order.DATE_UPDATE"}, `"yesterday" is not a date-time`},
		{"date update number", base(`,"DATE_UPDATE":1736405807`), []string{"order.DATE_UPDATE"}, "must be a date-time string"},
		{"date update empty", base(`,"DATE_UPDATE":""`), []string{"order.DATE_UPDATE"}, "must not be empty"},
		{"date insert junk", base(`,"DATE_INSERT":"32.01.2025 10:00:00"`), []string{"order.DATE_INSERT"}, "is not a date-time"},
		{"basket not array", base(`,"BASKET":"x"`), []string{"order.BASKET"}, "must be an array"},
		{"basket item not object", base(`,"BASKET":[1]`), []string{"order.BASKET[0]"}, "must be an object"},
		{"basket quantity", base(`,"BASKET":[{"NAME":"a","QUANTITY":"1"},{"NAME":"b","QUANTITY":"-1"}]`), []string{"order.BASKET[1].QUANTITY"}, "must not be negative"},
		{"basket price", base(`,"BASKET":[{"NAME":"a","PRICE":"x"}]`), []string{"order.BASKET[0].PRICE"}, "is not a decimal number"},
		{"properties", base(`,"PROPERTIES":"FIO"`), []string{"order.PROPERTIES"}, "must be an object of CODE"},
		{"comments object", base(`,"COMMENTS":{"a":1}`), []string{"order.COMMENTS"}, "must be a string, got a JSON object"},
		{"old values", `{"event":"order.saved","old_values":"x","order":{"ID":1,"STATUS_ID":"N","DATE_UPDATE":"2025-01-09 12:00:00"}}`, []string{"old_values"}, "must be an object"},
		{"sent_at", `{"event":"order.saved","sent_at":"soon","order":{"ID":1,"STATUS_ID":"N","DATE_UPDATE":"2025-01-09 12:00:00"}}`, []string{"sent_at"}, `"soon" is not a date-time`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseSiteOrder([]byte(tc.body))
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrInvalid)
			assert.Contains(t, err.Error(), tc.msg)
			assert.Equal(t, tc.fields, fieldsOf(err))
		})
	}
}

func fieldsOf(err error) []string {
	var out []string
	var walk func(error)
	walk = func(e error) {
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, x := range j.Unwrap() {
				walk(x)
			}
			return
		}
		var fe *FieldError
		if errors.As(e, &fe) {
			out = append(out, fe.Field)
		}
	}
	walk(err)
	return out
}

func TestFromREST_Errors(t *testing.T) {
	cases := []struct {
		name, body, field, msg string
	}{
		{"not json", `nope`, "", "REST order is not a JSON object"},
		{"result not object", `{"result":true}`, "result", "must be an object"},
		{"no id", `{"statusId":"N","dateUpdate":"2024-02-28T17:37:11+03:00"}`, "order.id", "is required"},
		{"bad price", `{"id":1,"statusId":"N","dateUpdate":"2024-02-28T17:37:11+03:00","price":"1.2.3"}`, "order.price", "is not a decimal number"},
		{"bad basket qty", `{"id":1,"statusId":"N","dateUpdate":"2024-02-28T17:37:11+03:00","basketItems":[{"quantity":"x"}]}`, "order.basketItems[0].quantity", "is not a decimal"},
		{"bad shipment price", `{"id":1,"statusId":"N","dateUpdate":"2024-02-28T17:37:11+03:00","shipments":[{"priceDelivery":[]}]}`, "order.shipments[0].priceDelivery", "must be a number"},
		{"camel keys are exact", `{"ID":1,"STATUSID":"N","dateUpdate":"2024-02-28T17:37:11+03:00"}`, "order.id", "is required"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := FromREST([]byte(tc.body))
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrInvalid)
			var fe *FieldError
			require.ErrorAs(t, err, &fe)
			assert.Equal(t, tc.field, fe.Field)
			assert.Contains(t, err.Error(), tc.msg)
		})
	}
}

func TestParseSiteOrder_Lenient(t *testing.T) {
	body := `{"EVENT":"order.saved","is_new":"Y","order":{"id":"7","status_id":"F","date_update":"2025-01-09T12:00:05.123+05:00",
		"PAYED":true,"CANCELED":1,"PRICE":"12 500,50","CURRENCY":"kzt","ID_EXTRA":"ignored",
		"BASKET":{"20":{"NAME":"b","QUANTITY":"1"},"3":{"NAME":"a","QUANTITY":"2.5"}},
		"PROPERTIES":[{"CODE":"fio","VALUE":"Анна"},{"CODE":"","ORDER_PROPS_ID":"9","VALUE":["x",1,true]},{"CODE":"FILES","VALUE":[{"ID":1}]}]},
		"old_values":{"PRICE":12000.5,"DATE_UPDATE":null,"X":{"a":1}}}`
	ev, err := ParseSiteOrder([]byte(body))
	require.NoError(t, err)
	o := ev.Order
	assert.True(t, ev.IsNew)
	assert.Equal(t, int64(7), o.ID)
	assert.Equal(t, "F", o.StatusID)
	assert.True(t, o.Paid)
	assert.True(t, o.Canceled)
	assert.Equal(t, "12500.5", o.Price.String())
	assert.Equal(t, "KZT", o.Currency)
	assert.Equal(t, time.Date(2025, 1, 9, 7, 0, 5, 123e6, time.UTC), o.DateUpdate)
	require.Len(t, o.Basket, 2)
	assert.Equal(t, "a", o.Basket[0].Name, "PHP arrays keyed by id are read in numeric key order")
	assert.Equal(t, "2.5", o.Basket[0].Quantity.String())
	assert.Equal(t, map[string]string{"FIO": "Анна", "ORDER_PROP_9": "x, 1, Y", "FILES": `[{"ID":1}]`}, o.Properties)
	assert.Equal(t, map[string]string{"PRICE": "12000.5", "DATE_UPDATE": "", "X": `{"a":1}`}, ev.OldValues)
}

func TestParseSiteOrderFields(t *testing.T) {
	o, err := ParseSiteOrderFields([]byte(`{"ID":5,"STATUS_ID":"P","DATE_UPDATE":"2025-01-09T12:00:00Z","COMMENTS":"hi"}`))
	require.NoError(t, err)
	assert.Equal(t, "hi", o.Comments)
	_, err = ParseSiteOrderFields([]byte(`{"ID":5}`))
	require.Error(t, err)
	assert.Equal(t, []string{"order.DATE_UPDATE", "order.STATUS_ID"}, fieldsOf(err))
	_, err = ParseSiteOrderFields([]byte(`null`))
	assert.ErrorIs(t, err, ErrInvalid)
}

func TestParseTime(t *testing.T) {
	almaty := time.FixedZone("UTC+5", 5*3600)
	want := time.Date(2025, 1, 9, 7, 4, 5, 0, time.UTC)
	cases := []struct {
		in   string
		loc  *time.Location
		want time.Time
		err  bool
	}{
		{"2025-01-09T12:04:05+05:00", nil, want, false},
		{"2025-01-09T07:04:05Z", nil, want, false},
		{"2025-01-09T12:04:05+0500", nil, want, false},
		{"2025-01-09T12:04:05", almaty, want, false},
		{"2025-01-09 12:04:05", almaty, want, false},
		{" 09.01.2025 12:04:05 ", almaty, want, false},
		{"09.01.2025 07:04:05", nil, want, false},
		{"09.01.2025", nil, time.Date(2025, 1, 9, 0, 0, 0, 0, time.UTC), false},
		{"2025-01-09", almaty, time.Date(2025, 1, 8, 19, 0, 0, 0, time.UTC), false},
		{"01/09/2025", nil, time.Time{}, true},
		{"", nil, time.Time{}, true},
	}
	for _, tc := range cases {
		got, err := ParseTime(tc.in, tc.loc)
		if tc.err {
			assert.Error(t, err, tc.in)
			continue
		}
		if assert.NoError(t, err, tc.in) {
			assert.Equal(t, tc.want, got, tc.in)
			assert.Equal(t, time.UTC, got.Location(), tc.in)
		}
	}
}

func TestDecimal(t *testing.T) {
	cases := []struct {
		in, out string
		err     string
	}{
		{"4627.3000", "4627.3", ""},
		{"980", "980", ""},
		{"-0.5", "-0.5", ""},
		{"+3", "3", ""},
		{".25", "0.25", ""},
		{"1.", "1", ""},
		{"1.5E+3", "1500", ""},
		{"1e-2", "0.01", ""},
		{"12 500,50", "12500.5", ""},
		{"0.00005", "0.0001", ""},
		{"-0.00005", "-0.0001", ""},
		{"0.00004", "0", ""},
		{"922337203685477.5807", "922337203685477.5807", ""},
		{"922337203685477.5808", "", "out of range"},
		{"1e99", "", "out of range"},
		{"1e100", "", "not a decimal"},
		{"1,5,0", "", "not a decimal"},
		{"0x10", "", "not a decimal"},
		{"1/2", "", "not a decimal"},
		{"NaN", "", "not a decimal"},
		{"1_000", "", "not a decimal"},
		{"", "", "empty"},
		{strings.Repeat("1", 65), "", "longer than"},
	}
	for _, tc := range cases {
		d, err := ParseDecimal(tc.in)
		if tc.err != "" {
			if assert.Error(t, err, tc.in) {
				assert.Contains(t, err.Error(), tc.err, tc.in)
			}
			continue
		}
		if assert.NoError(t, err, tc.in) {
			assert.Equal(t, tc.out, d.String(), tc.in)
			back, err := ParseDecimal(d.String())
			assert.NoError(t, err)
			assert.Equal(t, d, back, "round trip of %s", tc.in)
		}
	}
	assert.Equal(t, "-922337203685477.5808", Decimal(-1<<63).String())
	assert.Equal(t, Decimal(5_0000), DecimalFromInt(5))

	var got struct{ A, B, C Decimal }
	require.NoError(t, jsonUnmarshal(`{"A":"4627.3000","B":12.5,"C":null}`, &got))
	assert.Equal(t, "4627.3 12.5 0", got.A.String()+" "+got.B.String()+" "+got.C.String())
	assert.Error(t, jsonUnmarshal(`{"A":"x"}`, &got))
	b, err := jsonMarshal(struct{ A Decimal }{dec(t, "-0.0001")})
	require.NoError(t, err)
	assert.Equal(t, `{"A":-0.0001}`, b)
}
