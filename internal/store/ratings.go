package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Sources of the ratings flow (inbound_events.source).
const (
	// OkdeskSource: Okdesk webhooks, one workflow per issue.
	OkdeskSource = "okdesk"
	// TelegramSource: the bot's updates, one workflow per chat.
	TelegramSource = "telegram"
)

// Event types of OkdeskSource (inbound_events.event_type).
const (
	OkdeskEventStatusChanged = "status_changed"
	OkdeskEventOther         = "other"
)

// Rating request states.
const (
	RatingPending   = "pending"   // recorded, message not sent yet
	RatingWaiting   = "waiting"   // message sent, waiting for a press
	RatingRated     = "rated"     // the customer pressed a button
	RatingExpired   = "expired"   // RATING_TTL passed without a press
	RatingCancelled = "cancelled" // the issue was reopened
	RatingNoChat    = "no_chat"   // no Telegram chat is linked to the customer
	RatingBlocked   = "blocked"   // Telegram answered 403: the bot is blocked
	RatingFailed    = "failed"    // Telegram refused the message for another reason
)

// Comment states of a rating.
const (
	CommentPending = "pending"
	CommentPosted  = "posted"
	CommentFailed  = "failed"
)

// ChatAwaitingDescription is the chat state after "New request".
const ChatAwaitingDescription = "awaiting_description"

// ErrNoRow is returned when a looked-up row does not exist.
var ErrNoRow = errors.New("store: no such row")

// ratingsDB is what both a pool and a transaction offer.
type ratingsDB interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// LastOkdeskStatusEvent is the newest recorded status change of an issue.
type LastOkdeskStatusEvent struct {
	DedupKey  string
	NewStatus string
	Seq       int
}

// LastOkdeskStatus returns the newest recorded status change of issueID
// (found=false when there is none). The webhook handler derives the dedup
// key of the next change from it: Okdesk sends no event id, so a
// resolution after a reopen would otherwise look like a redelivery.
func (s *Store) LastOkdeskStatus(ctx context.Context, issueID int64) (ev LastOkdeskStatusEvent, found bool, err error) {
	err = s.Pool.QueryRow(ctx, `SELECT dedup_key, coalesce(attrs->>'new_status', ''), coalesce((attrs->>'seq')::int, 0)
		FROM inbound_events WHERE source = $1 AND entity_id = $2 AND event_type = $3 ORDER BY id DESC LIMIT 1`,
		OkdeskSource, fmt.Sprint(issueID), OkdeskEventStatusChanged).Scan(&ev.DedupKey, &ev.NewStatus, &ev.Seq)
	if errors.Is(err, pgx.ErrNoRows) {
		return ev, false, nil
	}
	return ev, err == nil, err
}

// OkdeskIssue is the last known state of an issue.
type OkdeskIssue struct {
	IssueID     int64
	Title       string
	Status      string
	ContactID   int64
	CompanyID   int64
	AssigneeID  int64
	Resolutions int
	LastEventID int64
}

// LockOkdeskIssue loads an issue FOR UPDATE inside tx; nil when unknown.
func LockOkdeskIssue(ctx context.Context, tx pgx.Tx, issueID int64) (*OkdeskIssue, error) {
	var is OkdeskIssue
	err := tx.QueryRow(ctx, `SELECT issue_id, title, status, coalesce(contact_id, 0), coalesce(company_id, 0),
		coalesce(assignee_id, 0), resolutions, coalesce(last_event_id, 0)
		FROM okdesk_issues WHERE issue_id = $1 FOR UPDATE`, issueID).Scan(
		&is.IssueID, &is.Title, &is.Status, &is.ContactID, &is.CompanyID, &is.AssigneeID, &is.Resolutions, &is.LastEventID)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &is, nil
}

// SaveOkdeskIssue upserts an issue's state.
func SaveOkdeskIssue(ctx context.Context, tx pgx.Tx, is OkdeskIssue) error {
	_, err := tx.Exec(ctx, `INSERT INTO okdesk_issues (issue_id, title, status, contact_id, company_id, assignee_id, resolutions, last_event_id)
		VALUES ($1, $2, $3, nullif($4::bigint, 0), nullif($5::bigint, 0), nullif($6::bigint, 0), $7, nullif($8::bigint, 0))
		ON CONFLICT (issue_id) DO UPDATE SET title = excluded.title, status = excluded.status, contact_id = excluded.contact_id,
			company_id = excluded.company_id, assignee_id = excluded.assignee_id, resolutions = excluded.resolutions,
			last_event_id = excluded.last_event_id, updated_at = now()`,
		is.IssueID, is.Title, is.Status, is.ContactID, is.CompanyID, is.AssigneeID, is.Resolutions, is.LastEventID)
	return err
}

