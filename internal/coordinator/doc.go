// Package coordinator implements LAVA's MultiNode coordinator: the wire
// framing, a client (what the dispatcher polls with) and a server that
// keeps each group's state, compatible both ways with LAVA's own
// lava-coordinator and its dispatcher's MultinodeProtocol.
//
// # Wire format
//
// Both directions: 8 ASCII hex digits giving the byte length of a JSON
// body, then the body. One request per TCP connection: the client writes
// its frame, shuts down its write side, reads one reply frame and closes.
// Bodies are written ASCII-only (non-ASCII escaped as \uXXXX, as Python's
// json.dumps does), because LAVA's peers decode each recv() chunk as UTF-8
// separately.
//
// # Requests
//
// Every request carries LAVA's base message (client_name, group_name,
// role, hostname, ...). The first request naming a group creates it if it
// has group_size > 0; every request registers its client (with its role)
// on first sight. State belongs to the client name, not the connection,
// so a client that lost a connection just polls again.
//
//   - group_data: "wait" until group_size clients have registered, then
//     {"response": "group_data", "roles": {client: role}}.
//   - lava_send {messageID, message}: stores {sender: message} under the
//     ID for every registered client and as the sender's part for
//     lava_wait_all; "ack".
//   - lava_wait {messageID}: "wait" until the ID was sent, then "ack" with
//     message {sender: message, ...}.
//   - lava_wait_all {messageID, [waitrole]}: "wait" until every client (or
//     every client with waitrole) has sent the ID, then "ack" with every
//     sender's message.
//   - lava_sync {messageID}: LAVA's counting: each client's first call
//     enters and waits; once group_size clients have entered, each call
//     gets "ack" with the message (the ID when none); when all entered
//     clients have been released the ID is forgotten, to be used again.
//   - aggregate {bundle, sub_id}: collects bundles; sub_id "N.0" waits for
//     all of them (plus LAVA's two rpc_delay polls) and gets them.
//   - clear_group: "ack"; the group is deleted once every registered
//     client has cleared.
//   - complete: "ack".
//
// Bad input of any kind (a header that is not 8 hex digits, a truncated
// or oversized frame, invalid JSON, JSON that is not an object, a missing
// or unknown request, missing names, a full group, ...) gets
// {"response": "nack", "error": "<reason>"}. A nack never has a "message"
// key, because LAVA's client returns the message instead of the response
// when there is one.
//
// # Deliberate differences from LAVA's coordinator
//
//   - lava_wait_all with waitrole waits for every member of that role.
//     LAVA's answers as soon as the role's first member has sent, and
//     walks the requester's role instead of waitrole.
//   - lava_wait_all on an ID nobody has sent yet answers "wait"; LAVA's
//     answers "nack", failing a call that would have succeeded a moment
//     later. It also waits until the group is complete (a member that has
//     not joined cannot have sent), and an unknown waitrole in a complete
//     group is a nack (LAVA's coordinator dies on it).
//   - A client joining a group that already has group_size clients is
//     refused; LAVA's adds it, and group_data then never completes.
//   - clear_group counts clients, not calls, so a retried clear_group
//     cannot delete the group under members still running.
//   - complete gets "ack"; LAVA's closes without a reply, which its own
//     client reads as "wait" and polls until its timeout.
//   - lava_send after lava_sync on the same ID replaces the sync entry;
//     LAVA's coordinator dies on it (update() on a string).
//   - The server serves connections concurrently, bounds each with a
//     deadline and each body with a size cap, and never stops on bad
//     input; LAVA's serves one connection at a time and dies on some
//     malformed requests. It forgets groups idle for a day
//     (Options.GroupTTL; LAVA's keeps them forever), so that crashed
//     groups do not accumulate.
//   - Peers are not authenticated, so what they can make the server keep
//     is bounded (Limits: groups, group_size, messages per client, bytes
//     per group and in all); a request over a limit gets a nack naming
//     it and the flag and config key that change it. LAVA's keeps
//     everything.
package coordinator
