package lab

import (
	"context"
	"errors"

	"github.com/basalt-lava/basalt/internal/scheduler"
	"github.com/basalt-lava/basalt/internal/store"
)

// workerTakesJobs says whether a worker's devices may be given work: it is
// Online and Active (LAVA's scheduler only looks at workers in
// Worker.HEALTH_ACTIVE; a worker in Maintenance or Retired finishes what
// it runs and gets nothing new).
func workerTakesJobs(w store.Worker) bool {
	return w.State == store.WorkerOnline && (w.Health == store.WorkerActive || w.Health == "")
}

// schedulerOptions are a pass's lab-wide inputs from the store: each
// device type's health-check schedule and each worker's job limit, as an
// administrator set them (lavacli device-types update, workers update,
// basalt manage).
func schedulerOptions(workers []store.Worker, types []store.DeviceType) scheduler.Options {
	opts := scheduler.Options{
		DeviceTypes:    make(map[string]scheduler.DeviceTypePolicy, len(types)),
		WorkerJobLimit: map[string]int{},
	}
	for _, dt := range types {
		opts.DeviceTypes[dt.Name] = scheduler.DeviceTypePolicy{
			DisableHealthCheck: dt.HealthDisabled,
			Frequency:          dt.HealthFrequency,
			PerJob:             dt.HealthDenominator == store.PerJobs,
		}
	}
	for _, w := range workers {
		if w.JobLimit > 0 {
			opts.WorkerJobLimit[w.Name] = w.JobLimit
		}
	}
	return opts
}

// resolveAliases replaces, in entries, a requested device type that is not
// a type but an alias by the type it names: LAVA resolves aliases at
// submit, so the job is stored, listed and scheduled with the real type
// (its definition keeps what the user wrote).
func (l *Lab) resolveAliases(ctx context.Context, entries []entry, known map[string]bool) error {
	for i := range entries {
		t := entries[i].deviceType
		if t == "" || known[t] {
			continue
		}
		a, err := l.st.Alias(ctx, t)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		entries[i].deviceType = a.DeviceType
	}
	return nil
}
