package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// Dialect is what differs between the SQL backends; the queries themselves
// are shared and written with ? placeholders.
type Dialect struct {
	Name string
	// Numbered rewrites ? as $1, $2… (PostgreSQL).
	Numbered bool
	// Migrations holds NNNN_name.sql files applied in order.
	Migrations fs.FS
	// MigrationLock, when set, runs first in each migration transaction to
	// serialise processes migrating at once (SQLite's BEGIN IMMEDIATE does
	// that by itself; PostgreSQL takes an advisory lock).
	MigrationLock string
	// IsUnique reports a unique-constraint violation.
	IsUnique func(error) bool
}

// SQL is the Store over database/sql shared by the backends.
type SQL struct {
	db *sql.DB
	d  Dialect
}

var _ Store = (*SQL)(nil)

// NewSQL applies the migrations and returns the store. It owns db.
func NewSQL(ctx context.Context, db *sql.DB, d Dialect) (*SQL, error) {
	s := &SQL{db: db, d: d}
	if err := s.migrate(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// Close closes the database.
func (s *SQL) Close() error { return s.db.Close() }

func (s *SQL) q(query string) string {
	if !s.d.Numbered {
		return query
	}
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// tx runs fn in one transaction, committed when fn returns nil.
func (s *SQL) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}

// migrate applies each embedded migration not yet recorded in
// schema_migrations, each in its own transaction that re-checks the version
// so two processes opening the same database at once apply it once.
func (s *SQL) migrate(ctx context.Context) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if err := s.lockMigrations(ctx, tx); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied BIGINT NOT NULL)`)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: migrations table: %w", err)
	}
	names, err := fs.Glob(s.d.Migrations, "*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, name := range names {
		v, err := strconv.Atoi(strings.SplitN(name, "_", 2)[0])
		if err != nil {
			return fmt.Errorf("store: migration %s: name must start with a number", name)
		}
		body, err := fs.ReadFile(s.d.Migrations, name)
		if err != nil {
			return err
		}
		err = s.tx(ctx, func(tx *sql.Tx) error {
			if err := s.lockMigrations(ctx, tx); err != nil {
				return err
			}
			var n int
			if err := tx.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM schema_migrations WHERE version = ?`), v).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			if _, err := tx.ExecContext(ctx, string(body)); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, s.q(`INSERT INTO schema_migrations (version, name, applied) VALUES (?, ?, ?)`),
				v, name, time.Now().UnixNano())
			return err
		})
		if err != nil {
			return fmt.Errorf("store: migration %s: %w", name, err)
		}
	}
	return nil
}

func (s *SQL) lockMigrations(ctx context.Context, tx *sql.Tx) error {
	if s.d.MigrationLock == "" {
		return nil
	}
	_, err := tx.ExecContext(ctx, s.d.MigrationLock)
	return err
}

// Secrets. Passwords: bcrypt (slow on purpose, salted). Tokens: a random
// 32-byte secret has enough entropy that SHA-256 suffices and allows the
// lookup by hash an API call needs.

func hashToken(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}

func newSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

func (s *SQL) exists(err error, what string) error {
	if err != nil && s.d.IsUnique != nil && s.d.IsUnique(err) {
		return fmt.Errorf("store: %s: %w", what, ErrExists)
	}
	if err != nil {
		return fmt.Errorf("store: %s: %w", what, err)
	}
	return nil
}

func notFound(err error, what string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("store: %s: %w", what, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("store: %s: %w", what, err)
	}
	return nil
}

func fromNanos(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return time.Unix(0, n.Int64).UTC()
}

func joinTags(tags []string) string {
	t := append([]string(nil), tags...)
	sort.Strings(t)
	return strings.Join(t, "\n")
}

func splitTags(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// Users and tokens.

// CreateUser stores a user with a bcrypt hash of password (an empty password
// stores no hash: the user can only use tokens).
func (s *SQL) CreateUser(ctx context.Context, name, password string, superuser bool) (User, error) {
	if name == "" {
		return User{}, errors.New("store: user name is empty")
	}
	hash := ""
	if password != "" {
		h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
		if err != nil {
			return User{}, fmt.Errorf("store: user %s: %w", name, err)
		}
		hash = string(h)
	}
	now := time.Now().UTC()
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO users (name, password_hash, superuser, created) VALUES (?, ?, ?, ?)`),
		name, hash, superuser, now.UnixNano())
	if err := s.exists(err, "user "+name); err != nil {
		return User{}, err
	}
	return User{Name: name, Superuser: superuser, Created: time.Unix(0, now.UnixNano()).UTC()}, nil
}

const userCols = `name, superuser, created, email`

func scanUser(sc interface{ Scan(...any) error }) (User, error) {
	var u User
	var created int64
	err := sc.Scan(&u.Name, &u.Superuser, &created, &u.Email)
	u.Created = time.Unix(0, created).UTC()
	return u, err
}

// User returns one user.
func (s *SQL) User(ctx context.Context, name string) (User, error) {
	u, err := scanUser(s.db.QueryRowContext(ctx, s.q(`SELECT `+userCols+` FROM users WHERE name = ?`), name))
	return u, notFound(err, "user "+name)
}

// Users lists users by name.
func (s *SQL) Users(ctx context.Context) ([]User, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+userCols+` FROM users ORDER BY name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// CheckPassword returns the user when password matches its hash.
func (s *SQL) CheckPassword(ctx context.Context, name, password string) (User, error) {
	var hash string
	err := s.db.QueryRowContext(ctx, s.q(`SELECT password_hash FROM users WHERE name = ?`), name).Scan(&hash)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && (hash == "" || bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) != nil)) {
		return User{}, fmt.Errorf("store: user %s: %w", name, ErrAuth)
	}
	if err != nil {
		return User{}, fmt.Errorf("store: user %s: %w", name, err)
	}
	return s.User(ctx, name)
}

