package xmlrpc

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// Func is a registered method. params are the decoded positional
// parameters (see the package doc for their Go types). Returning a *Fault
// (or an error wrapping one) sends that fault; any other error sends
// CodeInternalError with LAVA's "Internal Server Error" text.
type Func func(ctx context.Context, params []any) (any, error)

// Method is a registered method with its introspection data.
type Method struct {
	Func Func
	// Help is what system.methodHelp returns ("" when unset).
	Help string
	// Signature is what system.methodSignature returns: each entry is
	// [return type, param types...]; nil gives "undef", as LAVA answers
	// for a method without a declared signature.
	Signature [][]string
}

// Server dispatches XML-RPC calls to registered methods. It is an
// http.Handler: POST bodies are decoded within Limits and every answer is
// HTTP 200 with a <methodResponse>, as LAVA answers. Register methods before
// serving; registering while serving is safe but racy for callers.
type Server struct {
	Limits Limits

	mu      sync.RWMutex
	methods map[string]Method
}

var _ http.Handler = (*Server)(nil)

// NewServer returns a Server answering system.listMethods,
// system.methodHelp, system.methodSignature and system.multicall.
func NewServer() *Server {
	s := &Server{methods: map[string]Method{}}
	s.RegisterMethod("system.listMethods", Method{Func: s.listMethods,
		Help: "Return the names of the methods this server answers.", Signature: [][]string{{"array"}}})
	s.RegisterMethod("system.methodHelp", Method{Func: s.methodHelp,
		Help: "Return the documentation of a method, or an empty string.", Signature: [][]string{{"string", "string"}}})
	s.RegisterMethod("system.methodSignature", Method{Func: s.methodSignature,
		Help:      `Return the signatures of a method, "undef" when unknown, or an empty string for no such method.`,
		Signature: [][]string{{"array", "string"}}})
	s.RegisterMethod("system.multicall", Method{Func: s.multicall,
		Help:      "Call several methods in one request: an array of {methodName, params}; each result is [value] or a fault struct.",
		Signature: [][]string{{"array", "array"}}})
	return s
}

// Register registers fn under name without help or signature.
func (s *Server) Register(name string, fn Func) { s.RegisterMethod(name, Method{Func: fn}) }

// RegisterMethod registers m under name, replacing any method of that name.
// It panics on an invalid name or a nil Func: both are programming errors.
func (s *Server) RegisterMethod(name string, m Method) {
	if err := checkMethodName(name); err != nil {
		panic("xmlrpc: Register: " + err.Error())
	}
	if m.Func == nil {
		panic("xmlrpc: Register " + name + ": nil Func")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.methods[name] = m
}

func (s *Server) lookup(name string) (Method, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	m, ok := s.methods[name]
	return m, ok
}

// Credentials are the user and token of the request's Basic authorization
// (lavacli sends https://user:token@host/RPC2 as Basic "user:token").
type Credentials struct {
	User, Token string
}

type ctxKey int

const (
	credentialsKey ctxKey = iota
	requestKey
)

// CredentialsFrom returns the Basic-auth credentials of the call, and false
// when the request had none (or a header that is not valid Basic). Deciding
// whether they are right is the method's business.
func CredentialsFrom(ctx context.Context) (Credentials, bool) {
	c, ok := ctx.Value(credentialsKey).(Credentials)
	return c, ok
}

// RequestFrom returns the HTTP request of the call (for its remote address
// or headers), or nil outside a Server.
func RequestFrom(ctx context.Context) *http.Request {
	r, _ := ctx.Value(requestKey).(*http.Request)
	return r
}

// gzipMinBytes is the smallest reply worth compressing.
const gzipMinBytes = 1024

// gzipWriters reuses compressors: a new one allocates close to 1 MB, more
// than most replies. BestSpeed, as replies are small and mostly text.
var gzipWriters = sync.Pool{New: func() any {
	zw, _ := gzip.NewWriterLevel(io.Discard, gzip.BestSpeed)
	return zw
}}

// ServeHTTP answers one XML-RPC POST. A GET or HEAD gets a short plain-text
// help with the method list (LAVA redirects it to /api/help/, but a
// redirect is what a POST must never get, so Basalt never sends one). A
// request body with Content-Encoding gzip is inflated within Limits; the
// reply is gzipped when the client accepts it (lavacli sends
// Accept-Encoding: gzip; Python's xmlrpc.client inflates it).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodPost:
	case http.MethodGet, http.MethodHead:
		s.help(w, r)
		return
	default:
		w.Header().Set("Allow", "POST, GET, HEAD")
		http.Error(w, "XML-RPC needs a POST", http.StatusMethodNotAllowed)
		return
	}
	ctx := context.WithValue(r.Context(), requestKey, r)
	if user, token, ok := r.BasicAuth(); ok {
		ctx = context.WithValue(ctx, credentialsKey, Credentials{User: user, Token: token})
	}
	var reply []byte
	var call *Call
	body, err := requestBody(r)
	if err == nil {
		call, err = DecodeCall(body, s.Limits)
	}
	if err != nil {
		reply = MarshalFault(&Fault{Code: CodeInvalidRequest, String: "Unable to decode request: " + err.Error()})
	} else {
		reply = s.reply(s.Dispatch(ctx, call.Method, call.Params))
	}
	w.Header().Set("Content-Type", "application/xml; charset=utf-8")
	if len(reply) >= gzipMinBytes && acceptsGzip(r) {
		w.Header().Set("Content-Encoding", "gzip")
		w.Header().Add("Vary", "Accept-Encoding")
		zw := gzipWriters.Get().(*gzip.Writer)
		zw.Reset(w)
		_, _ = zw.Write(reply)
		_ = zw.Close()
		gzipWriters.Put(zw)
		return
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(reply)))
	_, _ = w.Write(reply)
}

