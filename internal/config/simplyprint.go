package config

// SimplyPrintConfig configures the print-farm events flow.
type SimplyPrintConfig struct {
	WebhookSecret         string `env:"SIMPLYPRINT_WEBHOOK_SECRET" desc:"when set, X-SP-Token or X-SP-Secret must equal it; unset accepts every webhook (a warning is logged)"`
	WebhookSecretPrevious string `env:"SIMPLYPRINT_WEBHOOK_SECRET_PREVIOUS" desc:"during a rotation, the secret being replaced: accepted beside SIMPLYPRINT_WEBHOOK_SECRET until removed; registration and the ops console send the current one"`
	APIURL                string `env:"SIMPLYPRINT_API_URL" envDefault:"https://api.simplyprint.io/{companyId}/" desc:"SimplyPrint REST base, used by 'hookflow simplyprint register-webhooks'"`
	CompanyID             string `env:"SIMPLYPRINT_COMPANY_ID" desc:"SimplyPrint company id, for webhook registration"`
	APIKey                string `env:"SIMPLYPRINT_API_KEY" desc:"SimplyPrint API key (X-API-KEY), for webhook registration"`
}

func (c SimplyPrintConfig) validate() error {
	return checkPrevious("SIMPLYPRINT_WEBHOOK_SECRET_PREVIOUS", c.WebhookSecretPrevious, "SIMPLYPRINT_WEBHOOK_SECRET", c.WebhookSecret)
}
