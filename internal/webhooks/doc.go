// Package webhooks delivers payhub's store notifications (docs/api.md §8) and signs
// them, and verifies their signatures, exactly as the Standard Webhooks spec v1.0.0 says:
// webhook-id, webhook-timestamp and webhook-signature headers, HMAC-SHA256 ("v1") over
// "{id}.{timestamp}.{body}" keyed with a "whsec_" secret, two signatures while a secret
// rotates, and a five-minute timestamp tolerance. Any Standard Webhooks library a store
// already uses can therefore check payhub's deliveries.
package webhooks
