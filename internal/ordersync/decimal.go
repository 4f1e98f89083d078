package ordersync

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"regexp"
	"strconv"
	"strings"
)

// Decimal is a fixed-point number with four fractional digits, the precision
// of Bitrix money and quantity columns (decimal(18,4)). 12500.5 is
// Decimal(125005000). The zero value is 0.
//
// It marshals to a JSON number in canonical form (no trailing zeros:
// 4627.3, 980, -0.25) and unmarshals from a JSON number or a string.
type Decimal int64

const decimalScale = 10000

// maxDecimalText bounds the input ParseDecimal accepts.
const maxDecimalText = 64

var decimalRe = regexp.MustCompile(`^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d{1,2})?$`)

var errDecimalRange = errors.New("out of range")

// ParseDecimal parses a decimal number as Bitrix and PHP write it: "4627.3000",
// "980", "-0.5", "1.5E+3", "12 500,50" (spaces and a single decimal comma
// are accepted). More than four fractional digits are rounded half away from
// zero.
func ParseDecimal(s string) (Decimal, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return 0, errors.New("empty number")
	}
	if len(t) > maxDecimalText {
		return 0, fmt.Errorf("number longer than %d characters", maxDecimalText)
	}
	t = strings.NewReplacer(" ", "", "\u00a0", "", "\u202f", "").Replace(t)
	if !strings.Contains(t, ".") && strings.Count(t, ",") == 1 {
		t = strings.Replace(t, ",", ".", 1)
	}
	if !decimalRe.MatchString(t) {
		return 0, errors.New("not a decimal number")
	}
	r, ok := new(big.Rat).SetString(t)
	if !ok {
		return 0, errors.New("not a decimal number")
	}
	r.Mul(r, big.NewRat(decimalScale, 1))
	q, rem := new(big.Int).QuoRem(r.Num(), r.Denom(), new(big.Int))
	// Round half away from zero: |rem|*2 >= denom.
	rem.Abs(rem).Lsh(rem, 1)
	if rem.Cmp(r.Denom()) >= 0 {
		if r.Sign() < 0 {
			q.Sub(q, big.NewInt(1))
		} else {
			q.Add(q, big.NewInt(1))
		}
	}
	if !q.IsInt64() || q.Int64() == math.MinInt64 {
		return 0, errDecimalRange
	}
	return Decimal(q.Int64()), nil
}

// DecimalFromInt returns n as a Decimal (n units, no fraction). It
// saturates at the range limits.
func DecimalFromInt(n int64) Decimal {
	switch {
	case n > math.MaxInt64/decimalScale:
		return Decimal(math.MaxInt64)
	case n < -(math.MaxInt64 / decimalScale):
		return Decimal(-math.MaxInt64)
	}
	return Decimal(n * decimalScale)
}

// String returns the canonical form: no exponent, no trailing fractional
// zeros ("4627.3", "980", "-0.0001").
func (d Decimal) String() string {
	neg := d < 0
	u := uint64(d)
	if neg {
		u = uint64(-(d + 1)) + 1
	}
	ip, fp := u/decimalScale, u%decimalScale
	s := strconv.FormatUint(ip, 10)
	if fp != 0 {
		f := strings.TrimRight(fmt.Sprintf("%04d", fp), "0")
		s += "." + f
	}
	if neg {
		s = "-" + s
	}
	return s
}

// Float64 returns d as a float64 (for display and metrics, not arithmetic).
func (d Decimal) Float64() float64 { return float64(d) / decimalScale }

// MarshalJSON writes d as a JSON number in canonical form.
func (d Decimal) MarshalJSON() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalJSON reads a JSON number, a numeric string or null (0).
func (d *Decimal) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, []byte("null")) {
		*d = 0
		return nil
	}
	s := string(b)
	if len(b) > 0 && b[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
	}
	v, err := ParseDecimal(s)
	if err != nil {
		return fmt.Errorf("decimal %q: %w", truncate(s, 40), err)
	}
	*d = v
	return nil
}
