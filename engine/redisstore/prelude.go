package redisstore

import (
	"regexp"
	"strings"
)

// withLib returns body after the part of lib.lua it needs: every
// top-level statement of lib.lua (its shared locals: the keys, the
// call's caches, the layout), and of lib.lua's functions those that body
// names, directly or through another of them.
//
// Why: a script's whole text runs on every call, so each call defines
// every function of the prelude again. Measured on Redis 7.0 (2026-12-05,
// redis-benchmark, EVALSHA of the prelude alone): all of lib.lua's 37
// functions cost 8.2-9.4 us a call, against 0.8 us for an empty script.
// That is little for a reserve batch of many shoppers, and half of what a
// shopper's view costs (18 us). With only what it names, the view's
// prelude costs 3.6 us.
//
// A name counts wherever it appears as a word, comments included, so a
// function is never left out for being used in an unusual way; at worst
// one is kept that is not called. lib.lua's functions are its lines from
// "local function NAME(" to the next line that is exactly "end".
func withLib(body string) string { return lib.prelude(body) + body }

// libPart is one top-level piece of lib.lua: a function (name set) or
// lines outside any function.
type libPart struct {
	name string
	text string
}

type libParts struct {
	parts []libPart
	// uses is, per function, the functions its text names.
	uses map[string][]string
	// always is what the top-level code (not its comments) names.
	always []string
}

var lib = parseLib(libLua)

var (
	libFuncStart = regexp.MustCompile(`^local function ([A-Za-z_][A-Za-z0-9_]*)\(`)
	luaName      = regexp.MustCompile(`[A-Za-z_][A-Za-z0-9_]*`)
)

// parseLib splits src into its functions and the lines between them. It
// panics on a function without its closing "end" line: lib.lua is
// embedded, so any test that loads this package finds it.
func parseLib(src string) libParts {
	lines := strings.Split(src, "\n")
	var l libParts
	var between []string
	flush := func() {
		if len(between) > 0 {
			l.parts = append(l.parts, libPart{text: strings.Join(between, "\n") + "\n"})
			between = nil
		}
	}
	for i := 0; i < len(lines); i++ {
		m := libFuncStart.FindStringSubmatch(lines[i])
		if m == nil {
			between = append(between, lines[i])
			continue
		}
		end := i
		for end < len(lines) && lines[end] != "end" {
			end++
		}
		if end == len(lines) {
			panic("redisstore: lib.lua: function " + m[1] + " has no closing end line")
		}
		flush()
		l.parts = append(l.parts, libPart{name: m[1], text: strings.Join(lines[i:end+1], "\n") + "\n"})
		i = end
	}
	flush()
	l.uses = map[string][]string{}
	for _, p := range l.parts {
		if p.name != "" {
			l.uses[p.name] = nil
		}
	}
	var code strings.Builder
	for _, p := range l.parts {
		if p.name != "" {
			l.uses[p.name] = l.names(p.text)
			continue
		}
		for _, line := range strings.Split(p.text, "\n") {
			if !strings.HasPrefix(strings.TrimSpace(line), "--") {
				code.WriteString(line + "\n")
			}
		}
	}
	l.always = l.names(code.String())
	return l
}

// names lists, once each, the lib functions text names as a word.
func (l libParts) names(text string) []string {
	var out []string
	seen := map[string]bool{}
	for _, w := range luaName.FindAllString(text, -1) {
		if _, ok := l.uses[w]; ok && !seen[w] {
			seen[w] = true
			out = append(out, w)
		}
	}
	return out
}

// needs is the set of lib functions body names, directly or not.
func (l libParts) needs(body string) map[string]bool {
	need := map[string]bool{}
	var visit func(string)
	visit = func(name string) {
		if need[name] {
			return
		}
		need[name] = true
		for _, n := range l.uses[name] {
			visit(n)
		}
	}
	for _, n := range l.names(body) {
		visit(n)
	}
	for _, n := range l.always {
		visit(n)
	}
	return need
}

// prelude is lib.lua without the functions body does not need, in
// lib.lua's order (a function may only name what is defined above it).
func (l libParts) prelude(body string) string {
	need := l.needs(body)
	var b strings.Builder
	for _, p := range l.parts {
		if p.name == "" || need[p.name] {
			b.WriteString(p.text)
		}
	}
	return b.String()
}
