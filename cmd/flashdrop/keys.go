package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/flashdrop/flashdrop/engine"
)

// adminClient calls a flashdrop server's admin API.
type adminClient struct {
	target string
	token  string
	http   *http.Client
}

func newAdminClient(target, token string) (*adminClient, error) {
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("--target must be the server's http(s) URL, e.g. http://127.0.0.1:8080")
	}
	if token == "" {
		return nil, errors.New("--admin-token (or FLASHDROP_ADMIN_TOKEN) is required: the admin token or an API key")
	}
	return &adminClient{target: strings.TrimSuffix(target, "/"), token: token, http: &http.Client{Timeout: 30 * time.Second}}, nil
}

// do sends a request and decodes a 2xx JSON answer into out (if not nil);
// an error answer becomes an error quoting its problem's code and detail.
func (c *adminClient) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.target+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if resp.StatusCode >= 300 {
		var p struct{ Code, Detail, Title string }
		_ = json.Unmarshal(raw, &p)
		msg := p.Detail
		if msg == "" {
			msg = p.Title
		}
		return fmt.Errorf("%s %s: %d %s: %s", method, path, resp.StatusCode, p.Code, msg)
	}
	if out != nil && len(raw) > 0 {
		return json.Unmarshal(raw, out)
	}
	return nil
}

type keyView struct {
	ID                 string    `json:"id"`
	Name               string    `json:"name"`
	Scopes             []string  `json:"scopes"`
	CreatedAt          time.Time `json:"created_at"`
	LastUsedAt         time.Time `json:"last_used_at"`
	PreviousValidUntil time.Time `json:"previous_valid_until"`
	Secret             string    `json:"secret"`
}

// keys manages API keys: create, list, rotate, revoke.
func keys(ctx context.Context, args []string, stdout, stderr io.Writer, lookup func(string) (string, bool)) error {
	const synopsis = "flashdrop keys create --name N --scopes a,b | list | rotate ID [--grace 24h] | revoke ID  (--target URL --admin-token T)"
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage:", synopsis)
		return errors.New("keys: a subcommand is required")
	}
	sub := args[0]
	switch sub {
	case "create", "list", "rotate", "revoke":
	case "-h", "-help", "--help", "help":
		fmt.Fprintln(stderr, "usage:", synopsis)
		return flag.ErrHelp
	default:
		// Told before any flag is checked: `keys --help` or a typo must not
		// answer that the admin token is missing.
		fmt.Fprintln(stderr, "usage:", synopsis)
		return fmt.Errorf("keys: unknown subcommand %q (create, list, rotate or revoke)", sub)
	}
	fs := flag.NewFlagSet("keys "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = usageWithEnv(fs, synopsis)
	target := fs.String("target", "http://127.0.0.1:8080", "the server's URL")
	tok := fs.String("admin-token", "", "the admin token, or an API key with keys:write")
	name := fs.String("name", "", "create: the key's name (who uses it)")
	// The names from the engine, so the help cannot miss a scope added there.
	scopes := fs.String("scopes", "", "create: comma-separated scopes ("+strings.Join(engine.AllScopes, ", ")+
		"); a key acts only on the webhooks it created unless it also holds "+engine.ScopeWebhooksAll)
	grace := fs.Duration("grace", 24*time.Hour, "rotate: how long the old secret stays valid (0: not at all)")
	// Flags may come before or after the id.
	rest := args[1:]
	var pos []string
	for {
		if err := fs.Parse(rest); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	if err := applyEnv(fs, lookup); err != nil {
		return err
	}
	c, err := newAdminClient(*target, *tok)
	if err != nil {
		return fmt.Errorf("keys: %w", err)
	}
	needID := func() (string, error) {
		if len(pos) != 1 {
			return "", fmt.Errorf("keys %s: exactly one key id is required", sub)
		}
		return url.PathEscape(pos[0]), nil
	}
	switch sub {
	case "create":
		if len(pos) > 0 {
			return fmt.Errorf("keys create: unexpected argument %q", pos[0])
		}
		var k keyView
		list := []string{}
		for s := range strings.SplitSeq(*scopes, ",") {
			if s = strings.TrimSpace(s); s != "" {
				list = append(list, s)
			}
		}
		if err := c.do(ctx, "POST", "/v1/admin/keys", map[string]any{"name": *name, "scopes": list}, &k); err != nil {
			return fmt.Errorf("keys create: %w", err)
		}
		fmt.Fprintf(stdout, "created %s (%s) with scopes %s\n", k.ID, k.Name, strings.Join(k.Scopes, ","))
		fmt.Fprintln(stdout, "secret (shown once, store it now):")
		fmt.Fprintln(stdout, k.Secret)
	case "list":
		var body struct {
			Keys []keyView `json:"keys"`
		}
		if err := c.do(ctx, "GET", "/v1/admin/keys", nil, &body); err != nil {
			return fmt.Errorf("keys list: %w", err)
		}
		tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tSCOPES\tCREATED\tLAST USED")
		for _, k := range body.Keys {
			last := "never"
			if !k.LastUsedAt.IsZero() {
				last = k.LastUsedAt.UTC().Format(time.RFC3339)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", k.ID, k.Name, strings.Join(k.Scopes, ","), k.CreatedAt.UTC().Format(time.RFC3339), last)
		}
		return tw.Flush()
	case "rotate":
		id, err := needID()
		if err != nil {
			return err
		}
		g := int64(*grace / time.Second)
		if g == 0 {
			g = -1
		}
		var k keyView
		if err := c.do(ctx, "POST", "/v1/admin/keys/"+id+"/rotate", map[string]any{"grace_seconds": g}, &k); err != nil {
			return fmt.Errorf("keys rotate: %w", err)
		}
		if k.PreviousValidUntil.IsZero() {
			fmt.Fprintf(stdout, "rotated %s; the old secret no longer works\n", k.ID)
		} else {
			fmt.Fprintf(stdout, "rotated %s; the old secret is valid until %s\n", k.ID, k.PreviousValidUntil.UTC().Format(time.RFC3339))
		}
		fmt.Fprintln(stdout, "new secret (shown once, store it now):")
		fmt.Fprintln(stdout, k.Secret)
	case "revoke":
		id, err := needID()
		if err != nil {
			return err
		}
		if err := c.do(ctx, "DELETE", "/v1/admin/keys/"+id, nil, nil); err != nil {
			return fmt.Errorf("keys revoke: %w", err)
		}
		fmt.Fprintf(stdout, "revoked %s\n", pos[0])
	}
	return nil
}
