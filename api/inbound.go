package api

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/hookflow/hookflow/internal/inbound"
	"github.com/hookflow/hookflow/internal/store"
)

// bodyProblem is why an inbound request body is refused before it is
// parsed: answered as {"error","field"} with status, or acknowledged and
// ignored where the sender needs a 2xx (Telegram).
type bodyProblem struct {
	status int
	field  string
	msg    string
	// transient: the body did not arrive (too slow, connection broken);
	// the same request sent again may well be accepted.
	transient bool
}

func refuse(status int, field, msg string) *bodyProblem {
	return &bodyProblem{status: status, field: field, msg: msg}
}

func (p *bodyProblem) reply(c *gin.Context) {
	c.AbortWithStatusJSON(p.status, ErrorBody{Error: p.msg, Field: p.field})
}

// readLimited reads the whole body up to BODY_LIMIT_BYTES.
func (s *Server) readLimited(c *gin.Context) ([]byte, *bodyProblem) {
	limit := s.Config.BodyLimit
	// The announced length sizes the first buffer only up to presizeLimit:
	// a client that announces a large body and sends it slowly must not
	// make the server hold that much memory before the bytes arrive.
	body, err := readAllSized(http.MaxBytesReader(c.Writer, c.Request.Body, limit), min(c.Request.ContentLength, limit, presizeLimit))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return nil, &bodyProblem{status: http.StatusRequestEntityTooLarge, msg: fmt.Sprintf("request body is larger than the limit of %d bytes", limit)}
	case errors.Is(err, os.ErrDeadlineExceeded):
		// HTTP_READ_TIMEOUT ran out: the client sent too slowly. The
		// server closes the connection after this answer.
		return nil, &bodyProblem{status: http.StatusRequestTimeout, msg: "the request body was not received in time (HTTP_READ_TIMEOUT); nothing was recorded", transient: true}
	case err != nil:
		return nil, &bodyProblem{status: http.StatusBadRequest, msg: "cannot read the request body: " + err.Error(), transient: true}
	}
	return body, nil
}

// presizeLimit bounds the buffer a request's Content-Length alone makes
// readLimited allocate; webhook bodies are nearly all smaller.
const presizeLimit = 64 << 10

// readAllSized is io.ReadAll with a first buffer of size bytes (the
// request's Content-Length, when it has one): a webhook body is then read
// into one allocation instead of a doubling series of them.
func readAllSized(r io.Reader, size int64) ([]byte, error) {
	if size <= 0 {
		return io.ReadAll(r)
	}
	b := make([]byte, 0, size+1) // +1: room to see io.EOF without growing
	for {
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err != nil {
			if err == io.EOF {
				err = nil
			}
			return b, err
		}
		if len(b) == cap(b) { // longer than announced: grow as io.ReadAll does
			b = append(b, 0)[:len(b)]
		}
	}
}

// readJSON reads an inbound JSON body and refuses, with a 4xx naming the
// problem, what can never be accepted: see inboundJSON.
func (s *Server) readJSON(c *gin.Context) ([]byte, bool) {
	body, _, ok := s.readScannedJSON(c)
	return body, ok
}

// readScannedJSON is readJSON that also says whether the body is
// well-formed JSON (inbound.ScanJSON), for a parser that can then skip its
// own check.
func (s *Server) readScannedJSON(c *gin.Context) (body []byte, wellFormed, ok bool) {
	body, wellFormed, p := s.scanInboundJSON(c)
	if p != nil {
		p.reply(c)
		return nil, false, false
	}
	return body, wellFormed, true
}

// inboundJSON reads a webhook or submission body that must be JSON:
//   - Content-Type: absent (the body decides), application/json, text/json,
//     application/*+json, or text/plain (some senders label JSON so); any
//     other type, or a charset other than UTF-8, is 415;
//   - the body: at most BODY_LIMIT_BYTES (413), sent within
//     HTTP_READ_TIMEOUT (408), not empty (400), and what inbound.CheckJSON
//     requires (400): UTF-8, no NUL, nesting, no repeated key.
//
// Whether it is the JSON the endpoint expects is its parser's to say.
func (s *Server) inboundJSON(c *gin.Context) ([]byte, *bodyProblem) {
	body, _, p := s.scanInboundJSON(c)
	return body, p
}