// CreateToken stores SHA-256 of secret (random when empty) for user and
// returns the secret.
func (s *SQL) CreateToken(ctx context.Context, user, secret, description string) (string, error) {
	if secret == "" {
		var err error
		if secret, err = newSecret(); err != nil {
			return "", err
		}
	}
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO tokens (username, hash, description, created) VALUES (?, ?, ?, ?)`),
		user, hashToken(secret), description, time.Now().UnixNano())
	if err != nil && s.d.IsUnique != nil && !s.d.IsUnique(err) {
		if _, uerr := s.User(ctx, user); errors.Is(uerr, ErrNotFound) {
			return "", uerr
		}
	}
	if err := s.exists(err, "token for "+user); err != nil {
		return "", err
	}
	return secret, nil
}

// Authenticate returns user when secret is one of its tokens.
func (s *SQL) Authenticate(ctx context.Context, user, secret string) (User, error) {
	var owner string
	err := s.db.QueryRowContext(ctx, s.q(`SELECT username FROM tokens WHERE hash = ?`), hashToken(secret)).Scan(&owner)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && subtle.ConstantTimeCompare([]byte(owner), []byte(user)) != 1) {
		return User{}, fmt.Errorf("store: token for %s: %w", user, ErrAuth)
	}
	if err != nil {
		return User{}, fmt.Errorf("store: token for %s: %w", user, err)
	}
	return s.User(ctx, user)
}

// TokenUser returns the owner of secret, a token given without its user.
func (s *SQL) TokenUser(ctx context.Context, secret string) (User, error) {
	var owner string
	err := s.db.QueryRowContext(ctx, s.q(`SELECT username FROM tokens WHERE hash = ?`), hashToken(secret)).Scan(&owner)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && secret == "") {
		return User{}, fmt.Errorf("store: token: %w", ErrAuth)
	}
	if err != nil {
		return User{}, fmt.Errorf("store: token: %w", err)
	}
	return s.User(ctx, owner)
}

// Tokens lists user's tokens by id.
func (s *SQL) Tokens(ctx context.Context, user string) ([]Token, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT id, description, created FROM tokens WHERE username = ? ORDER BY id`), user)
	if err != nil {
		return nil, fmt.Errorf("store: tokens of %s: %w", user, err)
	}
	defer rows.Close()
	var ts []Token
	for rows.Next() {
		var t Token
		var created int64
		if err := rows.Scan(&t.ID, &t.Description, &created); err != nil {
			return nil, fmt.Errorf("store: tokens of %s: %w", user, err)
		}
		t.Created = time.Unix(0, created).UTC()
		ts = append(ts, t)
	}
	return ts, rows.Err()
}

// DeleteToken removes user's token id.
func (s *SQL) DeleteToken(ctx context.Context, user string, id int64) error {
	res, err := s.db.ExecContext(ctx, s.q(`DELETE FROM tokens WHERE username = ? AND id = ?`), user, id)
	if err != nil {
		return fmt.Errorf("store: delete token %d of %s: %w", id, user, err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return fmt.Errorf("store: token %d of %s: %w", id, user, ErrNotFound)
	}
	return nil
}

// Groups.

// CreateGroup makes a group; an existing one is left as is.
func (s *SQL) CreateGroup(ctx context.Context, name string) error {
	if name == "" {
		return errors.New("store: group name is empty")
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM groups WHERE name = ?`), name).Scan(&n); err != nil || n > 0 {
			return err
		}
		_, err := tx.ExecContext(ctx, s.q(`INSERT INTO groups (name) VALUES (?)`), name)
		return s.exists(err, "group "+name)
	})
}

// AddGroupMember adds user to group; both must exist.
func (s *SQL) AddGroupMember(ctx context.Context, group, user string) error {
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO group_members (group_name, username) VALUES (?, ?)`), group, user)
	if err != nil && s.d.IsUnique != nil && s.d.IsUnique(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("store: add %s to group %s (both must exist): %w", user, group, err)
	}
	return nil
}

// UserGroups lists the groups of user by name.
func (s *SQL) UserGroups(ctx context.Context, user string) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT group_name FROM group_members WHERE username = ? ORDER BY group_name`), user)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var g string
		if err := rows.Scan(&g); err != nil {
			return nil, err
		}
		out = append(out, g)
	}
	return out, rows.Err()
}

// Device types.

// PutDeviceType creates or replaces a device type.
func (s *SQL) PutDeviceType(ctx context.Context, dt DeviceType) error {
	if dt.Name == "" {
		return errors.New("store: device type name is empty")
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(`UPDATE device_types SET template = ?, health_check = ? WHERE name = ?`),
			dt.Template, dt.HealthCheck, dt.Name)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 1 {
			return nil
		}
		_, err = tx.ExecContext(ctx, s.q(`INSERT INTO device_types (name, template, health_check) VALUES (?, ?, ?)`),
			dt.Name, dt.Template, dt.HealthCheck)
		return s.exists(err, "device type "+dt.Name)
	})
}

const deviceTypeCols = `name, template, health_check, description, display, owners_only, health_frequency, health_denominator, health_disabled`

func scanDeviceType(sc interface{ Scan(...any) error }) (DeviceType, error) {
	var dt DeviceType
	err := sc.Scan(&dt.Name, &dt.Template, &dt.HealthCheck, &dt.Description, &dt.Display, &dt.OwnersOnly,
		&dt.HealthFrequency, &dt.HealthDenominator, &dt.HealthDisabled)
	return dt, err
}

// DeviceType returns one device type.
func (s *SQL) DeviceType(ctx context.Context, name string) (DeviceType, error) {
	dt, err := scanDeviceType(s.db.QueryRowContext(ctx, s.q(`SELECT `+deviceTypeCols+` FROM device_types WHERE name = ?`), name))
	dt.Name = name
	return dt, notFound(err, "device type "+name)
}

// DeviceTypes lists device types by name.
func (s *SQL) DeviceTypes(ctx context.Context) ([]DeviceType, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+deviceTypeCols+` FROM device_types ORDER BY name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []DeviceType
	for rows.Next() {
		dt, err := scanDeviceType(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, dt)
	}
	return out, rows.Err()
}

