package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Admin is what administrators change beyond creating and removing rows
// (lavacli workers/devices/device-types update, the aliases commands,
// basalt manage), and the device health history LAVA shows.
type Admin interface {
	// UpdateWorker changes the fields set in u in one transaction. A
	// health change cascades to the worker's devices as in LAVA
	// (Worker.go_health_*): going Retired retires every device that is
	// not Bad or Retired; going Active from Maintenance sets its Good
	// devices Unknown, so a health check runs before their next job
	// (from Retired it changes no device). Each device changed is in the
	// device log with c.
	UpdateWorker(ctx context.Context, name string, u WorkerUpdate, c Change) error
	// SetWorkerToken replaces a worker's token (random when secret is
	// empty) and returns it: the way to a new token, since only its hash
	// is kept.
	SetWorkerToken(ctx context.Context, name, secret string) (string, error)
	// UpdateDeviceType changes the fields set in u.
	UpdateDeviceType(ctx context.Context, name string, u DeviceTypeUpdate) error
	// ChangeDeviceHealth sets a device's health and, when it differs from
	// the current one, logs the change with c in the same transaction.
	// SetDeviceHealth is ChangeDeviceHealth by the lab ("" user, no
	// reason).
	ChangeDeviceHealth(ctx context.Context, device string, health DeviceHealth, c Change) error
	// DeviceLog returns a device's health changes, newest first, at most
	// limit of them (limit <= 0: all).
	DeviceLog(ctx context.Context, device string, limit int) ([]DeviceLogEntry, error)

	// AddAlias makes name an alias of deviceType. An alias that exists
	// is ErrExists unless move is set (then it names deviceType now, as
	// LAVA's device_types.aliases.add does); a name that is a device
	// type is ErrExists; an unknown deviceType is ErrNotFound.
	AddAlias(ctx context.Context, name, deviceType string, move bool) error
	DeleteAlias(ctx context.Context, name string) error
	Alias(ctx context.Context, name string) (Alias, error)
	// Aliases lists the aliases by name.
	Aliases(ctx context.Context) ([]Alias, error)
}

// Change says who changed something and why, for the device log.
type Change struct {
	By     string    // user name, "" for the lab itself
	Reason string    // free text, "" for none
	At     time.Time // zero: now
}

// WorkerUpdate names the worker fields to change; nil leaves one as is.
type WorkerUpdate struct {
	Description *string
	Health      *WorkerHealth
	JobLimit    *int // >= 0
}

// DeviceTypeUpdate names the device-type fields to change; nil leaves one
// as is.
type DeviceTypeUpdate struct {
	Description       *string
	Display           *bool
	OwnersOnly        *bool
	HealthFrequency   *int // >= 0
	HealthDenominator *HealthDenominator
	HealthDisabled    *bool
}

// DeviceLogEntry is one change of a device's health.
type DeviceLogEntry struct {
	At     time.Time
	By     string
	Prev   DeviceHealth
	New    DeviceHealth
	Reason string
}

// String is LAVA's admin-log text: "Good → Maintenance (reason)".
func (e DeviceLogEntry) String() string {
	s := string(e.Prev) + " → " + string(e.New)
	if e.Reason != "" {
		s += " (" + e.Reason + ")"
	}
	return s
}

// Alias is another name for a device type.
type Alias struct {
	Name       string
	DeviceType string
}

// ValidWorkerHealth reports whether h is one of the worker healths.
func ValidWorkerHealth(h WorkerHealth) bool {
	return h == WorkerActive || h == WorkerMaintenance || h == WorkerRetired
}

func validDeviceHealth(h DeviceHealth) bool {
	switch h {
	case HealthUnknown, HealthGood, HealthBad, HealthMaintenance, HealthLooping, HealthRetired:
		return true
	}
	return false
}

