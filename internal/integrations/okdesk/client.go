// Package okdesk talks to the Okdesk helpdesk: a REST API v1 client (issues,
// comments, contacts) and the parser of Okdesk's inbound webhooks.
//
// The client never retries: every failure is an *APIError that says whether
// a retry may help, so Temporal activities own the retry policy. The
// api_token travels in the query string of every call (that is how Okdesk
// authenticates) and is scrubbed from every error.
package okdesk

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hookflow/hookflow/internal/integrations/apierr"
)

// maxResponseBytes bounds how much of a response body is read.
const maxResponseBytes = 4 << 20

// Comment author types accepted by Okdesk.
const (
	AuthorEmployee = "employee"
	AuthorContact  = "contact"
)

// Status is an issue status. Codes are open strings: accounts define their
// own next to the system ones (opened in_progress completed closed delayed).
type Status struct {
	Code string `json:"code"`
	Name string `json:"name,omitempty"`
}

// Issue is the part of GET issues/{id} hookflow uses.
type Issue struct {
	ID           int64  `json:"id"`
	Title        string `json:"title"`
	Description  string `json:"description,omitempty"`
	Status       Status `json:"status"`
	ContactID    int64  `json:"contact_id,omitempty"`
	ContactName  string `json:"contact_name,omitempty"`
	CompanyID    int64  `json:"company_id,omitempty"`
	AssigneeID   int64  `json:"assignee_id,omitempty"`
	AssigneeName string `json:"assignee_name,omitempty"`
}

// Contact is an Okdesk contact person.
type Contact struct {
	ID               int64  `json:"id"`
	FirstName        string `json:"first_name,omitempty"`
	LastName         string `json:"last_name,omitempty"`
	Patronymic       string `json:"patronymic,omitempty"`
	Phone            string `json:"phone,omitempty"`
	MobilePhone      string `json:"mobile_phone,omitempty"`
	Email            string `json:"email,omitempty"`
	TelegramUsername string `json:"telegram_username,omitempty"`
	CompanyID        int64  `json:"company_id,omitempty"`
}

// Name is "First Last" (whatever parts are set).
func (c Contact) Name() string {
	return strings.TrimSpace(strings.Join([]string{c.FirstName, c.LastName}, " "))
}

// Comment is a new issue comment. AuthorID is required by Okdesk (an
// employee id, or a contact id with AuthorType "contact"); an empty
// AuthorType lets Okdesk default to "employee". Content may be HTML.
type Comment struct {
	Content    string
	AuthorID   int64
	AuthorType string
	Public     bool
}

// IssueInput is a new issue. Zero ids are omitted.
type IssueInput struct {
	Title       string
	Description string
	ContactID   int64
	CompanyID   int64
}

// Client calls the Okdesk REST API v1 of one account. It is safe for
// concurrent use.
type Client struct {
	base    *url.URL // absolute, path ends with "/"
	baseErr error
	token   string
	hc      *http.Client
	now     func() time.Time
}

// New returns a client for apiURL ("https://acme.okdesk.ru/api/v1/", the
// trailing slash optional) authenticated by apiToken. hc may carry an
// otelhttp transport; nil means a client with a 30 s timeout. An unusable
// apiURL (not absolute http(s), carries a query) or an empty token is
// reported by every call as a permanent APIError with Code
// CodeInvalidRequest.
func New(apiURL, apiToken string, hc *http.Client) *Client {
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	c := &Client{token: apiToken, hc: hc, now: time.Now}
	c.base, c.baseErr = parseBase(apiURL)
	if c.baseErr == nil && strings.TrimSpace(apiToken) == "" {
		c.baseErr = errors.New("empty api token")
	}
	return c
}

