package store

import (
	"errors"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// IsDataError says whether Postgres refused err's statement for the data it
// was given, so that the same data would be refused again however often it
// is retried: SQLSTATE class 22 (data exception: 22021 invalid byte
// sequence, 22P05 untranslatable character, 22P02 invalid text
// representation, 22003 numeric value out of range, 22008 datetime field
// overflow, ...) and class 54 (program limit exceeded: 54001 stack depth of
// a deeply nested JSON value, ...).
func IsDataError(err error) bool {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || len(pe.Code) != 5 {
		return false
	}
	class := pe.Code[:2]
	return class == "22" || class == "54"
}

// DataErrorText describes a data error for people (and for an event's
// error column): Postgres' message and its SQLSTATE.
func DataErrorText(err error) string {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return err.Error()
	}
	msg := pe.Message
	if pe.Detail != "" {
		msg += " (" + pe.Detail + ")"
	}
	return Text(msg + " [SQLSTATE " + pe.Code + "]")
}

// Text makes s storable in a text column: invalid UTF-8 becomes U+FFFD and
// NUL characters are dropped. For messages hookflow writes (errors,
// reasons), never for what a sender sent: that is refused instead.
func Text(s string) string {
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "")
}
