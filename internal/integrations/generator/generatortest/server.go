// Package generatortest is a fake OpenAI-compatible chat completions server
// for the generator client: it checks each request's shape the way the real
// API would reject it, answers deterministic descriptions derived from the
// request (Description), and fails, stalls or drops a language per lot on
// demand. Safe for concurrent use; every request is recorded.
package generatortest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
)

// Description is what the fake answers for one language of a lot with
// nImages images, e.g. "[ru] lot car_001: 2 images".
func Description(lang, lotID string, nImages int) string {
	return fmt.Sprintf("[%s] lot %s: %d images", lang, lotID, nImages)
}

// Failure is an error answer.
type Failure struct {
	Status     int
	Code       string // error.code; default by status (invalid_api_key, rate_limit_exceeded, server_error ...)
	RetryAfter string // Retry-After header value, if any
}

// Request is one request the fake received.
type Request struct {
	Method, Path  string
	Authorization string
	Body          []byte
	Model         string
	LotID         string    // from the prompt's "Lot ID:" line
	Languages     []string  // from the prompt's "Languages:" line
	Images        []string  // image_url parts, in order
	ShapeErr      string    // why the request was rejected as malformed, if it was
	Status        int       // status answered; 0 when stalled
	At            time.Time // when the request arrived (its headers)
}

type lotFailure struct {
	f     Failure
	times int // remaining; <0 forever
}

// Server is the fake.
type Server struct {
	srv    *httptest.Server
	apiKey string
	model  string

	closing   chan struct{}
	closeOnce sync.Once

	mu       sync.Mutex
	requests []Request
	next     []Failure
	lotFail  map[string]*lotFailure
	stall    map[string]bool
	omit     map[string]map[string]bool
}

// New starts a fake accepting apiKey (as "Bearer <apiKey>") and model.
func New(apiKey, model string) *Server {
	s := &Server{
		apiKey:  apiKey,
		model:   model,
		closing: make(chan struct{}),
		lotFail: map[string]*lotFailure{},
		stall:   map[string]bool{},
		omit:    map[string]map[string]bool{},
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// URL is the API base to give generator.New ("http://127.0.0.1:port/v1").
func (s *Server) URL() string { return s.srv.URL + "/v1" }

// Client returns an http.Client for the fake.
func (s *Server) Client() *http.Client { return s.srv.Client() }

// Close releases stalled requests and stops the server.
func (s *Server) Close() {
	s.closeOnce.Do(func() { close(s.closing) })
	s.srv.Close()
}

// FailNext answers the next n requests, whatever the lot, with status.
func (s *Server) FailNext(n, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.next = append(s.next, Failure{Status: status})
	}
}

// FailLot answers requests for lotID with status, times times (<=0: always).
func (s *Server) FailLot(lotID string, status, times int) {
	s.FailLotWith(lotID, Failure{Status: status}, times)
}

// FailLotWith is FailLot with a chosen error code and Retry-After.
func (s *Server) FailLotWith(lotID string, f Failure, times int) {
	if times <= 0 {
		times = -1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lotFail[lotID] = &lotFailure{f: f, times: times}
}

// StallLot holds requests for lotID until the client gives up or the fake closes.
func (s *Server) StallLot(lotID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stall[lotID] = true
}

// OmitLanguage leaves lang out of the answers for lotID.
func (s *Server) OmitLanguage(lotID, lang string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.omit[lotID] == nil {
		s.omit[lotID] = map[string]bool{}
	}
	s.omit[lotID][lang] = true
}

// Reset drops every scripted failure, stall and omission (not the record).
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.next = nil
	s.lotFail = map[string]*lotFailure{}
	s.stall = map[string]bool{}
	s.omit = map[string]map[string]bool{}
}

// Requests returns a copy of every request received, in arrival order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// RequestsFor returns the requests for one lot.
func (s *Server) RequestsFor(lotID string) []Request {
	return slices.DeleteFunc(s.Requests(), func(r Request) bool { return r.LotID != lotID })
}

func (s *Server) record(r Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, r)
}

