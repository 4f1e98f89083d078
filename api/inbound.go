package api

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"

	"github.com/gin-gonic/gin"
)

// bodyProblem is why an inbound request body is refused before it is
// parsed: answered as {"error","field"} with status, or acknowledged and
// ignored where the sender needs a 2xx (Telegram).
type bodyProblem struct {
	status int
	field  string
	msg    string
}

func (p *bodyProblem) reply(c *gin.Context) {
	c.AbortWithStatusJSON(p.status, ErrorBody{Error: p.msg, Field: p.field})
}

// readLimited reads the whole body up to BODY_LIMIT_BYTES.
func (s *Server) readLimited(c *gin.Context) ([]byte, *bodyProblem) {
	limit := s.Config.BodyLimit
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, limit))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return nil, &bodyProblem{http.StatusRequestEntityTooLarge, "", fmt.Sprintf("request body is larger than the limit of %d bytes", limit)}
	case errors.Is(err, os.ErrDeadlineExceeded):
		// HTTP_READ_TIMEOUT ran out: the client sent too slowly. The
		// server closes the connection after this answer.
		return nil, &bodyProblem{http.StatusRequestTimeout, "", "the request body was not received in time (HTTP_READ_TIMEOUT); nothing was recorded"}
	case err != nil:
		return nil, &bodyProblem{http.StatusBadRequest, "", "cannot read the request body: " + err.Error()}
	}
	return body, nil
}
