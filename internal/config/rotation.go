package config

import "fmt"

// Rotating a secret (README: Rotating a secret): every secret variable X has
// a twin X_PREVIOUS holding the value being replaced, accepted beside X until
// it is removed. Outbound uses (setWebhook, webhook registration, back sync)
// always send X.

// checkPrevious validates one X_PREVIOUS: it needs a current value and must
// differ from it. Errors name the variables, never a value.
func checkPrevious(prevName, prev, curName, cur string) error {
	switch {
	case prev == "":
		return nil
	case cur == "":
		return fmt.Errorf("%s: set without %s; a previous value is accepted only beside a current one (put the new value in %s)", prevName, curName, curName)
	case prev == cur:
		return fmt.Errorf("%s: equals %s; it must hold the value being replaced, or be unset", prevName, curName)
	}
	return nil
}

// firstSet returns the name and value of the first variable of an alias
// pair that is set (for OKDESK_WEBHOOK_SECRET / WEBHOOK_SECRET and the
// like), or "a (or b)" and "" when neither is.
func firstSet(name, value, seedName, seedValue string) (string, string) {
	switch {
	case value != "":
		return name, value
	case seedValue != "":
		return seedName, seedValue
	}
	return name + " (or " + seedName + ")", ""
}
