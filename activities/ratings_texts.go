package activities

import (
	"fmt"
	"strings"

	"github.com/hookflow/hookflow/internal/config"
	"github.com/hookflow/hookflow/internal/store"
)

// ---- texts ----

// ratingTexts are the bot's words in one language. Formats take the issue
// number and title where they show them.
type ratingTexts struct {
	Request, RequestNoTitle    string
	Reminder, ReminderNoTitle  string
	Thanks                     string
	Expired, Cancelled         string
	Comment                    string
	ToastThanks                string
	ToastAlreadyRated          string
	ToastInactive              string
	GreetingLinked             string
	GreetingUnlinked           string
	SharePhoneButton           string
	NewRequestButton           string
	Linked, LinkInvalid        string
	PhoneNotOwn, PhoneNotFound string
	AskDescription, NeedLink   string
	IssueCreated, IssueFailed  string
	IssueTitleFallback, Help   string
	PortalLink                 string
}

var russianTexts = ratingTexts{
	Request:            "Ваша заявка №%d «%s» решена.\nПожалуйста, оцените качество работы:",
	RequestNoTitle:     "Ваша заявка №%d решена.\nПожалуйста, оцените качество работы:",
	Reminder:           "Напоминание: оцените, пожалуйста, решение заявки №%d «%s».",
	ReminderNoTitle:    "Напоминание: оцените, пожалуйста, решение заявки №%d.",
	Thanks:             "Спасибо за оценку %s (%d/5) заявки №%d!\nЕсли появится новый вопрос — создайте новую заявку.",
	Expired:            "Время для оценки заявки №%d истекло.",
	Cancelled:          "Заявка №%d снова открыта — запрос оценки отменён.",
	Comment:            "Оценка клиента: %s (%d/5)",
	ToastThanks:        "Спасибо за оценку!",
	ToastAlreadyRated:  "Вы уже оценили эту заявку.",
	ToastInactive:      "Этот запрос оценки больше не активен.",
	GreetingLinked:     "Здравствуйте! Здесь вы получаете запросы оценки решённых заявок и можете создать новую заявку.",
	GreetingUnlinked:   "Здравствуйте! Я бот службы поддержки. Чтобы получать запросы оценки по вашим заявкам и создавать новые, поделитесь номером телефона кнопкой ниже.",
	SharePhoneButton:   "📱 Поделиться номером телефона",
	NewRequestButton:   "📝 Новая заявка",
	Linked:             "Готово! Чат привязан к вашему контакту в службе поддержки.",
	LinkInvalid:        "Ссылка недействительна, устарела или уже использована. Попросите новую или поделитесь номером телефона.",
	PhoneNotOwn:        "Пожалуйста, отправьте свой номер кнопкой «Поделиться номером телефона».",
	PhoneNotFound:      "Этот номер не найден среди контактов службы поддержки. Попросите у менеджера ссылку для привязки чата.",
	AskDescription:     "Опишите, пожалуйста, проблему одним сообщением.",
	NeedLink:           "Сначала привяжите чат к своему контакту: поделитесь номером телефона кнопкой ниже.",
	IssueCreated:       "Заявка №%d создана. Мы сообщим, когда она будет решена.",
	IssueFailed:        "Не удалось создать заявку. Попробуйте позже или свяжитесь со службой поддержки.",
	IssueTitleFallback: "Заявка из Telegram",
	Help:               "Чтобы обратиться в поддержку, нажмите «Новая заявка».",
	PortalLink:         "\n%s/issues/%d",
}

var englishTexts = ratingTexts{
	Request:            "Your request #%d \"%s\" has been resolved.\nPlease rate our work:",
	RequestNoTitle:     "Your request #%d has been resolved.\nPlease rate our work:",
	Reminder:           "Reminder: please rate how request #%d \"%s\" was resolved.",
	ReminderNoTitle:    "Reminder: please rate how request #%d was resolved.",
	Thanks:             "Thank you for rating request #%[3]d %[1]s (%[2]d/5)!\nIf anything else comes up, create a new request.",
	Expired:            "The time to rate request #%d has passed.",
	Cancelled:          "Request #%d was reopened, so the rating request is cancelled.",
	Comment:            "Customer rating: %s (%d/5)",
	ToastThanks:        "Thank you for your rating!",
	ToastAlreadyRated:  "You have rated this request already.",
	ToastInactive:      "This rating request is no longer active.",
	GreetingLinked:     "Hello! Here you get rating requests for resolved issues and can create a new request.",
	GreetingUnlinked:   "Hello! I am the support bot. To get rating requests for your issues and create new ones, share your phone number with the button below.",
	SharePhoneButton:   "📱 Share my phone number",
	NewRequestButton:   "📝 New request",
	Linked:             "Done! This chat is linked to your support contact.",
	LinkInvalid:        "This link is invalid, expired or used already. Ask for a new one or share your phone number.",
	PhoneNotOwn:        "Please send your own number with the \"Share my phone number\" button.",
	PhoneNotFound:      "This number is not among the support contacts. Ask your manager for a link to connect this chat.",
	AskDescription:     "Please describe the problem in one message.",
	NeedLink:           "Please link this chat to your contact first: share your phone number with the button below.",
	IssueCreated:       "Request #%d has been created. We will let you know when it is resolved.",
	IssueFailed:        "The request could not be created. Please try again later or contact support.",
	IssueTitleFallback: "Request from Telegram",
	Help:               "To contact support, press \"New request\".",
	PortalLink:         "\n%s/issues/%d",
}

func textsFor(cfg config.RatingsConfig) ratingTexts {
	if cfg.English() {
		return englishTexts
	}
	return russianTexts
}

// Stars is "⭐" repeated score times.
func Stars(score int) string { return strings.Repeat("⭐", max(score, 0)) }

func (t ratingTexts) request(req store.RatingRequest, portal string) string {
	s := fmt.Sprintf(t.RequestNoTitle, req.IssueID)
	if req.Title != "" {
		s = fmt.Sprintf(t.Request, req.IssueID, req.Title)
	}
	if portal != "" {
		s += fmt.Sprintf(t.PortalLink, strings.TrimRight(portal, "/"), req.IssueID)
	}
	return s
}

func (t ratingTexts) reminder(req store.RatingRequest) string {
	if req.Title != "" {
		return fmt.Sprintf(t.Reminder, req.IssueID, req.Title)
	}
	return fmt.Sprintf(t.ReminderNoTitle, req.IssueID)
}

func (t ratingTexts) thanks(req store.RatingRequest, score int) string {
	return fmt.Sprintf(t.Thanks, Stars(score), score, req.IssueID)
}

func (t ratingTexts) expired(req store.RatingRequest) string {
	return fmt.Sprintf(t.Expired, req.IssueID)
}

func (t ratingTexts) cancelled(req store.RatingRequest) string {
	return fmt.Sprintf(t.Cancelled, req.IssueID)
}

func (t ratingTexts) comment(score int) string { return fmt.Sprintf(t.Comment, Stars(score), score) }
