package bitrixtest_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/internal/integrations/bitrix"
	"github.com/hookflow/hookflow/internal/integrations/bitrix/bitrixtest"
)

func post(t *testing.T, target, ctype, body string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Post(target, ctype, strings.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m), string(b))
	return resp.StatusCode, m
}

func TestRESTFakeWireFormat(t *testing.T) {
	fake := bitrixtest.NewREST(t, "7", "abcdef123456")
	fake.PutOrder(bitrixtest.NewOrder(236, "N"))

	// Form-encoded parameters and a method without ".json" work, as on a portal.
	status, m := post(t, fake.URL()+"sale.order.update", "application/x-www-form-urlencoded",
		url.Values{"id": {"236"}, "fields[statusId]": {"S"}}.Encode())
	assert.Equal(t, 200, status)
	order := m["result"].(map[string]any)["order"].(map[string]any)
	assert.Equal(t, "S", order["statusId"])
	assert.Equal(t, float64(2), order["version"])
	tm := m["time"].(map[string]any)
	assert.Contains(t, tm, "date_start")
	assert.JSONEq(t, `{"fields":{"statusId":"S"},"id":"236"}`, string(fake.Calls()[0].Params))

	status, m = post(t, fake.URL()+"sale.order.get.json", "application/json", `{"id":1}`)
	assert.Equal(t, 400, status)
	assert.Equal(t, float64(200540400001), m["error"])
	assert.Equal(t, "order does not exist", m["error_description"])

	status, m = post(t, fake.Root()+"/rest/7/wrong/sale.order.get.json", "application/json", `{"id":236}`)
	assert.Equal(t, 401, status)
	assert.Equal(t, "INVALID_CREDENTIALS", m["error"])

	status, m = post(t, fake.URL()+"sale.order.update.json", "application/json", `{"id":236,"fields":{"dateUpdate":"x"}}`)
	assert.Equal(t, 400, status)
	assert.Contains(t, m["error_description"], `"dateUpdate" is not allowed`)

	fake.FailNextWith(2, 503, "QUERY_LIMIT_EXCEEDED", "Too many requests", http.Header{"Retry-After": {"3"}})
	c, err := bitrix.NewRESTClient(fake.URL(), nil)
	require.NoError(t, err)
	for i := 0; i < 2; i++ {
		_, err = c.GetOrder(context.Background(), 236)
		assert.True(t, bitrix.IsRetryable(err))
		assert.Equal(t, "3s", bitrix.RetryAfter(err).String())
	}
	_, err = c.GetOrder(context.Background(), 236)
	require.NoError(t, err)
	calls := fake.Calls()
	assert.Equal(t, []int{200, 400, 401, 400, 503, 503, 200}, statuses(calls))
}

func statuses(calls []bitrixtest.Call) []int {
	out := make([]int, len(calls))
	for i, c := range calls {
		out[i] = c.Status
	}
	return out
}

func TestRESTFakeConcurrent(t *testing.T) {
	fake := bitrixtest.NewREST(t, "", "")
	fake.PutOrder(bitrixtest.NewOrder(1, "N"))
	c, err := bitrix.NewRESTClient(fake.URL(), nil)
	require.NoError(t, err)
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			st := []string{"N", "P", "F"}[i%3]
			_, err := c.UpdateOrder(context.Background(), 1, map[string]any{"statusId": st})
			assert.NoError(t, err)
		}(i)
	}
	wg.Wait()
	assert.Len(t, fake.Calls(), 20)
	o, _ := fake.Order(1)
	assert.Equal(t, float64(21), o["version"])
}

func TestSiteFakeRefusals(t *testing.T) {
	fake := bitrixtest.NewSite(t, "tok")
	resp, err := http.Get(fake.URL() + "hookflow_order_update.php")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 405, resp.StatusCode)
	req, _ := http.NewRequest(http.MethodPost, fake.URL()+"hookflow_order_update.php", strings.NewReader(`{"order_id":"x","status_id":"P"}`))
	req.Header.Set("X-Webhook-Token", "tok")
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, 400, resp.StatusCode)
	assert.JSONEq(t, `{"success":false,"error":"order_id must be a positive integer","code":"bad_request"}`, string(b))
	assert.Len(t, fake.Calls(), 2)
}
