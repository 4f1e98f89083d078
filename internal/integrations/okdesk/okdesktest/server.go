// Package okdesktest is a fake Okdesk for tests: the REST API v1 subset
// hookflow calls (issues, comments, contacts) served by httptest, speaking
// Okdesk's wire format, and a webhook sender producing both the seed's and
// Okdesk's own status change payloads.
//
// The fake checks api_token on every call (401 otherwise), validates
// comment bodies like Okdesk (the {"comment":{...}} envelope, content and
// author_id required, author_type employee|contact → 422 {"errors":{..}}),
// records every request, and can be told to answer the next N calls to a
// path with a given status. It is safe for concurrent use.
package okdesktest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hookflow/hookflow/internal/integrations/okdesk"
)

// apiPrefix is where the API lives on the fake, as on a real account.
const apiPrefix = "/api/v1/"

// Issue is an issue held by the fake.
type Issue struct {
	ID           int64
	Title        string
	Description  string
	Status       okdesk.Status // zero means {opened, Открыта}
	ContactID    int64
	CompanyID    int64
	AssigneeID   int64
	AssigneeName string
}

// Contact is a contact held by the fake.
type Contact struct {
	ID               int64
	FirstName        string
	LastName         string
	Phone            string
	MobilePhone      string
	Email            string
	TelegramUsername string
	CompanyID        int64
}

// RecordedComment is a comment the fake accepted.
type RecordedComment struct {
	ID         int64
	IssueID    int64
	Content    string
	AuthorID   int64
	AuthorType string
	Public     bool
	CreatedAt  time.Time
}

// Request is one request the fake received (also rejected ones).
type Request struct {
	Method string
	// Path is relative to /api/v1/, e.g. "issues/153/comments".
	Path string
	// Query without api_token.
	Query url.Values
	// TokenOK says whether the api_token matched.
	TokenOK bool
	Body    []byte
	// Status is what the fake answered.
	Status int
}

type failure struct {
	path      string
	remaining int
	status    int
}

// Server is the fake Okdesk. Create it with New and Close it when done.
type Server struct {
	srv   *httptest.Server
	token string

	mu            sync.Mutex
	issues        map[int64]*Issue
	contacts      map[int64]*Contact
	comments      []RecordedComment
	requests      []Request
	failures      []*failure
	nextIssueID   int64
	nextCommentID int64
}

// New starts a fake Okdesk that accepts apiToken.
func New(apiToken string) *Server {
	s := &Server{
		token:         apiToken,
		issues:        map[int64]*Issue{},
		contacts:      map[int64]*Contact{},
		nextIssueID:   1000,
		nextCommentID: 1,
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// Close shuts the fake down.
func (s *Server) Close() { s.srv.Close() }

// APIURL is the value for OKDESK_API_URL: "http://127.0.0.1:port/api/v1/".
func (s *Server) APIURL() string { return s.srv.URL + apiPrefix }

// Client is an HTTP client for the fake.
func (s *Server) Client() *http.Client { return s.srv.Client() }

// AddIssue stores (or replaces) an issue. A zero Status means opened.
func (s *Server) AddIssue(is Issue) {
	if is.Status.Code == "" {
		is.Status = okdesk.Status{Code: "opened", Name: "Открыта"}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cp := is
	s.issues[is.ID] = &cp
	if is.ID >= s.nextIssueID {
		s.nextIssueID = is.ID + 1
	}
}

// Issue returns a stored issue (also ones created through the API).
func (s *Server) Issue(id int64) (Issue, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	is, ok := s.issues[id]
	if !ok {
		return Issue{}, false
	}
	return *is, true
}

// Issues returns every stored issue, by ascending id.
func (s *Server) Issues() []Issue {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Issue, 0, len(s.issues))
	for _, is := range s.issues {
		out = append(out, *is)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// SetStatus changes a stored issue's status and returns the old one.
func (s *Server) SetStatus(id int64, st okdesk.Status) (okdesk.Status, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	is, ok := s.issues[id]
	if !ok {
		return okdesk.Status{}, fmt.Errorf("okdesktest: no issue %d", id)
	}
	old := is.Status
	is.Status = st
	return old, nil
}

// AddContact stores (or replaces) a contact; FindContactByPhone matches
// Phone and MobilePhone by their digits.
func (s *Server) AddContact(c Contact) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cp := c
	s.contacts[c.ID] = &cp
}

// Comments returns every accepted comment, oldest first.
func (s *Server) Comments() []RecordedComment {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]RecordedComment(nil), s.comments...)
}

// CommentsFor returns the accepted comments of one issue, oldest first.
func (s *Server) CommentsFor(issueID int64) []RecordedComment {
	return slices.DeleteFunc(s.Comments(), func(c RecordedComment) bool { return c.IssueID != issueID })
}

// Requests returns every request received, oldest first.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// FailNext makes the next n calls to path (relative to /api/v1/, e.g.
// "issues/153/comments"; a trailing "/" is ignored; any method) answer
// status with an Okdesk-like body: 422 {"errors":{"base":[..]}}, other 4xx
// {"errors":".."} (429 with Retry-After: 1), 5xx a plain-text page.
// Injected failures are checked before the token and are used up in order.
func (s *Server) FailNext(path string, n, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures = append(s.failures, &failure{path: strings.Trim(path, "/"), remaining: n, status: status})
}

func (s *Server) takeFailure(path string) (int, bool) {
	for _, f := range s.failures {
		if f.remaining > 0 && f.path == path {
			f.remaining--
			return f.status, true
		}
	}
	return 0, false
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	rel := strings.TrimPrefix(r.URL.Path, apiPrefix)
	q := r.URL.Query()
	tokenOK := s.token != "" && q.Get("api_token") == s.token
	q.Del("api_token")
	path := strings.Trim(rel, "/")

	s.mu.Lock()
	defer s.mu.Unlock()
	rec := Request{Method: r.Method, Path: rel, Query: q, TokenOK: tokenOK, Body: body}
	status, payload, hdr := s.route(r, path, q, body, tokenOK)
	rec.Status = status
	s.requests = append(s.requests, rec)

	for k, v := range hdr {
		w.Header()[k] = v
	}
	if w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
	}
	w.WriteHeader(status)
	_, _ = w.Write(payload)
}