func parseBase(apiURL string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(apiURL))
	if err != nil {
		return nil, fmt.Errorf("api URL: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("api URL %q: must be an absolute http(s) URL", apiURL)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("api URL %q: must not carry a query or fragment", apiURL)
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	u.RawPath = ""
	return u, nil
}

// GetIssue fetches issue id. A missing issue is a 404 APIError that
// matches ErrNotFound.
func (c *Client) GetIssue(ctx context.Context, id int64) (*Issue, error) {
	var w wireIssue
	op, err := c.getByID(ctx, "issue", id, &w)
	if err != nil {
		return nil, err
	}
	is := w.issue()
	if is.ID == 0 {
		return nil, withoutID(op, "issue")
	}
	return &is, nil
}

// getByID reads GET <kind>s/<id> into w and returns the op it named.
func (c *Client) getByID(ctx context.Context, kind string, id int64, w any) (string, error) {
	path := kind + "s/" + strconv.FormatInt(id, 10)
	op := "GET " + path
	if id <= 0 {
		return op, invalid(op, "%s id must be positive, got %d", kind, id)
	}
	return op, c.do(ctx, http.MethodGet, path, nil, nil, w, op)
}

// withoutID is the error of a 2xx answer whose kind of object has no id.
func withoutID(op, kind string) *APIError {
	return &APIError{Vendor: vendor.Name, Op: op, Status: http.StatusOK, Code: CodeBadResponse, Message: kind + " without id", Retryable: true}
}

// AddComment posts a comment to issue issueID and returns the new
// comment's id. The body is Okdesk's {"comment":{...}} envelope; Okdesk's
// validation errors (422 {"errors":..}) come back as a permanent APIError
// whose Message carries them ("author_id: не может быть пустым").
func (c *Client) AddComment(ctx context.Context, issueID int64, cm Comment) (int64, error) {
	path := "issues/" + strconv.FormatInt(issueID, 10) + "/comments"
	op := "POST " + path
	if issueID <= 0 {
		return 0, invalid(op, "issue id must be positive, got %d", issueID)
	}
	body := struct {
		Comment wireCommentIn `json:"comment"`
	}{wireCommentIn(cm)}
	var out struct {
		ID flexID `json:"id"`
	}
	if err := c.do(ctx, http.MethodPost, path, nil, body, &out, op); err != nil {
		return 0, err
	}
	return int64(out.ID), nil
}

// CreateIssue creates an issue ({"issue":{...}}) and returns its id.
func (c *Client) CreateIssue(ctx context.Context, in IssueInput) (int64, error) {
	const op = "POST issues"
	if strings.TrimSpace(in.Title) == "" {
		return 0, invalid(op, "title is required")
	}
	body := struct {
		Issue wireIssueIn `json:"issue"`
	}{wireIssueIn(in)}
	var out struct {
		ID flexID `json:"id"`
	}
	if err := c.do(ctx, http.MethodPost, "issues", nil, body, &out, op); err != nil {
		return 0, err
	}
	if out.ID <= 0 {
		// The write happened (2xx) but we cannot tell the id: a retry
		// would create a second issue, so this is permanent.
		return 0, &APIError{Vendor: vendor.Name, Op: op, Status: http.StatusOK, Code: CodeBadResponse, Message: "created issue without id"}
	}
	return int64(out.ID), nil
}

// GetContact fetches contact id. A missing contact is a 404 APIError that
// matches ErrNotFound.
func (c *Client) GetContact(ctx context.Context, id int64) (*Contact, error) {
	var w wireContact
	op, err := c.getByID(ctx, "contact", id, &w)
	if err != nil {
		return nil, err
	}
	ct := w.contact()
	if ct.ID == 0 {
		return nil, withoutID(op, "contact")
	}
	return &ct, nil
}

// FindContactByPhone searches GET contacts/?phone=... (Okdesk answers one
// object). When no contact has the phone it returns an error matching
// errors.Is(err, ErrNotFound): a 404 APIError, or ErrNotFound itself for a
// 2xx answer without a contact ({} or null). The phone is sent as given:
// Okdesk compares it with the stored format, so callers may want to try
// "+7..." and "7..." variants.
func (c *Client) FindContactByPhone(ctx context.Context, phone string) (*Contact, error) {
	const op = "GET contacts/?phone="
	if strings.TrimSpace(phone) == "" {
		return nil, invalid(op, "phone is required")
	}
	var raw json.RawMessage
	if err := c.do(ctx, http.MethodGet, "contacts/", url.Values{"phone": {phone}}, nil, &raw, op); err != nil {
		return nil, err
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil, ErrNotFound
	}
	if raw[0] == '[' { // tolerate a list answer: first element wins
		var list []wireContact
		if err := json.Unmarshal(raw, &list); err != nil {
			return nil, &APIError{Vendor: vendor.Name, Op: op, Status: http.StatusOK, Code: CodeBadResponse, Message: "undecodable contact list", Err: err, Retryable: true}
		}
		if len(list) == 0 {
			return nil, ErrNotFound
		}
		ct := list[0].contact()
		return &ct, nil
	}
	var w wireContact
	if err := json.Unmarshal(raw, &w); err != nil {
		return nil, &APIError{Vendor: vendor.Name, Op: op, Status: http.StatusOK, Code: CodeBadResponse, Message: "undecodable contact", Err: err, Retryable: true}
	}
	ct := w.contact()
	if ct.ID == 0 {
		return nil, ErrNotFound
	}
	return &ct, nil
}

func invalid(op, format string, args ...any) *APIError {
	return vendor.Invalid(op, format, args...)
}

// do performs one call. path is relative to the API base; op names the
// call in errors (never with the token). out may be nil.
func (c *Client) do(ctx context.Context, method, path string, query url.Values, body, out any, op string) error {
	if c.baseErr != nil {
		return vendor.Invalid(op, "%s", c.baseErr)
	}
	u := *c.base
	u.Path += path
	q := url.Values{}
	for k, v := range query {
		q[k] = v
	}
	q.Set("api_token", c.token)
	u.RawQuery = q.Encode()

	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return &APIError{Vendor: vendor.Name, Op: op, Code: CodeInvalidRequest, Message: "encode body", Err: err}
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return &APIError{Vendor: vendor.Name, Op: op, Code: CodeInvalidRequest, Message: "build request", Err: c.scrub(err)}
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return vendor.Transport(op, c.scrub(err))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return vendor.Transport(op, c.scrub(err))
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		var retryAfter time.Duration
		if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
			retryAfter = apierr.RetryAfter(resp.Header, c.now())
		}
		return vendor.Status(op, resp.StatusCode, c.redact(errorMessage(data)), retryAfter)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		// A garbled answer to a read is worth another try; to a write it
		// is not: the write may have happened and a retry could repeat it.
		return &APIError{
			Vendor: vendor.Name, Op: op, Status: resp.StatusCode, Code: CodeBadResponse,
			Message: "undecodable response body", Err: err, Retryable: method == http.MethodGet,
		}
	}
	return nil
}

