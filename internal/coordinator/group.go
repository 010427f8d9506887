package coordinator

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"
)

// rpcDelay is how many extra "wait" replies sub_id zero's aggregate gets
// once every bundle is in (LAVA's rpc_delay: time for the last node's
// XML-RPC submission).
const rpcDelay = 2

// group is one MultiNode group's state. Every field is guarded by mu.
type group struct {
	mu   sync.Mutex
	name string
	size int // group_size of the request that created it

	clients map[string]string   // client name -> hostname
	order   []string            // client names in registration order
	roleOf  map[string]string   // client name -> role
	roles   map[string][]string // role -> client names

	// messages[client][id] is what lava_wait returns to client: for
	// lava_send, {sender: message} over every sender; after lava_sync,
	// the sync message itself.
	messages map[string]map[string]any
	// senders[id] holds every client that sent id; sent[id] their data,
	// which lava_wait_all returns.
	senders map[string]map[string]bool
	sent    map[string]map[string]any
	// syncs[id][client] is true while client has entered the sync but
	// not yet been released.
	syncs    map[string]map[string]bool
	bundles  map[string]any
	rpcDelay int
	cleared  map[string]bool

	lastUsed time.Time
	gone     bool // removed from the server; holders must look it up again

	// What the group keeps, against the server's limits (charge):
	// slots[slot] the bytes of one stored message or registration,
	// bytes their sum, messageCount[client] the client's messages.
	budget       *budget
	slots        map[string]int64
	bytes        int64
	messageCount map[string]int
}

func newGroup(name string, size int, now time.Time, b *budget) *group {
	return &group{
		name:     name,
		size:     size,
		clients:  map[string]string{},
		roleOf:   map[string]string{},
		roles:    map[string][]string{},
		messages: map[string]map[string]any{},
		senders:  map[string]map[string]bool{},
		sent:     map[string]map[string]any{},
		syncs:    map[string]map[string]bool{},
		bundles:  map[string]any{},
		rpcDelay: rpcDelay,
		cleared:  map[string]bool{},
		lastUsed: now,

		budget:       b,
		slots:        map[string]int64{},
		messageCount: map[string]int{},
	}
}

// register adds the client on its first request. LAVA lets a group grow
// past its size (and then never completes it); here the extra client is
// refused.
func (g *group) register(r *request) error {
	if _, ok := g.clients[r.client]; ok {
		return nil
	}
	if len(g.clients) >= g.size {
		return fmt.Errorf("group %q is full: client %q would be number %d of %d", truncate(g.name), truncate(r.client), len(g.clients)+1, g.size)
	}
	if !r.hasRole {
		return fmt.Errorf("client %q joining group %q has no \"role\"", truncate(r.client), truncate(g.name))
	}
	if err := g.charge(r.client, "c\x00"+r.client, int64(len(r.client)+len(r.hostname)+len(r.role)+perRecipient), false); err != nil {
		return err
	}
	g.clients[r.client] = r.hostname
	g.order = append(g.order, r.client)
	g.roleOf[r.client] = r.role
	g.roles[r.role] = append(g.roles[r.role], r.client)
	return nil
}

func (g *group) complete() bool { return len(g.clients) >= g.size }

func ack(message any) map[string]any {
	return map[string]any{"response": RespAck, "message": message}
}

var (
	replyAck  = map[string]any{"response": RespAck}
	replyWait = map[string]any{"response": RespWait}
)

func nack(format string, args ...any) map[string]any {
	return map[string]any{"response": RespNack, "error": fmt.Sprintf(format, args...)}
}

// groupData waits for the whole group, then gives every client's role.
func (g *group) groupData() map[string]any {
	if !g.complete() {
		return replyWait
	}
	roles := make(map[string]any, len(g.roleOf))
	for c, role := range g.roleOf {
		roles[c] = role
	}
	return map[string]any{"response": RespGroupData, "roles": roles}
}

// send stores {sender: message} under id for every client, and as the
// sender's contribution for lava_wait_all.
func (g *group) send(r *request) map[string]any {
	id, err := r.messageID()
	if err != nil {
		return nack("%v", err)
	}
	msg := r.message()
	if err := g.charge(r.client, "s\x00"+id+"\x00"+r.client, int64(r.size+perRecipient*len(g.order)), true); err != nil {
		return nack("%v", err)
	}
	for _, c := range g.order {
		byID := g.messages[c]
		if byID == nil {
			byID = map[string]any{}
			g.messages[c] = byID
		}
		// After a lava_sync on the same ID the slot holds the sync
		// message, not a sender map; LAVA's update() would fail there.
		data, ok := byID[id].(map[string]any)
		if !ok {
			data = map[string]any{}
			byID[id] = data
		}
		data[r.client] = msg
	}
	if g.senders[id] == nil {
		g.senders[id] = map[string]bool{}
		g.sent[id] = map[string]any{}
	}
	g.senders[id][r.client] = true
	g.sent[id][r.client] = msg
	return replyAck
}