// DeviceChecks returns the remembered device configuration checks.
func (s *SQL) DeviceChecks(ctx context.Context) (map[string]DeviceCheck, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT device, key, problem FROM device_checks`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]DeviceCheck{}
	for rows.Next() {
		var c DeviceCheck
		if err := rows.Scan(&c.Device, &c.Key, &c.Problem); err != nil {
			return nil, err
		}
		out[c.Device] = c
	}
	return out, rows.Err()
}

// PutDeviceChecks creates or replaces checks in one transaction, many
// rows per statement (a new lab's first pass stores a check per device);
// a device that does not exist (removed meanwhile) is skipped.
func (s *SQL) PutDeviceChecks(ctx context.Context, cs []DeviceCheck) error {
	const rowsPerStatement = 200
	return s.tx(ctx, func(tx *sql.Tx) error {
		for len(cs) > 0 {
			n := min(len(cs), rowsPerStatement)
			var b strings.Builder
			args := make([]any, 0, 3*n)
			for i, c := range cs[:n] {
				if i > 0 {
					b.WriteString(", ")
				}
				b.WriteString("(?, ?, ?)")
				args = append(args, c.Device, c.Key, c.Problem)
			}
			cs = cs[n:]
			// VALUES' columns are column1… on both databases.
			if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO device_checks (device, key, problem)
				SELECT column1, column2, column3 FROM (VALUES `+b.String()+`) AS v
				WHERE column1 IN (SELECT name FROM devices)
				ON CONFLICT (device) DO UPDATE SET key = excluded.key, problem = excluded.problem`), args...); err != nil {
				return err
			}
		}
		return nil
	})
}

// Workers.

// CreateWorker stores a worker, Offline, with the hash of its token.
func (s *SQL) CreateWorker(ctx context.Context, name, secret string) (string, error) {
	if name == "" {
		return "", errors.New("store: worker name is empty")
	}
	if secret == "" {
		var err error
		if secret, err = newSecret(); err != nil {
			return "", err
		}
	}
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO workers (name, token_hash, state) VALUES (?, ?, ?)`),
		name, hashToken(secret), WorkerOffline)
	if err := s.exists(err, "worker "+name); err != nil {
		return "", err
	}
	return secret, nil
}

// AuthenticateWorker returns the worker when secret is its token.
func (s *SQL) AuthenticateWorker(ctx context.Context, name, secret string) (Worker, error) {
	var hash string
	err := s.db.QueryRowContext(ctx, s.q(`SELECT token_hash FROM workers WHERE name = ?`), name).Scan(&hash)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && subtle.ConstantTimeCompare([]byte(hash), []byte(hashToken(secret))) != 1) {
		return Worker{}, fmt.Errorf("store: worker %s: %w", name, ErrAuth)
	}
	if err != nil {
		return Worker{}, fmt.Errorf("store: worker %s: %w", name, err)
	}
	return s.Worker(ctx, name)
}

const workerCols = `name, state, last_ping, description, health, job_limit`

func scanWorker(sc interface{ Scan(...any) error }) (Worker, error) {
	var w Worker
	var ping sql.NullInt64
	err := sc.Scan(&w.Name, &w.State, &ping, &w.Description, &w.Health, &w.JobLimit)
	w.LastPing = fromNanos(ping)
	return w, err
}

// Worker returns one worker.
func (s *SQL) Worker(ctx context.Context, name string) (Worker, error) {
	w, err := scanWorker(s.db.QueryRowContext(ctx, s.q(`SELECT `+workerCols+` FROM workers WHERE name = ?`), name))
	return w, notFound(err, "worker "+name)
}

// Workers lists workers by name.
func (s *SQL) Workers(ctx context.Context) ([]Worker, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+workerCols+` FROM workers ORDER BY name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Worker
	for rows.Next() {
		w, err := scanWorker(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, w)
	}
	return out, rows.Err()
}

func (s *SQL) updateOne(ctx context.Context, what, query string, args ...any) error {
	res, err := s.db.ExecContext(ctx, s.q(query), args...)
	if err != nil {
		return fmt.Errorf("store: %s: %w", what, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return fmt.Errorf("store: %s: %w", what, ErrNotFound)
	}
	return nil
}

// PingWorker records a heartbeat and sets the worker Online.
func (s *SQL) PingWorker(ctx context.Context, name string, at time.Time) error {
	return s.updateOne(ctx, "worker "+name, `UPDATE workers SET last_ping = ?, state = ? WHERE name = ?`,
		at.UnixNano(), WorkerOnline, name)
}

// SetWorkerState sets a worker's state.
func (s *SQL) SetWorkerState(ctx context.Context, name string, state WorkerState) error {
	if state != WorkerOnline && state != WorkerOffline {
		return fmt.Errorf("store: worker %s: unknown state %q", name, state)
	}
	return s.updateOne(ctx, "worker "+name, `UPDATE workers SET state = ? WHERE name = ?`, state, name)
}

// Devices.

// CreateDevice stores a device, Idle with health Unknown.
func (s *SQL) CreateDevice(ctx context.Context, d Device) error {
	if d.Name == "" {
		return errors.New("store: device name is empty")
	}
	var worker sql.NullString
	if d.Worker != "" {
		worker = sql.NullString{String: d.Worker, Valid: true}
	}
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO devices (name, device_type, worker, dictionary, tags, state, health,
		description, physical_owner, physical_group) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		d.Name, d.DeviceType, worker, d.Dictionary, joinTags(d.Tags), DeviceIdle, HealthUnknown,
		d.Description, d.PhysicalOwner, d.PhysicalGroup)
	return s.exists(err, "device "+d.Name)
}

