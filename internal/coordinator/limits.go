package coordinator

import (
	"fmt"
	"sync/atomic"
	"time"
)

// Limits bound what peers can make the coordinator keep. Its peers are
// not authenticated (LAVA's protocol has no credentials): anyone who
// reaches the port can create groups, join them and send messages, and
// without bounds the coordinator's memory grows with what they send. In
// every field zero means the default and a negative value no limit.
type Limits struct {
	// MaxGroups bounds the live groups; a request that would create one
	// more is refused.
	MaxGroups int
	// MaxGroupSize bounds a new group's group_size, and so its clients.
	MaxGroupSize int
	// MaxMessages bounds the messages one client keeps in its group:
	// the IDs it sent (lava_send) or synced on (lava_sync), and its
	// result bundle. Sending again under the same ID replaces.
	MaxMessages int
	// MaxGroupBytes bounds the bytes a group keeps: each message counts
	// the size of the request that carried it plus 64 bytes for each
	// client it is filed for, each client the size of its names.
	MaxGroupBytes int64
	// MaxBytes bounds the same bytes over all groups.
	MaxBytes int64
	// MaxConns bounds the connections served at once, each of which may
	// hold a request body of up to Options.MaxBody for ConnTimeout:
	// past it, new connections wait in the listener's queue until one
	// ends (nothing is refused; polls are short).
	MaxConns int
}

// Default limits: far above a lab's MultiNode use (a few groups of tens
// of nodes exchanging tens of messages; 1,000-node groups work), far
// below what a host can hold. A group's lifetime is Options.GroupTTL.
const (
	DefaultMaxGroups     = 1000
	DefaultMaxGroupSize  = 10000
	DefaultMaxMessages   = 10000
	DefaultMaxGroupBytes = 128 << 20
	DefaultMaxBytes      = 512 << 20
	DefaultMaxConns      = 256
	// DefaultGroupTTL forgets a group a day after its last request: a
	// group whose jobs crashed before clear_group goes, and a MultiNode
	// job's lava-wait polls keep a live group in use.
	DefaultGroupTTL = 24 * time.Hour
)

// perRecipient is what filing a message for one more client costs, in
// MaxGroupBytes: a map entry and its key.
const perRecipient = 64

// The flags of basalt coordinator and keys of its config file that set
// the limits, named in the nacks.
var limitNames = map[string]string{
	"groups":      `--max-groups, "max_groups"`,
	"group_size":  `--max-group-size, "max_group_size"`,
	"messages":    `--max-messages, "max_messages"`,
	"group_bytes": `--max-group-bytes, "max_group_bytes"`,
	"bytes":       `--max-bytes, "max_bytes"`,
}

func (l Limits) withDefaults() Limits {
	pick := func(v, def int64) int64 {
		if v == 0 {
			return def
		}
		return v
	}
	return Limits{
		MaxGroups:     int(pick(int64(l.MaxGroups), DefaultMaxGroups)),
		MaxGroupSize:  int(pick(int64(l.MaxGroupSize), DefaultMaxGroupSize)),
		MaxMessages:   int(pick(int64(l.MaxMessages), DefaultMaxMessages)),
		MaxGroupBytes: pick(l.MaxGroupBytes, DefaultMaxGroupBytes),
		MaxBytes:      pick(l.MaxBytes, DefaultMaxBytes),
		MaxConns:      int(pick(int64(l.MaxConns), DefaultMaxConns)),
	}
}

// limitError is the nack's error for a request over a limit: what, the
// limit, and how to change it.
func limitError(key string, format string, args ...any) error {
	return fmt.Errorf("%s: the coordinator's limit (%s to change it)", fmt.Sprintf(format, args...), limitNames[key])
}

// budget is the server's limits and the bytes every group keeps.
type budget struct {
	Limits
	total atomic.Int64
}

// charge records that slot, one of client's, now holds size bytes. It
// refuses, changing nothing, what would pass MaxMessages (when message
// is true and the slot is new), MaxGroupBytes or MaxBytes. g.mu is held.
func (g *group) charge(client, slot string, size int64, message bool) error {
	b := g.budget
	old, had := g.slots[slot]
	if message && !had && b.MaxMessages >= 0 && g.messageCount[client] >= b.MaxMessages {
		return limitError("messages", "client %q keeps %d messages in group %q", truncate(client), g.messageCount[client], truncate(g.name))
	}
	delta := size - old
	if delta > 0 && b.MaxGroupBytes >= 0 && g.bytes+delta > b.MaxGroupBytes {
		return limitError("group_bytes", "group %q would keep more than %d bytes of messages", truncate(g.name), b.MaxGroupBytes)
	}
	if total := b.total.Add(delta); delta > 0 && b.MaxBytes >= 0 && total > b.MaxBytes {
		b.total.Add(-delta)
		return limitError("bytes", "the groups would keep more than %d bytes of messages", b.MaxBytes)
	}
	g.bytes += delta
	g.slots[slot] = size
	if message && !had {
		g.messageCount[client]++
	}
	return nil
}

// release gives back every byte of a group taken off the server. The
// caller must not hold g.mu.
func (g *group) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.budget.total.Add(-g.bytes)
	g.bytes = 0
}
