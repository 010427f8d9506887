package vland

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Server is the daemon: VLANd's database of switches, ports and VLANs,
// kept in memory, and the API over it. Every change goes to the driver
// first and is recorded only once the driver made it, so that the
// database never claims what the switches do not have.
type Server struct {
	cfg    *Config
	driver Driver
	log    *slog.Logger

	mu       sync.Mutex // serialises the API: one change at a time
	switches []*switchRow
	ports    []*portRow // port_id is the index + 1
	vlans    map[int]*vlanRow
	nextVLAN int
	started  bool

	connMu sync.Mutex
	ln     net.Listener
	wg     sync.WaitGroup
	closed bool
}

type switchRow struct {
	ID   int
	Name string
}

type portRow struct {
	ID, SwitchID, Number  int
	Name, Interface       string
	Locked, Trunk         bool
	BaseVLAN, CurrentVLAN int
}

type vlanRow struct {
	ID      int
	Name    string
	Tag     int
	Base    bool
	Created time.Time
}

// Timeouts of one request: reading it, handling it (the driver's
// commands), writing the reply.
const (
	readTimeout = 30 * time.Second
	callTimeout = 60 * time.Second
	// maxConns bounds the connections served at once; more wait.
	maxConns = 64
)

// NewServer returns a daemon for cfg (checked by ParseConfig) driving
// its switches with driver; log may be nil.
func NewServer(cfg *Config, driver Driver, log *slog.Logger) *Server {
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s := &Server{cfg: cfg, driver: driver, log: log, vlans: map[int]*vlanRow{}, nextVLAN: 1}
	for i, sw := range cfg.Switches {
		s.switches = append(s.switches, &switchRow{ID: i + 1, Name: sw.Name})
		for _, p := range sw.Ports {
			s.ports = append(s.ports, &portRow{ID: len(s.ports) + 1, SwitchID: i + 1, Number: p.Number,
				Name: p.Name, Interface: p.Interface, Locked: p.Locked})
		}
	}
	return s
}

// Start creates the default VLAN and puts every port on it, its base
// VLAN. On failure the caller still calls Close, which undoes the part
// that was done.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.cfg.DefaultVLAN
	if err := s.driver.CreateVLAN(ctx, d.Tag, d.Name); err != nil {
		return fmt.Errorf("creating the default VLAN %s (tag %d): %w", d.Name, d.Tag, err)
	}
	v := &vlanRow{ID: s.nextVLAN, Name: d.Name, Tag: d.Tag, Base: true, Created: time.Now().UTC()}
	s.nextVLAN++
	s.vlans[v.ID] = v
	for _, p := range s.ports {
		if err := s.driver.SetAccess(ctx, s.ref(p), d.Tag); err != nil {
			return fmt.Errorf("putting port %s/%d on the default VLAN: %w", s.switches[p.SwitchID-1].Name, p.Number, err)
		}
		p.BaseVLAN, p.CurrentVLAN = v.ID, v.ID
	}
	s.started = true
	s.log.Info("vland started", "switches", len(s.switches), "ports", len(s.ports), "default_vlan", d.Name, "tag", d.Tag)
	return nil
}

func (s *Server) ref(p *portRow) PortRef {
	return PortRef{Switch: s.switches[p.SwitchID-1].Name, Number: p.Number, Name: p.Name, Interface: p.Interface}
}