// route answers one request; s.mu is held.
func (s *Server) route(r *http.Request, path string, q url.Values, body []byte, tokenOK bool) (int, []byte, http.Header) {
	if !strings.HasPrefix(r.URL.Path, apiPrefix) {
		return errJSON(http.StatusNotFound, "Not Found")
	}
	if st, ok := s.takeFailure(path); ok {
		return injected(st)
	}
	if !tokenOK {
		return errJSON(http.StatusUnauthorized, "Неверный api_token")
	}
	parts := strings.Split(path, "/")
	switch {
	case len(parts) == 1 && parts[0] == "issues" && r.Method == http.MethodPost:
		return s.createIssue(body)
	case len(parts) == 2 && parts[0] == "issues" && r.Method == http.MethodGet:
		return s.getIssue(parts[1])
	case len(parts) == 3 && parts[0] == "issues" && parts[2] == "comments":
		switch r.Method {
		case http.MethodPost:
			return s.addComment(r, parts[1], body)
		case http.MethodGet:
			return s.listComments(parts[1])
		}
	case len(parts) == 1 && parts[0] == "contacts" && r.Method == http.MethodGet:
		return s.findContact(q)
	case len(parts) == 2 && parts[0] == "contacts" && r.Method == http.MethodGet:
		return s.getContact(parts[1])
	}
	return errJSON(http.StatusNotFound, "Not Found")
}

func injected(status int) (int, []byte, http.Header) {
	switch {
	case status == http.StatusUnprocessableEntity:
		return jsonBody(status, map[string]any{"errors": map[string]any{"base": []string{"injected failure"}}})
	case status == http.StatusTooManyRequests:
		st, b, h := errJSON(status, "Превышен лимит запросов")
		h.Set("Retry-After", "1")
		return st, b, h
	case status >= 500:
		h := http.Header{}
		h.Set("Content-Type", "text/html; charset=utf-8")
		return status, []byte("<html><body><h1>" + strconv.Itoa(status) + " " + http.StatusText(status) + "</h1></body></html>"), h
	default:
		return errJSON(status, "injected failure")
	}
}

func jsonBody(status int, v any) (int, []byte, http.Header) {
	b, err := json.Marshal(v)
	if err != nil {
		return http.StatusInternalServerError, []byte(`{"errors":"encode"}`), http.Header{}
	}
	return status, b, http.Header{}
}

func errJSON(status int, msg string) (int, []byte, http.Header) {
	return jsonBody(status, map[string]any{"errors": msg})
}