// UpdateWorker changes a worker's description, health or job limit.
func (s *SQL) UpdateWorker(ctx context.Context, name string, u WorkerUpdate, c Change) error {
	if u.Health != nil && !ValidWorkerHealth(*u.Health) {
		return fmt.Errorf("store: worker %s: unknown health %q", name, *u.Health)
	}
	if u.JobLimit != nil && *u.JobLimit < 0 {
		return fmt.Errorf("store: worker %s: negative job limit %d", name, *u.JobLimit)
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		var prev WorkerHealth
		err := tx.QueryRowContext(ctx, s.q(`SELECT health FROM workers WHERE name = ?`), name).Scan(&prev)
		if err := notFound(err, "worker "+name); err != nil {
			return err
		}
		if u.Description != nil {
			if _, err := tx.ExecContext(ctx, s.q(`UPDATE workers SET description = ? WHERE name = ?`), *u.Description, name); err != nil {
				return fmt.Errorf("store: worker %s: %w", name, err)
			}
		}
		if u.JobLimit != nil {
			if _, err := tx.ExecContext(ctx, s.q(`UPDATE workers SET job_limit = ? WHERE name = ?`), *u.JobLimit, name); err != nil {
				return fmt.Errorf("store: worker %s: %w", name, err)
			}
		}
		if u.Health == nil || *u.Health == prev {
			return nil
		}
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE workers SET health = ? WHERE name = ?`), *u.Health, name); err != nil {
			return fmt.Errorf("store: worker %s: %w", name, err)
		}
		// The cascade to the devices (Device.worker_signal in LAVA).
		var from []DeviceHealth
		var to DeviceHealth
		var why string
		switch {
		case *u.Health == WorkerRetired:
			from = []DeviceHealth{HealthUnknown, HealthGood, HealthMaintenance, HealthLooping}
			to, why = HealthRetired, "worker going retired"
		case *u.Health == WorkerActive && prev != WorkerRetired:
			from = []DeviceHealth{HealthGood}
			to, why = HealthUnknown, "worker going active"
		default:
			return nil
		}
		rows, err := tx.QueryContext(ctx, s.q(`SELECT name, health FROM devices WHERE worker = ? ORDER BY name`), name)
		if err != nil {
			return fmt.Errorf("store: worker %s: devices: %w", name, err)
		}
		type dev struct {
			name   string
			health DeviceHealth
		}
		var devs []dev
		for rows.Next() {
			var d dev
			if err := rows.Scan(&d.name, &d.health); err != nil {
				rows.Close()
				return err
			}
			for _, f := range from {
				if d.health == f {
					devs = append(devs, d)
				}
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		dc := c
		dc.Reason = why
		if c.Reason != "" {
			dc.Reason = why + ": " + c.Reason
		}
		for _, d := range devs {
			if err := s.changeHealth(ctx, tx, d.name, to, dc); err != nil {
				return err
			}
		}
		return nil
	})
}

// SetWorkerToken replaces a worker's token.
func (s *SQL) SetWorkerToken(ctx context.Context, name, secret string) (string, error) {
	if secret == "" {
		var err error
		if secret, err = newSecret(); err != nil {
			return "", err
		}
	}
	if err := s.updateOne(ctx, "worker "+name, `UPDATE workers SET token_hash = ? WHERE name = ?`, hashToken(secret), name); err != nil {
		return "", err
	}
	return secret, nil
}

// UpdateDeviceType changes what an administrator sets on a device type.
func (s *SQL) UpdateDeviceType(ctx context.Context, name string, u DeviceTypeUpdate) error {
	if u.HealthFrequency != nil && *u.HealthFrequency < 0 {
		return fmt.Errorf("store: device type %s: negative health frequency %d", name, *u.HealthFrequency)
	}
	if u.HealthDenominator != nil && *u.HealthDenominator != PerHours && *u.HealthDenominator != PerJobs {
		return fmt.Errorf("store: device type %s: health denominator %q is neither hours nor jobs", name, *u.HealthDenominator)
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM device_types WHERE name = ?`), name).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("store: device type %s: %w", name, ErrNotFound)
		}
		set := func(col string, v any) error {
			if _, err := tx.ExecContext(ctx, s.q(`UPDATE device_types SET `+col+` = ? WHERE name = ?`), v, name); err != nil {
				return fmt.Errorf("store: device type %s: %s: %w", name, col, err)
			}
			return nil
		}
		for _, f := range []struct {
			col string
			set bool
			v   func() any
		}{
			{"description", u.Description != nil, func() any { return *u.Description }},
			{"display", u.Display != nil, func() any { return *u.Display }},
			{"owners_only", u.OwnersOnly != nil, func() any { return *u.OwnersOnly }},
			{"health_frequency", u.HealthFrequency != nil, func() any { return *u.HealthFrequency }},
			{"health_denominator", u.HealthDenominator != nil, func() any { return string(*u.HealthDenominator) }},
			{"health_disabled", u.HealthDisabled != nil, func() any { return *u.HealthDisabled }},
		} {
			if f.set {
				if err := set(f.col, f.v()); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// ChangeDeviceHealth sets a device's health and logs the change.
func (s *SQL) ChangeDeviceHealth(ctx context.Context, device string, health DeviceHealth, c Change) error {
	if !validDeviceHealth(health) {
		return fmt.Errorf("store: device %s: unknown health %q", device, health)
	}
	return s.tx(ctx, func(tx *sql.Tx) error { return s.changeHealth(ctx, tx, device, health, c) })
}

// changeHealth sets a device's health in tx, logging it when it changes;
// with from, only a device whose health is one of those changes. The
// UPDATE is guarded by the health just read, so a change committed by
// another transaction meanwhile (PostgreSQL reads committed rows) is seen
// and read again, never logged with a stale "from".
func (s *SQL) changeHealth(ctx context.Context, tx *sql.Tx, device string, health DeviceHealth, c Change, from ...DeviceHealth) error {
	for range 5 {
		var prev DeviceHealth
		err := tx.QueryRowContext(ctx, s.q(`SELECT health FROM devices WHERE name = ?`), device).Scan(&prev)
		if err := notFound(err, "device "+device); err != nil {
			return err
		}
		if prev == health || len(from) > 0 && !slices.Contains(from, prev) {
			return nil
		}
		res, err := tx.ExecContext(ctx, s.q(`UPDATE devices SET health = ? WHERE name = ? AND health = ?`), health, device, prev)
		if err != nil {
			return fmt.Errorf("store: device %s: %w", device, err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			continue
		}
		at := c.At
		if at.IsZero() {
			at = time.Now()
		}
		_, err = tx.ExecContext(ctx, s.q(`INSERT INTO device_log (device, at, username, prev_health, new_health, reason) VALUES (?, ?, ?, ?, ?, ?)`),
			device, at.UnixNano(), c.By, prev, health, c.Reason)
		if err != nil {
			return fmt.Errorf("store: device %s: log: %w", device, err)
		}
		return nil
	}
	return fmt.Errorf("store: device %s: health changed under every attempt to set it %s", device, health)
}

// DeviceLog returns a device's health changes, newest first.
func (s *SQL) DeviceLog(ctx context.Context, device string, limit int) ([]DeviceLogEntry, error) {
	if _, err := s.Device(ctx, device); err != nil {
		return nil, err
	}
	q := `SELECT at, username, prev_health, new_health, reason FROM device_log WHERE device = ? ORDER BY id DESC`
	args := []any{device}
	if limit > 0 {
		q += ` LIMIT ?`
		args = append(args, limit)
	}
	rows, err := s.db.QueryContext(ctx, s.q(q), args...)
	if err != nil {
		return nil, fmt.Errorf("store: device %s: log: %w", device, err)
	}
	defer rows.Close()
	var out []DeviceLogEntry
	for rows.Next() {
		var e DeviceLogEntry
		var at int64
		if err := rows.Scan(&at, &e.By, &e.Prev, &e.New, &e.Reason); err != nil {
			return nil, err
		}
		e.At = time.Unix(0, at).UTC()
		out = append(out, e)
	}
	return out, rows.Err()
}

// AddAlias makes name an alias of deviceType.
func (s *SQL) AddAlias(ctx context.Context, name, deviceType string, move bool) error {
	if name == "" {
		return errors.New("store: alias name is empty")
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM device_types WHERE name = ?`), deviceType).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("store: device type %s: %w", deviceType, ErrNotFound)
		}
		if err := tx.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM device_types WHERE name = ?`), name).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("store: alias %s: a device type has that name: %w", name, ErrExists)
		}
		if move {
			res, err := tx.ExecContext(ctx, s.q(`UPDATE aliases SET device_type = ? WHERE name = ?`), deviceType, name)
			if err != nil {
				return fmt.Errorf("store: alias %s: %w", name, err)
			}
			if n, _ := res.RowsAffected(); n == 1 {
				return nil
			}
		}
		_, err := tx.ExecContext(ctx, s.q(`INSERT INTO aliases (name, device_type) VALUES (?, ?)`), name, deviceType)
		return s.exists(err, "alias "+name)
	})
}

// DeleteAlias removes an alias.
func (s *SQL) DeleteAlias(ctx context.Context, name string) error {
	return s.deleteOne(ctx, "aliases", "alias", name)
}

// Alias returns one alias.
func (s *SQL) Alias(ctx context.Context, name string) (Alias, error) {
	a := Alias{Name: name}
	err := s.db.QueryRowContext(ctx, s.q(`SELECT device_type FROM aliases WHERE name = ?`), name).Scan(&a.DeviceType)
	return a, notFound(err, "alias "+name)
}

// Aliases lists the aliases by name.
func (s *SQL) Aliases(ctx context.Context) ([]Alias, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT name, device_type FROM aliases ORDER BY name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Alias
	for rows.Next() {
		var a Alias
		if err := rows.Scan(&a.Name, &a.DeviceType); err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}