const deviceCols = `name, device_type, worker, dictionary, tags, state, health, description, physical_owner, physical_group`

func scanDevice(sc interface{ Scan(...any) error }) (Device, error) {
	var d Device
	var worker sql.NullString
	var tags string
	err := sc.Scan(&d.Name, &d.DeviceType, &worker, &d.Dictionary, &tags, &d.State, &d.Health,
		&d.Description, &d.PhysicalOwner, &d.PhysicalGroup)
	d.Worker = worker.String
	d.Tags = splitTags(tags)
	return d, err
}

// Device returns one device.
func (s *SQL) Device(ctx context.Context, name string) (Device, error) {
	d, err := scanDevice(s.db.QueryRowContext(ctx, s.q(`SELECT `+deviceCols+` FROM devices WHERE name = ?`), name))
	return d, notFound(err, "device "+name)
}

// Devices lists devices by name.
func (s *SQL) Devices(ctx context.Context) ([]Device, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+deviceCols+` FROM devices ORDER BY name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Device
	for rows.Next() {
		d, err := scanDevice(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// SetDictionary replaces a device's dictionary.
func (s *SQL) SetDictionary(ctx context.Context, device, dictionary string) error {
	return s.updateOne(ctx, "device "+device, `UPDATE devices SET dictionary = ? WHERE name = ?`, dictionary, device)
}

// SetDeviceHealth sets a device's health (an administrator's or the
// scheduler's decision; any health may follow any other), logged as the
// lab's change (ChangeDeviceHealth with no user or reason).
func (s *SQL) SetDeviceHealth(ctx context.Context, device string, health DeviceHealth) error {
	return s.ChangeDeviceHealth(ctx, device, health, Change{})
}

// UpdateDevice changes a device's type, worker or tags in one transaction.
func (s *SQL) UpdateDevice(ctx context.Context, device string, u DeviceUpdate) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM devices WHERE name = ?`), device).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("store: device %s: %w", device, ErrNotFound)
		}
		if u.DeviceType != nil {
			if _, err := tx.ExecContext(ctx, s.q(`UPDATE devices SET device_type = ? WHERE name = ?`), *u.DeviceType, device); err != nil {
				return fmt.Errorf("store: device %s: type %s: %w", device, *u.DeviceType, err)
			}
		}
		if u.Worker != nil {
			var w sql.NullString
			if *u.Worker != "" {
				w = sql.NullString{String: *u.Worker, Valid: true}
			}
			if _, err := tx.ExecContext(ctx, s.q(`UPDATE devices SET worker = ? WHERE name = ?`), w, device); err != nil {
				return fmt.Errorf("store: device %s: worker %s: %w", device, *u.Worker, err)
			}
		}
		if u.Tags != nil {
			if _, err := tx.ExecContext(ctx, s.q(`UPDATE devices SET tags = ? WHERE name = ?`), joinTags(*u.Tags), device); err != nil {
				return fmt.Errorf("store: device %s: %w", device, err)
			}
		}
		for _, f := range []struct {
			col string
			v   *string
		}{{"description", u.Description}, {"physical_owner", u.PhysicalOwner}, {"physical_group", u.PhysicalGroup}} {
			if f.v == nil {
				continue
			}
			if _, err := tx.ExecContext(ctx, s.q(`UPDATE devices SET `+f.col+` = ? WHERE name = ?`), *f.v, device); err != nil {
				return fmt.Errorf("store: device %s: %s: %w", device, f.col, err)
			}
		}
		return nil
	})
}

