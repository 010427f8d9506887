// Command sched-pass times the lab's real scheduling pass, (*lab.Lab).Pass,
// the one `basalt server` runs on every event and every 20 s: the store's
// snapshot queries (devices, workers, device types, the queue, health-check
// statistics), each idle device's configuration rendered and checked (the
// first pass of a server; cached after), scheduler.Pass, and one store
// transaction per assignment. It is not scheduler.Pass alone (see
// internal/scheduler's benchmark for that).
//
//	sched-pass [-db sqlite|postgres] [-jobs 10000] [-devices 1000] [-workers 10] [-runs 5]
//
// Each run starts from the same fixture, built with the store's API: one
// device type (qemu, Basalt's shipped template), -devices devices (the
// example dictionary, each with a MAC address of its own; Idle, Good)
// spread over -workers Online workers, and
// -jobs Submitted jobs (the example job's definition) of that type.
// Scenarios, like the anchor's B3 and B2 (../shared/anchor/lava-server/):
//
//   - fit: every job fits every device: the pass assigns one job per
//     device (1,000);
//   - none: every job asks for a tag no device has: the pass assigns
//     nothing, having looked at every job for every device type.
//
// "cold" is the first pass of a new Lab over the fixture (a server just
// started: every idle device's configuration is rendered and checked);
// "warm" is a pass of a Lab that has checked the devices already (a pass
// with nothing queued first, then the jobs submitted): what a running
// server does on every submission; "restart" is the first pass of a new
// Lab over a store whose devices an earlier Lab checked (a server
// restarted: the checks are remembered in the store).
//
// On SQLite each run copies a fixture file built once; on PostgreSQL
// (BASALT_POSTGRES_DSN, as scripts/with-postgres.sh sets it) each run
// fills a fresh schema. One JSON line per scenario: the median and every
// run, in seconds, the median time of the store reads a pass starts with
// (timed alone just before it), and the machine's load.
package main

import (
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver, for schemas

	"github.com/basalt-lava/basalt/internal/lab"
	"github.com/basalt-lava/basalt/internal/logstore"
	"github.com/basalt-lava/basalt/internal/store"
	"github.com/basalt-lava/basalt/internal/store/postgres"
	"github.com/basalt-lava/basalt/internal/store/sqlite"
)

type config struct {
	db                     string
	jobs, devices, workers int
	runs                   int
	root                   string
	cpuprofile             string
}

func main() {
	var c config
	flag.StringVar(&c.db, "db", "sqlite", "sqlite, or postgres (BASALT_POSTGRES_DSN)")
	flag.IntVar(&c.jobs, "jobs", 10000, "queued jobs")
	flag.IntVar(&c.devices, "devices", 1000, "idle devices")
	flag.IntVar(&c.workers, "workers", 10, "online workers the devices are spread over")
	flag.IntVar(&c.runs, "runs", 5, "runs of each scenario")
	scenarios := flag.String("scenarios", "fit,none", "scenarios to run")
	flag.StringVar(&c.root, "root", ".", "the repository (for examples/qemu)")
	flag.StringVar(&c.cpuprofile, "cpuprofile", "", "write a CPU profile of the cold passes to this file")
	flag.Parse()
	if c.db != "sqlite" && c.db != "postgres" || c.jobs < 1 || c.devices < 1 || c.workers < 1 || c.runs < 1 {
		flag.Usage()
		os.Exit(2)
	}
	if c.db == "postgres" && os.Getenv("BASALT_POSTGRES_DSN") == "" {
		fail(errors.New("-db postgres needs BASALT_POSTGRES_DSN (scripts/with-postgres.sh sets it)"))
	}
	tmp, err := os.MkdirTemp("", "sched-pass-")
	if err != nil {
		fail(err)
	}
	defer os.RemoveAll(tmp)
	for _, sc := range strings.Split(*scenarios, ",") {
		if err := run(c, sc, tmp); err != nil {
			fail(fmt.Errorf("%s: %w", sc, err))
		}
	}
}

