package webhook_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/flashdrop/flashdrop/engine"
	"github.com/flashdrop/flashdrop/internal/contract"
	"github.com/flashdrop/flashdrop/internal/testkit"
	"github.com/flashdrop/flashdrop/queue"
	"github.com/flashdrop/flashdrop/queue/webhook"
)

// TestDisabledEventReasonIsTheWebhooks: the webhook_disabled event carries
// the reason the disabled webhook shows, in words (no raw epoch).
func TestDisabledEventReasonIsTheWebhooks(t *testing.T) {
	t.Parallel()
	e := newWHEnv(t)
	rcv := newWHReceiver(t, func(string, int) whAction { return whFail })
	w := e.webhook("disabled", rcv.srv.URL)
	rcv.receive(w)
	e.deliverer(webhook.Options{AllowPrivate: true, MaxAttempts: 10, Disable: engine.DisableRule{After: 3, Span: 5 * time.Millisecond}})
	e.publish("tuesday", engine.EventWon)

	var got engine.Webhook
	testkit.Eventually(t, 10*time.Second, "the webhook disabled", func() bool {
		var err error
		got, err = e.store.Webhook(e.ctx(), w.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got.Disabled
	})
	const want = "3 consecutive failed deliveries over at least 5ms"
	if got.DisabledReason != want {
		t.Fatalf("disabled_reason %q, want %q", got.DisabledReason, want)
	}
	st, err := e.js.Stream(e.ctx(), queue.StreamName)
	if err != nil {
		t.Fatal(err)
	}
	var msg *jetstream.RawStreamMsg
	testkit.Eventually(t, 10*time.Second, "the webhook_disabled event", func() bool {
		msg, err = st.GetLastMsgForSubject(e.ctx(), webhook.DisabledSubject)
		return err == nil
	})
	var ce struct {
		Data engine.Event `json:"data"`
	}
	if err := json.Unmarshal(msg.Data, &ce); err != nil {
		t.Fatal(err)
	}
	if ce.Data.Webhook != w.ID || ce.Data.Reason != got.DisabledReason {
		t.Fatalf("event %s: reason %q, the webhook shows %q", msg.Data, ce.Data.Reason, got.DisabledReason)
	}
	// Its headers as asyncapi.json documents every stream message's.
	checker, err := contract.Events()
	if err != nil {
		t.Fatal(err)
	}
	if err := checker.CheckNATSHeaders(msg.Header); err != nil || msg.Header.Get(jetstream.MsgIDHeader) == "" {
		t.Errorf("webhook_disabled's headers %v: %v", msg.Header, err)
	}
}