func validation(fields map[string]string) (int, []byte, http.Header) {
	errs := map[string][]string{}
	for k, v := range fields {
		errs[k] = []string{v}
	}
	return jsonBody(http.StatusUnprocessableEntity, map[string]any{"errors": errs})
}

func pathID(s string) (int64, bool) {
	id, err := strconv.ParseInt(s, 10, 64)
	return id, err == nil && id > 0
}

// issueJSON is GET issues/{id} as Okdesk answers it (integer ids).
func (s *Server) issueJSON(is *Issue) map[string]any {
	out := map[string]any{
		"id":          is.ID,
		"title":       is.Title,
		"description": is.Description,
		"status":      map[string]any{"code": is.Status.Code, "name": is.Status.Name},
		"company_id":  nil,
		"contact":     nil,
		"assignee":    nil,
		"created_at":  "2024-01-15T10:00:00.000+03:00",
	}
	if is.CompanyID != 0 {
		out["company_id"] = is.CompanyID
	}
	if c, ok := s.contacts[is.ContactID]; ok {
		out["contact"] = map[string]any{"id": c.ID, "name": strings.TrimSpace(c.FirstName + " " + c.LastName)}
	} else if is.ContactID != 0 {
		out["contact"] = map[string]any{"id": is.ContactID, "name": ""}
	}
	if is.AssigneeID != 0 {
		out["assignee"] = map[string]any{"id": is.AssigneeID, "name": is.AssigneeName}
	}
	return out
}

func contactJSON(c *Contact) map[string]any {
	return map[string]any{
		"id":                c.ID,
		"first_name":        c.FirstName,
		"last_name":         c.LastName,
		"patronymic":        "",
		"phone":             c.Phone,
		"mobile_phone":      c.MobilePhone,
		"email":             c.Email,
		"telegram_username": c.TelegramUsername,
		"company_id":        nilIfZero(c.CompanyID),
		"active":            true,
	}
}

func nilIfZero(v int64) any {
	if v == 0 {
		return nil
	}
	return v
}

func (s *Server) getIssue(idText string) (int, []byte, http.Header) {
	id, ok := pathID(idText)
	if !ok {
		return errJSON(http.StatusNotFound, "Заявка не найдена")
	}
	is, ok := s.issues[id]
	if !ok {
		return errJSON(http.StatusNotFound, "Заявка не найдена")
	}
	return jsonBody(http.StatusOK, s.issueJSON(is))
}

func isJSON(r *http.Request) bool {
	return strings.HasPrefix(strings.ToLower(r.Header.Get("Content-Type")), "application/json")
}

func (s *Server) addComment(r *http.Request, idText string, body []byte) (int, []byte, http.Header) {
	id, ok := pathID(idText)
	if !ok || s.issues[id] == nil {
		return errJSON(http.StatusNotFound, "Заявка не найдена")
	}
	if !isJSON(r) {
		return errJSON(http.StatusBadRequest, "Content-Type must be application/json")
	}
	var env map[string]json.RawMessage
	if err := json.Unmarshal(body, &env); err != nil {
		return errJSON(http.StatusBadRequest, "Невалидный JSON: "+err.Error())
	}
	raw, ok := env["comment"]
	if !ok || string(raw) == "null" {
		return errJSON(http.StatusBadRequest, "param is missing or the value is empty: comment")
	}
	var in struct {
		Content    *string          `json:"content"`
		AuthorID   *json.RawMessage `json:"author_id"`
		AuthorType *string          `json:"author_type"`
		Public     *bool            `json:"public"`
	}
	if err := json.Unmarshal(raw, &in); err != nil {
		return validation(map[string]string{"comment": "неверный формат: " + err.Error()})
	}
	errs := map[string]string{}
	if in.Content == nil || strings.TrimSpace(*in.Content) == "" {
		errs["content"] = "не может быть пустым"
	}
	var authorID int64
	if in.AuthorID == nil || string(*in.AuthorID) == "null" {
		errs["author_id"] = "не может быть пустым"
	} else if id, ok := anyID(*in.AuthorID); !ok {
		errs["author_id"] = "должно иметь тип integer"
	} else {
		authorID = id
	}
	authorType := okdesk.AuthorEmployee
	if in.AuthorType != nil && *in.AuthorType != "" {
		authorType = *in.AuthorType
	}
	switch authorType {
	case okdesk.AuthorEmployee:
	case okdesk.AuthorContact:
		if authorID != 0 && s.contacts[authorID] == nil {
			errs["author_id"] = "контакт не найден"
		}
	default:
		errs["author_type"] = "должен быть одним из: employee, contact"
	}
	if len(errs) > 0 {
		return validation(errs)
	}
	c := RecordedComment{
		ID: s.nextCommentID, IssueID: id, Content: *in.Content,
		AuthorID: authorID, AuthorType: authorType, Public: in.Public != nil && *in.Public,
		CreatedAt: time.Now(),
	}
	s.nextCommentID++
	s.comments = append(s.comments, c)
	return jsonBody(http.StatusOK, commentJSON(c))
}