func run(c config, scenario, tmp string) error {
	if scenario != "fit" && scenario != "none" {
		return errors.New("unknown scenario (fit, none)")
	}
	var tags []string
	if scenario == "none" {
		tags = []string{"no-device-has-this"}
	}
	ctx := context.Background()
	times := map[string][]float64{}
	assigned := map[string]int{}
	var queued int
	fixtures := map[bool]string{} // SQLite: the files built once, with and without the jobs
	profiled := false
	for r := 0; r < c.runs; r++ {
		for _, kind := range []string{"cold", "warm", "restart"} {
			warm := kind != "cold"
			st, done, err := openFixture(ctx, c, !warm, tags, tmp, fixtures)
			if err != nil {
				return err
			}
			logs, err := logstore.Open(filepath.Join(tmp, "logs"), logstore.Options{})
			if err != nil {
				return err
			}
			l, err := lab.New(lab.Config{Store: st, Logs: logs, DataDir: tmp})
			if err != nil {
				return err
			}
			if warm {
				// A pass with nothing queued checks every device's
				// configuration; then the jobs come. "restart" then
				// passes with a new Lab (a restarted server) over the
				// same store, which remembers the checks.
				if err := l.Pass(ctx); err != nil {
					return fmt.Errorf("warm-up pass: %w", err)
				}
				if err := addJobs(ctx, st, c, tags); err != nil {
					return err
				}
				if kind == "restart" {
					if l, err = lab.New(lab.Config{Store: st, Logs: logs, DataDir: tmp}); err != nil {
						return err
					}
				}
			}
			q, err := st.Queue(ctx)
			if err != nil {
				return err
			}
			queued = len(q)
			// The snapshot the pass reads first, alone, to tell the
			// store's share from the rest.
			r, err := snapshotReads(ctx, st)
			if err != nil {
				return err
			}
			times["reads_"+kind] = append(times["reads_"+kind], r)
			profiling := kind == "cold" && c.cpuprofile != "" && !profiled
			if profiling {
				profiled = true
				f, err := os.Create(c.cpuprofile)
				if err != nil {
					return err
				}
				defer f.Close()
				if err := pprof.StartCPUProfile(f); err != nil {
					return err
				}
			}
			t := time.Now()
			if err := l.Pass(ctx); err != nil {
				return fmt.Errorf("pass: %w", err)
			}
			times[kind] = append(times[kind], time.Since(t).Seconds())
			if profiling {
				pprof.StopCPUProfile()
			}
			left, err := st.Queue(ctx)
			if err != nil {
				return err
			}
			assigned[kind] = queued - len(left)
			logs.Close()
			if err := done(); err != nil {
				return err
			}
		}
	}
	load, _ := os.ReadFile("/proc/loadavg")
	out := map[string]any{
		"scenario": scenario, "db": c.db, "queued": queued, "devices": c.devices, "workers": c.workers,
		"assigned_per_pass": assigned["cold"], "assigned_per_warm_pass": assigned["warm"], "runs": c.runs,
		"cold_median_s": median(times["cold"]), "cold_s": times["cold"],
		"warm_median_s": median(times["warm"]), "warm_s": times["warm"],
		"restart_median_s": median(times["restart"]), "restart_s": times["restart"], "assigned_per_restart_pass": assigned["restart"],
		"snapshot_reads_median_s": median(append(times["reads_cold"], times["reads_warm"]...)),
		"loadavg":                 strings.Fields(string(load))[:3],
	}
	b, _ := json.Marshal(out)
	fmt.Println(string(b))
	return nil
}

// snapshotReads times the store reads a pass starts with (devices,
// workers, device types, the queue, health-check statistics).
func snapshotReads(ctx context.Context, st store.Store) (float64, error) {
	t := time.Now()
	if _, err := st.Devices(ctx); err != nil {
		return 0, err
	}
	if _, err := st.Workers(ctx); err != nil {
		return 0, err
	}
	if _, err := st.DeviceTypes(ctx); err != nil {
		return 0, err
	}
	if _, err := st.Queue(ctx); err != nil {
		return 0, err
	}
	if _, err := st.HealthCheckStats(ctx); err != nil {
		return 0, err
	}
	return time.Since(t).Seconds(), nil
}