// RatingRequest is one request for a rating (one per resolution).
type RatingRequest struct {
	ID                int64      `json:"id"`
	IssueID           int64      `json:"issue_id"`
	Resolution        int        `json:"resolution"`
	WorkflowID        string     `json:"workflow_id"`
	Title             string     `json:"title"`
	Status            string     `json:"status"`
	ContactID         int64      `json:"contact_id,omitempty"`
	CompanyID         int64      `json:"company_id,omitempty"`
	AssigneeID        int64      `json:"assignee_id,omitempty"`
	ChatID            int64      `json:"chat_id,omitempty"`
	MessageID         int        `json:"message_id,omitempty"`
	ReminderMessageID int        `json:"reminder_message_id,omitempty"`
	State             string     `json:"state"`
	Error             string     `json:"error,omitempty"`
	EventID           int64      `json:"event_id,omitempty"`
	RequestedAt       time.Time  `json:"requested_at"`
	SentAt            *time.Time `json:"sent_at,omitempty"`
	RemindedAt        *time.Time `json:"reminded_at,omitempty"`
	ClosedAt          *time.Time `json:"closed_at,omitempty"`
}

// Open reports whether the request still waits for an answer.
func (r RatingRequest) Open() bool { return r.State == RatingPending || r.State == RatingWaiting }

const requestColumns = `id, issue_id, resolution, workflow_id, title, status, coalesce(contact_id, 0), coalesce(company_id, 0),
	coalesce(assignee_id, 0), coalesce(chat_id, 0), coalesce(message_id, 0), coalesce(reminder_message_id, 0), state,
	coalesce(error, ''), coalesce(event_id, 0), requested_at, sent_at, reminded_at, closed_at`

func scanRequest(row pgx.Row) (RatingRequest, error) {
	var r RatingRequest
	err := row.Scan(&r.ID, &r.IssueID, &r.Resolution, &r.WorkflowID, &r.Title, &r.Status, &r.ContactID, &r.CompanyID,
		&r.AssigneeID, &r.ChatID, &r.MessageID, &r.ReminderMessageID, &r.State, &r.Error, &r.EventID,
		&r.RequestedAt, &r.SentAt, &r.RemindedAt, &r.ClosedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return r, ErrNoRow
	}
	return r, err
}

// InsertRatingRequest records a request (once per issue and resolution)
// and returns its id.
func InsertRatingRequest(ctx context.Context, tx pgx.Tx, r RatingRequest) (int64, error) {
	var id int64
	err := tx.QueryRow(ctx, `INSERT INTO rating_requests (issue_id, resolution, workflow_id, title, status, contact_id, company_id, assignee_id, event_id)
		VALUES ($1, $2, $3, $4, $5, nullif($6::bigint, 0), nullif($7::bigint, 0), nullif($8::bigint, 0), nullif($9::bigint, 0))
		ON CONFLICT (issue_id, resolution) DO UPDATE SET issue_id = excluded.issue_id
		RETURNING id`,
		r.IssueID, r.Resolution, r.WorkflowID, r.Title, r.Status, r.ContactID, r.CompanyID, r.AssigneeID, r.EventID).Scan(&id)
	return id, err
}

// OpenRatingRequest is the newest request of an issue that still waits
// (pending or waiting); nil when none.
func OpenRatingRequest(ctx context.Context, tx pgx.Tx, issueID int64) (*RatingRequest, error) {
	r, err := scanRequest(tx.QueryRow(ctx, `SELECT `+requestColumns+` FROM rating_requests
		WHERE issue_id = $1 AND state IN ('pending', 'waiting') ORDER BY resolution DESC LIMIT 1`, issueID))
	if errors.Is(err, ErrNoRow) {
		return nil, nil
	}
	return &r, err
}

// LatestRequestInChat is the newest request of an issue sent to chatID;
// nil when none.
func LatestRequestInChat(ctx context.Context, db ratingsDB, issueID, chatID int64) (*RatingRequest, error) {
	r, err := scanRequest(db.QueryRow(ctx, `SELECT `+requestColumns+` FROM rating_requests
		WHERE issue_id = $1 AND chat_id = $2 ORDER BY resolution DESC LIMIT 1`, issueID, chatID))
	if errors.Is(err, ErrNoRow) {
		return nil, nil
	}
	return &r, err
}

// RatingRequest loads a request by id.
func (s *Store) RatingRequest(ctx context.Context, id int64) (RatingRequest, error) {
	return scanRequest(s.Pool.QueryRow(ctx, `SELECT `+requestColumns+` FROM rating_requests WHERE id = $1`, id))
}

// RatingRequestsOfIssue lists an issue's requests, oldest first.
func (s *Store) RatingRequestsOfIssue(ctx context.Context, issueID int64) ([]RatingRequest, error) {
	rows, err := s.Pool.Query(ctx, `SELECT `+requestColumns+` FROM rating_requests WHERE issue_id = $1 ORDER BY resolution`, issueID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (RatingRequest, error) { return scanRequest(r) })
}