// requestBody is the request's body, inflated when it says gzip (Python's
// Transport compresses requests above its encode_threshold). The inflated
// size is bounded by DecodeCall's MaxBodyBytes like a plain body.
func requestBody(r *http.Request) (io.Reader, error) {
	switch enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
		return r.Body, nil
	case "gzip":
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			return nil, fmt.Errorf("gzip request body: %w", err)
		}
		return zr, nil
	default:
		return nil, fmt.Errorf("unsupported Content-Encoding %q (gzip or none)", enc)
	}
}

// acceptsGzip reports whether Accept-Encoding lists gzip with a non-zero q.
func acceptsGzip(r *http.Request) bool {
	for _, h := range r.Header.Values("Accept-Encoding") {
		for _, part := range strings.Split(h, ",") {
			name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
			if !strings.EqualFold(strings.TrimSpace(name), "gzip") {
				continue
			}
			q := strings.ReplaceAll(strings.TrimSpace(params), " ", "")
			if q == "q=0" || q == "q=0.0" || q == "q=0.00" || q == "q=0.000" {
				return false
			}
			return true
		}
	}
	return false
}

// help answers a GET: what this endpoint is and the methods it answers.
func (s *Server) help(w http.ResponseWriter, r *http.Request) {
	names, _ := s.listMethods(r.Context(), nil)
	var b strings.Builder
	b.WriteString("This is an XML-RPC endpoint (LAVA's API): POST a <methodCall> here,\n")
	b.WriteString("for example with lavacli --uri http://USER:TOKEN@HOST/RPC2 system version.\n\nMethods:\n")
	for _, n := range names.([]string) {
		b.WriteString("  " + n + "\n")
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(b.Len()))
	if r.Method == http.MethodHead {
		return
	}
	_, _ = io.WriteString(w, b.String())
}

func (s *Server) reply(v any, err error) []byte {
	if err != nil {
		return MarshalFault(asFault(err))
	}
	b, err := MarshalResponse(v)
	if err != nil {
		return MarshalFault(asFault(fmt.Errorf("encoding the reply: %w", err)))
	}
	return b
}

// Dispatch calls the method name with params, as ServeHTTP does after
// decoding. The error is a *Fault for an unknown method and otherwise what
// the method returned.
func (s *Server) Dispatch(ctx context.Context, name string, params []any) (v any, err error) {
	m, ok := s.lookup(name)
	if !ok {
		if name == "close" {
			// LAVA's dispatcher answers the name "close" with None (some
			// clients send it to end a session); so does Basalt.
			return nil, nil
		}
		return nil, Faultf(CodeMethodNotFound, "No such method: '%s'", name)
	}
	defer func() {
		// A method's panic becomes an internal-error fault rather than
		// ending the connection with no answer.
		if p := recover(); p != nil {
			v, err = nil, fmt.Errorf("panic in %s: %v", name, p)
		}
	}()
	return m.Func(ctx, params)
}

// asFault turns an error into the fault sent for it.
func asFault(err error) *Fault {
	var f *Fault
	if errors.As(err, &f) {
		return f
	}
	return &Fault{Code: CodeInternalError, String: "Internal Server Error (contact server administrator for details): " + err.Error()}
}

func (s *Server) listMethods(_ context.Context, params []any) (any, error) {
	if err := CheckArgs("system.listMethods", params, 0, 0); err != nil {
		return nil, err
	}
	s.mu.RLock()
	names := make([]string, 0, len(s.methods))
	for n := range s.methods {
		names = append(names, n)
	}
	s.mu.RUnlock()
	sort.Strings(names)
	return names, nil
}