// Serve answers connections on l until Close.
func (s *Server) Serve(l net.Listener) error {
	s.connMu.Lock()
	if s.closed {
		s.connMu.Unlock()
		return errors.New("vland server closed")
	}
	s.ln = l
	s.connMu.Unlock()
	sem := make(chan struct{}, maxConns)
	for {
		c, err := l.Accept()
		if err != nil {
			s.connMu.Lock()
			closed := s.closed
			s.connMu.Unlock()
			if closed {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return err
		}
		sem <- struct{}{}
		s.wg.Add(1)
		go func() {
			defer func() { <-sem; s.wg.Done() }()
			s.serveConn(c)
		}()
	}
}

// Close stops serving, then takes every port back to its base VLAN,
// deletes every VLAN and lets the driver remove what it made: the daemon
// leaves no VLAN behind. It returns the first failure but tries it all.
func (s *Server) Close(ctx context.Context) error {
	s.connMu.Lock()
	s.closed = true
	if s.ln != nil {
		s.ln.Close()
	}
	s.connMu.Unlock()
	s.wg.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	if s.started {
		for _, p := range s.ports {
			if p.CurrentVLAN != p.BaseVLAN {
				if v := s.vlans[p.BaseVLAN]; v != nil {
					if err := s.driver.SetAccess(ctx, s.ref(p), v.Tag); err != nil {
						errs = append(errs, err)
					}
				}
				p.CurrentVLAN = p.BaseVLAN
			}
		}
	}
	for _, id := range s.vlanIDs() {
		v := s.vlans[id]
		if v.Base && id == 1 {
			continue
		}
		if err := s.driver.DeleteVLAN(ctx, v.Tag); err != nil {
			errs = append(errs, err)
		}
		delete(s.vlans, id)
	}
	if err := s.driver.Close(ctx); err != nil {
		errs = append(errs, err)
	}
	s.vlans = map[int]*vlanRow{}
	s.started = false
	return errors.Join(errs...)
}

func (s *Server) vlanIDs() []int {
	ids := make([]int, 0, len(s.vlans))
	for id := range s.vlans {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	return ids
}

// request is what a client sends. lava-dispatcher adds port, poll_delay,
// host and client_name; only client_name is used (in the log).
type request struct {
	Type       string          `json:"type"`
	Command    string          `json:"command"`
	Data       json.RawMessage `json:"data"`
	ClientName string          `json:"client_name"`
}

// reply is what the daemon answers: ACK with data (null for a query
// that found nothing), or ERROR with the reason and no data, so that
// lava-dispatcher's create_vlan ("data" in reply) sees a failure.
type reply struct {
	Response string
	Data     any
	Error    string
}

func (r reply) MarshalJSON() ([]byte, error) {
	if r.Response == "ERROR" {
		return json.Marshal(map[string]any{"response": r.Response, "error": r.Error})
	}
	return json.Marshal(map[string]any{"response": r.Response, "data": r.Data})
}

func (s *Server) serveConn(c net.Conn) {
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(readTimeout))
	msg, err := readFrame(c, MaxMessage)
	if err != nil {
		if !errors.Is(err, io.EOF) {
			s.log.Warn("bad request", "peer", c.RemoteAddr().String(), "error", err)
			s.send(c, reply{Response: "ERROR", Error: "bad request: " + err.Error()})
		}
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	r := s.handle(ctx, msg)
	s.send(c, r)
}

func (s *Server) send(c net.Conn, r reply) {
	b, err := json.Marshal(r)
	if err != nil {
		b, _ = json.Marshal(reply{Response: "ERROR", Error: "reply not encodable: " + err.Error()})
	}
	c.SetWriteDeadline(time.Now().Add(readTimeout))
	if err := writeFrame(c, b); err != nil {
		s.log.Warn("reply not sent", "peer", c.RemoteAddr().String(), "error", err)
	}
}

// apiError is a refusal with its reason, sent as an ERROR reply.
type apiError struct{ msg string }

func (e *apiError) Error() string { return e.msg }

func refuse(format string, args ...any) error { return &apiError{fmt.Sprintf(format, args...)} }

// handle answers one request message (JSON): the reply the connection
// gets.
func (s *Server) handle(ctx context.Context, msg []byte) reply {
	var req request
	if err := json.Unmarshal(msg, &req); err != nil {
		return reply{Response: "ERROR", Error: "request is not a JSON object: " + err.Error()}
	}
	data := map[string]any{}
	if len(req.Data) > 0 && string(req.Data) != "null" {
		dec := json.NewDecoder(strings.NewReader(string(req.Data)))
		dec.UseNumber()
		if err := dec.Decode(&data); err != nil {
			return reply{Response: "ERROR", Error: "data is not a JSON object: " + err.Error()}
		}
	}
	s.mu.Lock()
	out, err := s.call(ctx, req.Type, req.Command, data)
	s.mu.Unlock()
	attrs := []any{"client", req.ClientName, "command", req.Command, "data", string(req.Data)}
	if err != nil {
		s.log.Warn("refused", append(attrs, "error", err.Error())...)
		return reply{Response: "ERROR", Error: err.Error()}
	}
	if strings.HasPrefix(req.Command, "api.") {
		s.log.Info("done", append(attrs, "result", fmt.Sprint(out))...)
	} else {
		s.log.Debug("query", attrs...)
	}
	return reply{Response: "ACK", Data: out}
}

// call runs one command; s.mu is held.
func (s *Server) call(ctx context.Context, typ, command string, d map[string]any) (any, error) {
	want := map[string]string{"db": "db_query", "api": "vlan_update", "daemon": "daemon_query"}[strings.SplitN(command, ".", 2)[0]]
	if want == "" {
		return nil, refuse("unknown command %q", command)
	}
	if typ != want {
		return nil, refuse("command %s is of type %s, not %q", command, want, typ)
	}
	if !s.started && command != "daemon.status" && command != "daemon.version" {
		return nil, refuse("the daemon is not running")
	}
	switch command {
	case "daemon.status":
		return map[string]any{"running": s.started, "switches": len(s.switches), "ports": len(s.ports), "vlans": len(s.vlans)}, nil
	case "daemon.version":
		return "basalt-vland 1", nil

	case "db.all_switches":
		out := []any{}
		for _, sw := range s.switches {
			out = append(out, switchJSON(sw))
		}
		return out, nil
	case "db.all_ports":
		out := []any{}
		for _, p := range s.ports {
			out = append(out, portJSON(p))
		}
		return out, nil
	case "db.all_vlans":
		out := []any{}
		for _, id := range s.vlanIDs() {
			out = append(out, vlanJSON(s.vlans[id]))
		}
		return out, nil
	case "db.get_switch_id_by_name":
		name, err := strArg(d, "name")
		if err != nil {
			return nil, err
		}
		for _, sw := range s.switches {
			if sw.Name == name {
				return sw.ID, nil
			}
		}
		return nil, nil
	case "db.get_switch_by_id":
		sw, err := s.switchArg(d)
		if err != nil || sw == nil {
			return nil, err
		}
		return switchJSON(sw), nil
	case "db.get_port_by_switch_and_number":
		sw, err := s.switchArg(d)
		if err != nil || sw == nil {
			return nil, err
		}
		n, err := intArg(d, "number")
		if err != nil {
			return nil, err
		}
		for _, p := range s.ports {
			if p.SwitchID == sw.ID && p.Number == n {
				return p.ID, nil
			}
		}
		return nil, nil
	case "db.get_port_by_switch_and_name":
		sw, err := s.switchArg(d)
		if err != nil || sw == nil {
			return nil, err
		}
		name, err := strArg(d, "name")
		if err != nil {
			return nil, err
		}
		for _, p := range s.ports {
			if p.SwitchID == sw.ID && p.Name == name {
				return p.ID, nil
			}
		}
		return nil, nil
	case "db.get_port_by_id":
		p, err := s.portArg(d, false)
		if err != nil || p == nil {
			return nil, err
		}
		return portJSON(p), nil
	case "db.get_current_vlan_id_by_port", "db.get_base_vlan_id_by_port":
		p, err := s.portArg(d, false)
		if err != nil || p == nil {
			return nil, err
		}
		if command == "db.get_base_vlan_id_by_port" {
			return p.BaseVLAN, nil
		}
		return p.CurrentVLAN, nil
	case "db.get_ports_by_current_vlan", "db.get_ports_by_base_vlan":
		v, err := s.vlanArg(d, false)
		if err != nil || v == nil {
			return nil, err
		}
		out := []int{}
		for _, p := range s.ports {
			if (command == "db.get_ports_by_current_vlan" && p.CurrentVLAN == v.ID) || (command == "db.get_ports_by_base_vlan" && p.BaseVLAN == v.ID) {
				out = append(out, p.ID)
			}
		}
		return out, nil
	case "db.get_vlan_by_id":
		v, err := s.vlanArg(d, false)
		if err != nil || v == nil {
			return nil, err
		}
		return vlanJSON(v), nil
	case "db.get_vlan_tag_by_id":
		v, err := s.vlanArg(d, false)
		if err != nil || v == nil {
			return nil, err
		}
		return v.Tag, nil
	case "db.get_vlan_id_by_name":
		name, err := strArg(d, "name")
		if err != nil {
			return nil, err
		}
		for _, id := range s.vlanIDs() {
			if s.vlans[id].Name == name {
				return id, nil
			}
		}
		return nil, nil
	case "db.get_vlan_id_by_tag":
		tag, err := intArg(d, "tag")
		if err != nil {
			return nil, err
		}
		for _, id := range s.vlanIDs() {
			if s.vlans[id].Tag == tag {
				return id, nil
			}
		}
		return nil, nil

	case "api.create_vlan":
		return s.createVLAN(ctx, d)
	case "api.delete_vlan":
		return s.deleteVLAN(ctx, d)
	case "api.set_current_vlan":
		p, err := s.portArg(d, true)
		if err != nil {
			return nil, err
		}
		v, err := s.vlanArg(d, true)
		if err != nil {
			return nil, err
		}
		return s.movePort(ctx, p, v)
	case "api.restore_base_vlan":
		p, err := s.portArg(d, true)
		if err != nil {
			return nil, err
		}
		return s.movePort(ctx, p, s.vlans[p.BaseVLAN])
	case "api.set_base_vlan":
		p, err := s.portArg(d, true)
		if err != nil {
			return nil, err
		}
		if p.Locked {
			return nil, refuse("port %d is locked", p.ID)
		}
		v, err := s.vlanArg(d, true)
		if err != nil {
			return nil, err
		}
		if !v.Base {
			return nil, refuse("VLAN %d (%s) is not a base VLAN", v.ID, v.Name)
		}
		p.BaseVLAN = v.ID
		return p.ID, nil
	case "api.set_port_mode":
		return s.setPortMode(ctx, d)
	case "api.lock_port", "api.unlock_port":
		p, err := s.portArg(d, true)
		if err != nil {
			return nil, err
		}
		p.Locked = command == "api.lock_port"
		return p.ID, nil
	}
	return nil, refuse("unknown command %q", command)
}

func (s *Server) createVLAN(ctx context.Context, d map[string]any) (any, error) {
	name, err := strArg(d, "name")
	if err != nil {
		return nil, err
	}
	if !vlanNameRE.MatchString(name) {
		return nil, refuse("VLAN name %q: %s", name, vlanNameRule)
	}
	tag, err := intArg(d, "tag")
	if err != nil {
		return nil, err
	}
	base := false
	if v, ok := d["is_base_vlan"]; ok {
		b, isBool := v.(bool)
		if !isBool {
			return nil, refuse("is_base_vlan must be true or false")
		}
		base = b
	}
	if len(s.vlans) >= MaxVLANs {
		return nil, refuse("the daemon keeps at most %d VLANs", MaxVLANs)
	}
	used := map[int]bool{}
	for _, v := range s.vlans {
		if v.Name == name {
			return nil, refuse("a VLAN named %s already exists (vlan_id %d)", name, v.ID)
		}
		used[v.Tag] = true
	}
	switch {
	case tag == -1:
		tag = 0
		for t := s.cfg.Tags.Min; t <= s.cfg.Tags.Max; t++ {
			if !used[t] {
				tag = t
				break
			}
		}
		if tag == 0 {
			return nil, refuse("no free tag left in %d..%d", s.cfg.Tags.Min, s.cfg.Tags.Max)
		}
	case tag < 1 || tag > 4094:
		return nil, refuse("tag %d is not within 1..4094 (or -1 to allocate one)", tag)
	case used[tag]:
		return nil, refuse("tag %d is in use", tag)
	}
	if err := s.driver.CreateVLAN(ctx, tag, name); err != nil {
		return nil, fmt.Errorf("creating VLAN %s (tag %d): %w", name, tag, err)
	}
	v := &vlanRow{ID: s.nextVLAN, Name: name, Tag: tag, Base: base, Created: time.Now().UTC()}
	s.nextVLAN++
	s.vlans[v.ID] = v
	return []int{v.ID, v.Tag}, nil
}

func (s *Server) deleteVLAN(ctx context.Context, d map[string]any) (any, error) {
	v, err := s.vlanArg(d, true)
	if err != nil {
		return nil, err
	}
	if v.ID == 1 {
		return nil, refuse("VLAN %d (%s) is the default VLAN", v.ID, v.Name)
	}
	var current, base []string
	for _, p := range s.ports {
		if p.CurrentVLAN == v.ID {
			current = append(current, strconv.Itoa(p.ID))
		}
		if p.BaseVLAN == v.ID {
			base = append(base, strconv.Itoa(p.ID))
		}
	}
	if len(current) > 0 {
		return nil, refuse("VLAN %d (%s) %s %s", v.ID, v.Name, inUseText, strings.Join(current, ", "))
	}
	if len(base) > 0 {
		return nil, refuse("VLAN %d (%s) is the base VLAN of port(s) %s", v.ID, v.Name, strings.Join(base, ", "))
	}
	if err := s.driver.DeleteVLAN(ctx, v.Tag); err != nil {
		return nil, fmt.Errorf("deleting VLAN %s (tag %d): %w", v.Name, v.Tag, err)
	}
	delete(s.vlans, v.ID)
	return v.ID, nil
}

func (s *Server) movePort(ctx context.Context, p *portRow, v *vlanRow) (any, error) {
	if p.Locked {
		return nil, refuse("port %d (%s/%d) is locked", p.ID, s.switches[p.SwitchID-1].Name, p.Number)
	}
	if p.Trunk {
		return nil, refuse("port %d is a trunk port: set it to access mode first", p.ID)
	}
	if v == nil {
		return nil, refuse("port %d has no base VLAN", p.ID)
	}
	if p.CurrentVLAN == v.ID {
		return v.ID, nil
	}
	if err := s.driver.SetAccess(ctx, s.ref(p), v.Tag); err != nil {
		return nil, fmt.Errorf("moving port %d to VLAN %s (tag %d): %w", p.ID, v.Name, v.Tag, err)
	}
	p.CurrentVLAN = v.ID
	return v.ID, nil
}

func (s *Server) setPortMode(ctx context.Context, d map[string]any) (any, error) {
	p, err := s.portArg(d, true)
	if err != nil {
		return nil, err
	}
	mode, err := strArg(d, "mode")
	if err != nil {
		return nil, err
	}
	if p.Locked {
		return nil, refuse("port %d is locked", p.ID)
	}
	switch mode {
	case "access":
		if p.Trunk {
			if err := s.driver.SetAccess(ctx, s.ref(p), s.vlans[p.BaseVLAN].Tag); err != nil {
				return nil, err
			}
			p.Trunk, p.CurrentVLAN = false, p.BaseVLAN
		}
	case "trunk":
		if !p.Trunk {
			if err := s.driver.SetTrunk(ctx, s.ref(p), nil); err != nil {
				return nil, fmt.Errorf("port %d to trunk mode: %w", p.ID, err)
			}
			p.Trunk = true
		}
	default:
		return nil, refuse("mode %q: access or trunk", mode)
	}
	return p.ID, nil
}

func (s *Server) switchArg(d map[string]any) (*switchRow, error) {
	id, err := intArg(d, "switch_id")
	if err != nil {
		return nil, err
	}
	if id < 1 || id > len(s.switches) {
		return nil, nil
	}
	return s.switches[id-1], nil
}

// portArg reads port_id; with must, an unknown port is a refusal,
// otherwise nil (a query answered with null).
func (s *Server) portArg(d map[string]any, must bool) (*portRow, error) {
	id, err := intArg(d, "port_id")
	if err != nil {
		return nil, err
	}
	if id < 1 || id > len(s.ports) {
		if must {
			return nil, refuse("no port %d", id)
		}
		return nil, nil
	}
	return s.ports[id-1], nil
}

func (s *Server) vlanArg(d map[string]any, must bool) (*vlanRow, error) {
	id, err := intArg(d, "vlan_id")
	if err != nil {
		return nil, err
	}
	v := s.vlans[id]
	if v == nil && must {
		return nil, refuse("no VLAN %d", id)
	}
	return v, nil
}

// intArg reads an integer argument: a JSON number or a decimal string
// (lava-dispatcher passes on what the device dictionary and the
// MultiNode messages hold, numbers or strings).
func intArg(d map[string]any, key string) (int, error) {
	v, ok := d[key]
	if !ok {
		return 0, refuse("missing %s", key)
	}
	var text string
	switch x := v.(type) {
	case json.Number:
		text = x.String()
	case string:
		text = x
	default:
		return 0, refuse("%s must be an integer, not %v", key, v)
	}
	n, err := strconv.Atoi(strings.TrimSpace(text))
	if err != nil || n < -1 || n > 1<<30 {
		return 0, refuse("%s must be an integer, not %q", key, text)
	}
	return n, nil
}

func strArg(d map[string]any, key string) (string, error) {
	v, ok := d[key]
	if !ok {
		return "", refuse("missing %s", key)
	}
	switch x := v.(type) {
	case string:
		return x, nil
	case json.Number:
		return x.String(), nil
	}
	return "", refuse("%s must be a string", key)
}

func switchJSON(sw *switchRow) map[string]any {
	return map[string]any{"switch_id": sw.ID, "name": sw.Name}
}

func portJSON(p *portRow) map[string]any {
	return map[string]any{"port_id": p.ID, "name": p.Name, "switch_id": p.SwitchID, "number": p.Number,
		"is_locked": p.Locked, "is_trunk": p.Trunk, "base_vlan_id": p.BaseVLAN, "current_vlan_id": p.CurrentVLAN}
}

func vlanJSON(v *vlanRow) map[string]any {
	return map[string]any{"vlan_id": v.ID, "name": v.Name, "tag": v.Tag, "is_base_vlan": v.Base,
		"creation_time": v.Created.Format(time.RFC3339)}
}
