package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/basalt-lava/basalt/internal/limits"
	"github.com/basalt-lava/basalt/internal/store"
	"github.com/basalt-lava/basalt/internal/store/postgres"
	"github.com/basalt-lava/basalt/internal/store/sqlite"
)

const manageSynopsis = `basalt manage [--db DSN | --data-dir DIR] OBJECT ACTION [arguments]

objects and actions:
  users add NAME [--superuser] [--passwd P] [--email ADDR]
  users update NAME --email ADDR             (--email "": none)
  users list | users remove NAME
  tokens add --user NAME [--secret S]        (prints the token)
  remote-tokens add --user NAME TOKEN-NAME (--token-file FILE | --token VALUE)
  remote-tokens list [--user NAME] | remote-tokens remove --user NAME TOKEN-NAME
                      (remote artifact tokens: sent for NAME's jobs, stored in clear)
  workers add NAME [--secret S] [--description D]   (prints the worker's token)
  workers update NAME [--description D] [--health Active|Maintenance|Retired]
                      [--job-limit N] [--new-token [--secret S]] [--reason R]
  workers list | workers remove NAME
  device-types add|update NAME [--template FILE] [--health-check JOB]
                      [--description D] [--health-frequency N]
                      [--health-denominator hours|jobs] [--disable-health-check[=false]]
  device-types list | device-types remove NAME
  devices add NAME --device-type T [--worker W] [--dictionary FILE] [--tags a,b]
                      [--description D] [--owner USER] [--group G]
  devices update NAME [--device-type T] [--worker W] [--dictionary FILE] [--tags a,b]
                      [--description D] [--owner USER] [--group G]
                      [--health Unknown|Good|Bad|Maintenance|Looping|Retired [--reason R]]
  devices list | devices history NAME | devices remove NAME
  aliases add NAME --device-type T | aliases list | aliases remove NAME

--db is a SQLite file (default DATA-DIR/basalt.db, DATA-DIR being
--data-dir, ./basalt-data as for basalt server, so both find the same
database by default; created when missing) or a postgres:// URL; both
may also come after ACTION.`

// manageAction is one `basalt manage OBJECT ACTION`: flags declares its
// options on fs, and the returned function runs it on the opened store.
type manageAction struct {
	synopsis string
	nargs    int // positional arguments it takes (0 or 1: NAME)
	flags    func(fs *flag.FlagSet, lim *limits.Limits) func(ctx context.Context, st store.Store, pos []string, stdout io.Writer) error
}

// usageError is a mistake on the command line (exit 2), not a store refusal.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// runManage administers the database directly, like `lava-server manage`:
// it opens the store itself, so it also works while a server runs on it
// (each change is one transaction of the store).
func runManage(args []string, stdout, stderr io.Writer) int {
	top := newFlagSet("manage", manageSynopsis, stderr)
	db := top.String("db", "", "database: a SQLite file path or a postgres:// URL (default DATA-DIR/basalt.db)")
	dataDir := top.String("data-dir", defaultDataDir, "the server's data folder, where the database is by default")
	if err := top.Parse(args); err != nil {
		return flagStatus(err)
	}
	rest := top.Args()
	if len(rest) < 2 {
		top.Usage()
		return exitUsage
	}
	key := rest[0] + " " + rest[1]
	a, ok := manageActions()[key]
	if !ok {
		fmt.Fprintf(stderr, "basalt: manage: unknown object or action %q\n", key)
		top.Usage()
		return exitUsage
	}
	fs := newFlagSet("manage "+key, "basalt manage "+a.synopsis, stderr)
	fs.StringVar(db, "db", *db, "database: a SQLite file path or a postgres:// URL (default DATA-DIR/basalt.db)")
	fs.StringVar(dataDir, "data-dir", *dataDir, "the server's data folder, where the database is by default")
	var lim limits.Limits
	run := a.flags(fs, &lim)
	pos, err := parseInterspersed(fs, rest[2:])
	if err != nil {
		return flagStatus(err)
	}
	if len(pos) != a.nargs {
		fmt.Fprintf(stderr, "basalt: manage %s: want %d argument(s), got %d\n", key, a.nargs, len(pos))
		fs.Usage()
		return exitUsage
	}
	if *db == "" {
		// The server's default, so that `basalt manage` and `basalt
		// server` started in the same folder share one database.
		if err := os.MkdirAll(*dataDir, 0o750); err != nil {
			fmt.Fprintf(stderr, "basalt: manage: %v\n", err)
			return exitFailed
		}
		*db = filepath.Join(*dataDir, "basalt.db")
	}
	ctx := context.Background()
	st, err := openStore(ctx, *db)
	if err != nil {
		fmt.Fprintf(stderr, "basalt: %v\n", err)
		return exitFailed
	}
	defer st.Close()
	if err := run(ctx, st, pos, stdout); err != nil {
		fmt.Fprintf(stderr, "basalt: manage %s: %v\n", key, err)
		var ue *usageError
		if errors.As(err, &ue) {
			return exitUsage
		}
		return exitFailed
	}
	return exitOK
}