// wait answers once some client has sent id (as seen by this client).
func (g *group) wait(r *request) map[string]any {
	id, err := r.messageID()
	if err != nil {
		return nack("%v", err)
	}
	v, ok := g.messages[r.client][id]
	if !ok {
		return replyWait
	}
	return ack(snapshot(v))
}

// waitAll answers once every client of the group, or every client with
// waitrole, has sent id. Unlike LAVA's it waits for all members of the
// role (LAVA's returns after the first), waits rather than nacks for an
// ID nobody has sent yet, and waits until the group is complete, since a
// member that has not joined cannot have sent.
func (g *group) waitAll(r *request) map[string]any {
	id, err := r.messageID()
	if err != nil {
		return nack("%v", err)
	}
	waitrole, _, err := stringField(r.raw, "waitrole")
	if err != nil {
		return nack("%v", err)
	}
	if !g.complete() {
		return replyWait
	}
	members := g.order
	if waitrole != "" {
		members = g.roles[waitrole]
		if len(members) == 0 {
			return nack("no client in group %q has role %q (roles: %s)", truncate(g.name), truncate(waitrole), strings.Join(g.roleNames(), ", "))
		}
	}
	for _, c := range members {
		if !g.senders[id][c] {
			return replyWait
		}
	}
	return ack(snapshot(g.sent[id]))
}

func (g *group) roleNames() []string {
	return slices.Sorted(maps.Keys(g.roles))
}

// sync is LAVA's lava_sync, counting as it does: each client's first call
// enters it and waits; once size clients have entered, each call is
// released with an ack and marked done; when every entered client is done
// the ID is forgotten so it can be used again.
func (g *group) sync(r *request) map[string]any {
	id, err := r.messageID()
	if err != nil {
		return nack("%v", err)
	}
	msg := r.message()
	if falsy(msg) {
		msg = id
	}
	if err := g.charge(r.client, "y\x00"+id+"\x00"+r.client, int64(r.size+perRecipient), true); err != nil {
		return nack("%v", err)
	}
	entered := g.syncs[id]
	if entered == nil {
		entered = map[string]bool{}
		g.syncs[id] = entered
	}
	byID := g.messages[r.client]
	if byID == nil {
		byID = map[string]any{}
		g.messages[r.client] = byID
	}
	byID[id] = msg
	if len(entered) < g.size {
		entered[r.client] = true
		return replyWait
	}
	entered[r.client] = false
	for _, pending := range entered {
		if pending {
			return ack(msg)
		}
	}
	delete(g.syncs, id)
	return ack(msg)
}

// aggregate is LAVA's result-bundle collection: every node hands in its
// bundle; sub_id zero ("N.0") waits for all of them (plus rpcDelay more
// polls) and gets them all.
func (g *group) aggregate(r *request) map[string]any {
	bundle, ok := r.raw["bundle"]
	if !ok {
		return nack("aggregate request is missing \"bundle\"")
	}
	subID, ok := r.raw["sub_id"].(string)
	if !ok {
		return nack("aggregate request needs a string \"sub_id\"")
	}
	if err := g.charge(r.client, "b\x00"+r.client, int64(r.size+perRecipient), true); err != nil {
		return nack("%v", err)
	}
	g.bundles[r.client] = bundle
	if !strings.HasSuffix(subID, ".0") {
		return replyAck
	}
	if len(g.bundles) < g.size {
		g.rpcDelay = rpcDelay
		return replyWait
	}
	if g.rpcDelay > 0 {
		g.rpcDelay--
		return replyWait
	}
	g.rpcDelay = rpcDelay
	return ack(map[string]any{"bundle": maps.Clone(g.bundles)})
}

// clear records that the client is done; it reports whether every client
// now is, and the group should go. A client clearing twice (a retried
// poll) counts once, where LAVA counts calls.
func (g *group) clear(r *request) bool {
	g.cleared[r.client] = true
	return len(g.cleared) >= len(g.clients)
}

// snapshot copies a sender map so the reply does not share it with later
// sends (message values themselves are never modified once stored).
func snapshot(v any) any {
	if m, ok := v.(map[string]any); ok {
		return maps.Clone(m)
	}
	return v
}
