package logstore

import (
	"fmt"
	"io"
	"testing"
)

// BenchmarkAppend appends batches of 100 records of ~200 bytes to one
// job, as a worker streaming a console does.
func BenchmarkAppend(b *testing.B) {
	for _, sync := range []bool{false, true} {
		b.Run(fmt.Sprint("sync=", sync), func(b *testing.B) {
			l := open(b, b.TempDir(), Options{Sync: sync})
			batch := make([]string, 100)
			for i := range batch {
				batch[i] = bigRecord(i)
			}
			b.SetBytes(int64(len(text(batch))))
			b.ResetTimer()
			var held int64
			for i := 0; i < b.N; i++ {
				h, err := l.Append(1, held, batch)
				if err != nil {
					b.Fatal(err)
				}
				if h != held+int64(len(batch)) {
					b.Fatalf("Append held %d lines, want %d", h, held+int64(len(batch)))
				}
				held = h
			}
			b.ReportMetric(float64(held)/b.Elapsed().Seconds(), "lines/s")
		})
	}
}

// BenchmarkAppendJobs appends batches of 10 records round-robin over 200
// jobs (many devices streaming at once), with the open-file cache at its
// cache bound to 64 (every call reopens, since the jobs outnumber it), as large
// as the jobs, and off (open per call).
func BenchmarkAppendJobs(b *testing.B) {
	const jobs = 200
	for _, maxOpen := range []int{64, jobs, -1} {
		b.Run(fmt.Sprint("MaxOpen=", maxOpen), func(b *testing.B) {
			l := open(b, b.TempDir(), Options{MaxOpen: maxOpen})
			batch := make([]string, 10)
			for i := range batch {
				batch[i] = bigRecord(i)
			}
			b.SetBytes(int64(len(text(batch))))
			held := make([]int64, jobs+1)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				job := int64(i%jobs) + 1
				h, err := l.Append(job, held[job], batch)
				if err != nil {
					b.Fatal(err)
				}
				if h != held[job]+int64(len(batch)) {
					b.Fatalf("job %d: Append held %d lines, want %d", job, h, held[job]+int64(len(batch)))
				}
				held[job] = h
			}
		})
	}
}

// BenchmarkReadTail reads 100 lines near the end of a 100 MB log, as
// `lavacli jobs logs --follow` does every few seconds, from a store
// whose file is cached (hot) and from one that opens it per call.
func BenchmarkReadTail(b *testing.B) {
	dir := b.TempDir()
	l := open(b, dir, Options{})
	lines := fill(b, l, 1, 100<<20)
	for _, maxOpen := range []int{0, -1} {
		b.Run(fmt.Sprint("MaxOpen=", maxOpen), func(b *testing.B) {
			l := open(b, dir, Options{MaxOpen: maxOpen})
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if n, err := l.Read(1, lines-200, lines-100, io.Discard); err != nil || n != 100 {
					b.Fatal(n, err)
				}
			}
		})
	}
}

// BenchmarkNormalise is the per-record check alone.
func BenchmarkNormalise(b *testing.B) {
	line := bigRecord(1)
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		out, err := normalise(line)
		if err != nil {
			b.Fatal(err)
		}
		if len(out) == 0 {
			b.Fatal("normalise returned an empty record")
		}
	}
}