// ChatForIssue finds the chat to ask about an issue: the chat that created
// it through the bot, else the chat linked most recently to the contact.
func (s *Store) ChatForIssue(ctx context.Context, issueID, contactID int64) (int64, bool, error) {
	var chatID int64
	err := s.Pool.QueryRow(ctx, `SELECT chat_id FROM okdesk_issue_chats WHERE issue_id = $1`, issueID).Scan(&chatID)
	if err == nil {
		return chatID, true, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return 0, false, err
	}
	if contactID == 0 {
		return 0, false, nil
	}
	err = s.Pool.QueryRow(ctx, `SELECT chat_id FROM telegram_chats WHERE contact_id = $1
		ORDER BY linked_at DESC NULLS LAST, chat_id LIMIT 1`, contactID).Scan(&chatID)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, false, nil
	}
	return chatID, err == nil, err
}

// UpdateRequestTarget fills in what was learned before sending: the chat
// and, when the webhook lacked them, contact and assignee.
func (s *Store) UpdateRequestTarget(ctx context.Context, id, chatID, contactID, assigneeID int64, title string) error {
	_, err := s.Pool.Exec(ctx, `UPDATE rating_requests SET chat_id = coalesce(nullif($2::bigint, 0), chat_id),
		contact_id = coalesce(contact_id, nullif($3::bigint, 0)), assignee_id = coalesce(assignee_id, nullif($4::bigint, 0)),
		title = CASE WHEN title = '' THEN $5 ELSE title END WHERE id = $1`, id, chatID, contactID, assigneeID, title)
	return err
}

// SetRequestSent records the sent message; the request now waits.
func (s *Store) SetRequestSent(ctx context.Context, id int64, messageID int) error {
	_, err := s.Pool.Exec(ctx, `UPDATE rating_requests SET message_id = $2, sent_at = coalesce(sent_at, now()),
		state = CASE WHEN state = 'pending' THEN 'waiting' ELSE state END WHERE id = $1`, id, messageID)
	return err
}

// SetRequestReminded records the reminder message.
func (s *Store) SetRequestReminded(ctx context.Context, id int64, messageID int) error {
	_, err := s.Pool.Exec(ctx, `UPDATE rating_requests SET reminder_message_id = nullif($2::bigint, 0), reminded_at = coalesce(reminded_at, now())
		WHERE id = $1`, id, messageID)
	return err
}

// CloseRequest ends a request that still waits with state (expired,
// cancelled, no_chat, blocked, failed) and why. A request that ended
// already keeps its state; closed reports whether this call ended it.
func (s *Store) CloseRequest(ctx context.Context, id int64, state, errText string) (closed bool, err error) {
	tag, err := s.Pool.Exec(ctx, `UPDATE rating_requests SET state = $2, error = nullif($3, ''), closed_at = now()
		WHERE id = $1 AND state IN ('pending', 'waiting')`, id, state, errText)
	return tag.RowsAffected() == 1, err
}

// Rating is a customer's answer to a request.
type Rating struct {
	RequestID      int64      `json:"request_id"`
	IssueID        int64      `json:"issue_id"`
	ContactID      int64      `json:"contact_id,omitempty"`
	ChatID         int64      `json:"chat_id"`
	TelegramUserID int64      `json:"telegram_user_id,omitempty"`
	Score          int        `json:"score"`
	AssigneeID     int64      `json:"assignee_id,omitempty"`
	RatedAt        time.Time  `json:"rated_at"`
	CommentState   string     `json:"comment_state"`
	CommentID      int64      `json:"comment_id,omitempty"`
	CommentError   string     `json:"comment_error,omitempty"`
	CommentedAt    *time.Time `json:"commented_at,omitempty"`
}

const ratingColumns = `request_id, issue_id, coalesce(contact_id, 0), chat_id, coalesce(telegram_user_id, 0), score,
	coalesce(assignee_id, 0), rated_at, comment_state, coalesce(comment_id, 0), coalesce(comment_error, ''), commented_at`

func scanRating(row pgx.Row) (Rating, error) {
	var r Rating
	err := row.Scan(&r.RequestID, &r.IssueID, &r.ContactID, &r.ChatID, &r.TelegramUserID, &r.Score, &r.AssigneeID,
		&r.RatedAt, &r.CommentState, &r.CommentID, &r.CommentError, &r.CommentedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return r, ErrNoRow
	}
	return r, err
}

// RecordRating stores the first answer to a request and marks the request
// rated. A second call keeps the first answer and returns it.
func (s *Store) RecordRating(ctx context.Context, r Rating) (Rating, error) {
	var out Rating
	err := pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO ratings (request_id, issue_id, contact_id, chat_id, telegram_user_id, score, assignee_id, rated_at)
			SELECT id, issue_id, contact_id, $2::bigint, nullif($3::bigint, 0), $4::int, assignee_id, $5::timestamptz FROM rating_requests WHERE id = $1
			ON CONFLICT (request_id) DO NOTHING`, r.RequestID, r.ChatID, r.TelegramUserID, r.Score, r.RatedAt); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE rating_requests SET state = 'rated', closed_at = coalesce(closed_at, now()), error = NULL
			WHERE id = $1 AND state <> 'rated'`, r.RequestID); err != nil {
			return err
		}
		var err error
		out, err = scanRating(tx.QueryRow(ctx, `SELECT `+ratingColumns+` FROM ratings WHERE request_id = $1`, r.RequestID))
		return err
	})
	return out, err
}