// The wire format the fake reads (what the API accepts).
type (
	chatRequest struct {
		Model          string        `json:"model"`
		Messages       []chatMessage `json:"messages"`
		ResponseFormat *struct {
			Type string `json:"type"`
		} `json:"response_format"`
	}
	chatMessage struct {
		Role    string          `json:"role"`
		Content json.RawMessage `json:"content"`
	}
	contentPart struct {
		Type     string `json:"type"`
		Text     string `json:"text"`
		ImageURL *struct {
			URL string `json:"url"`
		} `json:"image_url"`
	}
)

var (
	lotIDLine     = regexp.MustCompile(`(?m)^Lot ID: (".*")$`)
	languagesLine = regexp.MustCompile(`(?m)^Languages: (\[.*\])$`)
)

func (s *Server) serve(w http.ResponseWriter, hr *http.Request) {
	at := time.Now()
	body, _ := io.ReadAll(hr.Body)
	r := Request{Method: hr.Method, Path: hr.URL.Path, Authorization: hr.Header.Get("Authorization"), Body: body, At: at}

	if hr.Method != http.MethodPost || hr.URL.Path != "/v1/chat/completions" {
		r.ShapeErr = fmt.Sprintf("unknown endpoint %s %s", hr.Method, hr.URL.Path)
		s.answerError(w, &r, Failure{Status: http.StatusNotFound, Code: "unknown_url"}, r.ShapeErr)
		return
	}
	if r.Authorization != "Bearer "+s.apiKey {
		r.ShapeErr = "bad or missing bearer token"
		s.answerError(w, &r, Failure{Status: http.StatusUnauthorized, Code: "invalid_api_key"}, "Incorrect API key provided.")
		return
	}
	if msg := parseRequest(body, &r); msg != "" {
		r.ShapeErr = msg
		s.answerError(w, &r, Failure{Status: http.StatusBadRequest, Code: "invalid_request_error"}, msg)
		return
	}
	if r.Model != s.model {
		r.ShapeErr = fmt.Sprintf("model %q, fake serves %q", r.Model, s.model)
		s.answerError(w, &r, Failure{Status: http.StatusNotFound, Code: "model_not_found"}, fmt.Sprintf("The model `%s` does not exist or you do not have access to it.", r.Model))
		return
	}

	f, stall, omit := s.script(r.LotID)
	switch {
	case stall:
		s.record(r)
		select {
		case <-hr.Context().Done():
		case <-s.closing:
		}
		return
	case f != nil:
		s.answerError(w, &r, *f, "scripted failure")
		return
	}

	descs := map[string]string{}
	for _, lang := range r.Languages {
		if !omit[lang] {
			descs[lang] = Description(lang, r.LotID, len(r.Images))
		}
	}
	content, _ := json.Marshal(descs)
	r.Status = http.StatusOK
	s.record(r)
	writeJSON(w, http.StatusOK, map[string]any{
		"id":      fmt.Sprintf("chatcmpl-fake-%d", len(s.Requests())),
		"object":  "chat.completion",
		"created": time.Now().Unix(),
		"model":   s.model,
		"choices": []any{map[string]any{
			"index":         0,
			"message":       map[string]any{"role": "assistant", "content": string(content), "refusal": nil},
			"finish_reason": "stop",
		}},
		"usage": map[string]int{"prompt_tokens": 100 * len(r.Images), "completion_tokens": 20 * len(descs), "total_tokens": 100*len(r.Images) + 20*len(descs)},
	})
}

