package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flashdrop/flashdrop/internal/contract"
)

// TestREADMECurlWalkthrough runs the README's "Try it with curl" script
// against `serve`, line by line: every curl must answer 2xx (or the status
// its "# expect NNN" comment names), `sleep N` moves serve's clock instead
// of waiting, and `VAR=$(curl … | sed -E 's/RE/\1/')` captures like the
// shell would. The export lines are checked to name exactly the variables
// this test provides.
func TestREADMECurlWalkthrough(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	block := between(string(readme), "<!-- readme-curl:start -->", "<!-- readme-curl:end -->")
	block = between(block, "```sh\n", "```")
	if block == "" {
		t.Fatal("README has no readme-curl block")
	}
	m, clock, _ := startServe(t, "--no-demo")
	now := clock.Now().UTC()
	vars := map[string]string{
		"BASE": "http://" + m.Addr, "ADMIN": m.Config.AdminToken, "SECRET": m.Config.JWTSecret,
		"TOKEN": mint(t, m, "alice"),
		"OPENS": now.Format("2006-01-02T15:04:05Z"), "SALE": now.Add(time.Minute).Format("2006-01-02T15:04:05Z"),
		"ENDS": now.Add(time.Hour).Format("2006-01-02T15:04:05Z"),
	}
	ran := 0
	for _, cmd := range shellCommands(block) {
		text, expect := cmd, 0
		if i := strings.Index(cmd, " # expect "); i >= 0 {
			text = cmd[:i]
			expect, _ = strconv.Atoi(strings.TrimSpace(cmd[i+len(" # expect "):]))
		}
		if strings.HasPrefix(text, "export ") {
			// The human sets these; the test provides the same names.
			for _, g := range exportName.FindAllStringSubmatch(text, -1) {
				if _, ok := vars[g[1]]; !ok {
					t.Errorf("README exports %s, which this test does not provide", g[1])
				}
			}
			continue
		}
		words := shellWords(t, text, vars)
		switch {
		case words[0] == "sleep":
			secs, err := strconv.Atoi(words[1])
			if err != nil {
				t.Fatalf("sleep %q", words[1])
			}
			clock.Advance(time.Duration(secs) * time.Second)
		case words[0] == "curl":
			curl(t, words[1:], expect)
			ran++
		case strings.Contains(words[0], "=$("):
			// NAME=$(curl … | sed -E 's/RE/REPL/')
			name, rest, _ := strings.Cut(text, "=$(")
			pipeline := strings.TrimSuffix(strings.TrimSpace(rest), ")")
			curlPart, sedPart, ok := strings.Cut(pipeline, "|")
			if !ok {
				t.Fatalf("unsupported capture: %s", text)
			}
			out := curl(t, shellWords(t, curlPart, vars)[1:], expect)
			vars[name] = sed(t, shellWords(t, sedPart, vars), out)
			ran++
		default:
			t.Fatalf("the README block runs %q, which this test cannot check", words[0])
		}
	}
	if ran < 6 {
		t.Fatalf("only %d curl lines ran", ran)
	}
	st := curl(t, []string{"-sS", vars["BASE"] + "/v1/admin/drops/tuesday/stats", "-H", "Authorization: Bearer " + vars["ADMIN"]}, 0)
	if !strings.Contains(st, `"confirmed":1`) {
		t.Fatalf("after the walkthrough alice's unit should be sold: %s", st)
	}
}

func between(s, start, end string) string {
	_, after, ok := strings.Cut(s, start)
	if !ok {
		return ""
	}
	in, _, _ := strings.Cut(after, end)
	return in
}