// RatingOf loads the rating of a request (ErrNoRow when unrated).
func (s *Store) RatingOf(ctx context.Context, requestID int64) (Rating, error) {
	return scanRating(s.Pool.QueryRow(ctx, `SELECT `+ratingColumns+` FROM ratings WHERE request_id = $1`, requestID))
}

// SetCommentPosted records the Okdesk comment of a rating.
func (s *Store) SetCommentPosted(ctx context.Context, requestID, commentID int64) error {
	_, err := s.Pool.Exec(ctx, `UPDATE ratings SET comment_state = 'posted', comment_id = nullif($2::bigint, 0), comment_error = NULL,
		commented_at = now() WHERE request_id = $1`, requestID, commentID)
	return err
}

// SetCommentFailed records that Okdesk refused the comment for good.
func (s *Store) SetCommentFailed(ctx context.Context, requestID int64, errText string) error {
	_, err := s.Pool.Exec(ctx, `UPDATE ratings SET comment_state = 'failed', comment_error = $2 WHERE request_id = $1 AND comment_state <> 'posted'`,
		requestID, errText)
	return err
}

// TelegramChat is a chat the bot talks to.
type TelegramChat struct {
	ChatID    int64
	UserID    int64
	ContactID int64 // 0 when not linked
	LinkedVia string
	State     string
}

// Linked reports whether the chat is tied to an Okdesk contact.
func (c TelegramChat) Linked() bool { return c.ContactID != 0 }

// LockChat loads (creating it when new) a chat FOR UPDATE inside tx.
func LockChat(ctx context.Context, tx pgx.Tx, chatID, userID int64) (TelegramChat, error) {
	if _, err := tx.Exec(ctx, `INSERT INTO telegram_chats (chat_id, user_id) VALUES ($1, nullif($2::bigint, 0)) ON CONFLICT (chat_id) DO NOTHING`,
		chatID, userID); err != nil {
		return TelegramChat{}, err
	}
	var c TelegramChat
	err := tx.QueryRow(ctx, `SELECT chat_id, coalesce(user_id, 0), coalesce(contact_id, 0), coalesce(linked_via, ''), state
		FROM telegram_chats WHERE chat_id = $1 FOR UPDATE`, chatID).Scan(&c.ChatID, &c.UserID, &c.ContactID, &c.LinkedVia, &c.State)
	return c, err
}

// Chat loads a chat (ErrNoRow when the bot never heard from it).
func (s *Store) Chat(ctx context.Context, chatID int64) (TelegramChat, error) {
	var c TelegramChat
	err := s.Pool.QueryRow(ctx, `SELECT chat_id, coalesce(user_id, 0), coalesce(contact_id, 0), coalesce(linked_via, ''), state
		FROM telegram_chats WHERE chat_id = $1`, chatID).Scan(&c.ChatID, &c.UserID, &c.ContactID, &c.LinkedVia, &c.State)
	if errors.Is(err, pgx.ErrNoRows) {
		return c, ErrNoRow
	}
	return c, err
}

// SetChatState sets the conversation state of a chat.
func SetChatState(ctx context.Context, db ratingsDB, chatID int64, state string) error {
	_, err := db.Exec(ctx, `UPDATE telegram_chats SET state = $2, updated_at = now() WHERE chat_id = $1`, chatID, state)
	return err
}

// LinkChat ties a chat to an Okdesk contact (via deep_link or phone); a
// chat that was blocked is usable again.
func LinkChat(ctx context.Context, db ratingsDB, chatID, contactID int64, via, phone string) error {
	_, err := db.Exec(ctx, `INSERT INTO telegram_chats (chat_id, contact_id, linked_via, linked_at, phone)
		VALUES ($1, $2, $3, now(), nullif($4, ''))
		ON CONFLICT (chat_id) DO UPDATE SET contact_id = excluded.contact_id, linked_via = excluded.linked_via,
			linked_at = now(), phone = coalesce(excluded.phone, telegram_chats.phone), blocked_at = NULL, updated_at = now()`,
		chatID, contactID, via, phone)
	return err
}

// MarkChatBlocked records Telegram's 403 for a chat.
func (s *Store) MarkChatBlocked(ctx context.Context, chatID int64) error {
	_, err := s.Pool.Exec(ctx, `UPDATE telegram_chats SET blocked_at = now(), updated_at = now() WHERE chat_id = $1`, chatID)
	return err
}

// TieIssueToChat remembers that an issue was created through the bot.
func (s *Store) TieIssueToChat(ctx context.Context, issueID, chatID, contactID int64) error {
	_, err := s.Pool.Exec(ctx, `INSERT INTO okdesk_issue_chats (issue_id, chat_id, contact_id) VALUES ($1, $2, nullif($3::bigint, 0))
		ON CONFLICT (issue_id) DO NOTHING`, issueID, chatID, contactID)
	return err
}

// LinkToken is a fresh deep-link token.
type LinkToken struct {
	Token     string    `json:"token"`
	ContactID int64     `json:"contact_id"`
	ExpiresAt time.Time `json:"expires_at"`
}

