// Package generator asks an OpenAI-compatible chat completions API (OpenAI,
// Azure OpenAI's v1 surface, vLLM, Ollama, LiteLLM ...) for one description of
// a lot per language, from the lot's photos.
//
// It makes one request per Describe and never retries: the activity calling it
// does, guided by APIError.Retryable and RetryAfter.
package generator

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hookflow/hookflow/internal/integrations/apierr"
)

// DefaultModel is used when New gets an empty model.
const DefaultModel = "gpt-4o-mini"

// ErrNotConfigured is returned by Describe when no API URL is configured.
var ErrNotConfigured = errors.New("generator: not configured (no API URL)")

// ErrInvalidAnswer is wrapped by the APIError of an answer that is not a JSON
// object with a non-empty description for every requested language.
var ErrInvalidAnswer = errors.New("invalid generator answer")

// Codes carried in APIError.Code besides the API's own error.code (or
// error.type).
const (
	// CodeTransport: no answer (connection failed, timed out) or one cut
	// off while reading.
	CodeTransport = apierr.CodeTransport
	// CodeHTTP: a non-2xx answer whose body names no error code.
	CodeHTTP = apierr.CodeHTTP
	// CodeBadResponse: a 2xx answer that is not a chat completion (a
	// proxy's error page, a cut connection); retryable.
	CodeBadResponse = apierr.CodeBadResponse
	// CodeInvalidAnswer: a chat completion without a usable description
	// for every language (Err is ErrInvalidAnswer); permanent.
	CodeInvalidAnswer = "invalid_answer"
	// CodeInvalidRequest: refused before anything was sent (no lot id,
	// images or languages; bad API URL).
	CodeInvalidRequest = apierr.CodeInvalidRequest
)

// APIError is a failed Describe: an HTTP error answer, a transport failure
// (Status 0) or an unusable answer (Status 200, Code CodeInvalidAnswer or
// CodeBadResponse). It is the error type every third-party client shares;
// Vendor is "generator". Retryable: 408, 409, 429 (except
// insufficient_quota), 5xx, transport errors, garbled 2xx bodies;
// RetryAfter from retry-after-ms / Retry-After when the API sent one.
type APIError = apierr.Error

// Vendor is the generator's apierr.Vendor: the statuses below 500 worth
// another try; every 5xx is.
var Vendor = apierr.Vendor{
	Name:          "generator",
	RetryStatuses: []int{http.StatusRequestTimeout, http.StatusConflict, http.StatusTooManyRequests},
}

// IsRetryable reports whether err is worth retrying: a retryable *APIError.
// ErrNotConfigured and invalid answers are not.
func IsRetryable(err error) bool { return Vendor.IsRetryable(err) }

// Client talks to one OpenAI-compatible endpoint. Safe for concurrent use.
type Client struct {
	baseURL string
	apiKey  string
	model   string
	hc      *http.Client
}

// New returns a client for baseURL, the API root that /chat/completions is
// appended to (e.g. "https://api.openai.com/v1"). An empty baseURL gives a
// client whose Describe returns ErrNotConfigured; an empty apiKey sends no
// Authorization (local servers); an empty model means DefaultModel; a nil hc
// means http.DefaultClient.
func New(baseURL, apiKey, model string, hc *http.Client) *Client {
	if model == "" {
		model = DefaultModel
	}
	if hc == nil {
		hc = http.DefaultClient
	}
	return &Client{baseURL: strings.TrimRight(baseURL, "/"), apiKey: apiKey, model: model, hc: hc}
}

// Configured reports whether the client has an API URL.
func (c *Client) Configured() bool { return c.baseURL != "" }

// Model is the model requests name.
func (c *Client) Model() string { return c.model }

