package api_test

import (
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flashdrop/flashdrop/api"
	"github.com/flashdrop/flashdrop/engine"
	"github.com/flashdrop/flashdrop/internal/testkit"
)

// TestDismissDeadLettersRoute: POST …/dead-letters/dismiss takes the named
// dead letters off the webhook's (dead_letters, dead_letter_entries,
// dead_letters_pending) and names the ids that were not dead letters;
// dead_lettered, every one ever, stays; a repeat dismisses none. With
// missing: true it dismisses what the sender says the stream no longer
// holds, never one kept without a sequence. Each dismissal is an audit
// line. The body is checked (exactly one of event_ids and missing, 1 to
// 1000 ids, each an id, no other field), the scope is webhooks:write, an
// unknown webhook is 404, and missing needs the delivery (503 without).
func TestDismissDeadLettersRoute(t *testing.T) {
	t.Parallel()
	sender := newReplaySender()
	close(sender.release)
	logs := &testkit.LockedBuffer{}
	h := newHarness(t, func(c *api.Config) {
		withSender(sender)(c)
		c.Logger = slog.New(slog.NewTextHandler(logs, nil))
		// Room for a body of 1,001 ids, to see the count refused rather
		// than the body's size.
		c.Limits.MaxBodyBytes = 64 << 10
	})
	created := h.do("POST", "/v1/admin/webhooks", admin, map[string]any{"url": "https://social.example/hooks/dismiss"})
	h.expect(created, 201, "")
	id := created.str("id")
	path := "/v1/admin/webhooks/" + id + "/dead-letters/dismiss"
	at := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	for i, ev := range []string{"ev-1", "ev-2", "ev-3"} {
		if _, err := h.store.RecordDelivery(t.Context(), id, engine.Delivery{EventID: ev, At: at.Add(time.Duration(i) * time.Second),
			Status: 500, Err: "HTTP 500", Dead: true, Sequence: uint64(10 + i), Type: engine.EventWon}, engine.DisableRule{After: 1000}); err != nil {
			t.Fatal(err)
		}
	}
	state := func(what string, dead []string, total, pending float64) {
		t.Helper()
		r := h.do("GET", "/v1/admin/webhooks/"+id, admin, nil)
		h.expect(r, 200, "")
		var got []string
		ids, _ := r.at("dead_letters").([]any) // absent when none
		for _, d := range ids {
			got = append(got, d.(string))
		}
		entries, _ := r.at("dead_letter_entries").([]any)
		if !slices.Equal(got, dead) || len(entries) != len(dead) || r.at("status", "dead_lettered") != total || r.at("status", "dead_letters_pending") != pending {
			t.Fatalf("%s: %s; want dead letters %v, dead_lettered %v, pending %v", what, r.raw, dead, total, pending)
		}
	}
	answer := func(r response, dismissed float64, ids, notFound []string) {
		t.Helper()
		h.expect(r, 200, "")
		list := func(k string) []string {
			out := []string{}
			for _, v := range r.at(k).([]any) {
				out = append(out, v.(string))
			}
			return out
		}
		if r.at("dismissed") != dismissed || !slices.Equal(list("event_ids"), ids) || !slices.Equal(list("not_found"), notFound) {
			t.Fatalf("answer %s; want dismissed %v, event_ids %v, not_found %v", r.raw, dismissed, ids, notFound)
		}
	}
	state("recorded", []string{"ev-3", "ev-2", "ev-1"}, 3, 3)

	answer(h.do("POST", path, admin, map[string]any{"event_ids": []string{"ev-1", "ev-nope", "ev-1"}}), 1, []string{"ev-1"}, []string{"ev-nope"})
	state("ev-1 dismissed", []string{"ev-3", "ev-2"}, 3, 2)
	answer(h.do("POST", path, admin, map[string]any{"event_ids": []string{"ev-1", "ev-nope"}}), 0, []string{}, []string{"ev-1", "ev-nope"})
	state("dismissed again", []string{"ev-3", "ev-2"}, 3, 2)
	if !strings.Contains(logs.String(), `msg="webhook dead letters dismissed" webhook=`+id+` missing=false dismissed=1 event_ids=ev-1 event_ids_not_named=0 by="admin token"`) {
		t.Errorf("no audit line for the dismissal:\n%s", logs)
	}

	// missing: what the stream no longer holds, as the sender says; one
	// without a sequence is not among them.
	sender.missing = []engine.MissingDeadLetter{{EventID: "ev-2", Sequence: 11, Reason: "the stream no longer holds its event (it keeps 7 days)"},
		{EventID: "ev-3", Reason: "dead-lettered before its stream sequence was kept: replay it by since"}}
	answer(h.do("POST", path, admin, map[string]any{"missing": true}), 1, []string{"ev-2"}, []string{})
	state("the missing dismissed", []string{"ev-3"}, 3, 1)
	answer(h.do("POST", path, admin, map[string]any{"missing": true}), 0, []string{}, []string{})

	many := make([]string, engine.MaxDismissDeadLetters+1)
	for i := range many {
		many[i] = fmt.Sprintf("ev-%d", i)
	}
	for _, c := range []struct {
		body         any
		field, words string
	}{
		{map[string]any{}, "event_ids", "event_ids is required"},
		{map[string]any{"missing": false}, "event_ids", "event_ids is required"},
		{map[string]any{"event_ids": []string{}}, "event_ids", "event_ids must list 1 to 1000 event ids; it is empty"},
		{map[string]any{"event_ids": many}, "event_ids", "event_ids must list 1 to 1000 event ids (as many as a webhook keeps dead letters); it has 1001"},
		{map[string]any{"event_ids": []string{"ev-3", "ev 4"}}, "event_ids", "event_ids item 2 is not an event id"},
		{map[string]any{"event_ids": []string{""}}, "event_ids", "event_ids item 1 is not an event id"},
		{map[string]any{"event_ids": []string{strings.Repeat("e", 257)}}, "event_ids", "item 1 is not an event id: one is 1 to 256 printable ASCII characters"},
		{map[string]any{"event_ids": []int{3}}, "event_ids", "event_ids must be"},
		{map[string]any{"event_ids": []string{"ev-3"}, "missing": true}, "missing", "missing and event_ids are exclusive"},
		{map[string]any{"ids": []string{"ev-3"}}, "ids", "ids is not a field of this body"},
		{"", "body", "body must be a JSON object"},
	} {
		r := h.do("POST", path, admin, c.body)
		h.expect(r, 400, "invalid")
		if r.str("field") != c.field || !strings.Contains(r.str("detail"), c.words) {
			t.Errorf("%v: field %q, detail %q; want field %q saying %q", c.body, r.str("field"), r.str("detail"), c.field, c.words)
		}
	}
	state("after the refused bodies", []string{"ev-3"}, 3, 1)

	_, read := h.createKey(admin, "dashboard", "webhooks:read")
	// The webhook is the admin token's: a key acts on it only with
	// webhooks:all (an ops dashboard's).
	_, write := h.createKey(admin, "ops dashboard", "webhooks:write", "webhooks:all")
	for _, key := range []string{read, h.token("alice")} {
		r := h.do("POST", path, key, map[string]any{"event_ids": []string{"ev-3"}})
		h.expect(r, 403, "forbidden")
	}
	state("after the refused keys", []string{"ev-3"}, 3, 1)
	h.expect(h.do("POST", "/v1/admin/webhooks/wh-nobody/dead-letters/dismiss", admin, map[string]any{"event_ids": []string{"ev-3"}}), 404, "not_found")
	h.expect(h.do("GET", path, admin, nil), 405, "")
	answer(h.do("POST", path, write, map[string]any{"event_ids": []string{"ev-3"}}), 1, []string{"ev-3"}, []string{})
	state("all dismissed", nil, 3, 0)

	// Without the delivery, missing cannot be judged: 503, and by id works.
	bare := newHarness(t, nil)
	hook := bare.do("POST", "/v1/admin/webhooks", admin, map[string]any{"url": "https://social.example/hooks/bare"})
	bare.expect(hook, 201, "")
	bare.expect(bare.do("POST", "/v1/admin/webhooks/"+hook.str("id")+"/dead-letters/dismiss", admin, map[string]any{"missing": true}), 503, "unavailable")
	r := bare.do("POST", "/v1/admin/webhooks/"+hook.str("id")+"/dead-letters/dismiss", admin, map[string]any{"event_ids": []string{"ev-1"}})
	bare.expect(r, 200, "")
}