func (s *Server) scanInboundJSON(c *gin.Context) (body []byte, wellFormed bool, p *bodyProblem) {
	if body, p = s.readTyped(c, "application/json", isJSONType, "a JSON object"); p != nil {
		return nil, false, p
	}
	wellFormed, err := inbound.ScanJSON(body)
	if err != nil {
		return nil, false, refuse(http.StatusBadRequest, err.Field, err.Error())
	}
	return body, wellFormed, nil
}

// readTyped reads a body whose Content-Type ok accepts (see
// checkContentType) within the size and time limits, and refuses an empty
// one, asking for what.
func (s *Server) readTyped(c *gin.Context, want string, ok func(mediaType string) bool, what string) ([]byte, *bodyProblem) {
	if p := checkContentType(c.GetHeader("Content-Type"), want, ok); p != nil {
		return nil, p
	}
	body, p := s.readLimited(c)
	if p != nil {
		return nil, p
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, refuse(http.StatusBadRequest, "body", "the body is empty: send "+what)
	}
	return body, nil
}

func isJSONType(mt string) bool {
	return mt == "application/json" || mt == "text/json" || mt == "text/plain" ||
		(strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"))
}

func isFormType(mt string) bool { return mt == "application/x-www-form-urlencoded" }

// checkContentType accepts an absent Content-Type or one ok says yes to,
// with no charset or UTF-8; want names the type to send instead.
func checkContentType(header, want string, ok func(mediaType string) bool) *bodyProblem {
	if strings.TrimSpace(header) == "" || header == want && ok(want) {
		return nil // (the plain type, as nearly every sender sends it, needs no parsing)
	}
	mt, params, err := mime.ParseMediaType(header)
	if err != nil {
		return refuse(http.StatusUnsupportedMediaType, "Content-Type", fmt.Sprintf("Content-Type %s cannot be read (%v): send %s", strconv.Quote(clipText(header, 80)), err, want))
	}
	if !ok(mt) {
		return refuse(http.StatusUnsupportedMediaType, "Content-Type", fmt.Sprintf("Content-Type %s is not accepted here: send %s", mt, want))
	}
	if cs := strings.ToLower(params["charset"]); cs != "" && cs != "utf-8" && cs != "utf8" {
		return refuse(http.StatusUnsupportedMediaType, "Content-Type", fmt.Sprintf("charset %s is not accepted: send the body in UTF-8", strconv.Quote(clipText(cs, 40))))
	}
	return nil
}

// inboundForm reads an application/x-www-form-urlencoded body (Bitrix24
// events): the type (415), size (413), time (408), and every key and value
// UTF-8 without NUL once decoded (400, naming the key).
func (s *Server) inboundForm(c *gin.Context) (url.Values, *bodyProblem) {
	body, p := s.readTyped(c, "application/x-www-form-urlencoded", isFormType, "application/x-www-form-urlencoded fields")
	if p != nil {
		return nil, p
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, refuse(http.StatusBadRequest, "body", "body is not application/x-www-form-urlencoded: "+err.Error())
	}
	for key, values := range form {
		if !utf8.ValidString(key) || strings.IndexByte(key, 0) >= 0 {
			return nil, refuse(http.StatusBadRequest, "body", "a field name is not UTF-8 text without NUL: "+strconv.QuoteToASCII(clipText(key, 60)))
		}
		for _, v := range values {
			switch {
			case !utf8.ValidString(v):
				return nil, refuse(http.StatusBadRequest, key, key+" is not valid UTF-8")
			case strings.IndexByte(v, 0) >= 0:
				return nil, refuse(http.StatusBadRequest, key, key+" contains a NUL character, which cannot be stored")
			}
		}
	}
	return form, nil
}

// recordFailed answers an event Pipeline.Accept could not record: 400 when
// Postgres refused its data (a retry would be refused the same way), 503
// (retry) otherwise.
func (s *Server) recordFailed(c *gin.Context, what string, err error, logArgs ...any) {
	if store.IsDataError(err) {
		s.Log.Warn(what+": the data was refused", append(logArgs, "error", err)...)
		failField(c, http.StatusBadRequest, "body", "the event cannot be stored as sent: "+store.DataErrorText(err))
		return
	}
	s.Log.Error(what, append(logArgs, "error", err)...)
	fail(c, http.StatusServiceUnavailable, "the event could not be recorded; please retry")
}

func clipText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}