// scrub removes the token from err: *url.Error carries the full URL.
func (c *Client) scrub(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		redacted := ue.URL
		if u, perr := url.Parse(ue.URL); perr == nil {
			u.RawQuery = ""
			redacted = u.String()
		}
		err = &url.Error{Op: ue.Op, URL: redacted, Err: ue.Err}
	}
	if c.token != "" && strings.Contains(err.Error(), c.token) {
		return errors.New(c.redact(err.Error()))
	}
	return err
}

func (c *Client) redact(s string) string {
	if c.token == "" {
		return s
	}
	return strings.ReplaceAll(s, c.token, "[redacted]")
}

// errorMessage flattens Okdesk's error body: {"errors": "text"},
// {"errors": ["a","b"]} or {"errors": {"field": ["msg"], "page": {"size":
// ["msg"]}}} become "text", "a; b", "field: msg; page.size: msg". Other
// bodies are quoted briefly.
func errorMessage(body []byte) string {
	var env struct {
		Errors  json.RawMessage `json:"errors"`
		Error   json.RawMessage `json:"error"`
		Message string          `json:"message"`
	}
	if err := json.Unmarshal(body, &env); err == nil {
		for _, raw := range []json.RawMessage{env.Errors, env.Error} {
			if len(raw) > 0 && string(raw) != "null" {
				var parts []string
				flattenErrors("", raw, &parts)
				if len(parts) > 0 {
					return strings.Join(parts, "; ")
				}
			}
		}
		if env.Message != "" {
			return env.Message
		}
	}
	s := strings.TrimSpace(string(body))
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

func flattenErrors(prefix string, raw json.RawMessage, out *[]string) {
	add := func(msg string) {
		if prefix != "" {
			msg = prefix + ": " + msg
		}
		*out = append(*out, msg)
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		add(s)
		return
	}
	var list []json.RawMessage
	if json.Unmarshal(raw, &list) == nil {
		for _, item := range list {
			flattenErrors(prefix, item, out)
		}
		return
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) == nil {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			flattenErrors(p, m[k], out)
		}
		return
	}
	add(strings.TrimSpace(string(raw)))
}