// openStore opens PostgreSQL for a postgres:// (or postgresql://) URL and a
// SQLite file otherwise.
func openStore(ctx context.Context, dsn string) (store.Store, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		return postgres.Open(ctx, dsn)
	}
	if dsn == "" {
		return nil, errors.New("--db is empty")
	}
	return sqlite.Open(ctx, dsn)
}

func manageActions() map[string]manageAction {
	return map[string]manageAction{
		"users add": {"users add NAME [--superuser] [--passwd P] [--email ADDR]", 1, func(fs *flag.FlagSet, _ *limits.Limits) func(context.Context, store.Store, []string, io.Writer) error {
			super := fs.Bool("superuser", false, "make the user a superuser")
			passwd := fs.String("passwd", "", "password (none: the user authenticates with tokens only)")
			email := fs.String("email", "", "the user's e-mail address, where notify recipients naming the user are sent")
			return func(ctx context.Context, st store.Store, pos []string, _ io.Writer) error {
				if *email != "" {
					if err := store.CheckEmail(*email); err != nil {
						return &usageError{"--email: " + err.Error()}
					}
				}
				if _, err := st.CreateUser(ctx, pos[0], *passwd, *super); err != nil {
					return err
				}
				if *email == "" {
					return nil
				}
				return st.SetUserEmail(ctx, pos[0], *email)
			}
		}},
		"users update": {"users update NAME --email ADDR", 1, func(fs *flag.FlagSet, _ *limits.Limits) func(context.Context, store.Store, []string, io.Writer) error {
			email := fs.String("email", "", "the user's e-mail address (\"\": none)")
			return func(ctx context.Context, st store.Store, pos []string, _ io.Writer) error {
				set := false
				fs.Visit(func(f *flag.Flag) { set = set || f.Name == "email" })
				if !set {
					return &usageError{"nothing to update: give --email"}
				}
				if *email != "" {
					if err := store.CheckEmail(*email); err != nil {
						return &usageError{"--email: " + err.Error()}
					}
				}
				return st.SetUserEmail(ctx, pos[0], *email)
			}
		}},
		"users list": {"users list", 0, noFlags(func(ctx context.Context, st store.Store, _ []string, w io.Writer) error {
			us, err := st.Users(ctx)
			if err != nil {
				return err
			}
			return table(w, "NAME\tSUPERUSER\tEMAIL", len(us), func(i int) string {
				return fmt.Sprintf("%s\t%t\t%s", us[i].Name, us[i].Superuser, us[i].Email)
			})
		})},
		"users remove": {"users remove NAME", 1, noFlags(func(ctx context.Context, st store.Store, pos []string, _ io.Writer) error {
			return st.DeleteUser(ctx, pos[0])
		})},
		"tokens add": {"tokens add --user NAME [--secret S] [--description D]", 0, func(fs *flag.FlagSet, _ *limits.Limits) func(context.Context, store.Store, []string, io.Writer) error {
			user := fs.String("user", "", "the token's owner (required)")
			secret := fs.String("secret", "", "the token (default: a random one)")
			desc := fs.String("description", "", "what the token is for")
			return func(ctx context.Context, st store.Store, _ []string, w io.Writer) error {
				if *user == "" {
					return &usageError{"--user is required"}
				}
				if _, err := st.User(ctx, *user); err != nil {
					return err
				}
				tok, err := st.CreateToken(ctx, *user, *secret, *desc)
				if err != nil {
					return err
				}
				fmt.Fprintln(w, tok)
				return nil
			}
		}},
		"remote-tokens add":    remoteTokenAdd,
		"remote-tokens list":   remoteTokenList,
		"remote-tokens remove": remoteTokenRemove,
		"workers add": {"workers add NAME [--secret S] [--description D]", 1, func(fs *flag.FlagSet, _ *limits.Limits) func(context.Context, store.Store, []string, io.Writer) error {
			secret := fs.String("secret", "", "the worker's token (default: a random one)")
			desc := fs.String("description", "", "what the worker is")
			return func(ctx context.Context, st store.Store, pos []string, w io.Writer) error {
				tok, err := st.CreateWorker(ctx, pos[0], *secret)
				if err != nil {
					return err
				}
				if *desc != "" {
					if err := st.UpdateWorker(ctx, pos[0], store.WorkerUpdate{Description: desc}, store.Change{}); err != nil {
						return err
					}
				}
				// The store keeps only a hash: this is the one time the
				// token is seen (workers update --new-token makes another).
				fmt.Fprintln(w, tok)
				return nil
			}
		}},
		"workers update": {"workers update NAME [--description D] [--health Active|Maintenance|Retired] [--job-limit N] [--new-token [--secret S]] [--reason R]", 1, workerUpdateFlags},
		"workers list": {"workers list", 0, noFlags(func(ctx context.Context, st store.Store, _ []string, w io.Writer) error {
			ws, err := st.Workers(ctx)
			if err != nil {
				return err
			}
			return table(w, "NAME\tSTATE\tHEALTH\tJOB LIMIT\tLAST PING\tDESCRIPTION", len(ws), func(i int) string {
				ping := "never"
				if !ws[i].LastPing.IsZero() {
					ping = ws[i].LastPing.UTC().Format(time.RFC3339)
				}
				limit := "-"
				if ws[i].JobLimit > 0 {
					limit = fmt.Sprint(ws[i].JobLimit)
				}
				return fmt.Sprintf("%s\t%s\t%s\t%s\t%s\t%s", ws[i].Name, ws[i].State, ws[i].Health, limit, ping, orDash(ws[i].Description))
			})
		})},
		"workers remove": {"workers remove NAME", 1, noFlags(func(ctx context.Context, st store.Store, pos []string, _ io.Writer) error {
			return st.DeleteWorker(ctx, pos[0])
		})},
		"device-types add":    {"device-types add NAME [--template FILE] [--health-check JOB] [--description D] [--health-frequency N] [--health-denominator hours|jobs] [--disable-health-check]", 1, deviceTypeFlags(true)},
		"device-types update": {"device-types update NAME [--template FILE] [--health-check JOB] [--description D] [--health-frequency N] [--health-denominator hours|jobs] [--disable-health-check[=false]]", 1, deviceTypeFlags(false)},
		"device-types list": {"device-types list", 0, noFlags(func(ctx context.Context, st store.Store, _ []string, w io.Writer) error {
			ds, err := st.DeviceTypes(ctx)
			if err != nil {
				return err
			}
			return table(w, "NAME\tTEMPLATE\tHEALTH CHECK\tSCHEDULE\tDESCRIPTION", len(ds), func(i int) string {
				return fmt.Sprintf("%s\t%s\t%t\t%s\t%s", ds[i].Name, sizeOrNone(ds[i].Template), ds[i].HealthCheck != "",
					healthSchedule(ds[i]), orDash(ds[i].Description))
			})
		})},
		"device-types remove": {"device-types remove NAME", 1, noFlags(func(ctx context.Context, st store.Store, pos []string, _ io.Writer) error {
			return st.DeleteDeviceType(ctx, pos[0])
		})},
		"devices add":    {"devices add NAME --device-type T [--worker W] [--dictionary FILE] [--tags a,b] [--description D] [--owner USER] [--group G]", 1, deviceFlags(true)},
		"devices update": {"devices update NAME [--device-type T] [--worker W] [--dictionary FILE] [--tags a,b] [--description D] [--owner USER] [--group G] [--health H [--reason R]]", 1, deviceFlags(false)},
		"devices history": {"devices history NAME", 1, noFlags(func(ctx context.Context, st store.Store, pos []string, w io.Writer) error {
			log, err := st.DeviceLog(ctx, pos[0], 0)
			if err != nil {
				return err
			}
			return table(w, "TIME\tUSER\tCHANGE", len(log), func(i int) string {
				e := log[len(log)-1-i] // oldest first, as a history reads
				return fmt.Sprintf("%s\t%s\t%s", e.At.UTC().Format(time.RFC3339), orDash(e.By), e)
			})
		})},
		"aliases add": {"aliases add NAME --device-type T", 1, func(fs *flag.FlagSet, _ *limits.Limits) func(context.Context, store.Store, []string, io.Writer) error {
			dtype := fs.String("device-type", "", "the device type the alias names (required)")
			return func(ctx context.Context, st store.Store, pos []string, _ io.Writer) error {
				if *dtype == "" {
					return &usageError{"--device-type is required"}
				}
				return st.AddAlias(ctx, pos[0], *dtype, false)
			}
		}},
		"aliases list": {"aliases list", 0, noFlags(func(ctx context.Context, st store.Store, _ []string, w io.Writer) error {
			as, err := st.Aliases(ctx)
			if err != nil {
				return err
			}
			return table(w, "NAME\tDEVICE TYPE", len(as), func(i int) string {
				return as[i].Name + "\t" + as[i].DeviceType
			})
		})},
		"aliases remove": {"aliases remove NAME", 1, noFlags(func(ctx context.Context, st store.Store, pos []string, _ io.Writer) error {
			return st.DeleteAlias(ctx, pos[0])
		})},
		"devices list": {"devices list", 0, noFlags(func(ctx context.Context, st store.Store, _ []string, w io.Writer) error {
			ds, err := st.Devices(ctx)
			if err != nil {
				return err
			}
			return table(w, "NAME\tDEVICE TYPE\tWORKER\tSTATE\tHEALTH\tTAGS", len(ds), func(i int) string {
				d := ds[i]
				return fmt.Sprintf("%s\t%s\t%s\t%s\t%s\t%s", d.Name, d.DeviceType, orDash(d.Worker), d.State, d.Health, orDash(strings.Join(d.Tags, ",")))
			})
		})},
		"devices remove": {"devices remove NAME", 1, noFlags(func(ctx context.Context, st store.Store, pos []string, _ io.Writer) error {
			return st.DeleteDevice(ctx, pos[0])
		})},
	}
}

