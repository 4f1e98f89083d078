package bitrix_test

import (
	"errors"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/hookflow/hookflow/internal/integrations/bitrix"
)

// FuzzParseOutboundEventBody: a form body never panics the parser; a refusal
// wraps ErrInvalidEvent; an accepted event agrees with url.ParseQuery read as
// the reference (its event name upper-cased, a positive order id (an order
// event must have one), the
// application token verbatim), and Authenticate agrees with plain equality.
func FuzzParseOutboundEventBody(f *testing.F) {
	for _, s := range []string{
		"event=ONSALEORDERSAVED&event_handler_id=201&data%5BFIELDS%5D%5BID%5D=300&data%5BFIELDS%5D%5BACTION%5D=save&ts=1736405807&auth%5Bdomain%5D=x.bitrix24.ru&auth%5Bapplication_token%5D=tok",
		"event=ONCRMCONTACTADD&data[FIELDS][ID]=5", "event=onsaleorderdeleted&data[FIELDS][ID]=-1",
		"data[FIELDS][ID]=1&data[FIELDS][ID]=2&event=x", "event=%zz", "event=e&data[FIELDS][ID]=99999999999999999999", "event=e&data[FIELDS][ID]=1&ts=1.5",
		"event[]=a&event[]=b&data[FIELDS][ID][]=1",
	} {
		f.Add(s, "tok")
	}
	f.Fuzz(func(t *testing.T, body, token string) {
		ev, err := bitrix.ParseOutboundEventBody([]byte(body))
		if err != nil {
			if !errors.Is(err, bitrix.ErrInvalidEvent) {
				t.Fatalf("error %v does not wrap ErrInvalidEvent", err)
			}
			return
		}
		form, err := url.ParseQuery(body)
		if err != nil {
			t.Fatalf("accepted a body url.ParseQuery refuses: %v", err)
		}
		if want := strings.ToUpper(strings.TrimSpace(form.Get("event"))); ev.Event != want || want == "" {
			t.Fatalf("event %q, reference %q", ev.Event, want)
		}
		// An order event needs a positive id; an event of another kind
		// (acked and ignored) may come without one.
		if idText := strings.TrimSpace(form.Get("data[FIELDS][ID]")); idText == "" {
			if ev.OrderID != 0 || bitrix.IsOrderEvent(ev.Event) {
				t.Fatalf("%s without an id accepted as order %d", ev.Event, ev.OrderID)
			}
		} else if id, err := strconv.ParseInt(idText, 10, 64); err != nil || id <= 0 || ev.OrderID != id {
			t.Fatalf("order id %d, reference %q", ev.OrderID, idText)
		}
		if ev.ApplicationToken != form.Get("auth[application_token]") {
			t.Fatalf("token %q, reference %q", ev.ApplicationToken, form.Get("auth[application_token]"))
		}
		if got, want := ev.Authenticate(token), token != "" && ev.ApplicationToken == token; got != want {
			t.Fatalf("Authenticate(%q) with %q = %v, want %v", token, ev.ApplicationToken, got, want)
		}
	})
}
