package ordersync

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParseSiteOrder: never panics; every failure is a FieldError naming a
// field; every success satisfies the documented invariants and maps to a
// CRM order.
func FuzzParseSiteOrder(f *testing.F) {
	files, _ := filepath.Glob("testdata/site_*.json")
	for _, name := range files {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"event":"order.saved","order":{"ID":"1","STATUS_ID":"N","DATE_UPDATE":"09.01.2025 12:00:00","PRICE":"1e3","BASKET":{"1":{"QUANTITY":"1,5"}},"PROPERTIES":[{"CODE":"","ORDER_PROPS_ID":2,"VALUE":[1,[2]]}]}}`))
	f.Add([]byte(`{"event":"order.status_changed","order":[],"old_values":[]}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		ev, err := ParseSiteOrder(body)
		if err != nil {
			var fe *FieldError
			if !errors.As(err, &fe) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("error is not a FieldError: %v", err)
			}
			return
		}
		o := ev.Order
		if o.ID <= 0 || o.StatusID == "" || o.DateUpdate.IsZero() {
			t.Fatalf("accepted an order without id/status/date_update: %+v", o)
		}
		if ev.Event != EventOrderSaved && ev.Event != EventStatusChanged {
			t.Fatalf("accepted event %q", ev.Event)
		}
		for _, it := range o.Basket {
			if it.Quantity < 0 {
				t.Fatalf("negative quantity accepted: %v", it.Quantity)
			}
		}
		if h1, h2 := Hash(o), Hash(o); h1 != h2 {
			t.Fatal("hash not deterministic")
		}
		c := ToCRM(o, DefaultStatusMap())
		if c.BitrixID != o.ID || c.BitrixUpdatedAt != Version(o) {
			t.Fatalf("ToCRM lost identity: %+v", c)
		}
	})
}

// FuzzParseDecimal: what parses prints canonically and parses back equal.
func FuzzParseDecimal(f *testing.F) {
	for _, s := range []string{"4627.3000", "-0.00005", "1.5E+3", "12 500,50", "922337203685477.5807", "."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDecimal(s)
		if err != nil {
			return
		}
		back, err := ParseDecimal(d.String())
		if err != nil || back != d {
			t.Fatalf("%q -> %s -> %v, %v", s, d, back, err)
		}
	})
}