func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// CreateLinkToken makes a single-use token for contactID, valid for ttl.
// Only its hash is stored. The token is 32 characters of A-Za-z0-9_-, as
// Telegram's start parameter requires.
func (s *Store) CreateLinkToken(ctx context.Context, contactID int64, ttl time.Duration) (LinkToken, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return LinkToken{}, err
	}
	t := LinkToken{Token: base64.RawURLEncoding.EncodeToString(b), ContactID: contactID}
	err := s.Pool.QueryRow(ctx, `INSERT INTO okdesk_link_tokens (token_hash, contact_id, expires_at)
		VALUES ($1, $2, now() + $3::interval) RETURNING expires_at`,
		hashToken(t.Token), contactID, fmt.Sprintf("%d microseconds", ttl.Microseconds())).Scan(&t.ExpiresAt)
	return t, err
}

// ConsumeLinkToken uses a token for chatID and returns its contact. A
// token is good once (a repeat from the same chat is accepted again) and
// until it expires; ok=false otherwise.
func ConsumeLinkToken(ctx context.Context, tx pgx.Tx, token string, chatID int64) (contactID int64, ok bool, err error) {
	err = tx.QueryRow(ctx, `UPDATE okdesk_link_tokens SET used_at = coalesce(used_at, now()), used_by_chat = $2
		WHERE token_hash = $1 AND expires_at > now() AND (used_at IS NULL OR used_by_chat = $2)
		RETURNING contact_id`, hashToken(token), chatID).Scan(&contactID)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, false, nil
	}
	return contactID, err == nil, err
}

// RatingAction is work an entity workflow still has to carry out.
type RatingAction struct {
	ID      int64           `json:"id"`
	Owner   string          `json:"owner"`
	Kind    string          `json:"kind"`
	Payload json.RawMessage `json:"payload"`
	Result  json.RawMessage `json:"result,omitempty"`
}

// InsertAction queues an action for the workflow owner inside tx.
func InsertAction(ctx context.Context, tx pgx.Tx, owner, kind string, payload any, eventID int64) error {
	b, err := json.Marshal(payload)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `INSERT INTO rating_actions (owner, kind, payload, event_id) VALUES ($1, $2, $3, nullif($4::bigint, 0))`,
		owner, kind, string(b), eventID)
	return err
}

func scanAction(row pgx.Row) (RatingAction, error) {
	var a RatingAction
	var payload string
	var result *string
	err := row.Scan(&a.ID, &a.Owner, &a.Kind, &payload, &result)
	if errors.Is(err, pgx.ErrNoRows) {
		return a, ErrNoRow
	}
	a.Payload = json.RawMessage(payload)
	if result != nil {
		a.Result = json.RawMessage(*result)
	}
	return a, err
}

// PendingActions lists owner's actions not done yet, oldest first.
func (s *Store) PendingActions(ctx context.Context, owner string) ([]RatingAction, error) {
	rows, err := s.Pool.Query(ctx, `SELECT id, owner, kind, payload::text, result::text FROM rating_actions
		WHERE owner = $1 AND done_at IS NULL ORDER BY id`, owner)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (RatingAction, error) { return scanAction(r) })
}

// Action loads one action and whether it is done.
func (s *Store) Action(ctx context.Context, id int64) (RatingAction, bool, error) {
	var done bool
	var a RatingAction
	var payload string
	var result *string
	err := s.Pool.QueryRow(ctx, `SELECT id, owner, kind, payload::text, result::text, done_at IS NOT NULL FROM rating_actions WHERE id = $1`, id).
		Scan(&a.ID, &a.Owner, &a.Kind, &payload, &result, &done)
	if errors.Is(err, pgx.ErrNoRows) {
		return a, false, ErrNoRow
	}
	a.Payload = json.RawMessage(payload)
	if result != nil {
		a.Result = json.RawMessage(*result)
	}
	return a, done, err
}

// SetActionResult stores an intermediate result (e.g. the id of an issue
// created before the answer was sent), so a retry does not repeat it.
func (s *Store) SetActionResult(ctx context.Context, id int64, result any) error {
	b, err := json.Marshal(result)
	if err != nil {
		return err
	}
	_, err = s.Pool.Exec(ctx, `UPDATE rating_actions SET result = $2 WHERE id = $1`, id, string(b))
	return err
}

// FinishActions marks actions done, with an error text for ones that
// ended without doing what they should ("" for success).
func (s *Store) FinishActions(ctx context.Context, ids []int64, errText string) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := s.Pool.Exec(ctx, `UPDATE rating_actions SET done_at = now(), error = nullif($2, '') WHERE id = ANY($1) AND done_at IS NULL`,
		ids, errText)
	return err
}

// RatingStatsFilter selects the requests made in [From, To) (zero: open).
type RatingStatsFilter struct {
	From, To time.Time
}

