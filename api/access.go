package api

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/hookflow/hookflow/internal/auth"
)

// Access, one level per route (README, section Access; TestRouteAccess walks
// every route): webhooks and job submissions carry their own credentials
// (the vendor's token or secret, the client's signature); job status by id,
// health and metrics are open; everything that returns stored data needs a
// read or admin token (requireRead), every action an admin token
// (requireAdmin).

const bearerChallenge = `Bearer realm="hookflow"`

// requireRead lets in a read or admin token: a Bearer header or the ops
// console's session cookie (the console links to the CSV export, and a
// browser's EventSource cannot send headers). The cookie is SameSite=Strict,
// and read endpoints change nothing.
func (s *Server) requireRead(c *gin.Context) { s.authorize(c, auth.Read) }

// requireAdmin lets in an admin token, as a Bearer header only: actions
// are not taken on the strength of a cookie. Every action is logged at info
// level under the token's name and written to the audit log (audit.go):
// by its handler in the action's transaction (markAudited), else here after
// it, with its status; a read-only token's refusal is audited as forbidden.
func (s *Server) requireAdmin(c *gin.Context) {
	if !s.authorize(c, auth.Admin) {
		if id, known := auth.Who(c); known && c.Writer.Status() == http.StatusForbidden {
			s.recordAfter(c, id.Name)
		}
		return
	}
	c.Next()
	id, _ := auth.Who(c)
	if _, done := c.Get(auditedKey); !done {
		s.recordAfter(c, id.Name)
	}
	if s.Log != nil {
		s.Log.Info("admin action", "method", c.Request.Method, "path", c.Request.URL.Path,
			"status", c.Writer.Status(), "token", id.Name)
	}
}

// monitoring guards the seed's monitoring calls, which PUBLIC_MONITORING
// opens: then a known token is still recorded, and anything else passes.
func (s *Server) monitoring(c *gin.Context) {
	if !s.Config.PublicMonitoring {
		s.authorize(c, auth.Read)
		return
	}
	if id, res := s.tokens.FromRequest(c.Request, true); res == auth.Known {
		auth.Remember(c, id)
	}
}

// authorize checks the request's token against need: true lets it through
// (the identity remembered for logs, traces and handlers); false has
// answered 401 or 403 and aborted.
func (s *Server) authorize(c *gin.Context, need auth.Level) bool {
	if s.tokens.Empty() || (need == auth.Admin && !s.tokens.HasAdmin()) {
		msg := "endpoints that return stored data are disabled: set READ_TOKENS, ADMIN_TOKENS or ADMIN_TOKEN"
		if need == auth.Admin {
			msg = "admin endpoints are disabled: set ADMIN_TOKEN or ADMIN_TOKENS"
		}
		fail(c, http.StatusForbidden, msg)
		return false
	}
	id, res := s.tokens.FromRequest(c.Request, need == auth.Read)
	switch {
	case res == auth.Missing:
		c.Header("WWW-Authenticate", bearerChallenge)
		fail(c, http.StatusUnauthorized, "this endpoint needs "+tokenKinds(need)+": send Authorization: Bearer <token>")
	case res == auth.Unknown:
		c.Header("WWW-Authenticate", bearerChallenge+`, error="invalid_token"`)
		msg := "unknown token: it is none of ADMIN_TOKEN, ADMIN_TOKENS and READ_TOKENS"
		if h := c.GetHeader("Authorization"); h != "" && !strings.HasPrefix(strings.ToLower(h), "bearer ") {
			msg = "the Authorization header must be Bearer <token>"
		} else if h == "" {
			msg = "the session has expired, or its token changed: log in again at /ops/login, or send Authorization: Bearer <token>"
		}
		fail(c, http.StatusUnauthorized, msg)
	case !id.Can(need):
		auth.Remember(c, id) // the refusal is logged under the token's name
		c.Header("WWW-Authenticate", bearerChallenge+`, error="insufficient_scope", scope="admin"`)
		fail(c, http.StatusForbidden, "this action needs an admin token (ADMIN_TOKEN or ADMIN_TOKENS); the token "+
			id.Name+" is "+id.Level.String()+"-only")
	default:
		auth.Remember(c, id)
		return true
	}
	return false
}

func tokenKinds(need auth.Level) string {
	if need == auth.Admin {
		return "an admin token (ADMIN_TOKEN or ADMIN_TOKENS)"
	}
	return "a read or admin token (READ_TOKENS, ADMIN_TOKENS or ADMIN_TOKEN)"
}