// shellCommands splits a script into commands: comment and blank lines
// dropped, backslash continuations and quotes spanning lines joined.
func shellCommands(script string) []string {
	var out []string
	var cur strings.Builder
	quoted := false
	for _, line := range strings.Split(script, "\n") {
		if cur.Len() == 0 && (strings.TrimSpace(line) == "" || strings.HasPrefix(strings.TrimSpace(line), "#")) {
			continue
		}
		if strings.Count(line, "'")%2 == 1 {
			quoted = !quoted
		}
		if strings.HasSuffix(line, "\\") && !quoted {
			cur.WriteString(strings.TrimSuffix(line, "\\"))
			continue
		}
		cur.WriteString(line)
		if quoted {
			cur.WriteString("\n")
			continue
		}
		out = append(out, strings.TrimSpace(cur.String()))
		cur.Reset()
	}
	return out
}

var (
	varRef     = regexp.MustCompile(`\$([A-Z_]+)`)
	exportName = regexp.MustCompile(`(?:^export|\s)([A-Z_]+)=`)
)

// shellWords splits a command like sh would for the subset the README
// uses: single quotes (literal), double quotes and bare words (with $VAR
// expansion), adjacent parts joined into one word.
func shellWords(t *testing.T, s string, vars map[string]string) []string {
	t.Helper()
	expand := func(x string) string {
		return varRef.ReplaceAllStringFunc(x, func(ref string) string {
			v, ok := vars[ref[1:]]
			if !ok && !strings.Contains(s, ref[1:]+"=") {
				t.Fatalf("README uses $%s, which is never set", ref[1:])
			}
			return v
		})
	}
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				t.Fatalf("unbalanced quote in %q", s)
			}
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 1
			inWord = true
		case c == '"':
			j := strings.IndexByte(s[i+1:], '"')
			if j < 0 {
				t.Fatalf("unbalanced quote in %q", s)
			}
			cur.WriteString(expand(s[i+1 : i+1+j]))
			i += j + 1
			inWord = true
		case c == ' ' || c == '\t' || c == '\n':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t\n'\"", rune(s[j])) {
				j++
			}
			cur.WriteString(expand(s[i:j]))
			i = j - 1
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words
}

// curl performs the README's curl flags with net/http and checks the status.
func curl(t *testing.T, args []string, expect int) string {
	t.Helper()
	method, url, body := "", "", ""
	hasBody := false
	header := http.Header{}
	for i := 0; i < len(args); i++ {
		switch a := args[i]; a {
		case "-s", "-S", "-sS":
		case "-X":
			i++
			method = args[i]
		case "-H":
			i++
			k, v, _ := strings.Cut(args[i], ":")
			header.Set(strings.TrimSpace(k), strings.TrimSpace(v))
		case "-d", "--data":
			i++
			body, hasBody = args[i], true
		default:
			if strings.HasPrefix(a, "-") {
				t.Fatalf("curl flag %s is not supported by this test", a)
			}
			url = a
		}
	}
	if method == "" {
		method = "GET"
		if hasBody {
			method = "POST"
		}
	}
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = header
	if hasBody && header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded") // what curl -d sends
	}
	resp, err := contract.Client(t, nil).Do(req) // checked against openapi.json
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	ok := resp.StatusCode >= 200 && resp.StatusCode < 300
	if expect != 0 {
		ok = resp.StatusCode == expect
	}
	if !ok {
		t.Fatalf("README: curl -X %s %s answered %d %s (want %s)", method, url, resp.StatusCode, out, want(expect))
	}
	return string(out)
}

func want(expect int) string {
	if expect == 0 {
		return "2xx"
	}
	return fmt.Sprint(expect)
}

// sed applies `sed -E 's/RE/REPL/'` to in, as the README's capture does.
func sed(t *testing.T, words []string, in string) string {
	t.Helper()
	if len(words) != 3 || words[0] != "sed" || words[1] != "-E" || !strings.HasPrefix(words[2], "s/") {
		t.Fatalf("unsupported sed: %q", words)
	}
	parts := strings.Split(words[2], "/")
	if len(parts) != 4 {
		t.Fatalf("unsupported sed expression %q", words[2])
	}
	re := regexp.MustCompile(parts[1])
	repl := regexp.MustCompile(`\\(\d)`).ReplaceAllString(parts[2], `$${$1}`)
	return strings.TrimSpace(re.ReplaceAllString(in, repl))
}
