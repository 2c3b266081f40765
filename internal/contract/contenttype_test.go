package contract

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/flashdrop/flashdrop/api/spec"
)

// asyncDoc is the part of asyncapi.json these tests read.
type asyncDoc struct {
	DefaultContentType string `json:"defaultContentType"`
	Components         struct {
		Schemas map[string]struct {
			Properties map[string]struct {
				Public      *bool           `json:"x-public"`
				Description string          `json:"description"`
				Const       json.RawMessage `json:"const"`
			} `json:"properties"`
		} `json:"schemas"`
		Messages map[string]struct {
			ContentType string `json:"contentType"`
			Headers     struct {
				Ref string `json:"$ref"`
			} `json:"headers"`
		} `json:"messages"`
	} `json:"components"`
}

func readAsyncDoc(t *testing.T) asyncDoc {
	t.Helper()
	var d asyncDoc
	if err := json.Unmarshal(spec.AsyncAPI, &d); err != nil {
		t.Fatal(err)
	}
	return d
}

// TestAsyncAPIContentTypes: each message's content type (its own, else
// the document's default) is the Content-Type its headers schema says
// is sent: application/cloudevents+json, on JetStream as on a webhook
// delivery (the NATS messages said application/json while their
// headers, and the relay, said otherwise).
func TestAsyncAPIContentTypes(t *testing.T) {
	d := readAsyncDoc(t)
	if len(d.Components.Messages) == 0 {
		t.Fatal("no messages")
	}
	for name, m := range d.Components.Messages {
		ct := m.ContentType
		if ct == "" {
			ct = d.DefaultContentType
		}
		hdr := d.Components.Schemas[strings.TrimPrefix(m.Headers.Ref, "#/components/schemas/")]
		var sent string
		if err := json.Unmarshal(hdr.Properties["Content-Type"].Const, &sent); err != nil {
			t.Errorf("message %s: headers %q have no Content-Type const: %v", name, m.Headers.Ref, err)
			continue
		}
		if ct != sent {
			t.Errorf("message %s declares contentType %q; its headers (%s) say %q is sent", name, ct, m.Headers.Ref, sent)
		}
	}
	if d.DefaultContentType != "application/cloudevents+json" {
		t.Errorf("defaultContentType %q, want application/cloudevents+json, what every message is sent as", d.DefaultContentType)
	}
}
