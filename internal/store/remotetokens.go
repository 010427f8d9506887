package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
)

// Limits on a remote artifact token. LAVA's RemoteArtifactsAuth caps the
// name at 100 characters and the value at 200; the value's cap here is
// larger because bearer tokens (JWTs) often exceed 200 bytes.
const (
	MaxRemoteTokenName  = 100
	MaxRemoteTokenValue = 4096
)

// RemoteToken is one of a user's remote artifact tokens (LAVA's
// RemoteArtifactsAuth): a secret the lab sends on the user's behalf, by
// name. Token is empty unless the caller asked for values.
type RemoteToken struct {
	User, Name, Token string
	Created           time.Time
}

// RemoteTokens keeps remote artifact tokens. Unlike API tokens they are
// stored in clear: the lab must send them (a notify callback's token
// header, a download's headers, a job's secrets), and only jobs of their
// user use them.
type RemoteTokens interface {
	// PutRemoteToken adds user's token name or replaces its value;
	// ErrNotFound when the user does not exist.
	PutRemoteToken(ctx context.Context, user, name, token string) error
	// RemoteTokens lists user's tokens (every user's when user is ""),
	// by user then name; values only when withValues.
	RemoteTokens(ctx context.Context, user string, withValues bool) ([]RemoteToken, error)
	// RemoteToken is the value of user's token name; ErrNotFound when
	// there is none.
	RemoteToken(ctx context.Context, user, name string) (string, error)
	// DeleteRemoteToken removes user's token name; ErrNotFound when
	// there is none.
	DeleteRemoteToken(ctx context.Context, user, name string) error
}

// CheckRemoteToken says what is wrong with a token's name or value, if
// anything: both non-empty and within their limits, a name without
// control characters or surrounding spaces, a value without control
// characters (it goes into HTTP headers).
func CheckRemoteToken(name, token string) error {
	switch {
	case name == "":
		return errors.New("remote token name is empty")
	case len(name) > MaxRemoteTokenName:
		return fmt.Errorf("remote token name is longer than %d bytes", MaxRemoteTokenName)
	case strings.TrimSpace(name) != name:
		return fmt.Errorf("remote token name %q starts or ends with a space", name)
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		return fmt.Errorf("remote token name %q holds a control character", name)
	case token == "":
		return fmt.Errorf("remote token %q: value is empty", name)
	case len(token) > MaxRemoteTokenValue:
		return fmt.Errorf("remote token %q: value is longer than %d bytes", name, MaxRemoteTokenValue)
	case strings.IndexFunc(token, unicode.IsControl) >= 0:
		return fmt.Errorf("remote token %q: value holds a control character", name)
	}
	return nil
}

// PutRemoteToken upserts the (user, name) row.
func (s *SQL) PutRemoteToken(ctx context.Context, user, name, token string) error {
	if err := CheckRemoteToken(name, token); err != nil {
		return fmt.Errorf("store: user %s: %w", user, err)
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM users WHERE name = ?`), user).Scan(&n); err != nil {
			return fmt.Errorf("store: user %s: %w", user, err)
		}
		if n == 0 {
			return fmt.Errorf("store: user %s: %w", user, ErrNotFound)
		}
		_, err := tx.ExecContext(ctx, s.q(`INSERT INTO remote_tokens (username, name, token, created) VALUES (?, ?, ?, ?)
			ON CONFLICT (username, name) DO UPDATE SET token = excluded.token`),
			user, name, token, time.Now().UnixNano())
		if err != nil {
			return fmt.Errorf("store: remote token %s of %s: %w", name, user, err)
		}
		return nil
	})
}

// RemoteTokens lists tokens, values only when asked.
func (s *SQL) RemoteTokens(ctx context.Context, user string, withValues bool) ([]RemoteToken, error) {
	value := `''`
	if withValues {
		value = `token`
	}
	query := `SELECT username, name, ` + value + `, created FROM remote_tokens`
	var args []any
	if user != "" {
		query += ` WHERE username = ?`
		args = append(args, user)
	}
	rows, err := s.db.QueryContext(ctx, s.q(query+` ORDER BY username, name`), args...)
	if err != nil {
		return nil, fmt.Errorf("store: remote tokens: %w", err)
	}
	defer rows.Close()
	var ts []RemoteToken
	for rows.Next() {
		var t RemoteToken
		var created int64
		if err := rows.Scan(&t.User, &t.Name, &t.Token, &created); err != nil {
			return nil, fmt.Errorf("store: remote tokens: %w", err)
		}
		t.Created = time.Unix(0, created).UTC()
		ts = append(ts, t)
	}
	return ts, rows.Err()
}

// RemoteToken reads one value.
func (s *SQL) RemoteToken(ctx context.Context, user, name string) (string, error) {
	var token string
	err := s.db.QueryRowContext(ctx, s.q(`SELECT token FROM remote_tokens WHERE username = ? AND name = ?`), user, name).Scan(&token)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("store: remote token %s of %s: %w", name, user, ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("store: remote token %s of %s: %w", name, user, err)
	}
	return token, nil
}

// DeleteRemoteToken removes one token.
func (s *SQL) DeleteRemoteToken(ctx context.Context, user, name string) error {
	res, err := s.db.ExecContext(ctx, s.q(`DELETE FROM remote_tokens WHERE username = ? AND name = ?`), user, name)
	if err != nil {
		return fmt.Errorf("store: delete remote token %s of %s: %w", name, user, err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return fmt.Errorf("store: remote token %s of %s: %w", name, user, ErrNotFound)
	}
	return nil
}
