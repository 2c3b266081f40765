package main

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flashdrop/flashdrop/internal/testkit"
	"github.com/flashdrop/flashdrop/queue/webhook"
)

// webhookMetric reads one webhook series from the node's /metrics: its
// value, and whether it is there.
func webhookMetric(t *testing.T, s *integStack, name, labels string) (float64, bool) {
	t.Helper()
	r := call(t, "GET", s.base+"/metrics", "", "")
	if r.status != 200 {
		t.Fatalf("/metrics: %d", r.status)
	}
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name+"{"+labels+"}") + ` (\S+)$`).FindStringSubmatch(r.raw)
	if m == nil {
		return 0, false
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Fatalf("%s{%s}: %v", name, labels, err)
	}
	return v, true
}

// TestWebhookMetricsFollowAFailingReceiver: a receiver answering 500 moves
// flashdrop_webhook_deliveries_total (failed, then dead_lettered) and,
// once the webhook is disabled, flashdrop_webhook_disabled to 1; enabled
// again, the gauge goes back to 0 and deliveries count as delivered. The
// series carry the webhook's id, never its URL or secret. The log tells
// the first dead letter whole and counts the others, rather than a line
// each.
func TestWebhookMetricsFollowAFailingReceiver(t *testing.T) {
	t.Parallel()
	s := startInteg(t, func(o *webhook.Options) { o.MaxAttempts = 2 },
		"--webhook-disable-after", "10", "--webhook-disable-span", "1ms")
	rc := newReceiver(t)
	rc.down.Store(true)
	hook := s.must(t, 201, "POST", "/v1/admin/webhooks", map[string]any{"url": rc.URL + "/hook?token=receiver-token-123", "types": []string{"registered", "won"}})
	id, secret := hook.body["id"].(string), hook.body["secret"].(string)
	rc.mu.Lock()
	rc.secret = secret
	rc.mu.Unlock()
	series := func(outcome string) string { return `outcome="` + outcome + `",webhook="` + id + `"` }

	// Every webhook's series are there from the start, at 0.
	testkit.Eventually(t, 30*time.Second, "the webhook's series at 0", func() bool {
		v, ok := webhookMetric(t, s, "flashdrop_webhook_deliveries_total", series("failed"))
		d, dok := webhookMetric(t, s, "flashdrop_webhook_disabled", `webhook="`+id+`"`)
		return ok && v == 0 && dok && d == 0
	})

	s.sale(t, "metrics-"+strings.ToLower(id[3:11]), 3, "ann", "ben", "cat")
	// Each event gets two attempts: the first failed, the second
	// dead-lettered; the tenth failure in a row disables the webhook, by
	// then with four events or more dead-lettered. The counters agree
	// with the webhook's status once the attempts in flight are recorded.
	var failed, dead, delivered, disabled float64
	var st httpResult
	agree := func() bool {
		disabled, _ = webhookMetric(t, s, "flashdrop_webhook_disabled", `webhook="`+id+`"`)
		failed, _ = webhookMetric(t, s, "flashdrop_webhook_deliveries_total", series("failed"))
		dead, _ = webhookMetric(t, s, "flashdrop_webhook_deliveries_total", series("dead_lettered"))
		delivered, _ = webhookMetric(t, s, "flashdrop_webhook_deliveries_total", series("delivered"))
		st = s.must(t, 200, "GET", "/v1/admin/webhooks/"+id, nil)
		status := st.body["status"].(map[string]any)
		return disabled == 1 && failed >= 1 && dead >= 4 && delivered == 0 &&
			failed+dead == status["failed_attempts"].(float64) && dead == status["dead_lettered"].(float64)
	}
	for deadline := time.Now().Add(30 * time.Second); !agree(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("after 30 s: disabled %v, failed %v, dead_lettered %v, delivered %v; the webhook: %s", disabled, failed, dead, delivered, st.raw)
		}
	}
	if raw := call(t, "GET", s.base+"/metrics", "", "").raw; strings.Contains(raw, "receiver-token-123") || strings.Contains(raw, rc.URL) || strings.Contains(raw, secret) {
		t.Error("/metrics shows the webhook's URL or secret")
	}
	// One whole line for the first dead letter; the rest are counted.
	// (The Redis is shared: other tests' webhooks have lines of their own.)
	if n := strings.Count(s.logs.String(), `msg="webhooks: event dead-lettered" webhook=`+id+` `); n != 1 {
		t.Errorf("%d whole dead-letter lines for %v dead letters, want 1:\n%s", n, dead, s.logs)
	}

	// Back and enabled: the gauge at 0, and new events delivered.
	rc.down.Store(false)
	s.must(t, 200, "POST", "/v1/admin/webhooks/"+id+"/enable", nil)
	s.sale(t, "again-"+strings.ToLower(id[3:11]), 1, "dan")
	testkit.Eventually(t, 30*time.Second, "the gauge back at 0 and deliveries counted", func() bool {
		d, _ := webhookMetric(t, s, "flashdrop_webhook_disabled", `webhook="`+id+`"`)
		n, _ := webhookMetric(t, s, "flashdrop_webhook_deliveries_total", series("delivered"))
		return d == 0 && n >= 1
	})

	// Deleted: its series go from every node within a listing or two,
	// where they stayed until the node restarted.
	s.must(t, 204, "DELETE", "/v1/admin/webhooks/"+id, nil)
	testkit.Eventually(t, 30*time.Second, "the deleted webhook's series gone", func() bool {
		raw := call(t, "GET", s.base+"/metrics", "", "").raw
		return !strings.Contains(raw, `webhook="`+id+`"`)
	})
}
