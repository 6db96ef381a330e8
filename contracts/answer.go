package contracts

// AnswerKind says what a store's mutating command did, as its answer tells the store. The
// HTTP layer turns it into a status; the engine never speaks HTTP.
type AnswerKind string

// Answer kinds.
const (
	// AnswerCreated: the command created an object (a payment, a refund, an endpoint),
	// whatever that object's status.
	AnswerCreated AnswerKind = "created"
	// AnswerDone: the command changed an object and its answer is the object (a capture, a
	// cancel, a rotation).
	AnswerDone AnswerKind = "done"
	// AnswerAccepted: the command was recorded and its result follows (a cancel while the
	// outcome is open, a redelivery).
	AnswerAccepted AnswerKind = "accepted"
	// AnswerRefused: the command was refused after its execution began; Code says why and
	// the refusal is replayed like any answer.
	AnswerRefused AnswerKind = "refused"
)

// Answer is the answer to a store's mutating command: stored with its Idempotency-Key in
// the transaction of the state change it answers and replayed byte for byte.
type Answer struct {
	// Kind says what the command did.
	Kind AnswerKind
	// Code is the refusal's code when Kind is AnswerRefused.
	Code ErrorCode
	// Body is the rendered object (or problem document).
	Body []byte
}
