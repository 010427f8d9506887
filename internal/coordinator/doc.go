// Package coordinator implements LAVA's MultiNode coordinator: the wire
// framing, a client (what the dispatcher uses to poll) and a server that
// keeps each group's state.
//
// Wire format, both directions: 8 ASCII hex digits giving the byte length
// of a JSON body, then the body. One request per TCP connection: the
// client writes its frame, shuts down its write side, reads one reply
// frame and closes.
package coordinator
