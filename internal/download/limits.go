package download

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/basalt-lava/basalt/internal/pipeline"
)

// Limits bound what one image may cost the worker. The URL and the bytes
// behind it are the job's: a server may stream without end (chunked, no
// Content-Length) and a file of a few hundred KB may decompress to
// gigabytes (a zstd or xz bomb). In every field zero means the default
// and a negative value no limit.
type Limits struct {
	// MaxDownload bounds the bytes received for one image (compressed,
	// as sent). A Content-Length above it is refused before the
	// transfer; a body without one is cut when it passes it.
	MaxDownload int64
	// MaxImage bounds the bytes one image writes to disk: the file once
	// decompressed, and the files of a tar archive unpacked (archive:
	// tar, test-definition archives).
	MaxImage int64
	// MaxRatio, when positive, tightens MaxImage for a compressed image
	// whose size is known before the transfer (Content-Length, a local
	// file): it may decompress to MaxRatio times that size. Zero (the
	// default) and negative: no ratio.
	MaxRatio int64
	// MaxEntries bounds the entries of one tar archive (archive: tar,
	// test-definition archives): each costs an inode, and an archive of
	// empty files compresses to almost nothing.
	MaxEntries int64
}

// Default limits. A compressed root file system is a few GB at most in
// today's labs and unpacks to some GB; an NFS root file system holds some
// 200,000 files. The ratio is off by default: an image's ratio does not
// tell a bomb from a real image (an empty 4 GiB ext4 file system
// compresses with zstd to 148 KB, 29,000 times; the zeros of a bomb some
// 7,000 times), so only a lab that knows its images should set it.
const (
	DefaultMaxDownload = 16 << 30
	DefaultMaxImage    = 32 << 30
	DefaultMaxRatio    = 0
	DefaultMaxEntries  = 1_000_000
)

// Flags and configuration that change the limits, named in their errors.
const (
	FlagMaxDownload = "--max-download-size"
	FlagMaxImage    = "--max-image-size"
	FlagMaxRatio    = "--max-image-ratio"
	FlagMaxEntries  = "--max-archive-entries"
)

// DefaultLimits returns every limit at its default.
func DefaultLimits() Limits {
	return Limits{MaxDownload: DefaultMaxDownload, MaxImage: DefaultMaxImage, MaxRatio: DefaultMaxRatio, MaxEntries: DefaultMaxEntries}
}

type limitsKey struct{}

// WithLimits returns a context whose downloads and unpacking (Fetch,
// and the test-definition archives of internal/overlay) use l where
// their own request leaves a limit at zero.
func WithLimits(ctx context.Context, l Limits) context.Context {
	return context.WithValue(ctx, limitsKey{}, l)
}

// LimitsFrom returns the limits of ctx (WithLimits) with defaults filled
// in for those it leaves at zero.
func LimitsFrom(ctx context.Context) Limits {
	l, _ := ctx.Value(limitsKey{}).(Limits)
	return l.Or(DefaultLimits())
}

// Or returns l with each zero field taken from d.
func (l Limits) Or(d Limits) Limits {
	pick := func(v, def int64) int64 {
		if v == 0 {
			return def
		}
		return v
	}
	return Limits{
		MaxDownload: pick(l.MaxDownload, d.MaxDownload),
		MaxImage:    pick(l.MaxImage, d.MaxImage),
		MaxRatio:    pick(l.MaxRatio, d.MaxRatio),
		MaxEntries:  pick(l.MaxEntries, d.MaxEntries),
	}
}

// imageLimit is the most one image of compressed size (-1: unknown) may
// decompress to, -1 for no limit, and the flag that sets the bound.
func (l Limits) imageLimit(size int64) (int64, string) {
	limit, flag := l.MaxImage, FlagMaxImage
	if l.MaxRatio <= 0 || size < 0 || size > math.MaxInt64/l.MaxRatio {
		return limit, flag
	}
	if byRatio := size * l.MaxRatio; limit < 0 || byRatio < limit {
		return byRatio, FlagMaxRatio
	}
	return limit, flag
}

// LimitError says that an image passed one of its limits. It is wrapped
// in a Job error: the job's image, not the lab, is at fault.
type LimitError struct {
	// Image names the image: its key in the job (rootfs) and its URL,
	// or the archive's file.
	Image string
	// What is the bound that was passed, in words.
	What  string
	Limit int64
	// Flag is the option of basalt run that changes the limit.
	Flag string
}

func (e *LimitError) Error() string {
	n := FormatSize(e.Limit)
	if strings.HasPrefix(e.What, "entries") {
		n = strconv.FormatInt(e.Limit, 10)
	}
	limit := "the limit per image"
	if e.Flag == FlagMaxRatio {
		limit = "the limit for its compressed size"
	}
	return fmt.Sprintf("%s: more than %s %s, %s (basalt run %s to change it)", e.Image, n, e.What, limit, e.Flag)
}

func limitError(image, what string, limit int64, flag string) error {
	return &pipeline.Error{Class: pipeline.ClassJob, Err: &LimitError{Image: image, What: what, Limit: limit, Flag: flag}}
}

// FormatSize writes a byte count the way the size flags read it: in the
// largest binary unit that divides it (16GiB), else in bytes.
func FormatSize(n int64) string {
	for _, u := range []struct {
		name  string
		shift uint
	}{{"TiB", 40}, {"GiB", 30}, {"MiB", 20}, {"KiB", 10}} {
		if n >= 1<<u.shift && n%(1<<u.shift) == 0 {
			return fmt.Sprintf("%d%s", n>>u.shift, u.name)
		}
	}
	return fmt.Sprintf("%d bytes", n)
}

// ParseSize reads a size as the limit flags take it: a number of bytes,
// or a number followed by K, M, G or T (powers of 1024; KiB, KB and the
// like read the same).
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	shift := uint(0)
	upper := strings.ToUpper(t)
	for _, u := range []struct {
		suffix string
		shift  uint
	}{{"T", 40}, {"G", 30}, {"M", 20}, {"K", 10}} {
		for _, form := range []string{u.suffix + "IB", u.suffix + "B", u.suffix} {
			if strings.HasSuffix(upper, form) {
				t, shift = strings.TrimSpace(t[:len(t)-len(form)]), u.shift
				break
			}
		}
		if shift != 0 {
			break
		}
	}
	if shift == 0 && strings.HasSuffix(upper, "B") {
		t = strings.TrimSpace(t[:len(t)-1])
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("invalid size %q: want a number of bytes, or one followed by K, M, G or T", s)
	}
	if n > math.MaxInt64>>shift {
		return 0, fmt.Errorf("invalid size %q: too large", s)
	}
	return n << shift, nil
}
