package cli

import (
	"flag"
	"fmt"

	"github.com/basalt-lava/basalt/internal/download"
)

// downloadLimitFlags adds basalt run's limits on images (internal/download
// Limits) to fs; the function it returns gives them once fs is parsed.
// On the command line 0 means no limit.
func downloadLimitFlags(fs *flag.FlagSet) func() download.Limits {
	d := download.DefaultLimits()
	dl := &sizeFlag{n: d.MaxDownload}
	img := &sizeFlag{n: d.MaxImage}
	fs.Var(dl, download.FlagMaxDownload[2:], "most bytes one image may download, e.g. 16G (0: no limit)")
	fs.Var(img, download.FlagMaxImage[2:], "most bytes one image may take once decompressed or unpacked (archive: tar, test-definition archives), e.g. 32G (0: no limit)")
	ratio := fs.Int64(download.FlagMaxRatio[2:], d.MaxRatio, "when above 0, a compressed image of known size may decompress to at most this many times its size")
	entries := fs.Int64(download.FlagMaxEntries[2:], d.MaxEntries, "most entries one tar archive (archive: tar, test-definition archives) may unpack (0: no limit)")
	none := func(n int64) int64 {
		if n == 0 {
			return -1
		}
		return n
	}
	return func() download.Limits {
		return download.Limits{MaxDownload: none(dl.n), MaxImage: none(img.n), MaxRatio: none(*ratio), MaxEntries: none(*entries)}
	}
}

// sizeFlag is a byte count given as download.ParseSize reads it (16G).
type sizeFlag struct{ n int64 }

func (f *sizeFlag) String() string {
	if f == nil {
		return "0"
	}
	return download.FormatSize(f.n)
}

func (f *sizeFlag) Set(s string) error {
	n, err := download.ParseSize(s)
	if err != nil {
		return fmt.Errorf("%v", err)
	}
	f.n = n
	return nil
}

var _ flag.Value = (*sizeFlag)(nil)
