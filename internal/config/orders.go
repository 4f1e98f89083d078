package config

import (
	"cmp"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hookflow/hookflow/internal/ordersync"
)

// OrdersConfig configures the Bitrix ↔ CRM order sync (docs/orders.md).
type OrdersConfig struct {
	WebhookToken             string `env:"BITRIX_WEBHOOK_TOKEN" desc:"X-Webhook-Token the Bitrix PHP handler sends on /api/webhooks/bitrix/*, also sent to the shop's back-sync endpoint and accepted by GET /api/sync/status; unset (and WEBHOOK_TOKEN unset) refuses those webhooks with 403"`
	WebhookTokenPrevious     string `env:"BITRIX_WEBHOOK_TOKEN_PREVIOUS" desc:"during a rotation, the token being replaced: accepted beside the current one (BITRIX_WEBHOOK_TOKEN or WEBHOOK_TOKEN) until removed; back sync sends the current one"`
	SeedWebhookToken         string `env:"WEBHOOK_TOKEN" desc:"the seed's name for BITRIX_WEBHOOK_TOKEN, used when BITRIX_WEBHOOK_TOKEN is unset"`
	SeedWebhookTokenPrevious string `env:"WEBHOOK_TOKEN_PREVIOUS" desc:"the seed-style name for BITRIX_WEBHOOK_TOKEN_PREVIOUS, used when that is unset"`
	AppToken                 string `env:"BITRIX_APP_TOKEN" desc:"auth[application_token] of Bitrix24 outbound events posted to /api/webhooks/bitrix24; unset refuses them with 403"`
	AppTokenPrevious         string `env:"BITRIX_APP_TOKEN_PREVIOUS" desc:"during a rotation, the application token being replaced: accepted beside BITRIX_APP_TOKEN until removed"`
	APIURL                   string `env:"BITRIX_API_URL" desc:"the shop's API base holding hookflow_order_update.php (e.g. https://cvety.kz/api/), for back sync"`
	RESTURL                  string `env:"BITRIX_REST_URL" desc:"Bitrix24 REST inbound webhook (https://portal/rest/{user}/{code}/): fetches orders for Bitrix24 events and, when set, is used for back sync (sale.order.update) instead of BITRIX_API_URL"`

	StatusMap   ordersync.StatusMap `env:"BITRIX_STATUS_MAP" envDefault:"N:new,P:paid,S:shipped,F:completed,D:cancelled" desc:"Bitrix status id to CRM status, BITRIX_CODE:crm_status pairs; the first code of a CRM status is used for back sync; unknown codes are kept as the CRM status and flagged"`
	SyncEnabled bool                `env:"SYNC_ENABLED" envDefault:"true" desc:"false records Bitrix events and back-sync requests (outcome ignored, sync_disabled) but applies and sends nothing"`

	BackSyncRetryBase time.Duration `env:"BITRIX_BACKSYNC_RETRY_BASE" envDefault:"10s" desc:"wait after the first failed back-sync call; doubles per attempt (a Retry-After from Bitrix wins)"`
	BackSyncRetryMax  time.Duration `env:"BITRIX_BACKSYNC_RETRY_MAX" envDefault:"1h" desc:"longest wait between back-sync attempts"`
	BackSyncRetryFor  time.Duration `env:"BITRIX_BACKSYNC_RETRY_FOR" envDefault:"24h" desc:"how long a back sync is retried before it is recorded as failed"`
	Timeout           time.Duration `env:"BITRIX_TIMEOUT" envDefault:"30s" desc:"longest wait for one Bitrix answer (REST or back-sync endpoint)"`
}

// Token is the webhook token: BITRIX_WEBHOOK_TOKEN, else WEBHOOK_TOKEN.
func (c OrdersConfig) Token() string {
	return cmp.Or(c.WebhookToken, c.SeedWebhookToken)
}

// PreviousToken is the webhook token being replaced during a rotation:
// BITRIX_WEBHOOK_TOKEN_PREVIOUS, else WEBHOOK_TOKEN_PREVIOUS.
func (c OrdersConfig) PreviousToken() string {
	return cmp.Or(c.WebhookTokenPrevious, c.SeedWebhookTokenPrevious)
}

// Statuses is the status map (the default one when the field was never
// loaded, e.g. in a zero Config).
func (c OrdersConfig) Statuses() ordersync.StatusMap {
	if c.StatusMap.Len() == 0 {
		return ordersync.DefaultStatusMap()
	}
	return c.StatusMap
}

func (c OrdersConfig) validate() error {
	var errs []error
	// The URLs are not repeated in errors: BITRIX_REST_URL holds a secret.
	for _, v := range []struct{ name, value string }{{"BITRIX_API_URL", c.APIURL}, {"BITRIX_REST_URL", c.RESTURL}} {
		if v.value == "" {
			continue
		}
		if _, ok := httpURL(strings.TrimSpace(v.value)); !ok {
			errs = append(errs, fmt.Errorf("%s: not an http(s) URL", v.name))
		}
	}
	if c.APIURL != "" && c.RESTURL == "" && c.Token() == "" {
		errs = append(errs, errors.New("BITRIX_API_URL: back sync to the shop needs BITRIX_WEBHOOK_TOKEN (or WEBHOOK_TOKEN)"))
	}
	prevName, prev := firstSet("BITRIX_WEBHOOK_TOKEN_PREVIOUS", c.WebhookTokenPrevious, "WEBHOOK_TOKEN_PREVIOUS", c.SeedWebhookTokenPrevious)
	curName, cur := firstSet("BITRIX_WEBHOOK_TOKEN", c.WebhookToken, "WEBHOOK_TOKEN", c.SeedWebhookToken)
	errs = append(errs, checkPrevious(prevName, prev, curName, cur))
	errs = append(errs, checkPrevious("BITRIX_APP_TOKEN_PREVIOUS", c.AppTokenPrevious, "BITRIX_APP_TOKEN", c.AppToken))
	if c.BackSyncRetryBase <= 0 || c.BackSyncRetryMax < c.BackSyncRetryBase || c.BackSyncRetryFor <= 0 || c.Timeout <= 0 {
		errs = append(errs, errors.New("BITRIX_BACKSYNC_RETRY_BASE, BITRIX_BACKSYNC_RETRY_MAX, BITRIX_BACKSYNC_RETRY_FOR and BITRIX_TIMEOUT: must be positive, and the max at least the base"))
	}
	return errors.Join(errs...)
}
