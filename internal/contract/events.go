package contract

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/flashdrop/flashdrop/api/spec"
)

// EventChecker validates CloudEvents against the per-type schemas of
// asyncapi.json (components.messages.<type>.payload).
type EventChecker struct {
	byType  map[string]*jsonschema.Schema // CloudEvent type → compiled schema
	fields  map[string][]string           // event type → data field names
	headers *jsonschema.Schema
	// natsHeaders is a JetStream message's headers; natsHeaderNames the
	// ones documented, as the schema leaves others open for NATS's own.
	natsHeaders     *jsonschema.Schema
	natsHeaderNames map[string]struct{}
	// webhookOnly holds the types documented only as webhook deliveries
	// (flashdrop.webhook_test): checkable, but no JetStream event type.
	webhookOnly map[string]bool
}

var (
	eventOnce sync.Once
	eventChk  *EventChecker
	eventErr  error
)

// Events returns the checker for the embedded asyncapi.json, built once.
func Events() (*EventChecker, error) {
	eventOnce.Do(func() { eventChk, eventErr = newEventChecker(spec.AsyncAPI) })
	return eventChk, eventErr
}

const asyncURL = "urn:flashdrop:asyncapi.json"

func newEventChecker(doc []byte) (*EventChecker, error) {
	var raw struct {
		AsyncAPI   string `json:"asyncapi"`
		Components struct {
			Messages map[string]struct {
				Name    string `json:"name"`
				Payload struct {
					Ref string `json:"$ref"`
				} `json:"payload"`
			} `json:"messages"`
			Schemas map[string]struct {
				Properties map[string]json.RawMessage `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(doc, &raw); err != nil {
		return nil, fmt.Errorf("contract: asyncapi.json: %w", err)
	}
	if !strings.HasPrefix(raw.AsyncAPI, "3.0.") {
		return nil, fmt.Errorf("contract: asyncapi.json declares asyncapi %q, want 3.0.x", raw.AsyncAPI)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return nil, err
	}
	comp := jsonschema.NewCompiler()
	comp.DefaultDraft(jsonschema.Draft2020)
	comp.AssertFormat()
	if err := comp.AddResource(asyncURL, inst); err != nil {
		return nil, err
	}
	c := &EventChecker{byType: map[string]*jsonschema.Schema{}, fields: map[string][]string{}, webhookOnly: map[string]bool{}}
	for key, m := range raw.Components.Messages {
		if strings.HasSuffix(key, "Webhook") {
			// Usually the same payload as the JetStream message, with
			// headers; a type without a JetStream message (the test
			// delivery) is only ever POSTed to a webhook.
			if _, onStream := raw.Components.Messages[m.Name]; onStream {
				continue
			}
			c.webhookOnly[m.Name] = true
		}
		ref := m.Payload.Ref
		sch, err := comp.Compile(asyncURL + ref)
		if err != nil {
			return nil, fmt.Errorf("contract: asyncapi.json message %s: %w", key, err)
		}
		c.byType["flashdrop."+m.Name] = sch
		dataName := strings.TrimSuffix(strings.TrimPrefix(ref, "#/components/schemas/"), "Event") + "Data"
		for f := range raw.Components.Schemas[dataName].Properties {
			c.fields[m.Name] = append(c.fields[m.Name], f)
		}
		sort.Strings(c.fields[m.Name])
	}
	if len(c.byType) == 0 {
		return nil, fmt.Errorf("contract: asyncapi.json has no messages")
	}
	if c.headers, err = comp.Compile(asyncURL + "#/components/schemas/WebhookHeaders"); err != nil {
		return nil, err
	}
	if c.natsHeaders, err = comp.Compile(asyncURL + "#/components/schemas/NatsHeaders"); err != nil {
		return nil, err
	}
	c.natsHeaderNames = map[string]struct{}{}
	for name := range raw.Components.Schemas["NatsHeaders"].Properties {
		c.natsHeaderNames[name] = struct{}{}
	}
	return c, nil
}

// Types returns the documented event types published on JetStream, the
// ones webhooks and the event stream filter on (without the flashdrop.
// prefix), sorted.
func (c *EventChecker) Types() []string {
	var out []string
	for t := range c.byType {
		if name := strings.TrimPrefix(t, "flashdrop."); !c.webhookOnly[name] {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// WebhookOnlyTypes returns the types documented only as webhook
// deliveries, never published (without the flashdrop. prefix), sorted.
func (c *EventChecker) WebhookOnlyTypes() []string {
	var out []string
	for t := range c.webhookOnly {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// DataFields returns the data members documented for an event type.
func (c *EventChecker) DataFields(eventType string) []string { return c.fields[eventType] }

// Check validates one CloudEvent as it travels (JSON bytes). An event of a
// type the document does not list fails.
func (c *EventChecker) Check(raw []byte) error {
	var head struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return fmt.Errorf("event is not JSON: %v: %s", err, clip(raw))
	}
	sch, ok := c.byType[head.Type]
	if !ok {
		return fmt.Errorf("event type %q is not in asyncapi.json: %s", head.Type, clip(raw))
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return err
	}
	if err := sch.Validate(inst); err != nil {
		return fmt.Errorf("event %s does not match asyncapi.json: %v\n  event: %s", head.Type, err, clip(raw))
	}
	return nil
}

// CheckWebhookHeaders validates a webhook delivery's headers (the first
// value of each) against the document's WebhookHeaders.
func (c *EventChecker) CheckWebhookHeaders(h map[string][]string) error {
	m := map[string]any{}
	for _, k := range []string{"Content-Type", "Flashdrop-Event-Id", "Flashdrop-Signature", "User-Agent", "Flashdrop-Sequence", "Flashdrop-Delivery-Kind", "Flashdrop-Attempt"} {
		if v := h[k]; len(v) > 0 {
			m[k] = v[0]
		}
	}
	if err := c.headers.Validate(m); err != nil {
		return fmt.Errorf("webhook headers do not match asyncapi.json: %v", err)
	}
	return nil
}

// CheckNATSHeaders validates a JetStream message's headers (the first
// value of each) against the document's NatsHeaders: every header the
// relay sets must be documented there, so one it adds shows here.
func (c *EventChecker) CheckNATSHeaders(h map[string][]string) error {
	m := map[string]any{}
	for k, v := range h {
		if len(v) > 0 {
			m[k] = v[0]
		}
	}
	if err := c.natsHeaders.Validate(m); err != nil {
		return fmt.Errorf("NATS headers do not match asyncapi.json: %v", err)
	}
	for k := range m {
		if _, ok := c.natsHeaderNames[k]; !ok {
			return fmt.Errorf("NATS header %s is not in asyncapi.json's NatsHeaders", k)
		}
	}
	return nil
}

// CheckEvent fails t unless raw, one CloudEvent as received from JetStream
// or a webhook, matches its type's schema in asyncapi.json. It is safe to
// call from any goroutine while t runs.
func CheckEvent(t testing.TB, raw []byte) {
	t.Helper()
	c, err := Events()
	if err != nil {
		t.Error(err)
		return
	}
	if err := c.Check(raw); err != nil {
		t.Errorf("contract (api/spec/asyncapi.json): %v", err)
	}
}

// CheckEventValue is CheckEvent for an event the test holds as a Go value
// (marshalled to JSON first, as it goes on the wire).
func CheckEventValue(t testing.TB, v any) {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Error(err)
		return
	}
	CheckEvent(t, raw)
}

// CheckDelivery validates one webhook delivery, its headers and its body,
// and returns what does not match (nil when all does). It does not fail a
// test itself, so a receiver can report it the way it reports the rest.
func CheckDelivery(header map[string][]string, body []byte) error {
	c, err := Events()
	if err != nil {
		return err
	}
	if err := c.CheckWebhookHeaders(header); err != nil {
		return err
	}
	return c.Check(body)
}