func (s *SQL) deleteOne(ctx context.Context, table, what, name string) error {
	res, err := s.db.ExecContext(ctx, s.q(`DELETE FROM `+table+` WHERE name = ?`), name)
	if err != nil {
		return fmt.Errorf("store: remove %s %s (still in use?): %w", what, name, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return fmt.Errorf("store: %s %s: %w", what, name, ErrNotFound)
	}
	return nil
}

// DeleteUser removes a user and its tokens.
func (s *SQL) DeleteUser(ctx context.Context, name string) error {
	return s.deleteOne(ctx, "users", "user", name)
}

// DeleteDeviceType removes a device type no device uses.
func (s *SQL) DeleteDeviceType(ctx context.Context, name string) error {
	return s.deleteOne(ctx, "device_types", "device type", name)
}

// DeleteWorker removes a worker no device is attached to.
func (s *SQL) DeleteWorker(ctx context.Context, name string) error {
	return s.deleteOne(ctx, "workers", "worker", name)
}

// DeleteDevice removes a device no job refers to.
func (s *SQL) DeleteDevice(ctx context.Context, name string) error {
	return s.deleteOne(ctx, "devices", "device", name)
}

// Jobs.

// Submit stores jobs in one transaction.
func (s *SQL) Submit(ctx context.Context, jobs []NewJob) ([]int64, error) {
	ids := make([]int64, 0, len(jobs))
	err := s.tx(ctx, func(tx *sql.Tx) error {
		first := map[string]int64{} // group → id of its lowest sub_id
		low := map[string]int{}
		type sub struct {
			group string
			id    int
		}
		byGroupSub := map[sub]int{} // → index in jobs
		for i, j := range jobs {
			id, err := s.insertJob(ctx, tx, j, JobSubmitted, "", time.Now())
			if err != nil {
				return err
			}
			ids = append(ids, id)
			if j.Group == "" {
				continue
			}
			byGroupSub[sub{j.Group, j.SubID}] = i
			if sub, seen := low[j.Group]; !seen || j.SubID < sub {
				low[j.Group], first[j.Group] = j.SubID, id
			}
		}
		for g, id := range first {
			if _, err := tx.ExecContext(ctx, s.q(`UPDATE jobs SET group_first = ? WHERE target_group = ?`), id, g); err != nil {
				return fmt.Errorf("store: submit: %w", err)
			}
		}
		for i, j := range jobs {
			if !j.Dynamic {
				continue
			}
			h, ok := byGroupSub[sub{j.Group, j.HostSubID}]
			if j.Group == "" || !ok || jobs[h].Dynamic {
				return fmt.Errorf("store: submit: dynamic connection (sub_id %d of group %q): no sub-job %d with a device to run on in the submission", j.SubID, j.Group, j.HostSubID)
			}
			if _, err := tx.ExecContext(ctx, s.q(`UPDATE jobs SET host_job = ? WHERE id = ?`), ids[h], ids[i]); err != nil {
				return fmt.Errorf("store: submit: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return ids, nil
}

// insertJob stores one job in state, on device when not empty.
func (s *SQL) insertJob(ctx context.Context, tx *sql.Tx, j NewJob, state JobState, device string, now time.Time) (int64, error) {
	var group, dev sql.NullString
	if j.Group != "" {
		group = sql.NullString{String: j.Group, Valid: true}
	}
	if device != "" {
		dev = sql.NullString{String: device, Valid: true}
	}
	vis := j.Visibility
	switch vis {
	case "":
		vis = VisibilityPublic
	case VisibilityPublic, VisibilityPersonal, VisibilityGroup:
	default:
		return 0, fmt.Errorf("store: submit: unknown visibility %q", vis)
	}
	if j.QueueTimeout < 0 {
		return 0, fmt.Errorf("store: submit: negative queue timeout %s", j.QueueTimeout)
	}
	var id int64
	err := tx.QueryRowContext(ctx, s.q(`INSERT INTO jobs (definition, state, health, priority, submitter, device_type,
		tags, health_check, device, target_group, sub_id, visibility, visible_groups, error_class, error_msg, submitted,
		description, queue_timeout, multinode_definition)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '', '', ?, ?, ?, ?) RETURNING id`),
		j.Definition, state, JobUnknown, j.Priority, j.Submitter, j.DeviceType,
		joinTags(j.Tags), j.HealthCheck, dev, group, j.SubID, vis, joinTags(j.VisibleGroups), now.UnixNano(),
		j.Description, int64(j.QueueTimeout), j.MultinodeDefinition).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("store: submit: %w", err)
	}
	return id, nil
}

// ScheduleHealthCheck stores a health check Scheduled on device and
// reserves the device, in one transaction.
func (s *SQL) ScheduleHealthCheck(ctx context.Context, j NewJob, device string) (int64, error) {
	var id int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if err := s.guarded(ctx, tx, "device", device, string(DeviceReserved),
			`UPDATE devices SET state = ? WHERE name = ? AND state = ?`, DeviceReserved, device, DeviceIdle); err != nil {
			return err
		}
		j.HealthCheck = true
		var err error
		id, err = s.insertJob(ctx, tx, j, JobScheduled, device, time.Now())
		return err
	})
	return id, err
}

const jobCols = `id, definition, state, health, priority, submitter, device_type, tags, health_check,
	device, target_group, sub_id, visibility, visible_groups, error_class, error_msg, submitted, started, ended,
	description, queue_timeout, multinode_definition, group_first, host_job`

// queueCols are jobCols without the definitions, which a scheduling pass
// does not read.
const queueCols = `id, '', state, health, priority, submitter, device_type, tags, health_check,
	device, target_group, sub_id, visibility, visible_groups, error_class, error_msg, submitted, started, ended,
	description, queue_timeout, '', group_first, host_job`

func scanJob(sc interface{ Scan(...any) error }) (Job, error) {
	var j Job
	var tags, groups string
	var device, group sql.NullString
	var submitted int64
	var started, ended sql.NullInt64
	var queueTimeout int64
	var host sql.NullInt64
	err := sc.Scan(&j.ID, &j.Definition, &j.State, &j.Health, &j.Priority, &j.Submitter, &j.DeviceType, &tags,
		&j.HealthCheck, &device, &group, &j.SubID, &j.Visibility, &groups, &j.ErrorClass, &j.ErrorMsg, &submitted, &started, &ended,
		&j.Description, &queueTimeout, &j.MultinodeDefinition, &j.GroupFirst, &host)
	j.HostJob = host.Int64
	j.QueueTimeout = time.Duration(queueTimeout)
	j.Tags = splitTags(tags)
	j.VisibleGroups = splitTags(groups)
	j.Device = device.String
	j.Group = group.String
	j.Submitted = time.Unix(0, submitted).UTC()
	j.Started = fromNanos(started)
	j.Ended = fromNanos(ended)
	return j, err
}

// Job returns one job.
func (s *SQL) Job(ctx context.Context, id int64) (Job, error) {
	j, err := scanJob(s.db.QueryRowContext(ctx, s.q(`SELECT `+jobCols+` FROM jobs WHERE id = ?`), id))
	return j, notFound(err, "job "+strconv.FormatInt(id, 10))
}

// jobWhere is the WHERE clause (empty or starting with " WHERE") and its
// arguments for f's selections.
func jobWhere(f JobFilter) (string, []any) {
	var where []string
	var args []any
	if len(f.States) > 0 {
		ph := make([]string, len(f.States))
		for i, st := range f.States {
			ph[i] = "?"
			args = append(args, st)
		}
		where = append(where, "state IN ("+strings.Join(ph, ", ")+")")
	}
	if f.Worker != "" {
		// A dynamic connection runs on its host job's worker.
		where = append(where, `(device IN (SELECT name FROM devices WHERE worker = ?)
	OR host_job IN (SELECT h.id FROM jobs h WHERE h.device IN (SELECT name FROM devices WHERE worker = ?)))`)
		args = append(args, f.Worker, f.Worker)
	}
	in := func(col string, vals []any) {
		ph := make([]string, len(vals))
		for i := range vals {
			ph[i] = "?"
		}
		where = append(where, col+" IN ("+strings.Join(ph, ", ")+")")
		args = append(args, vals...)
	}
	if len(f.Healths) > 0 {
		vals := make([]any, len(f.Healths))
		for i, h := range f.Healths {
			vals[i] = h
		}
		in("health", vals)
	}
	if len(f.DeviceTypes) > 0 {
		vals := make([]any, len(f.DeviceTypes))
		for i, dt := range f.DeviceTypes {
			vals[i] = dt
		}
		in("device_type", vals)
	}
	if f.Device != "" {
		where = append(where, "device = ?")
		args = append(args, f.Device)
	}
	if f.Group != "" {
		where = append(where, "target_group = ?")
		args = append(args, f.Group)
	}
	if !f.EndedAfter.IsZero() {
		where = append(where, "ended >= ?")
		args = append(args, f.EndedAfter.UnixNano())
	}
	if f.Submitter != "" {
		where = append(where, "submitter = ?")
		args = append(args, f.Submitter)
	}
	where, args = condWhere(f.Conds, where, args) // REST's conditions (restfilter.go)
	if v := f.Viewer; v != nil && !v.Superuser {
		if v.Name == "" {
			where = append(where, "visibility = 'public'")
		} else {
			// A group job is visible to a member of one of its groups:
			// visible_groups is newline-separated, so the group's name is
			// looked for between newlines. Not with LIKE, which ignores
			// case in SQLite and would let group "Lab" see "lab"'s jobs:
			// replace() is case-sensitive in both databases, so a list
			// that changes when the name is taken out holds it.
			where = append(where, `(visibility = 'public' OR submitter = ? OR (visibility = 'group' AND EXISTS (
	SELECT 1 FROM group_members gm WHERE gm.username = ? AND
	replace(? || visible_groups || ?, ? || gm.group_name || ?, '') <> (? || visible_groups || ?))))`)
			args = append(args, v.Name, v.Name, "\n", "\n", "\n", "\n", "\n", "\n")
		}
	}
	where, args = listWhere(f, where, args) // the web lists' fields (joblist.go)
	if len(where) == 0 {
		return "", args
	}
	return " WHERE " + strings.Join(where, " AND "), args
}

// Jobs returns the jobs f selects, in id order.
func (s *SQL) Jobs(ctx context.Context, f JobFilter) ([]Job, error) {
	where, args := jobWhere(f)
	query := `SELECT ` + listCols(f) + ` FROM jobs` + where
	if o, ok := jobOrders[f.Order]; ok && f.Order != "" {
		query += " ORDER BY " + o
	} else if f.NewestFirst {
		query += " ORDER BY id DESC"
	} else {
		query += " ORDER BY id"
	}
	switch {
	case f.Limit > 0:
		query += " LIMIT " + strconv.Itoa(f.Limit)
	case f.Offset > 0:
		// OFFSET needs a LIMIT in SQLite; PostgreSQL takes ALL.
		query += " LIMIT " + strconv.FormatInt(math.MaxInt64, 10)
	}
	if f.Offset > 0 {
		query += " OFFSET " + strconv.Itoa(f.Offset)
	}
	return s.queryJobs(ctx, query, args...)
}

// CountJobs counts the jobs f selects, ignoring its Limit and Offset.
func (s *SQL) CountJobs(ctx context.Context, f JobFilter) (int, error) {
	where, args := jobWhere(f)
	var n int
	if err := s.db.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM jobs`+where), args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: count jobs: %w", err)
	}
	return n, nil
}

func (s *SQL) queryJobs(ctx context.Context, query string, args ...any) ([]Job, error) {
	rows, err := s.db.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Job
	for rows.Next() {
		j, err := scanJob(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, j)
	}
	return out, rows.Err()
}

// Queue returns the Submitted jobs without their definitions.
func (s *SQL) Queue(ctx context.Context) ([]Job, error) {
	return s.queryJobs(ctx, `SELECT `+queueCols+` FROM jobs WHERE state = ? ORDER BY id`, JobSubmitted)
}

// SubJob returns the MultiNode sub-job sub of the group whose first job
// is first.
func (s *SQL) SubJob(ctx context.Context, first int64, sub int) (Job, error) {
	j, err := scanJob(s.db.QueryRowContext(ctx, s.q(`SELECT `+jobCols+` FROM jobs WHERE group_first = ? AND sub_id = ?`), first, sub))
	return j, notFound(err, fmt.Sprintf("job %d.%d", first, sub))
}

// GroupJobs returns a MultiNode group's jobs by sub_id.
func (s *SQL) GroupJobs(ctx context.Context, group string) ([]Job, error) {
	return s.queryJobs(ctx, `SELECT `+jobCols+` FROM jobs WHERE target_group = ? ORDER BY sub_id, id`, group)
}

// HealthCheckStats reads each device's last health check and the jobs
// started on it since. The conditions on health_check are written as the
// partial indexes' (migration 0004) so that both databases use them.
func (s *SQL) HealthCheckStats(ctx context.Context) (map[string]HealthCheckStat, error) {
	out := map[string]HealthCheckStat{}
	rows, err := s.db.QueryContext(ctx, `SELECT h.device, h.last,
		(SELECT COUNT(*) FROM jobs j WHERE j.device = h.device AND NOT j.health_check AND j.started >= h.last)
		FROM (SELECT device, MAX(submitted) AS last FROM jobs WHERE health_check AND device IS NOT NULL GROUP BY device) h`)
	if err != nil {
		return nil, fmt.Errorf("store: health checks: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var dev string
		var last int64
		var n int
		if err := rows.Scan(&dev, &last, &n); err != nil {
			return nil, err
		}
		out[dev] = HealthCheckStat{Last: time.Unix(0, last).UTC(), JobsSince: n}
	}
	return out, rows.Err()
}

// refused builds the TransitionError for a row whose guarded UPDATE touched
// nothing, reading the state it is really in (within the same transaction).
func (s *SQL) refused(ctx context.Context, tx *sql.Tx, kind, id string, want string) error {
	var cur string
	var err error
	if kind == "job" {
		err = tx.QueryRowContext(ctx, s.q(`SELECT state FROM jobs WHERE id = ?`), id).Scan(&cur)
	} else {
		err = tx.QueryRowContext(ctx, s.q(`SELECT state FROM devices WHERE name = ?`), id).Scan(&cur)
	}
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("store: %s %s: %w", kind, id, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("store: %s %s: %w", kind, id, err)
	}
	return &TransitionError{Kind: kind, ID: id, Current: cur, Want: want}
}

// guarded runs an UPDATE whose WHERE names the allowed current states and
// turns "no row changed" into the TransitionError.
func (s *SQL) guarded(ctx context.Context, tx *sql.Tx, kind, id, want, query string, args ...any) error {
	res, err := tx.ExecContext(ctx, s.q(query), args...)
	if err != nil {
		return fmt.Errorf("store: %s %s: %w", kind, id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n != 1 {
		return s.refused(ctx, tx, kind, id, want)
	}
	return nil
}

func jobID(id int64) string { return strconv.FormatInt(id, 10) }

// Schedule reserves devices and schedules jobs, all or none.
func (s *SQL) Schedule(ctx context.Context, as []Assignment) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		for _, a := range as {
			if a.Device == "" {
				// A dynamic connection: no device to reserve.
				if err := s.guarded(ctx, tx, "job", jobID(a.Job), string(JobScheduled),
					`UPDATE jobs SET state = ? WHERE id = ? AND state IN (?, ?) AND host_job IS NOT NULL`,
					JobScheduled, a.Job, JobSubmitted, JobScheduling); err != nil {
					return err
				}
				if a.Definition != "" {
					if _, err := tx.ExecContext(ctx, s.q(`UPDATE jobs SET definition = ? WHERE id = ?`), a.Definition, a.Job); err != nil {
						return fmt.Errorf("store: job %d: %w", a.Job, err)
					}
				}
				continue
			}
			if err := s.guarded(ctx, tx, "device", a.Device, string(DeviceReserved),
				`UPDATE devices SET state = ? WHERE name = ? AND state = ?`, DeviceReserved, a.Device, DeviceIdle); err != nil {
				return err
			}
			if err := s.guarded(ctx, tx, "job", jobID(a.Job), string(JobScheduled),
				`UPDATE jobs SET state = ?, device = ? WHERE id = ? AND state IN (?, ?)`,
				JobScheduled, a.Device, a.Job, JobSubmitted, JobScheduling); err != nil {
				return err
			}
			if a.Definition != "" {
				if _, err := tx.ExecContext(ctx, s.q(`UPDATE jobs SET definition = ? WHERE id = ?`), a.Definition, a.Job); err != nil {
					return fmt.Errorf("store: job %d: %w", a.Job, err)
				}
			}
		}
		return nil
	})
}

// ClaimJob takes the oldest Scheduled job on a device of worker. Candidates
// are read first, then each is taken by an UPDATE guarded on state
// Scheduled: when another claimer won the row, the next candidate is tried.
func (s *SQL) ClaimJob(ctx context.Context, worker string, now time.Time) (Job, bool, error) {
	var claimed int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		// A dynamic connection is claimed by its host job's worker once
		// the host job is Scheduled or Running there.
		rows, err := tx.QueryContext(ctx, s.q(`SELECT id, device FROM jobs WHERE state = ?
			AND (device IN (SELECT name FROM devices WHERE worker = ?)
			OR host_job IN (SELECT h.id FROM jobs h WHERE h.state IN (?, ?)
				AND h.device IN (SELECT name FROM devices WHERE worker = ?))) ORDER BY id`),
			JobScheduled, worker, JobScheduled, JobRunning, worker)
		if err != nil {
			return err
		}
		type cand struct {
			id     int64
			device string
		}
		var cands []cand
		for rows.Next() {
			var c cand
			var dev sql.NullString
			if err := rows.Scan(&c.id, &dev); err != nil {
				rows.Close()
				return err
			}
			c.device = dev.String
			cands = append(cands, c)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, c := range cands {
			res, err := tx.ExecContext(ctx, s.q(`UPDATE jobs SET state = ?, started = ? WHERE id = ? AND state = ?`),
				JobRunning, now.UnixNano(), c.id, JobScheduled)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n != 1 {
				continue
			}
			if c.device == "" {
				claimed = c.id
				return nil
			}
			if err := s.guarded(ctx, tx, "device", c.device, string(DeviceRunning),
				`UPDATE devices SET state = ? WHERE name = ? AND state = ?`, DeviceRunning, c.device, DeviceReserved); err != nil {
				return err
			}
			claimed = c.id
			return nil
		}
		return nil
	})
	if err != nil || claimed == 0 {
		return Job{}, false, err
	}
	j, err := s.Job(ctx, claimed)
	return j, err == nil, err
}

// CancelJob cancels a job by its state (see Store).
func (s *SQL) CancelJob(ctx context.Context, id int64, now time.Time) (JobState, error) {
	var to JobState
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var device sql.NullString
		err := tx.QueryRowContext(ctx, s.q(`UPDATE jobs SET state = ?, health = ?, ended = ? WHERE id = ? AND state IN (?, ?, ?) RETURNING device`),
			JobFinished, JobCanceled, now.UnixNano(), id, JobSubmitted, JobScheduling, JobScheduled).Scan(&device)
		if err == nil {
			to = JobFinished
			if device.Valid {
				return s.guarded(ctx, tx, "device", device.String, string(DeviceIdle),
					`UPDATE devices SET state = ? WHERE name = ? AND state = ?`, DeviceIdle, device.String, DeviceReserved)
			}
			return nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		to = JobCanceling
		return s.guarded(ctx, tx, "job", jobID(id), string(JobCanceling),
			`UPDATE jobs SET state = ? WHERE id = ? AND state = ?`, JobCanceling, id, JobRunning)
	})
	return to, err
}

// FinishJob ends a job and frees its device.
func (s *SQL) FinishJob(ctx context.Context, id int64, f Finish, now time.Time) error {
	switch f.Health {
	case JobComplete, JobIncomplete, JobCanceled:
	default:
		return fmt.Errorf("store: job %d: finish with health %q", id, f.Health)
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		var device sql.NullString
		err := tx.QueryRowContext(ctx, s.q(`UPDATE jobs SET state = ?, health = ?, error_class = ?, error_msg = ?, ended = ?
			WHERE id = ? AND state IN (?, ?, ?) RETURNING device`),
			JobFinished, f.Health, f.ErrorClass, f.ErrorMsg, now.UnixNano(), id, JobScheduled, JobRunning, JobCanceling).Scan(&device)
		if errors.Is(err, sql.ErrNoRows) {
			return s.refused(ctx, tx, "job", jobID(id), string(JobFinished))
		}
		if err != nil {
			return err
		}
		if len(f.Results) > 0 {
			// The finish's results are the job's whole set: they replace
			// those recorded from its log as it streamed.
			if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM results WHERE job = ?`), id); err != nil {
				return fmt.Errorf("store: results of job %d: %w", id, err)
			}
		}
		if err := s.insertResults(ctx, tx, id, f.Results); err != nil {
			return err
		}
		if !device.Valid {
			return nil
		}
		if f.DeviceHealth != "" {
			// In the device log as the lab's change, naming the job.
			why := fmt.Sprintf("job %d %s", id, f.Health)
			if f.ErrorClass != "" {
				why += ", " + f.ErrorClass + " error"
			}
			if err := s.changeHealth(ctx, tx, device.String, f.DeviceHealth, Change{At: now, Reason: why}, f.DeviceHealthFrom...); err != nil {
				return err
			}
		}
		return s.guarded(ctx, tx, "device", device.String, string(DeviceIdle),
			`UPDATE devices SET state = ? WHERE name = ? AND state IN (?, ?)`, DeviceIdle, device.String, DeviceReserved, DeviceRunning)
	})
}

