package api

import (
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
)

// ErrorBody is the one error shape of every endpoint.
type ErrorBody struct {
	Error   string `json:"error"`
	Field   string `json:"field,omitempty"`
	Details any    `json:"details,omitempty"`
}

func fail(c *gin.Context, status int, msg string) {
	c.AbortWithStatusJSON(status, ErrorBody{Error: msg})
}

func failField(c *gin.Context, status int, field, msg string) {
	c.AbortWithStatusJSON(status, ErrorBody{Error: msg, Field: field})
}

// secureEqual compares a presented secret with the configured one in
// constant time (for equal lengths; the length itself is not secret).
func secureEqual(got, want string) bool {
	return subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// requireAdmin guards admin endpoints with ADMIN_TOKEN as a Bearer token.
func (s *Server) requireAdmin(c *gin.Context) {
	want := s.Config.AdminToken
	if want == "" {
		fail(c, http.StatusForbidden, "admin endpoints are disabled: set ADMIN_TOKEN")
		return
	}
	got, found := strings.CutPrefix(c.GetHeader("Authorization"), "Bearer ")
	if !found || !secureEqual(got, want) {
		c.Header("WWW-Authenticate", `Bearer realm="hookflow"`)
		fail(c, http.StatusUnauthorized, "missing or wrong admin token (Authorization: Bearer <ADMIN_TOKEN>)")
		return
	}
	c.Next()
}
