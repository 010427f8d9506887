package nfsserver

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
)

// rpcbindStub answers ganesha's rpcbind registrations on a unix socket
// of the job's, which Start mounts over /run/rpcbind.sock in the
// server's own mount namespace: every SET and UNSET succeeds and is
// forgotten. ganesha refuses to start when it cannot register, and on
// the host's rpcbind its registrations (and the UNSETs it sends for its
// programs at start and exit) would replace those of the host's own NFS
// server or of another job's. Clients are given the ports instead
// (ClientOptions).
type rpcbindStub struct {
	l    net.Listener
	file string
	once sync.Once
	// sets counts the registrations answered (tests).
	sets atomic.Int64
	wg   sync.WaitGroup
	mu   sync.Mutex
	open map[net.Conn]bool
}

// rpcbind's procedures that take a registration (v3/v4 RPCBPROC_SET,
// RPCBPROC_UNSET; PMAPPROC_SET, PMAPPROC_UNSET in v2): they answer TRUE.
const (
	procSet   = 1
	procUnset = 2
)

// maxRecord bounds one call: registrations are a few hundred bytes.
const maxRecord = 64 << 10

// startRPCBindStub listens on bindPath, the socket's name for bind(2),
// which is file's; Close removes file.
func startRPCBindStub(bindPath, file string) (*rpcbindStub, error) {
	l, err := net.Listen("unix", bindPath)
	if err != nil {
		return nil, err
	}
	// bindPath names a descriptor that is closed by then.
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	s := &rpcbindStub{l: l, file: file, open: map[net.Conn]bool{}}
	s.wg.Add(1)
	go s.serve()
	return s, nil
}

func (s *rpcbindStub) serve() {
	defer s.wg.Done()
	for {
		c, err := s.l.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.open[c] = true
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.conn(c)
			s.mu.Lock()
			delete(s.open, c)
			s.mu.Unlock()
			c.Close()
		}()
	}
}

// conn answers the calls of one connection, each a record of one or
// more fragments (RFC 5531 record marking).
func (s *rpcbindStub) conn(c net.Conn) {
	r := bufio.NewReader(c)
	for {
		var rec []byte
		for {
			var mark uint32
			if err := binary.Read(r, binary.BigEndian, &mark); err != nil {
				return
			}
			n := mark & 0x7fffffff
			if len(rec)+int(n) > maxRecord {
				return
			}
			frag := make([]byte, n)
			if _, err := io.ReadFull(r, frag); err != nil {
				return
			}
			rec = append(rec, frag...)
			if mark&0x80000000 != 0 {
				break
			}
		}
		reply, err := answer(rec)
		if err != nil {
			return
		}
		if binary.BigEndian.Uint32(rec[20:]) == procSet {
			s.sets.Add(1)
		}
		out := binary.BigEndian.AppendUint32(nil, 0x80000000|uint32(len(reply)))
		if _, err := c.Write(append(out, reply...)); err != nil {
			return
		}
	}
}

// answer is the reply to one call: accepted, and TRUE for SET and UNSET,
// 0 (FALSE, port 0, the empty address) for anything else.
func answer(call []byte) ([]byte, error) {
	// xid, CALL (0), rpcvers, prog, vers, proc
	if len(call) < 24 || binary.BigEndian.Uint32(call[4:]) != 0 {
		return nil, errors.New("not an RPC call")
	}
	result := uint32(0)
	if p := binary.BigEndian.Uint32(call[20:]); p == procSet || p == procUnset {
		result = 1
	}
	var b []byte
	for _, v := range []uint32{binary.BigEndian.Uint32(call), 1, 0, 0, 0, 0, result} {
		b = binary.BigEndian.AppendUint32(b, v) // xid, REPLY, MSG_ACCEPTED, AUTH_NONE verifier, SUCCESS, result
	}
	return b, nil
}

// Close stops answering, waits for the connections to end and removes
// the socket. Safe more than once.
func (s *rpcbindStub) Close() {
	if s == nil {
		return
	}
	s.once.Do(s.close)
}

func (s *rpcbindStub) close() {
	s.l.Close()
	_ = os.Remove(s.file)
	s.mu.Lock()
	for c := range s.open {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}
