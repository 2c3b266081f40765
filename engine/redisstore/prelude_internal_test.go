package redisstore

import (
	"strings"
	"testing"
)

// TestPreludeKeepsWhatScriptsName: each script's prelude defines every
// lib.lua function that the script, or a kept function, names, and
// nothing else of lib.lua's functions; everything outside lib.lua's
// functions is kept; and the shopper's view gets a much shorter prelude
// than the reserve script (the point of withLib).
func TestPreludeKeepsWhatScriptsName(t *testing.T) {
	funcs := map[string]string{}
	for _, p := range lib.parts {
		if p.name != "" {
			funcs[p.name] = p.text
		}
	}
	if len(funcs) < 30 {
		t.Fatalf("parsed %d functions from lib.lua, want its 30+", len(funcs))
	}
	defined := func(src string) map[string]bool {
		out := map[string]bool{}
		for _, line := range strings.Split(src, "\n") {
			if m := libFuncStart.FindStringSubmatch(line); m != nil {
				out[m[1]] = true
			}
		}
		return out
	}
	named := func(text string) map[string]bool {
		out := map[string]bool{}
		for _, w := range luaName.FindAllString(text, -1) {
			if _, ok := funcs[w]; ok {
				out[w] = true
			}
		}
		return out
	}
	bodies := map[string]string{"reserve": reserveLua, "settle": settleLua, "expire": expireLua, "endsale": endsaleLua,
		"register": registerLua, "register_batch": registerBatchLua, "view": viewLua, "pause": pauseLua,
		"share": shareLua, "soldout": soldOutLua, "drawstep": drawStepLua, "announce": announceLua, "fanout": fanOutLua}
	sizes := map[string]int{}
	for name, body := range bodies {
		pre := lib.prelude(body)
		have := defined(pre)
		sizes[name] = len(have)
		// Every name in the script or in a kept function is defined.
		want := named(body)
		for f := range have {
			for g := range named(funcs[f]) {
				want[g] = true
			}
		}
		for f := range want {
			if !have[f] {
				t.Errorf("%s: names %s, which its prelude does not define", name, f)
			}
		}
		// Nothing is kept that nothing names (top-level code included).
		for f := range have {
			if !want[f] && !named(strings.Join(nonComment(pre), "\n"))[f] {
				t.Errorf("%s: its prelude defines %s, which nothing names", name, f)
			}
		}
		// The lines outside functions are all there, in order.
		var outside []string
		for _, p := range lib.parts {
			if p.name == "" {
				outside = append(outside, p.text)
			}
		}
		rest := pre
		for _, o := range outside {
			i := strings.Index(rest, o)
			if i < 0 {
				t.Fatalf("%s: its prelude lacks lib.lua's top-level lines %q", name, firstLine(o))
			}
			rest = rest[i+len(o):]
		}
		if !strings.HasSuffix(withLib(body), body) {
			t.Fatalf("%s: withLib does not end with the script", name)
		}
	}
	if sizes["view"] >= sizes["reserve"]/2 {
		t.Errorf("the view's prelude has %d functions, the reserve script's %d: want less than half", sizes["view"], sizes["reserve"])
	}
	t.Logf("functions per prelude: %v (lib.lua has %d)", sizes, len(funcs))
}

func nonComment(src string) []string {
	var out []string
	for _, line := range strings.Split(src, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "--") && !libFuncStart.MatchString(line) {
			out = append(out, line)
		}
	}
	return out
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimLeft(s, "\n"), "\n")
	return line
}