// script consumes the failure that applies to this request, if any.
func (s *Server) script(lotID string) (*Failure, bool, map[string]bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.next) > 0 {
		f := s.next[0]
		s.next = s.next[1:]
		return &f, false, nil
	}
	if s.stall[lotID] {
		return nil, true, nil
	}
	if lf := s.lotFail[lotID]; lf != nil && lf.times != 0 {
		if lf.times > 0 {
			lf.times--
		}
		f := lf.f
		return &f, false, nil
	}
	omit := map[string]bool{}
	for k, v := range s.omit[lotID] {
		omit[k] = v
	}
	return nil, false, omit
}

// parseRequest checks what the real API checks (and what the generator must
// send) and fills r; it returns why the request is malformed, or "".
func parseRequest(body []byte, r *Request) string {
	var cr chatRequest
	if err := json.Unmarshal(body, &cr); err != nil {
		return "body is not JSON: " + err.Error()
	}
	r.Model = cr.Model
	if cr.Model == "" {
		return "you must provide a model parameter"
	}
	if cr.ResponseFormat == nil || cr.ResponseFormat.Type != "json_object" {
		return `response_format must be {"type":"json_object"}`
	}
	mentionsJSON := false
	for _, m := range cr.Messages {
		mentionsJSON = mentionsJSON || strings.Contains(strings.ToLower(string(m.Content)), "json")
	}
	if !mentionsJSON {
		return "'messages' must contain the word 'json' in some form, to use 'response_format' of type 'json_object'"
	}
	var text string
	var sawUser bool
	for i, m := range cr.Messages {
		switch m.Role {
		case "system", "developer", "assistant":
			continue
		case "user":
		default:
			return fmt.Sprintf("messages[%d].role %q is not valid", i, m.Role)
		}
		sawUser = true
		var parts []contentPart
		if err := json.Unmarshal(m.Content, &parts); err != nil {
			return fmt.Sprintf("messages[%d].content must be an array of parts to carry images", i)
		}
		for j, p := range parts {
			switch p.Type {
			case "text":
				text += p.Text + "\n"
			case "image_url":
				if p.ImageURL == nil || !(strings.HasPrefix(p.ImageURL.URL, "http://") || strings.HasPrefix(p.ImageURL.URL, "https://")) {
					return fmt.Sprintf("messages[%d].content[%d].image_url.url must be an http(s) URL", i, j)
				}
				r.Images = append(r.Images, p.ImageURL.URL)
			default:
				return fmt.Sprintf("messages[%d].content[%d].type %q is not valid", i, j, p.Type)
			}
		}
	}
	if !sawUser {
		return "no user message"
	}
	if len(r.Images) == 0 {
		return "no image_url parts"
	}
	m := lotIDLine.FindStringSubmatch(text)
	if m == nil || json.Unmarshal([]byte(m[1]), &r.LotID) != nil {
		return `no "Lot ID: <json string>" line in the text part`
	}
	m = languagesLine.FindStringSubmatch(text)
	if m == nil || json.Unmarshal([]byte(m[1]), &r.Languages) != nil || len(r.Languages) == 0 {
		return `no "Languages: <json array>" line in the text part`
	}
	return ""
}

var defaultCodes = map[int]string{
	400: "invalid_request_error",
	401: "invalid_api_key",
	403: "unsupported_country_region_territory",
	404: "model_not_found",
	429: "rate_limit_exceeded",
	500: "server_error",
	503: "server_overloaded",
}

func (s *Server) answerError(w http.ResponseWriter, r *Request, f Failure, msg string) {
	if f.Code == "" {
		f.Code = defaultCodes[f.Status]
	}
	typ := "invalid_request_error"
	switch {
	case f.Status == http.StatusTooManyRequests:
		typ = "requests"
		if f.Code == "insufficient_quota" {
			typ = "insufficient_quota"
		}
	case f.Status >= 500:
		typ = "server_error"
	}
	if f.RetryAfter != "" {
		w.Header().Set("Retry-After", f.RetryAfter)
	}
	r.Status = f.Status
	s.record(*r)
	writeJSON(w, f.Status, map[string]any{"error": map[string]any{"message": msg, "type": typ, "param": nil, "code": f.Code}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