// deviceTypeFlags is `device-types add` (create) and `device-types update`:
// the template and the health-check job are read as bounded regular files;
// update keeps what is not named.
func deviceTypeFlags(create bool) func(fs *flag.FlagSet, lim *limits.Limits) func(context.Context, store.Store, []string, io.Writer) error {
	return func(fs *flag.FlagSet, lim *limits.Limits) func(context.Context, store.Store, []string, io.Writer) error {
		tmpl := fs.String("template", "", "the type's Jinja2 template (none stored: Basalt's shipped template of that name is used)")
		hc := fs.String("health-check", "", "the type's health-check job definition (YAML)")
		desc := fs.String("description", "", "what the device type is")
		freq := fs.Int("health-frequency", 24, "health checks every N hours or jobs (see --health-denominator)")
		den := fs.String("health-denominator", "hours", "the unit of --health-frequency: hours or jobs")
		disable := fs.Bool("disable-health-check", false, "no health checks for devices of the type (=false turns them back on)")
		lim.AddFlags(fs)
		return func(ctx context.Context, st store.Store, pos []string, _ io.Writer) error {
			set := map[string]bool{}
			fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
			var u store.DeviceTypeUpdate
			if set["description"] {
				u.Description = desc
			}
			if set["health-frequency"] {
				if *freq < 0 {
					return &usageError{fmt.Sprintf("--health-frequency %d: must not be negative", *freq)}
				}
				u.HealthFrequency = freq
			}
			if set["health-denominator"] {
				d := store.HealthDenominator(*den)
				if d != store.PerHours && d != store.PerJobs {
					return &usageError{fmt.Sprintf("--health-denominator %q: want hours or jobs", *den)}
				}
				u.HealthDenominator = &d
			}
			if set["disable-health-check"] {
				u.HealthDisabled = disable
			}
			dt, err := st.DeviceType(ctx, pos[0])
			switch {
			case create && err == nil:
				return fmt.Errorf("device type %s: %w", pos[0], store.ErrExists)
			case create && errors.Is(err, store.ErrNotFound):
				dt = store.DeviceType{Name: pos[0]}
			case err != nil:
				return err
			}
			if *tmpl != "" {
				b, err := lim.Template().Read(*tmpl)
				if err != nil {
					return err
				}
				dt.Template = string(b)
			}
			if *hc != "" {
				b, err := lim.Job().Read(*hc)
				if err != nil {
					return err
				}
				dt.HealthCheck = string(b)
			}
			if create {
				if _, err := st.Alias(ctx, pos[0]); err == nil {
					return fmt.Errorf("device type %s: an alias has that name: %w", pos[0], store.ErrExists)
				}
			}
			if err := st.PutDeviceType(ctx, dt); err != nil {
				return err
			}
			if u == (store.DeviceTypeUpdate{}) {
				return nil
			}
			return st.UpdateDeviceType(ctx, pos[0], u)
		}
	}
}