// bounds are the period's ends, openFrom and openTo for open ones: as
// bounds of a range rather than "$1 IS NULL OR", they let even a generic
// plan read the period through rating_requests_by_time.
func (f RatingStatsFilter) bounds() (from, to time.Time) {
	from, to = openFrom, openTo
	if !f.From.IsZero() {
		from = f.From
	}
	if !f.To.IsZero() {
		to = f.To
	}
	return from, to
}

// AssigneeStats are one assignee's ratings.
type AssigneeStats struct {
	AssigneeID *int64  `json:"assignee_id"` // null: unknown assignee
	Count      int64   `json:"count"`
	Average    float64 `json:"average"`
}

// RatingStats summarise the requests of a period and their ratings.
type RatingStats struct {
	Requests            int64            `json:"requests"`     // rating requests made (resolutions)
	Asked               int64            `json:"asked"`        // of which the message reached a chat
	Count               int64            `json:"count"`        // ratings given
	Average             *float64         `json:"average"`      // null without ratings
	Distribution        map[string]int64 `json:"distribution"` // "1".."5"
	ResponseRate        *float64         `json:"response_rate"`
	MedianSecondsToRate *float64         `json:"median_seconds_to_rate"` // exact up to ExactMedianRequests requests, else within 2.2% (1 s under a second)
	Outcomes            map[string]int64 `json:"outcomes"`               // per request state: rated, no_chat, expired ...
	Comments            map[string]int64 `json:"comments"`               // per comment state: posted, pending, failed
	PerAssignee         []AssigneeStats  `json:"per_assignee"`
}

// RatingStats computes the statistics of the requests made in the period
// from the counters of migrations/00050_rating_counts.sql: whole months,
// days and hours of the period from the counter rows, the partial hours at
// its edges from the raw rows of just those (rating_requests_by_time). Its
// cost depends on the length of the period (at most its months plus 60 days
// and 46 hours of counters, and two hours of raw rows), not on the number of
// ratings. Everything is exact but the median time to rate of a period with
// more than ExactMedianRequests requests, read from buckets (see
// rateBucketValue for the bound).
func (s *Store) RatingStats(ctx context.Context, f RatingStatsFilter) (RatingStats, error) {
	st := RatingStats{Distribution: map[string]int64{"1": 0, "2": 0, "3": 0, "4": 0, "5": 0},
		Outcomes: map[string]int64{}, Comments: map[string]int64{}, PerAssignee: []AssigneeStats{}}
	segs := ratingSegments(f)
	// $1-$3: counter periods (level, [lo, hi)); $4-$5: raw edges [lo, hi).
	// Each period and edge is read by its own index range scan: the LATERAL
	// subqueries (OFFSET 0 keeps them from being flattened into a join the
	// planner could hash) are run once per element of the arrays, whose
	// length it does not know.
	args := []any{segs.levels, segs.los, segs.his, segs.edgeLos, segs.edgeHis}
	counters := func(table, cols string) string {
		return `unnest($1::int2[], $2::timestamptz[], $3::timestamptz[]) AS s(level, lo, hi)
			CROSS JOIN LATERAL (SELECT ` + cols + ` FROM ` + table + ` c
				WHERE c.level = s.level AND c.at >= s.lo AND c.at < s.hi OFFSET 0) c`
	}
	const edges = `unnest($4::timestamptz[], $5::timestamptz[]) AS e(lo, hi)
		CROSS JOIN LATERAL (SELECT q.id, q.state, q.sent_at FROM rating_requests q
			WHERE q.requested_at >= e.lo AND q.requested_at < e.hi OFFSET 0) q`
	const edgeRatings = edges + `
		CROSS JOIN LATERAL (SELECT r.score, r.comment_state, r.assignee_id, r.rated_at FROM ratings r
			WHERE r.request_id = q.id OFFSET 0) r`

	rows, err := s.Pool.Query(ctx, `SELECT state, sent, sum(n)::bigint FROM (
			SELECT c.state, c.sent, c.n FROM `+counters("rating_request_counts", "c.state, c.sent, c.n")+`
			UNION ALL
			SELECT q.state, q.sent_at IS NOT NULL, 1 FROM `+edges+`) x
		GROUP BY 1, 2 HAVING sum(n) <> 0`, args...)
	if err != nil {
		return st, err
	}
	var state string
	var sent bool
	var n int64
	if _, err := pgx.ForEachRow(rows, []any{&state, &sent, &n}, func() error {
		st.Outcomes[state] += n
		st.Requests += n
		if sent {
			st.Asked += n
		}
		return nil
	}); err != nil {
		return st, err
	}

	rows, err = s.Pool.Query(ctx, `SELECT score, comment_state, sum(n)::bigint FROM (
			SELECT c.score, c.comment_state, c.n FROM `+counters("rating_score_counts", "c.score, c.comment_state, c.n")+`
			UNION ALL
			SELECT r.score, r.comment_state, 1 FROM `+edgeRatings+`) x
		GROUP BY 1, 2 HAVING sum(n) <> 0`, args...)
	if err != nil {
		return st, err
	}
	var score, scoreSum int64
	var commentState string
	if _, err := pgx.ForEachRow(rows, []any{&score, &commentState, &n}, func() error {
		st.Count += n
		scoreSum += score * n
		st.Distribution[fmt.Sprint(score)] += n
		st.Comments[commentState] += n
		return nil
	}); err != nil {
		return st, err
	}

	// Ordered by assignee, the unknown one (0) last.
	rows, err = s.Pool.Query(ctx, `SELECT nullif(assignee_id, 0), sum(n)::bigint, sum(score_sum)::bigint FROM (
			SELECT c.assignee_id, c.n, c.score_sum FROM `+counters("rating_assignee_counts", "c.assignee_id, c.n, c.score_sum")+`
			UNION ALL
			SELECT coalesce(r.assignee_id, 0), 1, r.score FROM `+edgeRatings+`) x
		GROUP BY assignee_id HAVING sum(n) <> 0 ORDER BY assignee_id = 0, assignee_id`, args...)
	if err != nil {
		return st, err
	}
	var a AssigneeStats
	var sum int64
	if _, err := pgx.ForEachRow(rows, []any{&a.AssigneeID, &a.Count, &sum}, func() error {
		a.Average = float64(sum) / float64(a.Count)
		st.PerAssignee = append(st.PerAssignee, a)
		a = AssigneeStats{}
		return nil
	}); err != nil {
		return st, err
	}
	if st.Count > 0 {
		avg := float64(scoreSum) / float64(st.Count)
		st.Average = &avg
	}
	if st.Asked > 0 {
		rate := float64(st.Count) / float64(st.Asked)
		st.ResponseRate = &rate
	}

	if st.Requests <= ExactMedianRequests {
		// Few rows: the exact median from them, through the index.
		from, to := f.bounds()
		err = s.Pool.QueryRow(ctx, `SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM r.rated_at - q.sent_at))::float8
			FROM rating_requests q CROSS JOIN LATERAL (SELECT r.rated_at FROM ratings r WHERE r.request_id = q.id OFFSET 0) r
			WHERE q.requested_at >= $1 AND q.requested_at < $2`, from, to).Scan(&st.MedianSecondsToRate)
		return st, err
	}
	rows, err = s.Pool.Query(ctx, `SELECT bucket, sum(n)::bigint FROM (
			SELECT c.bucket, c.n FROM `+counters("rating_rate_counts", "c.bucket, c.n")+`
			UNION ALL
			SELECT rating_rate_bucket(extract(epoch FROM r.rated_at - q.sent_at)::float8), 1 FROM `+edgeRatings+`
			WHERE q.sent_at IS NOT NULL) x
		GROUP BY 1 HAVING sum(n) <> 0 ORDER BY 1`, args...)
	if err != nil {
		return st, err
	}
	var hist []rateBucket
	var b rateBucket
	if _, err := pgx.ForEachRow(rows, []any{&b.bucket, &b.n}, func() error {
		hist = append(hist, b)
		return nil
	}); err != nil {
		return st, err
	}
	st.MedianSecondsToRate = bucketMedian(hist)
	return st, nil
}

