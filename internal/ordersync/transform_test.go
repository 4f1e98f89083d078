package ordersync

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }

func jsonMarshal(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}

func TestStatusMap(t *testing.T) {
	def := DefaultStatusMap()
	cases := []struct {
		code, status string
		known        bool
	}{
		{"N", "new", true}, {"P", "paid", true}, {"S", "shipped", true},
		{"F", "completed", true}, {"D", "cancelled", true},
		{"n", "new", true}, // Bitrix ids are case-insensitive in MySQL
		{"PD", "PD", false}, {"", "", false},
	}
	for _, tc := range cases {
		s, known := def.ToCRM(tc.code)
		assert.Equal(t, tc.status, s, tc.code)
		assert.Equal(t, tc.known, known, tc.code)
	}
	code, ok := def.ToBitrix("Paid")
	assert.True(t, ok)
	assert.Equal(t, "P", code)
	_, ok = def.ToBitrix("in_delivery")
	assert.False(t, ok)
	assert.Equal(t, DefaultStatusSpec, def.String())

	// The cvety.kz custom statuses: two codes map to "cancelled", the first
	// one listed is used for back sync.
	m, err := ParseStatusMap(" N:new, PD:paid ,AP:accepted,CO:assembled,DE:in_delivery,F:completed,RF:cancelled,UN:cancelled,")
	require.NoError(t, err)
	assert.Equal(t, 8, m.Len())
	s, known := m.ToCRM("UN")
	assert.Equal(t, "cancelled", s)
	assert.True(t, known)
	code, ok = m.ToBitrix("cancelled")
	assert.True(t, ok)
	assert.Equal(t, "RF", code)
	_, known = m.ToCRM("P")
	assert.False(t, known, "a configured map replaces the default")

	blank, err := ParseStatusMap("  ")
	require.NoError(t, err)
	assert.Equal(t, DefaultStatusSpec, blank.String())

	var zero StatusMap
	s, known = zero.ToCRM("N")
	assert.Equal(t, "N", s)
	assert.False(t, known)
}

func TestParseStatusMapErrors(t *testing.T) {
	cases := map[string]string{
		"N=new":         `item 1 "N=new": want BITRIX_CODE:crm_status`,
		"N:new,P":       `item 2 "P": want BITRIX_CODE:crm_status`,
		"N:new,N:other": `Bitrix status "N" is already mapped to "new"`,
		"N:new,n:other": `Bitrix status "n" is already mapped to "new"`,
		"N N:new":       `Bitrix status code "N N" must be`,
		":new":          `Bitrix status code "" must be`,
		"N:":            `CRM status must be non-empty`,
		"N:a:b":         `CRM status must be non-empty and contain no ':'`,
		",,,":           `has no BITRIX_CODE:crm_status pairs`,
	}
	for spec, msg := range cases {
		_, err := ParseStatusMap(spec)
		if assert.Error(t, err, spec) {
			assert.Contains(t, err.Error(), msg, spec)
		}
	}
}

func TestStatusMapText(t *testing.T) {
	var cfg struct {
		Map StatusMap `json:"map"`
	}
	require.NoError(t, json.Unmarshal([]byte(`{"map":"N:new,PD:paid"}`), &cfg))
	s, known := cfg.Map.ToCRM("PD")
	assert.Equal(t, "paid", s)
	assert.True(t, known)
	b, err := json.Marshal(cfg)
	require.NoError(t, err)
	assert.JSONEq(t, `{"map":"N:new,PD:paid"}`, string(b))
	assert.Error(t, json.Unmarshal([]byte(`{"map":"N"}`), &cfg))
}

