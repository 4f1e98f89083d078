package bitrix_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/internal/integrations/bitrix"
	"github.com/hookflow/hookflow/internal/integrations/bitrix/bitrixtest"
	"github.com/hookflow/hookflow/internal/integrations/clienttest"
	"github.com/hookflow/hookflow/internal/ordersync"
)

func newREST(t *testing.T) (*bitrixtest.REST, *bitrix.RESTClient) {
	t.Helper()
	fake := bitrixtest.NewREST(t, "", "")
	c, err := bitrix.NewRESTClient(fake.URL(), nil)
	require.NoError(t, err)
	return fake, c
}

func TestRESTGetAndUpdateOrder(t *testing.T) {
	fake, c := newREST(t)
	fake.PutOrder(bitrixtest.NewOrder(300, "N"))
	ctx := context.Background()

	raw, err := c.GetOrder(ctx, 300)
	require.NoError(t, err)
	o, err := ordersync.FromREST(raw)
	require.NoError(t, err)
	assert.Equal(t, int64(300), o.ID)
	assert.Equal(t, "N", o.StatusID)
	assert.Equal(t, "17500", o.Price.String())
	assert.Equal(t, "2000", o.PriceDelivery.String(), "from the non-system shipment")
	assert.Equal(t, "Айгерим Сапарова", o.Property("FIO"))

	fake.SetClock(func() time.Time { return bitrixtest.SampleTime.Add(time.Hour) })
	raw, err = c.UpdateOrder(ctx, 300, map[string]any{"statusId": "P", "comments": "оплачено"})
	require.NoError(t, err)
	o, err = ordersync.FromREST(raw)
	require.NoError(t, err)
	assert.Equal(t, "P", o.StatusID)
	assert.Equal(t, "оплачено", o.Comments)
	assert.Equal(t, bitrixtest.SampleTime.Add(time.Hour).UTC(), ordersync.Version(o))
	stored, _ := fake.Order(300)
	assert.Equal(t, "P", stored["statusId"])

	calls := fake.Calls()
	require.Len(t, calls, 2)
	assert.Equal(t, "sale.order.get", calls[0].Method)
	assert.JSONEq(t, `{"id":300}`, string(calls[0].Params))
	assert.Equal(t, "sale.order.update", calls[1].Method)
	assert.JSONEq(t, `{"id":300,"fields":{"statusId":"P","comments":"оплачено"}}`, string(calls[1].Params))
	assert.Equal(t, "application/json", calls[1].Header.Get("Content-Type"))
	assert.Equal(t, bitrixtest.DefaultCode, calls[1].Code)
	assert.Equal(t, http.StatusOK, calls[1].Status)
}

func TestRESTErrorsFromFake(t *testing.T) {
	fake, c := newREST(t)
	fake.PutOrder(bitrixtest.NewOrder(1, "N"))
	ctx := context.Background()
	cases := []struct {
		name      string
		setup     func()
		call      func() error
		status    int
		code      string
		retryable bool
		notFound  bool
	}{
		{"missing order", func() {}, func() error { _, err := c.GetOrder(ctx, 999); return err },
			400, bitrix.CodeOrderNotFound, false, true},
		{"update missing order", func() {}, func() error { _, err := c.UpdateOrder(ctx, 999, map[string]any{"statusId": "P"}); return err },
			400, bitrix.CodeOrderNotFound, false, true},
		{"unknown status", func() {}, func() error { _, err := c.UpdateOrder(ctx, 1, map[string]any{"statusId": "ZZ"}); return err },
			400, "ERROR_CORE", false, false},
		{"rate limited", func() { fake.FailNext(1, 503) }, func() error { _, err := c.GetOrder(ctx, 1); return err },
			503, bitrix.CodeQueryLimitExceeded, true, false},
		{"time limit", func() { fake.FailNext(1, 429) }, func() error { _, err := c.GetOrder(ctx, 1); return err },
			429, bitrix.CodeOperationTimeLimit, true, false},
		{"server error", func() { fake.FailNext(1, 500) }, func() error { _, err := c.GetOrder(ctx, 1); return err },
			500, bitrix.CodeInternalServerError, true, false},
		{"unknown method", func() {}, func() error { _, err := c.Call(ctx, "sale.order.frobnicate", nil); return err },
			404, bitrix.CodeMethodNotFound, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.setup()
			err := tc.call()
			var ae *bitrix.APIError
			require.ErrorAs(t, err, &ae)
			assert.Equal(t, tc.status, ae.Status)
			assert.Equal(t, tc.code, ae.Code)
			assert.Equal(t, tc.retryable, bitrix.IsRetryable(err))
			assert.Equal(t, tc.notFound, errors.Is(err, bitrix.ErrNotFound))
			assert.NotContains(t, err.Error(), fake.Code())
		})
	}
	// After the injected failures the fake serves again.
	_, err := c.GetOrder(ctx, 1)
	require.NoError(t, err)
}

