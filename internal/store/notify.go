package store

import (
	"context"
	"fmt"
	"net/mail"
	"strings"
	"time"
)

// Notifications is what e-mail notifications keep: a user's address, and
// which recipients of a job were sent their e-mail (LAVA's
// NotificationRecipient.status), so each gets one per job.
type Notifications interface {
	// SetUserEmail sets a user's e-mail address ("" for none); an
	// address is a bare one (alice@example.org, no display name), as
	// CheckEmail says.
	SetUserEmail(ctx context.Context, user, email string) error
	// ClaimNotification records that job's notification to recipient is
	// being sent and reports whether it was not sent (nor being sent)
	// before: of two callers only one gets true. A recipient is any key
	// the caller chooses (notify uses "email:" and the address).
	ClaimNotification(ctx context.Context, job int64, recipient string) (bool, error)
	// ReleaseNotification undoes a claim whose sending failed, so a later
	// transition of the job tries again (LAVA leaves it NOT_SENT).
	ReleaseNotification(ctx context.Context, job int64, recipient string) error
}

// CheckEmail reports whether s is a bare e-mail address, naming the
// problem when it is not.
func CheckEmail(s string) error {
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s || strings.ContainsAny(s, " \t\r\n<>") {
		return fmt.Errorf("%q is not a valid email address", s)
	}
	return nil
}

// SetUserEmail sets a user's address.
func (s *SQL) SetUserEmail(ctx context.Context, user, email string) error {
	if email != "" {
		if err := CheckEmail(email); err != nil {
			return fmt.Errorf("store: user %s: %w", user, err)
		}
	}
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE users SET email = ? WHERE name = ?`), email, user)
	if err != nil {
		return fmt.Errorf("store: user %s: %w", user, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return fmt.Errorf("store: user %s: %w", user, ErrNotFound)
	}
	return nil
}

// ClaimNotification inserts the (job, recipient) row; the primary key
// makes the claim atomic.
func (s *SQL) ClaimNotification(ctx context.Context, job int64, recipient string) (bool, error) {
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO notifications_sent (job, recipient, claimed) VALUES (?, ?, ?)`),
		job, recipient, time.Now().UnixNano())
	if err != nil && s.d.IsUnique != nil && s.d.IsUnique(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("store: job %d: notification to %s: %w", job, recipient, err)
	}
	return true, nil
}

// ReleaseNotification removes the claim.
func (s *SQL) ReleaseNotification(ctx context.Context, job int64, recipient string) error {
	if _, err := s.db.ExecContext(ctx, s.q(`DELETE FROM notifications_sent WHERE job = ? AND recipient = ?`), job, recipient); err != nil {
		return fmt.Errorf("store: job %d: notification to %s: %w", job, recipient, err)
	}
	return nil
}