// healthSchedule says when a device type's devices get health checks.
func healthSchedule(dt store.DeviceType) string {
	if dt.HealthDisabled {
		return "disabled"
	}
	return fmt.Sprintf("every %d %s", dt.HealthFrequency, dt.HealthDenominator)
}

// workerUpdateFlags is `workers update`: what is named changes, in one
// transaction of the store; --new-token replaces the token (the store
// keeps only its hash, so a lost token is replaced, never shown) and
// prints it.
func workerUpdateFlags(fs *flag.FlagSet, _ *limits.Limits) func(context.Context, store.Store, []string, io.Writer) error {
	desc := fs.String("description", "", "what the worker is")
	health := fs.String("health", "", "Active, Maintenance (its devices get no new jobs) or Retired (its devices are retired)")
	limit := fs.Int("job-limit", 0, "the most of its devices running jobs at once (0: no limit)")
	newToken := fs.Bool("new-token", false, "replace the worker's token and print the new one")
	secret := fs.String("secret", "", "with --new-token: the new token (default: a random one)")
	reason := fs.String("reason", "", "why, for the device log when the health change cascades to its devices")
	return func(ctx context.Context, st store.Store, pos []string, w io.Writer) error {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		var u store.WorkerUpdate
		if set["description"] {
			u.Description = desc
		}
		if set["health"] {
			h := parseWorkerHealth(*health)
			if h == "" {
				return &usageError{fmt.Sprintf("--health %q: want Active, Maintenance or Retired", *health)}
			}
			u.Health = &h
		}
		if set["job-limit"] {
			if *limit < 0 {
				return &usageError{fmt.Sprintf("--job-limit %d: must not be negative", *limit)}
			}
			u.JobLimit = limit
		}
		if set["secret"] && !*newToken {
			return &usageError{"--secret goes with --new-token"}
		}
		if err := st.UpdateWorker(ctx, pos[0], u, store.Change{Reason: reasonOr(*reason)}); err != nil {
			return err
		}
		if !*newToken {
			return nil
		}
		tok, err := st.SetWorkerToken(ctx, pos[0], *secret)
		if err != nil {
			return err
		}
		fmt.Fprintln(w, tok)
		return nil
	}
}

