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
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// DefaultModel is used when New gets an empty model.
const DefaultModel = "gpt-4o-mini"

// ErrNotConfigured is returned by Describe when no API URL is configured.
var ErrNotConfigured = errors.New("generator: not configured (no API URL)")

// ErrInvalidAnswer is wrapped by the APIError of an answer that is not a JSON
// object with a non-empty description for every requested language.
var ErrInvalidAnswer = errors.New("invalid generator answer")

// APIError is a failed Describe: an HTTP error answer, a transport failure
// (Status 0) or an unusable answer (Status 200, Code "invalid_answer").
type APIError struct {
	Status     int           // HTTP status; 0 when no response arrived
	Code       string        // the API's error.code (or error.type), or ours: "transport", "invalid_answer", "invalid_input"
	Message    string        // the API's error.message or our explanation
	Retryable  bool          // 408, 409, 429 (except insufficient_quota), 5xx, transport errors
	RetryAfter time.Duration // from retry-after-ms / Retry-After when the API sent one
	Err        error         // underlying error (transport error, ErrInvalidAnswer), if any
}

func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString("generator: ")
	if e.Status != 0 {
		fmt.Fprintf(&b, "HTTP %d ", e.Status)
	}
	if e.Code != "" {
		b.WriteString(e.Code + ": ")
	}
	b.WriteString(e.Message)
	if e.Retryable {
		b.WriteString(" (retryable")
		if e.RetryAfter > 0 {
			b.WriteString(", retry after " + e.RetryAfter.String())
		}
		b.WriteString(")")
	}
	return b.String()
}

func (e *APIError) Unwrap() error { return e.Err }

// IsRetryable reports whether err is worth retrying: a retryable *APIError.
// ErrNotConfigured and invalid answers are not.
func IsRetryable(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Retryable
}

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
		return nil, &APIError{Code: "invalid_input", Message: fmt.Sprintf("lot %q: need a lot id, at least one image and one language (got %d images, %d languages)", lotID, len(images), len(languages))}
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
		return nil, &APIError{Code: "invalid_input", Message: err.Error(), Err: err}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.baseURL+"/chat/completions", bytes.NewReader(body))
	if err != nil {
		return nil, &APIError{Code: "invalid_input", Message: "bad API URL: " + err.Error(), Err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if c.apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.apiKey)
	}

	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, &APIError{Code: "transport", Message: err.Error(), Retryable: true, Err: err}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, &APIError{Status: resp.StatusCode, Code: "transport", Message: "reading answer: " + err.Error(), Retryable: true, Err: err}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, httpError(resp, raw)
	}
	return parseAnswer(lotID, languages, raw)
}

func httpError(resp *http.Response, raw []byte) *APIError {
	e := &APIError{Status: resp.StatusCode}
	var eb errorBody
	if json.Unmarshal(raw, &eb) == nil && (eb.Error.Message != "" || eb.Error.Type != "") {
		e.Message = eb.Error.Message
		switch code := eb.Error.Code.(type) {
		case string:
			e.Code = code
		case float64:
			e.Code = strconv.FormatFloat(code, 'f', -1, 64)
		}
		if e.Code == "" {
			e.Code = eb.Error.Type
		}
	} else {
		e.Message = strings.TrimSpace(string(raw))
		if len(e.Message) > 200 {
			e.Message = e.Message[:200] + "…"
		}
		if e.Message == "" {
			e.Message = http.StatusText(resp.StatusCode)
		}
	}
	s := resp.StatusCode
	e.Retryable = s == http.StatusRequestTimeout || s == http.StatusConflict || s == http.StatusTooManyRequests || s >= 500
	// OpenAI answers an exhausted balance with 429 too; waiting does not refill it.
	if s == http.StatusTooManyRequests && e.Code == "insufficient_quota" {
		e.Retryable = false
	}
	if e.Retryable {
		e.RetryAfter = retryAfter(resp.Header)
	}
	return e
}

// retryAfter reads OpenAI's retry-after-ms, then the standard Retry-After
// (seconds, possibly fractional at some servers, or an HTTP date).
func retryAfter(h http.Header) time.Duration {
	if ms, err := strconv.ParseFloat(h.Get("retry-after-ms"), 64); err == nil && ms > 0 {
		return time.Duration(ms * float64(time.Millisecond))
	}
	v := strings.TrimSpace(h.Get("Retry-After"))
	if s, err := strconv.ParseFloat(v, 64); err == nil && s > 0 {
		return time.Duration(s * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := time.Until(t); d > 0 {
			return d
		}
	}
	return 0
}

func parseAnswer(lotID string, languages []string, raw []byte) (map[string]string, error) {
	var cr chatResponse
	if err := json.Unmarshal(raw, &cr); err != nil {
		// Not even the envelope: a proxy's error page, a cut connection.
		return nil, &APIError{Status: http.StatusOK, Code: "bad_envelope", Message: "answer is not a chat completion: " + err.Error(), Retryable: true, Err: err}
	}
	invalid := func(format string, args ...any) error {
		return &APIError{Status: http.StatusOK, Code: "invalid_answer", Message: fmt.Sprintf("%v for lot %q: ", ErrInvalidAnswer, lotID) + fmt.Sprintf(format, args...), Err: ErrInvalidAnswer}
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