// ExactMedianRequests is the largest number of requests of a period whose
// median time to rate RatingStats computes from the rows (exactly); above,
// it reads it from the counters' buckets.
var ExactMedianRequests int64 = 2000

// rateBucket is a count of rating_rate_counts' buckets.
type rateBucket struct {
	bucket int
	n      int64
}

// rateBucketValue is the value standing for a bucket of rating_rate_bucket:
// the geometric middle of [2^((b-1)/16), 2^(b/16)) (negated for b < 0), 0
// for bucket 0. Every time to rate of the bucket is within 2.2%
// (2^(1/32) - 1) of it, or within 1 second for bucket 0: so is the median
// read from buckets (an average of two such values when their count is even).
func rateBucketValue(b int) float64 {
	switch {
	case b > 0:
		return math.Pow(2, (float64(b)-0.5)/16)
	case b < 0:
		return -math.Pow(2, (float64(-b)-0.5)/16)
	}
	return 0
}

// bucketMedian is percentile_cont(0.5) of the values standing for the
// buckets of hist (sorted by bucket); nil when empty.
func bucketMedian(hist []rateBucket) *float64 {
	var total int64
	for _, b := range hist {
		total += b.n
	}
	if total <= 0 {
		return nil
	}
	// The k-th value (from 1) lies in the bucket where the running count
	// reaches k, as bucketing keeps the order of the values.
	nth := func(k int64) float64 {
		var seen int64
		for _, b := range hist {
			seen += b.n
			if seen >= k {
				return rateBucketValue(b.bucket)
			}
		}
		return rateBucketValue(hist[len(hist)-1].bucket)
	}
	m := nth(total/2 + 1)
	if total%2 == 0 {
		m = (nth(total/2) + m) / 2
	}
	return &m
}

// ratingSegmentSet is a period cut into counter periods and raw edges.
type ratingSegmentSet struct {
	levels           []int16
	los, his         []time.Time
	edgeLos, edgeHis []time.Time
}

// Counter levels of rating_count_periods.
const (
	levelHour  = 0
	levelDay   = 1
	levelMonth = 2
)

