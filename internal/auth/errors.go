package auth

import (
	"payhub/contracts"
)

// AuthError is every refusal of Authenticate. It carries two faces:
//
//   - Public is what the caller may see: 401 unauthenticated with one generic detail for every
//     token problem (no hint which check failed), 403 store_not_granted, or 500 internal_error
//     when the key registry could not be read. contracts.AsError(err) finds it, so the HTTP
//     layer renders it like any other *contracts.Error.
//   - Reason says which check failed, for logs only. It never contains the token, the
//     Authorization header or any raw header value; at most the kid (only once it matched the
//     kid syntax), the client id and the store id of a token whose signature verified.
//
// Error() returns the reason prefixed with the public code, so logging the error is useful;
// responses must be built from Public, never from Error().
type AuthError struct {
	// Public is the refusal the caller sees.
	Public *contracts.Error
	// Reason is the internal, log-only explanation.
	Reason string
	// Cause is an underlying failure (e.g. a database error), if any.
	Cause error
}

// Error implements error: the public code and the log-only reason.
func (e *AuthError) Error() string {
	s := "auth: " + string(e.Public.Code) + ": " + e.Reason
	if e.Cause != nil {
		s += ": " + e.Cause.Error()
	}
	return s
}

// Unwrap exposes Public (for contracts.AsError) and Cause (for errors.Is).
func (e *AuthError) Unwrap() []error {
	if e.Cause != nil {
		return []error{e.Public, e.Cause}
	}
	return []error{e.Public}
}

// unauthenticatedDetail is the only detail a 401 ever carries.
const unauthenticatedDetail = "missing, malformed, invalid or expired bearer token"

func unauthenticated(reason string) *AuthError {
	return &AuthError{
		Public: &contracts.Error{Code: contracts.CodeUnauthenticated, Detail: unauthenticatedDetail},
		Reason: reason,
	}
}

func storeNotGranted(reason string) *AuthError {
	return &AuthError{
		Public: &contracts.Error{Code: contracts.CodeStoreNotGranted, Detail: "the token's store is not granted to this client"},
		Reason: reason,
	}
}

func internalFailure(reason string, cause error) *AuthError {
	return &AuthError{
		Public: &contracts.Error{Code: contracts.CodeInternalError, Detail: "authentication is temporarily unavailable"},
		Reason: reason,
		Cause:  cause,
	}
}
