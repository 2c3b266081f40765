// Package contract holds the tests' side of flashdrop's contract documents
// (api/spec): it checks HTTP exchanges against openapi.json and events
// against the schemas of asyncapi.json, so that an undocumented route,
// field, status or event fails the suite that saw it.
//
// It is for tests only: the validators it uses are test dependencies.
package contract

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"path"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/config"
	verrors "github.com/pb33f/libopenapi-validator/errors"
	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"

	"github.com/flashdrop/flashdrop/api/spec"
)

// route is one documented path with the pattern that matches it.
type route struct {
	path    string
	re      *regexp.Regexp
	literal int // characters outside {params}: the more, the more specific
	item    *v3.PathItem
}

// OpenAPIChecker validates HTTP exchanges against openapi.json.
type OpenAPIChecker struct {
	mu       sync.Mutex // the validator's caches are not documented as safe for concurrent use
	v        validator.Validator
	routes   []route
	problem  map[string]bool // the Problem schema's property names
	allCodes map[string]bool
}

var (
	openOnce sync.Once
	openChk  *OpenAPIChecker
	openErr  error
)

// OpenAPI returns the checker for the embedded openapi.json, built once.
func OpenAPI() (*OpenAPIChecker, error) {
	openOnce.Do(func() { openChk, openErr = newOpenAPIChecker(spec.OpenAPI) })
	return openChk, openErr
}