// Results.

// AddResults appends results to a job, in one transaction.
func (s *SQL) AddResults(ctx context.Context, job int64, rs []Result) error {
	err := s.tx(ctx, func(tx *sql.Tx) error { return s.insertResults(ctx, tx, job, rs) })
	if err != nil {
		if _, jerr := s.Job(ctx, job); errors.Is(jerr, ErrNotFound) {
			return jerr
		}
	}
	return err
}

func (s *SQL) insertResults(ctx context.Context, tx *sql.Tx, job int64, rs []Result) error {
	for _, r := range rs {
		var m sql.NullFloat64
		if r.Measurement != nil {
			m = sql.NullFloat64{Float64: *r.Measurement, Valid: true}
		}
		var logged sql.NullInt64
		if !r.Logged.IsZero() {
			logged = sql.NullInt64{Int64: r.Logged.UnixNano(), Valid: true}
		}
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO results (job, suite, test_case, result, measurement, units, metadata, logged, log_start_line, log_end_line)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`), job, r.Suite, r.Case, r.Result, m, r.Units, r.Metadata, logged, nullInt(r.LogStart), nullInt(r.LogEnd)); err != nil {
			return fmt.Errorf("store: results of job %d: %w", job, err)
		}
	}
	return nil
}

// Results returns a job's results in the order they were added.
func (s *SQL) Results(ctx context.Context, job int64) ([]Result, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT `+resultCols+`
		FROM results WHERE job = ? ORDER BY id`), job)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Result
	for rows.Next() {
		r, err := scanResult(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// nullInt is an optional integer as a column value.
func nullInt(p *int64) sql.NullInt64 {
	if p == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: *p, Valid: true}
}
