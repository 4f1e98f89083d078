// Package samples builds the bodies third parties send to hookflow, in each
// vendor's wire format (docs: /work/shared/reference/wire-formats.md and the
// seed documents): SimplyPrint webhooks, Okdesk status changes, Telegram
// updates, the Bitrix PHP handler's order events and signed job
// submissions. It is the one source of these bodies: `hookflow trigger`
// sends them, and the fakes of internal/integrations/*test (and the tests
// that use them) build theirs here.
//
// Builders are deterministic: every value comes from their arguments, so
// tests stay reproducible; `hookflow trigger` passes fresh ids and times.
package samples

import (
	"encoding/json"
	"fmt"
)

// mustJSON marshals maps and structs of plain values; anything else is a
// bug in the caller.
func mustJSON(what string, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("samples.%s: %v", what, err))
	}
	return b
}
