package api

import (
	"errors"
	"fmt"
	"io"
	"net/http"

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

// readBody reads the whole body up to the configured limit; past it the
// request gets 413 and ok=false.
func (s *Server) readBody(c *gin.Context) (body []byte, ok bool) {
	limit := s.Config.BodyLimit
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, limit))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		fail(c, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body is larger than the limit of %d bytes", limit))
		return nil, false
	case err != nil:
		fail(c, http.StatusBadRequest, "cannot read the request body: "+err.Error())
		return nil, false
	}
	return body, true
}