// flexID decodes an id sent as a JSON number or a numeric string; null and
// "" decode to 0.
type flexID int64

func (f *flexID) UnmarshalJSON(b []byte) error {
	v, _, err := parseID(b)
	if err != nil {
		return err
	}
	*f = flexID(max(v, 0))
	return nil
}

type wireRef struct {
	ID        flexID `json:"id"`
	Name      string `json:"name"`
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name"`
}

func (r *wireRef) name() string {
	if r == nil {
		return ""
	}
	if r.Name != "" {
		return r.Name
	}
	return strings.TrimSpace(r.FirstName + " " + r.LastName)
}

func (r *wireRef) id() int64 {
	if r == nil {
		return 0
	}
	return int64(r.ID)
}

type wireIssue struct {
	ID          flexID   `json:"id"`
	Title       string   `json:"title"`
	Description string   `json:"description"`
	Status      *Status  `json:"status"`
	Contact     *wireRef `json:"contact"`
	CompanyID   flexID   `json:"company_id"`
	Company     *wireRef `json:"company"`
	Assignee    *wireRef `json:"assignee"`
	Client      *struct {
		Contact *wireRef `json:"contact"`
		Company *wireRef `json:"company"`
	} `json:"client"`
}

func (w *wireIssue) issue() Issue {
	is := Issue{
		ID: int64(w.ID), Title: w.Title, Description: w.Description,
		ContactID: w.Contact.id(), ContactName: w.Contact.name(),
		CompanyID:  int64(w.CompanyID),
		AssigneeID: w.Assignee.id(), AssigneeName: w.Assignee.name(),
	}
	if w.Status != nil {
		is.Status = *w.Status
	}
	if is.CompanyID == 0 {
		is.CompanyID = w.Company.id()
	}
	if w.Client != nil {
		if is.ContactID == 0 {
			is.ContactID, is.ContactName = w.Client.Contact.id(), w.Client.Contact.name()
		}
		if is.CompanyID == 0 {
			is.CompanyID = w.Client.Company.id()
		}
	}
	return is
}

type wireContact struct {
	ID               flexID   `json:"id"`
	FirstName        string   `json:"first_name"`
	LastName         string   `json:"last_name"`
	Patronymic       string   `json:"patronymic"`
	Phone            string   `json:"phone"`
	MobilePhone      string   `json:"mobile_phone"`
	Email            string   `json:"email"`
	TelegramUsername string   `json:"telegram_username"`
	CompanyID        flexID   `json:"company_id"`
	Company          *wireRef `json:"company"`
}

func (w *wireContact) contact() Contact {
	ct := Contact{
		ID: int64(w.ID), FirstName: w.FirstName, LastName: w.LastName, Patronymic: w.Patronymic,
		Phone: w.Phone, MobilePhone: w.MobilePhone, Email: w.Email,
		TelegramUsername: w.TelegramUsername, CompanyID: int64(w.CompanyID),
	}
	if ct.CompanyID == 0 {
		ct.CompanyID = w.Company.id()
	}
	return ct
}

type wireCommentIn struct {
	Content    string `json:"content"`
	AuthorID   int64  `json:"author_id,omitempty"`
	AuthorType string `json:"author_type,omitempty"`
	Public     bool   `json:"public"`
}

type wireIssueIn struct {
	Title       string `json:"title"`
	Description string `json:"description,omitempty"`
	ContactID   int64  `json:"contact_id,omitempty"`
	CompanyID   int64  `json:"company_id,omitempty"`
}
