package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/flashdrop/flashdrop/internal/testkit"
)

// TestAdminChangeRedisDidNotAnswerMayApply: a pause sent while Redis
// keeps its connection but answers nothing (a stall) is answered 503, and
// Redis may well have run it: here it did, and the drop is paused once
// Redis answers again. The 503 says the change may have been applied and
// to read the state before repeating it, and the log says so beside the
// failure; an ops review pressed Pause during a stall, read "A backing
// service is unavailable", and found the sale paused later with nothing
// said. A write refused at the connection says the same: the Redis
// client retries within the call, so a refusal may follow an attempt Redis
// received (a commit review showed a plain 503 for a write Redis had
// received, then a retry refused), and the node cannot tell.
func TestAdminChangeRedisDidNotAnswerMayApply(t *testing.T) {
	r := newNetRig(t)
	admin := r.m.Config.AdminToken
	drop := uniqueDrop("stalled-pause")
	now := r.clock.Now()
	body := fmt.Sprintf(`{"id":%q,"name":"Sneaker","stock":5,"registration_opens_at":%q,"registration_closes_at":%q,"sale_starts_at":%q}`,
		drop, now.Add(-time.Hour).Format(time.RFC3339), now.Add(-time.Minute).Format(time.RFC3339), now.Add(-time.Minute).Format(time.RFC3339))
	if code, b, _, err := r.do("POST", "/v1/admin/drops", admin, body); err != nil || code != 201 {
		t.Fatalf("create drop: %d %v %v", code, b, err)
	}
	// A pause and a resume first, so that Redis knows the script and the
	// stalled pause is one command (an unknown script's NOSCRIPT answer
	// would be held too, and its EVAL never sent).
	for _, what := range []string{"pause", "resume"} {
		if code, b, _, err := r.do("POST", "/v1/admin/drops/"+drop+"/"+what, admin, ""); err != nil || code != 200 {
			t.Fatalf("%s: %d %v %v", what, code, b, err)
		}
	}
	// Commands reach Redis, which runs them; its answers are held.
	unhang := r.toxic(r.redis, `{"name":"hang","type":"timeout","stream":"downstream","attributes":{"timeout":0}}`)
	code, b, hdr, err := r.do("POST", "/v1/admin/drops/"+drop+"/pause", admin, "")
	unhang()
	if err != nil || code != 503 || b["code"] != "unavailable" || hdr.Get("Retry-After") == "" ||
		!strings.Contains(fmt.Sprint(b["detail"]), "this change may have been applied, or may be once it answers; read the current state before repeating it") {
		t.Fatalf("a pause Redis did not answer: %d %v %v", code, b, err)
	}
	if log := r.m.Stderr.(*testkit.LockedBuffer).String(); !strings.Contains(log, "admin change may take effect later") || !strings.Contains(log, "/v1/admin/drops/{drop}/pause") {
		t.Errorf("the log does not say the pause may take effect later:\n%s", log)
	}
	// And it did: Redis ran the pause it never answered.
	testkit.Eventually(t, 30*time.Second, "the drop paused once Redis answers", func() bool {
		code, b, _, _ := r.do("GET", "/v1/admin/drops/"+drop, admin, "")
		return code == 200 && b["paused"] == true
	})

	// Refused at the connection: the same words, since the node cannot
	// tell whether an earlier attempt of the call reached Redis.
	r.redis.Stop()
	code, b, _, err = r.do("POST", "/v1/admin/drops/"+drop+"/resume", admin, "")
	if err != nil || code != 503 || !strings.Contains(fmt.Sprint(b["detail"]), "may have been applied") {
		t.Errorf("a resume with Redis refusing connections: %d %v %v", code, b, err)
	}
	// A read says nothing of the kind: it changes nothing.
	if code, b, _, err := r.do("GET", "/v1/admin/drops/"+drop, admin, ""); err != nil || code != 503 || strings.Contains(fmt.Sprint(b["detail"]), "may have been applied") {
		t.Errorf("a read with Redis refusing connections: %d %v %v", code, b, err)
	}
	// Back, so the client's pool stops redialling before the test ends.
	if err := r.redis.Start(); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 60*time.Second, "/readyz green after Redis came back", func() bool { return r.ready() == 200 })
}
