package api

import (
	"crypto/subtle"
	"time"

	"github.com/gin-gonic/gin"
)

// matchSecret compares a presented secret with the current one and, during
// a rotation, the previous one (README: Rotating a secret): each in
// constant time, both always (no early exit that would time which one
// matched). An empty current secret never matches; an empty previous one is
// not tried. withPrevious reports a match with the previous value only.
func matchSecret(got, current, previous string) (ok, withPrevious bool) {
	cur := subtle.ConstantTimeCompare([]byte(got), []byte(current))
	prev := 0
	if previous != "" {
		prev = subtle.ConstantTimeCompare([]byte(got), []byte(previous))
	}
	if current == "" {
		return false, false
	}
	return cur|prev == 1, cur == 0 && prev == 1
}

// acceptSecret is matchSecret for a request, logging (without the value)
// when the previous secret was used: the sign that the sender has not
// switched yet and previousVar must stay.
func (s *Server) acceptSecret(c *gin.Context, got, current, previous, previousVar string) bool {
	ok, withPrevious := matchSecret(got, current, previous)
	if withPrevious && s.Log != nil {
		s.Log.Info("request authenticated with the previous secret; keep the variable until the sender uses the new one",
			"variable", previousVar, "path", c.FullPath())
	}
	return ok
}

// logRotations says at start which previous secrets are accepted, so a
// rotation left half done shows in the log.
func (s *Server) logRotations() {
	if s.Log == nil {
		return
	}
	cfg := s.Config
	for _, v := range []struct{ name, value string }{
		{"SIMPLYPRINT_WEBHOOK_SECRET_PREVIOUS", cfg.SimplyPrint.WebhookSecretPrevious},
		{"OKDESK_WEBHOOK_SECRET_PREVIOUS (or WEBHOOK_SECRET_PREVIOUS)", cfg.Ratings.PreviousSecret()},
		{"TELEGRAM_WEBHOOK_SECRET_PREVIOUS", cfg.Ratings.TelegramWebhookSecretPrevious},
		{"BITRIX_WEBHOOK_TOKEN_PREVIOUS (or WEBHOOK_TOKEN_PREVIOUS)", cfg.Orders.PreviousToken()},
		{"BITRIX_APP_TOKEN_PREVIOUS", cfg.Orders.AppTokenPrevious},
	} {
		if v.value != "" {
			s.Log.Info("secret rotation: the previous value is accepted beside the current one until this variable is removed", "variable", v.name)
		}
	}
	clients, err := cfg.Jobs.ClientSet()
	if err != nil {
		return
	}
	now := time.Now()
	for _, c := range clients {
		switch {
		case c.Previous == "":
		case c.PreviousAt(now) != "":
			s.Log.Info("secret rotation: the job client's previous secret is accepted and signs callbacks too until its until-time",
				"client_id", c.ID, "until", c.PreviousUntil)
		default:
			s.Log.Warn("secret rotation: the job client's overlap has ended; remove its JOBS_CLIENTS_PREVIOUS entry",
				"client_id", c.ID, "until", c.PreviousUntil)
		}
	}
}