// Bounds standing for an open end: both on every boundary (hour, day,
// month), before and after every requested_at.
var (
	openFrom = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	openTo   = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
)

// ratingSegments cuts [From, To) into whole months in the middle, whole
// days and hours towards the ends, and the partial hours at the edges
// (counted from raw rows), all in UTC like the counters.
func ratingSegments(f RatingStatsFilter) ratingSegmentSet {
	from, to := f.bounds()
	from, to = from.UTC(), to.UTC()
	var s ratingSegmentSet
	add := func(level int16, lo, hi time.Time) {
		if lo.Before(hi) {
			s.levels, s.los, s.his = append(s.levels, level), append(s.los, lo), append(s.his, hi)
		}
	}
	edge := func(lo, hi time.Time) {
		if lo.Before(hi) {
			s.edgeLos, s.edgeHis = append(s.edgeLos, lo), append(s.edgeHis, hi)
		}
	}
	// From the finest unit up, the whole units inside [lo, hi) go on to the
	// next step; what is left at the two ends is kept at the level below
	// (the hours' ends are the edges); the whole months are kept as months.
	units := []struct {
		level int16
		floor func(time.Time) time.Time
		next  func(time.Time) time.Time
	}{
		{levelHour, func(t time.Time) time.Time { return t.Truncate(time.Hour) }, func(t time.Time) time.Time { return t.Add(time.Hour) }},
		{levelDay, func(t time.Time) time.Time { return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC) },
			func(t time.Time) time.Time { return t.AddDate(0, 0, 1) }},
		{levelMonth, func(t time.Time) time.Time { return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC) },
			func(t time.Time) time.Time { return t.AddDate(0, 1, 0) }},
	}
	keep, lo, hi := edge, from, to
	for _, u := range units {
		first, last := u.floor(lo), u.floor(hi)
		if !first.Equal(lo) {
			first = u.next(first)
		}
		if !first.Before(last) {
			keep(lo, hi) // within one unit, or two partial ones
			return s
		}
		keep(lo, first)
		keep(last, hi)
		lo, hi = first, last
		keep = func(lo, hi time.Time) { add(u.level, lo, hi) }
	}
	keep(lo, hi)
	return s
}

// RatingExportRow is one line of the CSV export: a request and, when
// given, its rating.
type RatingExportRow struct {
	Request RatingRequest
	Rating  *Rating
}

// ExportRatings calls fn for every request made in the period (with its
// rating, if any), oldest first.
func (s *Store) ExportRatings(ctx context.Context, f RatingStatsFilter, fn func(RatingExportRow) error) error {
	// The period through rating_requests_by_time, each request's rating by
	// its key (LATERAL, OFFSET 0: not a hash join over every rating); the
	// index order needs only ties on requested_at sorted (an incremental
	// sort), so rows stream out as they are read.
	from, to := f.bounds()
	cols := `q.id, q.issue_id, q.resolution, q.workflow_id, q.title, q.status, coalesce(q.contact_id, 0), coalesce(q.company_id, 0),
		coalesce(q.assignee_id, 0), coalesce(q.chat_id, 0), coalesce(q.message_id, 0), coalesce(q.reminder_message_id, 0), q.state,
		coalesce(q.error, ''), coalesce(q.event_id, 0), q.requested_at, q.sent_at, q.reminded_at, q.closed_at,
		r.score, r.rated_at, coalesce(r.telegram_user_id, 0), coalesce(r.comment_state, ''), coalesce(r.comment_id, 0)`
	rows, err := s.Pool.Query(ctx, `SELECT `+cols+` FROM rating_requests q
		LEFT JOIN LATERAL (SELECT r.score, r.rated_at, r.telegram_user_id, r.comment_state, r.comment_id FROM ratings r
			WHERE r.request_id = q.id OFFSET 0) r ON true
		WHERE q.requested_at >= $1 AND q.requested_at < $2
		ORDER BY q.requested_at, q.id`, from, to)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var q RatingRequest
		var score *int
		var ratedAt *time.Time
		var userID, commentID int64
		var commentState string
		if err := rows.Scan(&q.ID, &q.IssueID, &q.Resolution, &q.WorkflowID, &q.Title, &q.Status, &q.ContactID, &q.CompanyID,
			&q.AssigneeID, &q.ChatID, &q.MessageID, &q.ReminderMessageID, &q.State, &q.Error, &q.EventID,
			&q.RequestedAt, &q.SentAt, &q.RemindedAt, &q.ClosedAt, &score, &ratedAt, &userID, &commentState, &commentID); err != nil {
			return err
		}
		row := RatingExportRow{Request: q}
		if score != nil && ratedAt != nil {
			row.Rating = &Rating{RequestID: q.ID, IssueID: q.IssueID, ContactID: q.ContactID, ChatID: q.ChatID, TelegramUserID: userID,
				Score: *score, AssigneeID: q.AssigneeID, RatedAt: *ratedAt, CommentState: commentState, CommentID: commentID}
		}
		if err := fn(row); err != nil {
			return err
		}
	}
	return rows.Err()
}