func newOpenAPIChecker(doc []byte) (*OpenAPIChecker, error) {
	d, err := libopenapi.NewDocument(doc)
	if err != nil {
		return nil, fmt.Errorf("contract: openapi.json: %w", err)
	}
	model, err := d.BuildV3Model()
	if err != nil {
		return nil, fmt.Errorf("contract: openapi.json model: %w", err)
	}
	// NewValidator builds its model from the same document, which caches
	// it: the path items below are the validator's own.
	v, errs := validator.NewValidator(d, config.WithFormatAssertions())
	if len(errs) > 0 {
		return nil, fmt.Errorf("contract: openapi.json validator: %v", errs)
	}
	if ok, errs := v.ValidateDocument(); !ok {
		return nil, fmt.Errorf("contract: openapi.json is not a valid OpenAPI 3.1 document: %s", describe(errs))
	}
	c := &OpenAPIChecker{v: v, problem: map[string]bool{}, allCodes: map[string]bool{}}
	for p, item := range model.Model.Paths.PathItems.FromOldest() {
		c.routes = append(c.routes, route{path: p, re: templateRegexp(p), literal: literalLen(p), item: item})
	}
	// The most specific template first, so /d/{drop}.ics wins over /d/{drop}
	// as it does in the router.
	sort.SliceStable(c.routes, func(i, j int) bool { return c.routes[i].literal > c.routes[j].literal })
	var raw struct {
		Components struct {
			Schemas struct {
				Problem struct {
					Properties map[string]struct {
						Enum []string `json:"enum"`
					} `json:"properties"`
				} `json:"Problem"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(doc, &raw); err != nil {
		return nil, err
	}
	for k := range raw.Components.Schemas.Problem.Properties {
		c.problem[k] = true
	}
	for _, code := range raw.Components.Schemas.Problem.Properties["code"].Enum {
		c.allCodes[code] = true
	}
	if len(c.problem) == 0 || len(c.allCodes) == 0 {
		return nil, fmt.Errorf("contract: openapi.json has no Problem schema with a code enum")
	}
	return c, nil
}

var paramRe = regexp.MustCompile(`\{[^}/]+\}`)

func templateRegexp(p string) *regexp.Regexp {
	parts := paramRe.Split(p, -1)
	for i := range parts {
		parts[i] = regexp.QuoteMeta(parts[i])
	}
	return regexp.MustCompile("^" + strings.Join(parts, "([^/]+)") + "$")
}

func literalLen(p string) int { return len(paramRe.ReplaceAllString(p, "")) }

// Paths returns every documented path with its methods (upper case, sorted).
func (c *OpenAPIChecker) Paths() map[string][]string {
	out := map[string][]string{}
	for _, r := range c.routes {
		out[r.path] = methodsOf(r.item)
	}
	return out
}

func methodsOf(item *v3.PathItem) []string {
	var m []string
	for name, op := range map[string]*v3.Operation{"GET": item.Get, "POST": item.Post, "PUT": item.Put,
		"PATCH": item.Patch, "DELETE": item.Delete, "HEAD": item.Head, "OPTIONS": item.Options} {
		if op != nil {
			m = append(m, name)
		}
	}
	sort.Strings(m)
	return m
}

// Exchange is one request and its answer, bodies read whole. Stream marks
// an answer whose body was not read (a server-sent event stream).
type Exchange struct {
	Req      *http.Request
	ReqBody  []byte
	Resp     *http.Response
	RespBody []byte
	Stream   bool
}

// Check validates one exchange. The answer is always checked against the
// document. The request is too; a request the document refuses is accepted
// only when the server refused it as well (a 4xx): tests send malformed
// requests on purpose, and then the server and the document must agree
// that they are malformed.
func (c *OpenAPIChecker) Check(x Exchange) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	path := routerPath(x.Req.URL.Path)
	var rt *route
	for i := range c.routes {
		if c.routes[i].re.MatchString(path) {
			rt = &c.routes[i]
			break
		}
	}
	status := x.Resp.StatusCode
	if status == 431 && headLen(x.Req) > minHeaderLimit {
		// Headers too large is decided below the router, before the path
		// is looked at: the same answer on every path, documented or not
		// (a fuzzed 8 KB path found it on an undocumented one).
		return c.checkProblem(x, 431, "invalid")
	}
	if rt == nil {
		// No documented path: the router's 404 is the only right answer.
		return c.checkProblem(x, 404, "not_found")
	}
	method := x.Req.Method
	if method == http.MethodHead {
		method = http.MethodGet // the server answers HEAD as GET
	}
	methods := methodsOf(rt.item)
	if !slices.Contains(methods, method) {
		if err := c.checkProblem(x, 405, "invalid"); err != nil {
			return err
		}
		allow := strings.Split(x.Resp.Header.Get("Allow"), ", ")
		sort.Strings(allow)
		if !slices.Equal(allow, methods) {
			return fmt.Errorf("%s %s: Allow %q, but the document has %v for %s", x.Req.Method, path, x.Resp.Header.Get("Allow"), methods, rt.path)
		}
		return nil
	}
	req := x.Req.Clone(x.Req.Context())
	req.Method = method
	req.Body = io.NopCloser(bytes.NewReader(x.ReqBody))
	if len(x.ReqBody) > 0 {
		// The server reads a body as JSON whatever its Content-Type says
		// (curl -d sends a form type, many clients none); the document can
		// only name media types, so the body is checked as the JSON it is.
		req.Header.Set("Content-Type", "application/json")
	}
	var problems []string
	if ok, errs := c.v.ValidateHttpRequestWithPathItem(req, rt.item, rt.path); !ok && (status < 400 || status >= 500) {
		problems = append(problems, "request: "+describe(errs))
	}
	op := operation(rt.item, method)
	if x.Req.Method == http.MethodHead || x.Stream {
		// No body to check: the status and the content type must be documented.
		resp := op.Responses.Codes.GetOrZero(fmt.Sprint(status))
		ok := resp != nil
		if !ok {
			problems = append(problems, fmt.Sprintf("answer: status %d is not documented for %s %s", status, method, rt.path))
		} else if x.Stream && !hasMediaType(resp, x.Resp.Header.Get("Content-Type")) {
			problems = append(problems, fmt.Sprintf("answer: content type %q is not documented for %d", x.Resp.Header.Get("Content-Type"), status))
		}
	} else {
		resp := *x.Resp
		resp.Body = io.NopCloser(bytes.NewReader(x.RespBody))
		if ok, errs := c.v.GetResponseBodyValidator().ValidateResponseBodyWithPathItem(req, &resp, rt.item, rt.path); !ok {
			problems = append(problems, "answer: "+describe(errs))
		}
	}
	if status >= 400 && strings.HasPrefix(x.Resp.Header.Get("Content-Type"), "application/problem+json") && len(x.RespBody) > 0 {
		if err := c.checkProblemBody(x, status); err != nil {
			problems = append(problems, err.Error())
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s %s (%s) answered %d: %s\n  request body: %s\n  answer: %s", x.Req.Method, x.Req.URL.RequestURI(), rt.path, status,
			strings.Join(problems, "\n  "), clip(x.ReqBody), clip(x.RespBody))
	}
	return nil
}

// routerPath is the path the server routes: fasthttp normalizes a
// request's path before any handler sees it, removing dot segments and
// repeated slashes as RFC 3986 §5.2.4 does ("/." is "/", "/a/../b" is
// "/b", "/a//b" is "/a/b"), so "/." is answered as "/" is, and the
// document must be read for that path too.
func routerPath(p string) string {
	if !strings.Contains(p, "//") && !strings.Contains(p, "/.") {
		return p
	}
	c := path.Clean("/" + p)
	if c != "/" && (strings.HasSuffix(p, "/") || strings.HasSuffix(p, "/.") || strings.HasSuffix(p, "/..")) {
		c += "/"
	}
	return c
}

func operation(item *v3.PathItem, method string) *v3.Operation {
	switch method {
	case http.MethodGet:
		return item.Get
	case http.MethodPost:
		return item.Post
	case http.MethodPut:
		return item.Put
	case http.MethodPatch:
		return item.Patch
	case http.MethodDelete:
		return item.Delete
	}
	return nil
}

func hasMediaType(resp *v3.Response, ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	return resp.Content.GetOrZero(mt) != nil
}

// minHeaderLimit is the smallest request head (request line and header
// fields) a 431 may be the answer to: well under any limit the server is
// given (api.DefaultMaxHeaderBytes is 8192), so a 431 for a small request
// is still reported.
const minHeaderLimit = 1024

// headLen is the size of req's request line and header fields on the wire,
// near enough to compare with minHeaderLimit.
func headLen(req *http.Request) int {
	n := len(req.Method) + len(req.URL.RequestURI()) + len(" HTTP/1.1\r\n") + len("Host: \r\n") + len(req.Host)
	for k, vs := range req.Header {
		for _, v := range vs {
			n += len(k) + len(": \r\n") + len(v)
		}
	}
	return n
}

// checkProblem checks an answer no operation describes (no route, wrong
// method) against the Problem schema.
func (c *OpenAPIChecker) checkProblem(x Exchange, status int, code string) error {
	if x.Resp.StatusCode != status {
		return fmt.Errorf("%s %s: no operation is documented for it, yet it answered %d (want the router's %d): %s",
			x.Req.Method, x.Req.URL.Path, x.Resp.StatusCode, status, clip(x.RespBody))
	}
	if x.Req.Method == http.MethodHead {
		return nil
	}
	if err := c.checkProblemBody(x, status); err != nil {
		return err
	}
	var p struct {
		Code string `json:"code"`
	}
	_ = json.Unmarshal(x.RespBody, &p)
	if p.Code != code {
		return fmt.Errorf("%s %s: %d with code %q, want %q", x.Req.Method, x.Req.URL.Path, status, p.Code, code)
	}
	return nil
}

// checkProblemBody checks a problem+json body strictly against the Problem
// component: only its members, the required ones present, a known code and
// the status repeated.
func (c *OpenAPIChecker) checkProblemBody(x Exchange, status int) error {
	if ct := x.Resp.Header.Get("Content-Type"); ct != "application/problem+json" {
		return fmt.Errorf("%s %s: %d with Content-Type %q, want application/problem+json", x.Req.Method, x.Req.URL.Path, status, ct)
	}
	var m map[string]any
	if err := json.Unmarshal(x.RespBody, &m); err != nil {
		return fmt.Errorf("%s %s: problem body is not a JSON object: %v", x.Req.Method, x.Req.URL.Path, err)
	}
	for k := range m {
		if !c.problem[k] {
			return fmt.Errorf("%s %s: problem member %q is not in the Problem schema", x.Req.Method, x.Req.URL.Path, k)
		}
	}
	code, _ := m["code"].(string)
	if !c.allCodes[code] {
		return fmt.Errorf("%s %s: problem code %q is not in the Problem schema's enum", x.Req.Method, x.Req.URL.Path, code)
	}
	if st, _ := m["status"].(float64); int(st) != status {
		return fmt.Errorf("%s %s: problem status %v in a %d answer", x.Req.Method, x.Req.URL.Path, m["status"], status)
	}
	for _, k := range []string{"type", "title"} {
		if s, _ := m[k].(string); s == "" {
			return fmt.Errorf("%s %s: problem without %s", x.Req.Method, x.Req.URL.Path, k)
		}
	}
	return nil
}

func describe(errs []*verrors.ValidationError) string {
	var b strings.Builder
	for i, e := range errs {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(e.Message)
		if e.Reason != "" && e.Reason != e.Message {
			b.WriteString(" (" + e.Reason + ")")
		}
		for _, f := range e.SchemaValidationErrors {
			b.WriteString(" [" + f.Reason + " at " + f.FieldPath + "]")
		}
	}
	return b.String()
}

func clip(b []byte) string {
	if len(b) > 600 {
		return string(b[:600]) + "…"
	}
	return string(b)
}

// Transport wraps base (nil: http.DefaultTransport) so that every exchange
// through it is checked against openapi.json; a mismatch fails t. Event
// streams are checked by their status and content type, and their body is
// left to the caller to read.
func Transport(t testing.TB, base http.RoundTripper) http.RoundTripper {
	c, err := OpenAPI()
	if err != nil {
		t.Fatal(err)
	}
	if base == nil {
		base = http.DefaultTransport
	}
	return &transport{t: t, c: c, base: base}
}

// Client returns a copy of c (nil: a new client) whose transport checks
// every exchange against openapi.json.
func Client(t testing.TB, c *http.Client) *http.Client {
	out := &http.Client{}
	if c != nil {
		*out = *c
	}
	out.Transport = Transport(t, out.Transport)
	return out
}

// For returns a copy of c that reports to t: a client made by Client for
// one test, rebound to another (a fuzz target's per-input t must get the
// report; the fuzz's F may not be failed from inside the target). A
// client without a checking transport gets one.
func For(t testing.TB, c *http.Client) *http.Client {
	out := *c
	if tr, ok := c.Transport.(*transport); ok {
		out.Transport = &transport{t: t, c: tr.c, base: tr.base}
		return &out
	}
	return Client(t, c)
}

type transport struct {
	t    testing.TB
	c    *OpenAPIChecker
	base http.RoundTripper
}

func (tr *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	var reqBody []byte
	if req.Body != nil {
		var err error
		if reqBody, err = io.ReadAll(req.Body); err != nil {
			return nil, err
		}
		_ = req.Body.Close()
		req = req.Clone(req.Context())
		req.Body = io.NopCloser(bytes.NewReader(reqBody))
		req.ContentLength = int64(len(reqBody))
	}
	resp, err := tr.base.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	x := Exchange{Req: req, ReqBody: reqBody, Resp: resp}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt == "text/event-stream" {
		x.Stream = true
	} else {
		body, err := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if err != nil {
			return nil, err
		}
		x.RespBody = body
		resp.Body = io.NopCloser(bytes.NewReader(body))
	}
	if err := tr.c.Check(x); err != nil {
		tr.t.Errorf("contract (api/spec/openapi.json): %v", err)
	}
	return resp, nil
}

// CloseIdleConnections passes on to the wrapped transport, so that
// http.Client.CloseIdleConnections still reaches it (tests check for
// leaked goroutines).
func (tr *transport) CloseIdleConnections() {
	if c, ok := tr.base.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// CheckProblem checks an answer read off a raw connection, where the
// request was not a well-formed HTTP request of any operation (malformed
// HTTP, oversized headers or body, a read timeout): it must be a problem
// the document describes, with a code of its Problem schema.
func CheckProblem(status int, header http.Header, body []byte) error {
	c, err := OpenAPI()
	if err != nil {
		return err
	}
	req, _ := http.NewRequest(http.MethodGet, "/", nil)
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.checkProblemBody(Exchange{Req: req, Resp: &http.Response{StatusCode: status, Header: header}, RespBody: body}, status)
}