// Wire format of POST {base}/chat/completions.
type (
	chatRequest struct {
		Model          string         `json:"model"`
		Messages       []chatMessage  `json:"messages"`
		ResponseFormat responseFormat `json:"response_format"`
	}
	chatMessage struct {
		Role    string `json:"role"`
		Content any    `json:"content"` // string, or []contentPart for the user turn
	}
	contentPart struct {
		Type     string    `json:"type"` // "text" or "image_url"
		Text     string    `json:"text,omitempty"`
		ImageURL *imageURL `json:"image_url,omitempty"`
	}
	imageURL struct {
		URL string `json:"url"`
	}
	responseFormat struct {
		Type string `json:"type"`
	}
	chatResponse struct {
		Choices []struct {
			Message struct {
				Content *string `json:"content"`
				Refusal *string `json:"refusal"`
			} `json:"message"`
			FinishReason string `json:"finish_reason"`
		} `json:"choices"`
	}
	errorBody struct {
		Error struct {
			Message string `json:"message"`
			Type    string `json:"type"`
			Code    any    `json:"code"` // a string at OpenAI, a number at some compatible servers
		} `json:"error"`
	}
)

const systemPrompt = "You write concise, factual sales descriptions of auction lots from their photos. " +
	"Describe only what the photos show: the item, its condition and notable details. No prices, no contact details."

// userPrompt is the text part of the user turn. The "Lot ID:" and
// "Languages:" lines carry JSON values; generatortest reads them back.
func userPrompt(lotID string, languages []string) string {
	id, _ := json.Marshal(lotID)
	langs, _ := json.Marshal(languages)
	return "Describe the lot in the attached photos, once per language.\n" +
		"Lot ID: " + string(id) + "\n" +
		"Languages: " + string(langs) + "\n" +
		"Answer with a JSON object only: one key per language code listed above, " +
		"each value the description written in that language as plain text."
}

// Describe returns one description per language (ISO 639-1 code keys) for
// the lot's images. Every requested language is present and non-empty, or the
// error is a permanent *APIError wrapping ErrInvalidAnswer naming the missing
// ones.
func (c *Client) Describe(ctx context.Context, lotID string, images []string, languages []string) (map[string]string, error) {
	if !c.Configured() {
		return nil, ErrNotConfigured
	}
	if lotID == "" || len(images) == 0 || len(languages) == 0 {
		return nil, Vendor.Invalid("", "lot %q: need a lot id, at least one image and one language (got %d images, %d languages)", lotID, len(images), len(languages))
	}
	parts := make([]contentPart, 0, len(images)+1)
	parts = append(parts, contentPart{Type: "text", Text: userPrompt(lotID, languages)})
	for _, u := range images {
		parts = append(parts, contentPart{Type: "image_url", ImageURL: &imageURL{URL: u}})
	}
	body, err := json.Marshal(chatRequest{
		Model: c.model,
		Messages: []chatMessage{
			{Role: "system", Content: systemPrompt},
			{Role: "user", Content: parts},
		},
		ResponseFormat: responseFormat{Type: "json_object"},
	})
	if err != nil {
		e := Vendor.Invalid("", "encoding the request")
		e.Err = err
		return nil, e
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.baseURL+"/chat/completions", bytes.NewReader(body))
	if err != nil {
		e := Vendor.Invalid("", "bad API URL")
		e.Err = err
		return nil, e
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if c.apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.apiKey)
	}

	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, transportError(0, "no answer", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, transportError(resp.StatusCode, "reading answer", err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, httpError(resp, raw)
	}
	return parseAnswer(lotID, languages, raw)
}

// transportError is a failure without a (complete) answer. Unlike the other
// clients' (apierr.Vendor.Transport), a cancelled context is retryable too:
// the lot's next attempt may well get its answer.
func transportError(status int, message string, err error) *APIError {
	e := Vendor.Transport("", err)
	e.Status, e.Message, e.Retryable = status, message, true
	return e
}