func TestRESTWrongCode(t *testing.T) {
	fake := bitrixtest.NewREST(t, "", "")
	wrong := strings.Replace(fake.URL(), fake.Code(), "wrongcode123", 1)
	c, err := bitrix.NewRESTClient(wrong, nil)
	require.NoError(t, err)
	_, err = c.GetOrder(context.Background(), 1)
	var ae *bitrix.APIError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, 401, ae.Status)
	assert.Equal(t, bitrix.CodeInvalidCredentials, ae.Code)
	assert.False(t, ae.Retryable)
	assert.NotContains(t, err.Error(), "wrongcode123")
}

// TestRESTClassification drives the client with hand-written answers.
func TestRESTClassification(t *testing.T) {
	cases := []struct {
		name       string
		status     int
		body       string
		header     map[string]string
		code       string
		retryable  bool
		retryAfter time.Duration
		notFound   bool
	}{
		{"query limit 503", 503, `{"error":"QUERY_LIMIT_EXCEEDED","error_description":"Too many requests"}`, map[string]string{"Retry-After": "2"}, "QUERY_LIMIT_EXCEEDED", true, 2 * time.Second, false},
		{"query limit on 200", 200, `{"error":"QUERY_LIMIT_EXCEEDED","error_description":"Too many requests"}`, nil, "QUERY_LIMIT_EXCEEDED", true, 0, false},
		{"operation time limit 429", 429, `{"error":"OPERATION_TIME_LIMIT","error_description":"Method is blocked"}`, nil, "OPERATION_TIME_LIMIT", true, 0, false},
		{"time limit on 400", 400, `{"error":"OPERATION_TIME_LIMIT","error_description":"x"}`, nil, "OPERATION_TIME_LIMIT", true, 0, false},
		{"internal 500", 500, `{"error":"INTERNAL_SERVER_ERROR","error_description":"Internal server error"}`, nil, "INTERNAL_SERVER_ERROR", true, 0, false},
		{"overload 503", 503, `{"error":"OVERLOAD_LIMIT","error_description":"REST API is blocked due to overload"}`, nil, "OVERLOAD_LIMIT", true, 0, false},
		{"portal deleted 500", 500, `{"error":"PORTAL_DELETED","error_description":"Portal was deleted"}`, nil, "PORTAL_DELETED", false, 0, false},
		{"no auth 401", 401, `{"error":"NO_AUTH_FOUND","error_description":"Wrong authorization data"}`, nil, "NO_AUTH_FOUND", false, 0, false},
		{"expired 401", 401, `{"error":"expired_token","error_description":"The access token provided has expired"}`, nil, "expired_token", false, 0, false},
		{"insufficient scope 403", 403, `{"error":"insufficient_scope","error_description":"x"}`, nil, "insufficient_scope", false, 0, false},
		{"numeric not found 400", 400, `{"error":201240400001,"error_description":"order is not exists"}`, nil, "201240400001", false, 0, true},
		{"missing id 400", 400, `{"error":100,"error_description":"id is missing"}`, nil, "100", false, 0, false},
		{"html 502", 502, `<html>Bad Gateway</html>`, nil, bitrix.CodeHTTP, true, 0, false},
		{"html 404", 404, `<html>Not Found</html>`, nil, bitrix.CodeHTTP, false, 0, false},
		{"html 200", 200, `<html>Сайт закрыт на обслуживание</html>`, nil, bitrix.CodeBadResponse, true, 0, false},
		{"no result", 200, `{"time":{}}`, nil, bitrix.CodeBadResponse, true, 0, false},
		{"result without order", 200, `{"result":true}`, nil, bitrix.CodeBadResponse, true, 0, false},
		{"408", 408, ``, nil, bitrix.CodeHTTP, true, 0, false},
		{"501", 501, ``, nil, bitrix.CodeHTTP, false, 0, false},
		{"429 http date", 429, ``, map[string]string{"Retry-After": time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)}, bitrix.CodeHTTP, true, time.Hour, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := clienttest.Answering(t, tc.status, tc.header, tc.body)
			c, err := bitrix.NewRESTClient(srv.URL+"/rest/1/s3cr3tc0de/", nil)
			require.NoError(t, err)
			_, err = c.GetOrder(context.Background(), 5)
			var ae *bitrix.APIError
			require.ErrorAs(t, err, &ae)
			assert.Equal(t, "sale.order.get", ae.Op)
			assert.Equal(t, tc.status, ae.Status)
			assert.Equal(t, tc.code, ae.Code)
			assert.Equal(t, tc.retryable, ae.Retryable)
			if tc.retryAfter > time.Minute {
				assert.InDelta(t, tc.retryAfter.Seconds(), bitrix.RetryAfter(err).Seconds(), 5)
			} else {
				assert.Equal(t, tc.retryAfter, bitrix.RetryAfter(err))
			}
			assert.Equal(t, tc.notFound, errors.Is(err, bitrix.ErrNotFound))
			assert.NotContains(t, err.Error(), "s3cr3tc0de")
		})
	}
}