func TestToCRM(t *testing.T) {
	ev, err := ParseSiteOrder(readFixture(t, "site_order_saved.json"))
	require.NoError(t, err)
	got := ToCRM(ev.Order, DefaultStatusMap())
	want := CRMOrder{
		BitrixID: 122045, Number: "122045", Status: "new", BitrixStatus: "N",
		Total: dec(t, "18500"), DeliveryPrice: dec(t, "2000"), Currency: "KZT",
		CustomerName: "Айгерим Сапарова", CustomerPhone: "+7 701 555 12 34", CustomerEmail: "aigerim@example.kz",
		DeliveryAddress: "Алматы, ул. Абая 150, кв. 12", CustomerComment: "Позвонить получателю за час",
		Items: []CRMItem{
			{ProductID: 3921, Name: "Букет из 25 роз «Нежность»", Price: dec(t, "15500"), Quantity: dec(t, "1"), Currency: "KZT"},
			{ProductID: 118, Name: "Открытка", Price: dec(t, "500"), Quantity: dec(t, "2"), Currency: "KZT"},
		},
		BitrixCreatedAt: mustTime(t, "2025-01-09T07:00:01Z"),
		BitrixUpdatedAt: mustTime(t, "2025-01-09T07:00:05Z"),
		BitrixHash:      Hash(ev.Order),
	}
	assert.Equal(t, want, got)

	cases := []struct {
		name  string
		order BitrixOrder
		check func(t *testing.T, c CRMOrder)
	}{
		{"unknown status kept and flagged", BitrixOrder{ID: 9, StatusID: "DE"}, func(t *testing.T, c CRMOrder) {
			assert.Equal(t, "DE", c.Status)
			assert.Equal(t, "DE", c.BitrixStatus)
			assert.True(t, c.StatusFlaggedUnknown)
		}},
		{"number falls back to id", BitrixOrder{ID: 9, StatusID: "N"}, func(t *testing.T, c CRMOrder) {
			assert.Equal(t, "9", c.Number)
			assert.NotNil(t, c.Items)
			assert.Empty(t, c.Items)
		}},
		{"name fallbacks", BitrixOrder{ID: 9, StatusID: "N", Properties: map[string]string{"CONTACT_PERSON": "Ли"}}, func(t *testing.T, c CRMOrder) {
			assert.Equal(t, "Ли", c.CustomerName)
		}},
		{"cancel flag does not change status", BitrixOrder{ID: 9, StatusID: "P", Canceled: true, Paid: true}, func(t *testing.T, c CRMOrder) {
			assert.Equal(t, "paid", c.Status)
			assert.True(t, c.Canceled)
			assert.True(t, c.Paid)
		}},
		{"item currency defaults to order's", BitrixOrder{ID: 9, StatusID: "N", Currency: "KZT", Basket: []BasketItem{{Name: "x"}}}, func(t *testing.T, c CRMOrder) {
			assert.Equal(t, "KZT", c.Items[0].Currency)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { tc.check(t, ToCRM(tc.order, DefaultStatusMap())) })
	}

	b, err := json.Marshal(got)
	require.NoError(t, err)
	var back CRMOrder
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Equal(t, got, back, "CRMOrder survives JSON (Temporal payloads)")
}

func TestHashAndDecide(t *testing.T) {
	ev, err := ParseSiteOrder(readFixture(t, "site_order_saved.json"))
	require.NoError(t, err)
	o := ev.Order
	h := Hash(o)
	assert.Len(t, h, 64)
	assert.Equal(t, h, Hash(o), "deterministic")

	resaved := o
	resaved.DateUpdate = o.DateUpdate.Add(time.Minute)
	assert.Equal(t, h, Hash(resaved), "DATE_UPDATE is not content")

	inOtherZone := o
	inOtherZone.DateInsert = o.DateInsert.In(time.FixedZone("x", 3600))
	assert.Equal(t, h, Hash(inOtherZone))

	changed := o
	changed.StatusID = "P"
	assert.NotEqual(t, h, Hash(changed))
	moreItems := o
	moreItems.Basket = append([]BasketItem{}, o.Basket...)
	moreItems.Basket[1].Quantity = dec(t, "3")
	assert.NotEqual(t, h, Hash(moreItems))
	prop := o
	prop.Properties = map[string]string{"FIO": "x"}
	assert.NotEqual(t, h, Hash(prop))

	v := Version(o)
	cases := []struct {
		name     string
		in       BitrixOrder
		appliedV time.Time
		appliedH string
		want     Decision
	}{
		{"first", o, time.Time{}, "", Apply},
		{"newer and different", changed, v.Add(-time.Second), h, Apply},
		{"same second, different", changed, v, h, Apply},
		{"same content repeated", o, v, h, Unchanged},
		{"no-op resave", resaved, v, h, Unchanged},
		{"older", changed, v.Add(time.Second), "other", Stale},
		{"older even if identical", o, v.Add(time.Second), h, Stale},
	}
	for _, tc := range cases {
		assert.Equal(t, tc.want, Decide(tc.in, tc.appliedV, tc.appliedH), tc.name)
	}
	assert.Equal(t, "apply stale unchanged Decision(7)", Apply.String()+" "+Stale.String()+" "+Unchanged.String()+" "+Decision(7).String())

	assert.Equal(t, "bitrix-order-236", WorkflowID(236))
	assert.Equal(t, "122045:2025-01-09T07:00:05Z:"+h[:16], DedupKey(o))
	assert.NotEqual(t, DedupKey(o), DedupKey(changed))
}
