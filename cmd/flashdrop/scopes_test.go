package main

import (
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/flashdrop/flashdrop/engine"
	"github.com/flashdrop/flashdrop/internal/contract"
)

// TestEveryAdminRouteChecksItsScope walks every operation of the served
// openapi.json that declares an adminBearer scope: called with a key
// holding every other scope, each answers 403 forbidden naming the missing
// scope; called with a key holding exactly that scope, none answers 401 or
// 403. Since the walk reads the document, and TestContractCoversEveryRoute
// holds the router and the document equal, an admin route documented
// without a scope, with the wrong one, or enforcing none, fails here.
//
// OpenAPI's security is a list of alternatives: the webhooks' reads list
// two, {adminBearer: [webhooks:read]} and {adminBearer: [webhooks:write]}
// (which includes it). Every admin route names one scope, or two where
// the second includes the first (engine.Holds), nothing else; a key with
// every scope but the alternatives is refused naming each, and a key with
// any one of them alone is let in. webhooks:all is the one scope no
// operation names: it widens webhooks:read and webhooks:write.
func TestEveryAdminRouteChecksItsScope(t *testing.T) {
	t.Parallel()
	s := startInteg(t, nil)
	doc := call(t, "GET", s.base+"/openapi.json", "", "")
	if doc.status != 200 {
		t.Fatalf("GET /openapi.json: %d", doc.status)
	}
	var spec struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal([]byte(doc.raw), &spec); err != nil {
		t.Fatal(err)
	}
	// One key per scope set, made by the admin token (which holds them all).
	keys := map[string]string{}
	mint := func(name string, scopes []string) string {
		k := strings.Join(scopes, ",")
		if secret, ok := keys[k]; ok {
			return secret
		}
		r := s.must(t, 201, "POST", "/v1/admin/keys", map[string]any{"name": name, "scopes": scopes})
		keys[k] = r.body["secret"].(string)
		return keys[k]
	}
	// webhooks:all widens webhooks:read or webhooks:write and is granted
	// only with one of them: a key without both leaves it out too.
	allBut := func(missing []string) string {
		scopes := slices.DeleteFunc(slices.Clone(engine.AllScopes), func(x string) bool { return slices.Contains(missing, x) })
		if !engine.Holds(scopes, engine.ScopeWebhooksRead) {
			scopes = slices.DeleteFunc(scopes, func(x string) bool { return x == engine.ScopeWebhooksAll })
		}
		return mint("all but "+strings.Join(missing, ","), scopes)
	}
	only := func(scope string) string { return mint("only "+scope, []string{scope}) }

	param := regexp.MustCompile(`\{[^}]+\}`)
	paths := make([]string, 0, len(spec.Paths))
	for p := range spec.Paths {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	walked := map[string]int{}
	for _, path := range paths {
		for method, raw := range spec.Paths[path] {
			if method == "parameters" {
				continue
			}
			var op struct {
				OperationID string                `json:"operationId"`
				Security    []map[string][]string `json:"security"`
			}
			if err := json.Unmarshal(raw, &op); err != nil {
				t.Fatalf("%s %s: %v", method, path, err)
			}
			// alts: the scopes of the adminBearer requirements, any one
			// of which lets a caller in.
			var alts []string
			for _, req := range op.Security {
				if sc, ok := req["adminBearer"]; ok {
					if len(sc) != 1 {
						t.Errorf("%s %s (%s) has an adminBearer requirement of %d scopes %v, want one (a key would need them all)", strings.ToUpper(method), path, op.OperationID, len(sc), sc)
					}
					alts = append(alts, sc...)
				}
			}
			M := strings.ToUpper(method)
			switch {
			case strings.HasPrefix(path, "/v1/admin/") && len(alts) == 0:
				t.Errorf("%s %s (%s) is an admin route but names no adminBearer scope", M, path, op.OperationID)
			case len(alts) == 2 && alts[0] != alts[1] && engine.Holds(alts[1:], alts[0]):
				// A scope and the one that includes it.
			case len(alts) > 1:
				t.Errorf("%s %s (%s) names the adminBearer scopes %v, want one, or a scope and the one that includes it", M, path, op.OperationID, alts)
			}
			known := true
			for _, scope := range alts {
				if !slices.Contains(engine.AllScopes, scope) {
					t.Errorf("%s %s (%s) names the unknown scope %q", M, path, op.OperationID, scope)
					known = false
				}
			}
			if len(alts) == 0 || !known {
				continue
			}
			url := s.base + param.ReplaceAllString(path, "x")
			body := ""
			if method == "post" {
				body = "{}"
			}
			st, p := probe(t, M, url, allBut(alts), body)
			detail, _ := p["detail"].(string)
			named := strings.HasSuffix(detail, "scope "+alts[0])
			if len(alts) > 1 {
				named = strings.Contains(detail, "scope "+alts[0]+" ")
				for _, alt := range alts[1:] {
					named = named && strings.Contains(detail, alt)
				}
			}
			if st != 403 || p["code"] != "forbidden" || !named {
				t.Errorf("%s %s (%s) with every scope but %v: %d %v, want 403 forbidden naming %v", M, path, op.OperationID, alts, st, p, alts)
			}
			for _, scope := range alts {
				if st, p := probe(t, M, url, only(scope), body); st == 401 || st == 403 {
					t.Errorf("%s %s (%s) with a key holding only %s: %d %v", M, path, op.OperationID, scope, st, p)
				}
				walked[scope]++
			}
		}
	}
	for _, sc := range engine.AllScopes {
		// webhooks:all lets in no route: it widens the webhook scopes a
		// key holds to every webhook (TestWebhooksOfAnotherKeyOnServe).
		if all := sc == engine.ScopeWebhooksAll; all != (walked[sc] == 0) {
			t.Errorf("operations in openapi.json declaring the scope %s: %d", sc, walked[sc])
		}
	}
	t.Logf("operations walked per scope: %v", walked)
}

// probe sends one request through the contract-checking client and
// returns the status and the JSON answer; an event stream's body is not
// read (it would last minutes), only its status and type are checked.
func probe(t *testing.T, method, url, token, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := contract.Client(t, nil).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "text/event-stream" {
		raw, _ := io.ReadAll(resp.Body)
		_ = json.Unmarshal(raw, &out)
	}
	return resp.StatusCode, out
}
