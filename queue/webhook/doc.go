// Package webhook delivers events to social integrations' webhook
// subscriptions: a durable JetStream consumer per subscription, signed
// HTTP POSTs of the CloudEvent (queue/webhooksig), retries with backoff,
// dead letters, and the guard against private targets (SSRF).
package webhook