func (s *Server) oneName(method string, params []any) (string, error) {
	if err := CheckArgs(method, params, 1, 1); err != nil {
		return "", err
	}
	name, ok := params[0].(string)
	if !ok {
		return "", Faultf(CodeInvalidParams, "%s takes a method name string", method)
	}
	return name, nil
}

func (s *Server) methodHelp(_ context.Context, params []any) (any, error) {
	name, err := s.oneName("system.methodHelp", params)
	if err != nil {
		return nil, err
	}
	m, _ := s.lookup(name)
	return m.Help, nil
}

func (s *Server) methodSignature(_ context.Context, params []any) (any, error) {
	name, err := s.oneName("system.methodSignature", params)
	if err != nil {
		return nil, err
	}
	m, ok := s.lookup(name)
	switch {
	case !ok:
		return "", nil
	case m.Signature == nil:
		return "undef", nil
	}
	sigs := make([]any, len(m.Signature))
	for i, sig := range m.Signature {
		sigs[i] = sig
	}
	return sigs, nil
}

// multicall runs each call in order; a failing call does not stop the
// others. Its checks and messages are LAVA's (linaro_django_xmlrpc).
func (s *Server) multicall(ctx context.Context, params []any) (any, error) {
	if err := CheckArgs("system.multicall", params, 1, 1); err != nil {
		return nil, err
	}
	calls, ok := params[0].([]any)
	if !ok {
		return nil, Faultf(CodeInvalidParams, "system.multicall expected a list of methods to call")
	}
	results := make([]any, 0, len(calls))
	for _, c := range calls {
		v, err := s.multicallOne(ctx, c)
		if err != nil {
			f := asFault(err)
			results = append(results, Struct{{"faultCode", f.Code}, {"faultString", f.String}})
			continue
		}
		results = append(results, []any{v})
	}
	return results, nil
}

func (s *Server) multicallOne(ctx context.Context, c any) (any, error) {
	call, ok := c.(map[string]any)
	if !ok {
		return nil, Faultf(CodeInvalidParams, "system.multicall expected struct")
	}
	nameV, ok := call["methodName"]
	if !ok {
		return nil, Faultf(CodeInvalidParams, "system.multicall methodName not specified")
	}
	name, ok := nameV.(string)
	if !ok {
		return nil, Faultf(CodeInvalidParams, "system.multicall methodName must be a string")
	}
	paramsV, ok := call["params"]
	if !ok {
		return nil, Faultf(CodeInvalidParams, "system.multicall params not specified")
	}
	params, ok := paramsV.([]any)
	if !ok {
		return nil, Faultf(CodeInvalidParams, "system.multicall params must be an array")
	}
	if len(call) != 2 {
		var extra []string
		for k := range call {
			if k != "methodName" && k != "params" {
				extra = append(extra, "'"+k+"'")
			}
		}
		sort.Strings(extra)
		return nil, Faultf(CodeInvalidParams, "system.multicall specified additional arguments [%s]", strings.Join(extra, ", "))
	}
	if name == "system.multicall" {
		// Python's SimpleXMLRPCServer does not forbid it, but nesting
		// multiplies work without bound; LAVA's clients never do it.
		return nil, Faultf(CodeInvalidParams, "system.multicall cannot call system.multicall")
	}
	v, err := s.Dispatch(ctx, name, params)
	if err != nil {
		return nil, err
	}
	if f, ok := v.(*Fault); ok {
		return nil, f
	}
	// Encode now so that an unencodable value fails this call only.
	if _, err := MarshalResponse(v); err != nil {
		return nil, fmt.Errorf("encoding the reply: %w", err)
	}
	return v, nil
}

// CheckArgs returns the fault LAVA sends when a method gets a number of
// positional parameters outside [min, max]: LAVA's methods are Python
// functions, so a wrong count is a TypeError, which its dispatcher answers
// with CodeInternalError (-32603) and the exception's text. The text says
// what Python would, without counting self. nil when the count is right.
func CheckArgs(method string, params []any, min, max int) error {
	n := len(params)
	if n >= min && n <= max {
		return nil
	}
	var msg string
	switch {
	case n < min && min-n == 1:
		msg = fmt.Sprintf("%s() missing 1 required positional argument", method)
	case n < min:
		msg = fmt.Sprintf("%s() missing %d required positional arguments", method, min-n)
	case min == max:
		msg = fmt.Sprintf("%s() takes %d positional argument%s but %d %s given", method, max, plural(max), n, was(n))
	default:
		msg = fmt.Sprintf("%s() takes from %d to %d positional arguments but %d %s given", method, min, max, n, was(n))
	}
	return &Fault{Code: CodeInternalError, String: "Internal Server Error (contact server administrator for details): " + msg}
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func was(n int) string {
	if n == 1 {
		return "was"
	}
	return "were"
}