func commentJSON(c RecordedComment) map[string]any {
	return map[string]any{
		"id":           c.ID,
		"content":      c.Content,
		"public":       c.Public,
		"attachments":  []any{},
		"published_at": c.CreatedAt.Format("2006-01-02T15:04:05.000-07:00"),
		"author":       map[string]any{"id": c.AuthorID, "type": c.AuthorType, "name": ""},
	}
}

func (s *Server) listComments(idText string) (int, []byte, http.Header) {
	id, ok := pathID(idText)
	if !ok || s.issues[id] == nil {
		return errJSON(http.StatusNotFound, "Заявка не найдена")
	}
	out := []map[string]any{}
	for _, c := range s.comments {
		if c.IssueID == id {
			out = append(out, commentJSON(c))
		}
	}
	return jsonBody(http.StatusOK, out)
}

// anyID accepts an integer or a numeric string, like Okdesk does.
func anyID(raw json.RawMessage) (int64, bool) {
	var n int64
	if json.Unmarshal(raw, &n) == nil {
		return n, n > 0
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return pathID(strings.TrimSpace(s))
	}
	return 0, false
}

func (s *Server) createIssue(body []byte) (int, []byte, http.Header) {
	var env struct {
		Issue *struct {
			Title       string          `json:"title"`
			Description string          `json:"description"`
			ContactID   json.RawMessage `json:"contact_id"`
			CompanyID   json.RawMessage `json:"company_id"`
		} `json:"issue"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return errJSON(http.StatusBadRequest, "Невалидный JSON: "+err.Error())
	}
	if env.Issue == nil {
		return errJSON(http.StatusBadRequest, "param is missing or the value is empty: issue")
	}
	errs := map[string]string{}
	if strings.TrimSpace(env.Issue.Title) == "" {
		errs["title"] = "не может быть пустым"
	}
	is := Issue{Title: env.Issue.Title, Description: env.Issue.Description,
		Status: okdesk.Status{Code: "opened", Name: "Открыта"}}
	if len(env.Issue.ContactID) > 0 && string(env.Issue.ContactID) != "null" {
		id, ok := anyID(env.Issue.ContactID)
		if !ok || s.contacts[id] == nil {
			errs["contact_id"] = "контакт не найден"
		}
		is.ContactID = id
	}
	if len(env.Issue.CompanyID) > 0 && string(env.Issue.CompanyID) != "null" {
		id, ok := anyID(env.Issue.CompanyID)
		if !ok {
			errs["company_id"] = "должно иметь тип integer"
		}
		is.CompanyID = id
	}
	if len(errs) > 0 {
		return validation(errs)
	}
	is.ID = s.nextIssueID
	s.nextIssueID++
	s.issues[is.ID] = &is
	return jsonBody(http.StatusOK, map[string]any{"id": is.ID})
}

func (s *Server) getContact(idText string) (int, []byte, http.Header) {
	id, ok := pathID(idText)
	if !ok || s.contacts[id] == nil {
		return errJSON(http.StatusNotFound, "Контакт не найден")
	}
	return jsonBody(http.StatusOK, contactJSON(s.contacts[id]))
}

// Digits keeps the digits of a phone number; the fake matches phones by
// them, so "+7 (916) 123-45-67" finds "79161234567".
func Digits(phone string) string {
	var b strings.Builder
	for _, r := range phone {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func (s *Server) findContact(q url.Values) (int, []byte, http.Header) {
	phone := Digits(q.Get("phone"))
	if phone == "" {
		return validation(map[string]string{"phone": "не может быть пустым"})
	}
	ids := make([]int64, 0, len(s.contacts))
	for id := range s.contacts {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for _, id := range ids {
		c := s.contacts[id]
		if Digits(c.Phone) == phone || Digits(c.MobilePhone) == phone {
			return jsonBody(http.StatusOK, contactJSON(c))
		}
	}
	return errJSON(http.StatusNotFound, "Контакт не найден")
}
