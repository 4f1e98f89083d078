package bitrix_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/internal/integrations/bitrix"
	"github.com/hookflow/hookflow/internal/integrations/bitrix/bitrixtest"
)

// The body as the reference documents it (wire-formats.md, Bitrix24
// outbound events), URL-encoded as the portal sends it.
const referenceBody = "event=ONSALEORDERSAVED&event_handler_id=201&data%5BFIELDS%5D%5BID%5D=300" +
	"&data%5BFIELDS%5D%5BACTION%5D=save&ts=1736405807&auth%5Bdomain%5D=x.bitrix24.ru" +
	"&auth%5Bmember_id%5D=a223c6b3710f85df22e9377d6c4f7553&auth%5Bapplication_token%5D=51856fefc120afa4b628cc82d3935cce"

func TestParseOutboundEventReference(t *testing.T) {
	ev, err := bitrix.ParseOutboundEventBody([]byte(referenceBody))
	require.NoError(t, err)
	assert.Equal(t, bitrix.OutboundEvent{
		Event: bitrix.EventSaleOrderSaved, HandlerID: "201", OrderID: 300, Action: "save",
		TS:     time.Unix(1736405807, 0).UTC(),
		Domain: "x.bitrix24.ru", MemberID: "a223c6b3710f85df22e9377d6c4f7553",
		ApplicationToken: "51856fefc120afa4b628cc82d3935cce",
	}, ev)
	assert.True(t, ev.Authenticate("51856fefc120afa4b628cc82d3935cce"))
	assert.False(t, ev.Authenticate("51856fefc120afa4b628cc82d3935ccX"))
	assert.False(t, ev.Authenticate(""), "an unconfigured token authenticates nothing")
	assert.False(t, bitrix.OutboundEvent{}.Authenticate(""))
}

func TestParseOutboundEventErrors(t *testing.T) {
	cases := map[string]string{
		"event=&data[FIELDS][ID]=1":                                    "event is required",
		"event=ONSALEORDERSAVED":                                       "data[FIELDS][ID] is required",
		"event=ONSALEORDERSAVED&data[FIELDS][ID]=abc":                  `data[FIELDS][ID] "abc" is not a positive integer`,
		"event=ONSALEORDERSAVED&data[FIELDS][ID]=0":                    `data[FIELDS][ID] "0" is not a positive integer`,
		"event=x&data[FIELDS][ID]=1&ts=yesterday":                      `ts "yesterday" is not Unix seconds`,
		"event=x&data[FIELDS][ID]=1&ts=-5":                             `ts "-5" is not Unix seconds`,
		"%zz":                                                          "body is not form-encoded",
		"event=ONSALEORDERSAVED&data[FIELDS][ID]=1&data[FIELDS][ID]=2": "data[FIELDS][ID] is given 2 times",
		"event[]=ONSALEORDERSAVED&data[FIELDS][ID]=1":                  "event must be a single value, not an array or object",
		"event=ONSALEORDERSAVED&data[FIELDS][ID][0]=1":                 "data[FIELDS][ID] must be a single value",
		"event=ONSALEORDERSAVED&data[FIELDS][ID]=1.5":                  `data[FIELDS][ID] "1.5" is not a positive integer`,
		"event=ONSALEORDERSAVED&data[FIELDS][ID]=99999999999999999999": `is not a positive integer`,
		"event=ONCRMCONTACTADD&data[FIELDS][ID]=x":                     `data[FIELDS][ID] "x" is not a positive integer`,
	}
	for body, msg := range cases {
		_, err := bitrix.ParseOutboundEventBody([]byte(body))
		if assert.Error(t, err, body) {
			assert.Contains(t, err.Error(), msg, body)
			assert.True(t, errors.Is(err, bitrix.ErrInvalidEvent), body)
		}
	}
	ev, err := bitrix.ParseOutboundEvent(url.Values{"event": {"onSaleOrderSaved"}, "data[FIELDS][ID]": {" 42 "}})
	require.NoError(t, err)
	assert.Equal(t, bitrix.EventSaleOrderSaved, ev.Event)
	assert.Equal(t, int64(42), ev.OrderID)
	assert.True(t, ev.TS.IsZero())

	// Events of other kinds need no id; the first error names its field.
	ev, err = bitrix.ParseOutboundEvent(url.Values{"event": {"ONAPPINSTALL"}})
	require.NoError(t, err)
	assert.Equal(t, int64(0), ev.OrderID)
	_, err = bitrix.ParseOutboundEventBody([]byte("event=ONSALEORDERSAVED&ts=x&auth[domain]=a&auth[domain]=b"))
	var fe *bitrix.FieldError
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, "auth[domain]", fe.Field)
}

// TestSendEvent: the fake sender's post parses back, through a real HTTP
// form body.
func TestSendEvent(t *testing.T) {
	got := make(chan bitrix.OutboundEvent, 1)
	var ctype string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctype = r.Header.Get("Content-Type")
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		ev, err := bitrix.ParseOutboundEvent(r.PostForm)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		got <- ev
	}))
	defer srv.Close()
	ts := time.Unix(1736405807, 0)
	status, err := bitrixtest.SendEvent(context.Background(), nil, srv.URL+"/api/webhooks/bitrix24", bitrixtest.Event{
		Name: "ONSALEORDERSAVED", HandlerID: 201, OrderID: 300, Action: "save", TS: ts,
		MemberID: "m1", ApplicationToken: "app-token",
	})
	require.NoError(t, err)
	assert.Equal(t, 200, status)
	assert.Equal(t, "application/x-www-form-urlencoded", ctype)
	ev := <-got
	assert.Equal(t, int64(300), ev.OrderID)
	assert.Equal(t, ts.UTC(), ev.TS)
	assert.Equal(t, "hookflow-test.bitrix24.ru", ev.Domain)
	assert.True(t, ev.Authenticate("app-token"))

	form := bitrixtest.Event{Name: "ONSALEORDERSAVED", OrderID: 1}.Form()
	assert.Equal(t, "1", form.Get("data[FIELDS][ID]"))
	assert.Equal(t, "", form.Get("data[FIELDS][ACTION]"))
}
