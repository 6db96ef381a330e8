package contracts

import "strings"

// Id prefixes (docs/api.md §2). An id is prefix + "_" + a 26-character ULID.
const (
	// PrefixPayment prefixes payment ids.
	PrefixPayment = "pay"
	// PrefixRefund prefixes refund ids.
	PrefixRefund = "re"
	// PrefixEvent prefixes event ids.
	PrefixEvent = "evt"
	// PrefixAttempt prefixes partner attempt ids.
	PrefixAttempt = "att"
	// PrefixWebhookEndpoint prefixes webhook endpoint ids.
	PrefixWebhookEndpoint = "we"
	// PrefixDeliveryAttempt prefixes the ids of webhook delivery attempts.
	PrefixDeliveryAttempt = "wda"
	// PrefixRedelivery prefixes the ids of redelivery requests.
	PrefixRedelivery = "rdl"
	// PrefixPartnerCallback prefixes the ids of partner callbacks in the inbox.
	PrefixPartnerCallback = "pcb"
	// PrefixInstance prefixes the ids of running payhub processes (Instance).
	PrefixInstance = "ins"
	// PrefixTopUp prefixes top-up ids (TopUp).
	PrefixTopUp = "tu"
	// PrefixKillSwitch prefixes kill switch ids (KillSwitch).
	PrefixKillSwitch = "ks"
	// PrefixApproval prefixes approval request ids (Approval).
	PrefixApproval = "apr"
	// PrefixLimitRule prefixes limit rule ids (LimitRule).
	PrefixLimitRule = "lim"
)

const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// ValidID reports whether id is prefix + "_" + a well-formed upper-case ULID. A malformed id
// is answered like a missing one (404), so no query is made for it.
func ValidID(prefix, id string) bool {
	rest, ok := strings.CutPrefix(id, prefix+"_")
	if !ok || len(rest) != 26 || rest[0] > '7' {
		return false
	}
	for i := 0; i < len(rest); i++ {
		if strings.IndexByte(crockford, rest[i]) < 0 {
			return false
		}
	}
	return true
}