// openFixture returns a store holding the scenario's fixture and a
// function that closes (and, on PostgreSQL, drops) it.
func openFixture(ctx context.Context, c config, withJobs bool, tags []string, tmp string, fixtures map[bool]string) (store.Store, func() error, error) {
	if c.db == "postgres" {
		base := os.Getenv("BASALT_POSTGRES_DSN")
		b := make([]byte, 6)
		for i := range b {
			b[i] = byte(rand.IntN(256))
		}
		schema := "bench_" + hex.EncodeToString(b)
		admin, err := sql.Open("pgx", base)
		if err != nil {
			return nil, nil, err
		}
		if _, err := admin.Exec(`CREATE SCHEMA ` + schema); err != nil {
			admin.Close()
			return nil, nil, err
		}
		sep := "?"
		if strings.Contains(base, "?") {
			sep = "&"
		}
		st, err := postgres.Open(ctx, base+sep+"search_path="+schema)
		if err == nil {
			err = fill(ctx, st, c)
		}
		if err == nil && withJobs {
			err = addJobs(ctx, st, c, tags)
		}
		done := func() error {
			if st != nil {
				st.Close()
			}
			_, err := admin.Exec(`DROP SCHEMA ` + schema + ` CASCADE`)
			admin.Close()
			return err
		}
		if err != nil {
			done()
			return nil, nil, err
		}
		return st, done, nil
	}
	fixture := fixtures[withJobs]
	if fixture == "" {
		fixture = filepath.Join(tmp, fmt.Sprintf("fixture-%d-%v.db", len(tags), withJobs))
		fixtures[withJobs] = fixture
		st, err := sqlite.Open(ctx, fixture)
		if err != nil {
			return nil, nil, err
		}
		err = fill(ctx, st, c)
		if err == nil && withJobs {
			err = addJobs(ctx, st, c, tags)
		}
		if err != nil {
			st.Close()
			return nil, nil, err
		}
		if err := st.Close(); err != nil {
			return nil, nil, err
		}
	}
	path := filepath.Join(tmp, "run.db")
	for _, suffix := range []string{"", "-wal", "-shm"} {
		os.Remove(path + suffix)
		if err := copyFile(fixture+suffix, path+suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, nil, err
		}
	}
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		return nil, nil, err
	}
	return st, st.Close, nil
}

// fill builds the fixture with the store's API, without the jobs.
func fill(ctx context.Context, st store.Store, c config) error {
	dict, err := os.ReadFile(filepath.Join(c.root, "examples/qemu/device.jinja2"))
	if err != nil {
		return err
	}
	if _, err := st.CreateUser(ctx, "bench", "", true); err != nil {
		return err
	}
	if err := st.PutDeviceType(ctx, store.DeviceType{Name: "qemu"}); err != nil {
		return err
	}
	now := time.Now()
	for w := 0; w < c.workers; w++ {
		name := fmt.Sprintf("worker%02d", w)
		if _, err := st.CreateWorker(ctx, name, ""); err != nil {
			return err
		}
		if err := st.PingWorker(ctx, name, now); err != nil {
			return err
		}
		if err := st.SetWorkerState(ctx, name, store.WorkerOnline); err != nil {
			return err
		}
	}
	for d := 0; d < c.devices; d++ {
		if err := st.CreateDevice(ctx, store.Device{Name: fmt.Sprintf("qemu%04d", d), DeviceType: "qemu",
			Worker: fmt.Sprintf("worker%02d", d%c.workers), Dictionary: dictionary(dict, d),
			State: store.DeviceIdle, Health: store.HealthGood}); err != nil {
			return err
		}
	}
	// A device created Good may have been recorded otherwise by an older
	// store: make sure.
	for d := 0; d < c.devices; d++ {
		if err := st.SetDeviceHealth(ctx, fmt.Sprintf("qemu%04d", d), store.HealthGood); err != nil {
			return err
		}
	}
	return nil
}

// dictionary is the example dictionary with a MAC address of the
// device's own, as in a real lab: each device's configuration is then
// rendered and checked on its own (the lab caches the check by text).
func dictionary(example []byte, d int) string {
	return string(example) + fmt.Sprintf("{%% set mac_addr = '52:54:00:12:%02x:%02x' %%}\n", d/256, d%256)
}

// addJobs submits c.jobs jobs with tags, in batches.
func addJobs(ctx context.Context, st store.Store, c config, tags []string) error {
	def, err := os.ReadFile(filepath.Join(c.root, "examples/qemu/job.yaml"))
	if err != nil {
		return err
	}
	const batch = 500
	for i := 0; i < c.jobs; i += batch {
		var js []store.NewJob
		for k := i; k < min(i+batch, c.jobs); k++ {
			js = append(js, store.NewJob{Definition: string(def), Submitter: "bench", Priority: 50 + k%3*25,
				DeviceType: "qemu", Tags: tags})
		}
		if _, err := st.Submit(ctx, js); err != nil {
			return err
		}
	}
	return nil
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "sched-pass:", err)
	os.Exit(1)
}
