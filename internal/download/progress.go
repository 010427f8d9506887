package download

import "github.com/basalt-lava/basalt/internal/joblog"

// progress logs LAVA's progress lines: every 5% when the size is known
// ("progress  35% (12MB)"), every 25 MB when it is not ("progress 75MB"),
// so that a large download writes about twenty lines, not thousands.
type progress struct {
	log   *joblog.Logger
	total int64
	// next is the percentage or the byte count of the next line.
	next int64
}

const unknownStep = 25 << 20

func newProgress(log *joblog.Logger, total int64) *progress {
	return &progress{log: log, total: total}
}

// update is called with the bytes received so far. The first call logs
// the 0% line, as LAVA does, so the log shows the transfer started.
func (p *progress) update(n int64) {
	if p.total <= 0 {
		if n >= p.next {
			p.log.Debugf("progress %dMB", n>>20)
			p.next = (n/unknownStep + 1) * unknownStep
		}
		return
	}
	percent := n * 100 / p.total
	if percent >= p.next {
		p.log.Debugf("progress %3d%% (%dMB)", percent, n>>20)
		p.next = (percent/5 + 1) * 5
	}
}
