package api

import (
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