func httpError(resp *http.Response, raw []byte) *APIError {
	var message, code string
	var eb errorBody
	if json.Unmarshal(raw, &eb) == nil && (eb.Error.Message != "" || eb.Error.Type != "") {
		message = eb.Error.Message
		switch c := eb.Error.Code.(type) {
		case string:
			code = c
		case float64:
			code = strconv.FormatFloat(c, 'f', -1, 64)
		}
		if code == "" {
			code = eb.Error.Type
		}
	} else {
		message = strings.TrimSpace(string(raw))
		if len(message) > 200 {
			message = message[:200] + "…"
		}
		if message == "" {
			message = http.StatusText(resp.StatusCode)
		}
	}
	e := Vendor.Status("", resp.StatusCode, message, retryAfter(resp.Header))
	if code != "" {
		e.Code = code
	}
	// OpenAI answers an exhausted balance with 429 too; waiting does not refill it.
	if resp.StatusCode == http.StatusTooManyRequests && code == "insufficient_quota" {
		e.Retryable = false
	}
	if !e.Retryable {
		e.RetryAfter = 0
	}
	return e
}

// retryAfter reads OpenAI's retry-after-ms, then the standard Retry-After
// (apierr.ParseRetryAfter: seconds or an HTTP date), then Retry-After as
// the fractional seconds some compatible servers send. 0 when none is
// usable.
func retryAfter(h http.Header) time.Duration {
	if d, ok := floatDuration(h.Get("retry-after-ms"), time.Millisecond); ok {
		return d
	}
	v := h.Get("Retry-After")
	if d, ok := apierr.ParseRetryAfter(v, time.Now()); ok {
		return d
	}
	d, _ := floatDuration(v, time.Second)
	return d
}

// floatDuration reads v as a positive decimal number of units, capped
// where a Duration ends; ok is false for anything else.
func floatDuration(v string, unit time.Duration) (time.Duration, bool) {
	f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil || !(f > 0) {
		return 0, false
	}
	if d := f * float64(unit); d < float64(math.MaxInt64) {
		return time.Duration(d), true
	}
	return time.Duration(math.MaxInt64), true
}

func parseAnswer(lotID string, languages []string, raw []byte) (map[string]string, error) {
	var cr chatResponse
	if err := json.Unmarshal(raw, &cr); err != nil {
		// Not even the envelope: a proxy's error page, a cut connection.
		return nil, &APIError{Vendor: Vendor.Name, Status: http.StatusOK, Code: CodeBadResponse, Message: "answer is not a chat completion", Retryable: true, Err: err}
	}
	invalid := func(format string, args ...any) error {
		return &APIError{Vendor: Vendor.Name, Status: http.StatusOK, Code: CodeInvalidAnswer,
			Err: fmt.Errorf("%w for lot %q: %s", ErrInvalidAnswer, lotID, fmt.Sprintf(format, args...))}
	}
	if len(cr.Choices) == 0 {
		return nil, invalid("no choices")
	}
	ch := cr.Choices[0]
	if ch.Message.Content == nil {
		if ch.Message.Refusal != nil && *ch.Message.Refusal != "" {
			return nil, invalid("the model refused: %s", *ch.Message.Refusal)
		}
		return nil, invalid("empty message (finish_reason %q)", ch.FinishReason)
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal([]byte(stripFence(*ch.Message.Content)), &obj); err != nil || obj == nil {
		hint := ""
		if ch.FinishReason == "length" {
			hint = " (cut off: finish_reason \"length\")"
		}
		return nil, invalid("content is not a JSON object%s", hint)
	}
	out := make(map[string]string, len(languages))
	var missing []string
	for _, lang := range languages {
		var text string
		if v, ok := obj[lang]; ok && json.Unmarshal(v, &text) == nil && strings.TrimSpace(text) != "" {
			out[lang] = strings.TrimSpace(text)
			continue
		}
		missing = append(missing, lang)
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return nil, invalid("missing or empty languages %s", strings.Join(missing, ", "))
	}
	return out, nil
}

// stripFence removes a ```json ... ``` wrapper some models put around JSON
// even in JSON mode.
func stripFence(s string) string {
	t := strings.TrimSpace(s)
	if !strings.HasPrefix(t, "```") {
		return s
	}
	t = strings.TrimPrefix(t, "```")
	if i := strings.IndexByte(t, '\n'); i >= 0 {
		t = t[i+1:]
	}
	return strings.TrimSuffix(strings.TrimSpace(t), "```")
}