func TestRESTTransportErrorsHideCode(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close()) // nothing listens there now

	c, err := bitrix.NewRESTClient("http://"+addr+"/rest/1/s3cr3tc0de", nil)
	require.NoError(t, err)
	_, err = c.GetOrder(context.Background(), 1)
	var ae *bitrix.APIError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, bitrix.CodeTransport, ae.Code)
	assert.True(t, ae.Retryable)
	assert.NotContains(t, err.Error(), "s3cr3tc0de")
	assert.Contains(t, err.Error(), "/rest/1/***/sale.order.get.json")

	// A hanging portal: the deadline is retryable, a cancel is not.
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(block)
	c, err = bitrix.NewRESTClient(srv.URL+"/rest/1/s3cr3tc0de/", nil)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = c.GetOrder(ctx, 1)
	assert.True(t, bitrix.IsRetryable(err), "%v", err)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.NotContains(t, err.Error(), "s3cr3tc0de")

	ctx, cancel = context.WithCancel(context.Background())
	cancel()
	_, err = c.GetOrder(ctx, 1)
	assert.False(t, bitrix.IsRetryable(err), "%v", err)
	assert.ErrorIs(t, err, context.Canceled)
}

func TestNewRESTClientValidation(t *testing.T) {
	for _, bad := range []string{"", "portal.bitrix24.ru/rest/1/abc/", "ftp://p/rest/1/abc/", "https:///rest/1/abc/", "https://p/abc", "https://p/rest/1/abc/?x=1"} {
		_, err := bitrix.NewRESTClient(bad, nil)
		if assert.Error(t, err, bad) && strings.Contains(bad, "abc") {
			assert.NotContains(t, err.Error(), "abc", "the code must not be echoed")
		}
	}
	c, err := bitrix.NewRESTClient("https://p.bitrix24.ru/rest/1/abc", nil)
	require.NoError(t, err)
	_, err = c.GetOrder(context.Background(), 0)
	var ae *bitrix.APIError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, bitrix.CodeInvalidRequest, ae.Code)
	_, err = c.UpdateOrder(context.Background(), 1, nil)
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, bitrix.CodeInvalidRequest, ae.Code)
	_, err = c.Call(context.Background(), "../../admin", nil)
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, bitrix.CodeInvalidRequest, ae.Code)
}

func TestRESTCallRaw(t *testing.T) {
	fake, c := newREST(t)
	fake.PutOrder(bitrixtest.NewOrder(7, "N"))
	res, err := c.Call(context.Background(), "sale.order.get", struct {
		ID int `json:"id"`
	}{7})
	require.NoError(t, err)
	var r struct {
		Order map[string]any `json:"order"`
	}
	require.NoError(t, json.Unmarshal(res, &r))
	assert.Equal(t, float64(7), r.Order["id"])
}