// parseWorkerHealth returns the worker health named by s in any case, or
// "" when s names none.
func parseWorkerHealth(s string) store.WorkerHealth {
	for _, h := range []store.WorkerHealth{store.WorkerActive, store.WorkerMaintenance, store.WorkerRetired} {
		if strings.EqualFold(s, string(h)) {
			return h
		}
	}
	return ""
}

// reasonOr is a change's reason for the device log: what the
// administrator said, else where the change came from.
func reasonOr(reason string) string {
	if reason == "" {
		return "basalt manage"
	}
	return reason
}

// deviceFlags is `devices add` (create) and `devices update`: the device
// type and the worker named must exist, and the dictionary is read as a
// bounded regular file.
func deviceFlags(create bool) func(fs *flag.FlagSet, lim *limits.Limits) func(context.Context, store.Store, []string, io.Writer) error {
	return func(fs *flag.FlagSet, lim *limits.Limits) func(context.Context, store.Store, []string, io.Writer) error {
		dtype := fs.String("device-type", "", "the device's type (must exist: basalt manage device-types add)")
		worker := fs.String("worker", "", "the worker the device is attached to (must exist: basalt manage workers add)")
		dict := fs.String("dictionary", "", "the device dictionary (Jinja2) file")
		tags := fs.String("tags", "", "comma-separated device tags")
		desc := fs.String("description", "", "what the device is")
		owner := fs.String("owner", "", "the user who owns the board (must exist)")
		group := fs.String("group", "", "the group that owns the board")
		var health, reason *string
		if !create {
			health = fs.String("health", "", "the device's health: Unknown, Good, Bad, Maintenance, Looping or Retired")
			reason = fs.String("reason", "", "with --health: why, for the device's history (devices history)")
		}
		lim.AddFlags(fs)
		return func(ctx context.Context, st store.Store, pos []string, _ io.Writer) error {
			set := map[string]bool{}
			fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
			if create && *dtype == "" {
				return &usageError{"--device-type is required"}
			}
			if set["device-type"] {
				if _, err := st.DeviceType(ctx, *dtype); errors.Is(err, store.ErrNotFound) {
					return fmt.Errorf("device type %q does not exist (add it with: basalt manage device-types add %s)", *dtype, *dtype)
				} else if err != nil {
					return err
				}
			}
			if *worker != "" {
				if _, err := st.Worker(ctx, *worker); errors.Is(err, store.ErrNotFound) {
					return fmt.Errorf("worker %q does not exist (add it with: basalt manage workers add %s)", *worker, *worker)
				} else if err != nil {
					return err
				}
			}
			if *owner != "" {
				if _, err := st.User(ctx, *owner); errors.Is(err, store.ErrNotFound) {
					return fmt.Errorf("user %q does not exist (add it with: basalt manage users add %s)", *owner, *owner)
				} else if err != nil {
					return err
				}
			}
			if set["reason"] && !set["health"] {
				return &usageError{"--reason goes with --health"}
			}
			var newHealth store.DeviceHealth
			if set["health"] {
				if newHealth = parseHealth(*health); newHealth == "" {
					return &usageError{fmt.Sprintf("--health %q: want Unknown, Good, Bad, Maintenance, Looping or Retired", *health)}
				}
			}
			var dictionary string
			if *dict != "" {
				b, err := lim.Device().Read(*dict)
				if err != nil {
					return err
				}
				dictionary = string(b)
			}
			tagList := splitList(*tags)
			if create {
				return st.CreateDevice(ctx, store.Device{Name: pos[0], DeviceType: *dtype, Worker: *worker, Dictionary: dictionary, Tags: tagList,
					Description: *desc, PhysicalOwner: *owner, PhysicalGroup: *group})
			}
			if _, err := st.Device(ctx, pos[0]); err != nil {
				return err
			}
			var u store.DeviceUpdate
			if set["device-type"] {
				u.DeviceType = dtype
			}
			if set["worker"] {
				u.Worker = worker
			}
			if set["tags"] {
				u.Tags = &tagList
			}
			if set["description"] {
				u.Description = desc
			}
			if set["owner"] {
				u.PhysicalOwner = owner
			}
			if set["group"] {
				u.PhysicalGroup = group
			}
			if u != (store.DeviceUpdate{}) {
				if err := st.UpdateDevice(ctx, pos[0], u); err != nil {
					return err
				}
			}
			if set["dictionary"] {
				if err := st.SetDictionary(ctx, pos[0], dictionary); err != nil {
					return err
				}
			}
			if set["health"] {
				return st.ChangeDeviceHealth(ctx, pos[0], newHealth, store.Change{Reason: reasonOr(*reason)})
			}
			return nil
		}
	}
}

// parseHealth returns LAVA's device health named by s in any case, or ""
// when s names none.
func parseHealth(s string) store.DeviceHealth {
	for _, h := range []store.DeviceHealth{store.HealthUnknown, store.HealthGood, store.HealthBad, store.HealthMaintenance, store.HealthLooping, store.HealthRetired} {
		if strings.EqualFold(s, string(h)) {
			return h
		}
	}
	return ""
}

func noFlags(run func(context.Context, store.Store, []string, io.Writer) error) func(*flag.FlagSet, *limits.Limits) func(context.Context, store.Store, []string, io.Writer) error {
	return func(*flag.FlagSet, *limits.Limits) func(context.Context, store.Store, []string, io.Writer) error {
		return run
	}
}

// table prints a header and n rows aligned in columns.
func table(w io.Writer, header string, n int, row func(int) string) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, header)
	for i := 0; i < n; i++ {
		fmt.Fprintln(tw, row(i))
	}
	return tw.Flush()
}

func splitList(s string) []string {
	var out []string
	for _, t := range strings.Split(s, ",") {
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, t)
		}
	}
	return out
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func sizeOrNone(s string) string {
	if s == "" {
		return "-"
	}
	return fmt.Sprintf("%d bytes", len(s))
}
