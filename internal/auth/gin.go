package auth

import (
	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// ContextKey is the gin context key of the caller's Identity.
const ContextKey = "hookflow.token"

// SpanAttribute is the span attribute that carries the token's name.
const SpanAttribute = "hookflow.token_name"

// Remember records who is calling: in the gin context (for handlers and the
// access log) and on the request's span. Only the name and level are
// recorded, never the token.
func Remember(c *gin.Context, id Identity) {
	c.Set(ContextKey, id)
	trace.SpanFromContext(c.Request.Context()).SetAttributes(
		attribute.String(SpanAttribute, id.Name), attribute.String("hookflow.token_level", id.Level.String()))
}

// Who returns the identity Remember recorded for this request.
func Who(c *gin.Context) (Identity, bool) {
	v, ok := c.Get(ContextKey)
	if !ok {
		return Identity{}, false
	}
	id, ok := v.(Identity)
	return id, ok
}
