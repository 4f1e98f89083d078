package api

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
)

// errBadQuery tells a handler that the 400 has been written.
var errBadQuery = errors.New("bad query")

// queryTime parses an RFC 3339 query parameter (zero when absent).
func queryTime(c *gin.Context, name string) (time.Time, error) {
	v := c.Query(name)
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		failField(c, http.StatusBadRequest, name, fmt.Sprintf("%s must be an RFC 3339 time such as 2025-01-09T12:00:00Z, got %q", name, v))
		return time.Time{}, errBadQuery
	}
	return t, nil
}

// queryTimeRange parses since and until; since must be before until.
func queryTimeRange(c *gin.Context) (since, until time.Time, err error) {
	if since, err = queryTime(c, "since"); err != nil {
		return
	}
	if until, err = queryTime(c, "until"); err != nil {
		return
	}
	if !since.IsZero() && !until.IsZero() && !since.Before(until) {
		failField(c, http.StatusBadRequest, "until", "until must be later than since (the range includes since and excludes until)")
		return since, until, errBadQuery
	}
	return since, until, nil
}

// orZero is what p points to, or T's zero value when p is nil (an optional
// field of a request body).
func orZero[T any](p *T) T {
	if p == nil {
		var zero T
		return zero
	}
	return *p
}

// A cursor is the position of the last item of a page in the list's
// order, (time, id), as opaque text: the next page starts after it, so a
// deep page costs what the first does (OFFSET would read every row before
// it). Microseconds are Postgres' precision.
func encodeCursor(at time.Time, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(at.UnixMicro(), 10) + "," + id))
}

// queryCursor decodes the cursor parameter (ok with a zero time when absent).
func queryCursor(c *gin.Context) (at time.Time, id string, err error) {
	v := c.Query("cursor")
	if v == "" {
		return time.Time{}, "", nil
	}
	raw, decodeErr := base64.RawURLEncoding.DecodeString(v)
	micros, id, found := strings.Cut(string(raw), ",")
	n, parseErr := strconv.ParseInt(micros, 10, 64)
	if decodeErr != nil || !found || parseErr != nil || id == "" {
		failField(c, http.StatusBadRequest, "cursor", "cursor is not one this API returned (pass next_cursor or X-Next-Cursor of the previous page as is)")
		return time.Time{}, "", errBadQuery
	}
	return time.UnixMicro(n), id, nil
}

// queryIDCursor decodes the cursor of a list whose items have a numeric id
// into the list filter's cursor, made by cursor (nil when absent).
func queryIDCursor[C any](c *gin.Context, cursor func(at time.Time, id int64) *C) (*C, error) {
	at, raw, err := queryCursor(c)
	if err != nil || raw == "" {
		return nil, err
	}
	id, parseErr := strconv.ParseInt(raw, 10, 64)
	if parseErr != nil || id <= 0 {
		failField(c, http.StatusBadRequest, "cursor", "cursor is not one of this list (pass X-Next-Cursor of the previous page as is)")
		return nil, errBadQuery
	}
	return cursor(at, id), nil
}

// nextIDCursor puts the cursor of the page after the item at (at, id) of
// a list with numeric ids in X-Next-Cursor, and returns it.
func nextIDCursor(c *gin.Context, at time.Time, id int64) string {
	next := encodeCursor(at, strconv.FormatInt(id, 10))
	c.Header("X-Next-Cursor", next)
	return next
}
