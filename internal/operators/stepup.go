// Package operators is operator step-up (docs/security.md §7): every change an operator
// makes through /v1/ops needs a TOTP code accepted no more than five minutes before.
//
// Codes are RFC 6238 TOTP (github.com/pquerna/otp): 30 s period, 6 digits, SHA-1, 20-byte
// secrets, sealed at rest under the secrets ring. A code may match the previous, the
// current or the next time step (skew ±1). The library keeps no state, so this package
// does: the last accepted step per operator, and a code of that step or an earlier one is
// refused (RFC 6238 §5.2, a code counts once). Five wrong codes within 15 minutes lock the
// operator's step-up for 15 minutes, during which even a right code is refused. The
// counter is per operator, not per session.
package operators

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
	"github.com/pquerna/otp/totp"

	"payhub/contracts"
	"payhub/internal/secrets"
)

// The step-up rules (docs/security.md §7).
const (
	// Period is a TOTP time step.
	Period = 30 * time.Second
	// Digits is a code's length.
	Digits = otp.DigitsSix
	// Skew is how many steps before and after the current one a code may match.
	Skew = 1
	// SecretSize is a secret's length in bytes.
	SecretSize = 20
	// MaxFailures wrong codes within FailureWindow lock step-up for Lockout.
	MaxFailures = 5
	// FailureWindow is the window wrong codes are counted in.
	FailureWindow = 15 * time.Minute
	// Lockout is how long step-up stays locked after MaxFailures wrong codes.
	Lockout = 15 * time.Minute
	// ValidFor is how long an accepted code allows the operator's changes.
	ValidFor = 5 * time.Minute
	// Issuer names payhub in authenticator apps.
	Issuer = "payhub"
)

// Errors of Verify and Require.
var (
	// ErrNotEnrolled: the operator has no TOTP secret (a security admin enrols them).
	ErrNotEnrolled = errors.New("operators: not enrolled for step-up")
	// ErrWrongCode: the code matches no allowed step, or one already used.
	ErrWrongCode = errors.New("operators: wrong or already used code")
	// ErrStepUpRequired: the operator has no step-up, or none within ValidFor.
	ErrStepUpRequired = errors.New("operators: step-up required")
)

// LockedError refuses every code until Until. Fresh is true for the wrong code that
// caused the lockout (the moment to raise an alert).
type LockedError struct {
	Until time.Time
	Fresh bool
}

func (e *LockedError) Error() string {
	return fmt.Sprintf("operators: step-up locked until %s", e.Until.UTC().Format(time.RFC3339))
}

// StepUps checks codes and step-ups against the store, on an injected clock.
type StepUps struct {
	store contracts.Store
	box   *secrets.Box
	clock contracts.Clock
}

// New makes StepUps over st; box opens the sealed secrets.
func New(st contracts.Store, box *secrets.Box, clock contracts.Clock) *StepUps {
	if clock == nil {
		clock = contracts.SystemClock{}
	}
	return &StepUps{store: st, box: box, clock: clock}
}

// sealOwner binds a sealed secret to its operator: copied onto another operator, it does
// not open.
func sealOwner(operator string) string { return "operator_totp:" + operator }

// stepOf is the TOTP time step t falls in.
func stepOf(t time.Time) int64 { return t.Unix() / int64(Period/time.Second) }

// MatchStep finds the time step among the previous, current and next one of now whose
// code is code and which is after last (the last accepted step); ok is false when there is
// none. Every candidate is computed and compared in constant time.
func MatchStep(secret, code string, now time.Time, last int64) (step int64, ok bool) {
	cur := stepOf(now)
	for s := cur - Skew; s <= cur+Skew; s++ {
		want, err := hotp.GenerateCodeCustom(secret, uint64(s), hotp.ValidateOpts{Digits: Digits, Algorithm: otp.AlgorithmSHA1})
		if err != nil {
			continue
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 && s > last {
			step, ok = s, true
		}
	}
	return step, ok
}

// Verify checks operator's code at the clock's time. Accepted: the step-up is recorded and
// returned (valid until its VerifiedAt + ValidFor). Refused: ErrNotEnrolled, ErrWrongCode
// (counted), or *LockedError. The check and its outcome commit together, under a lock on
// the operator's row, so concurrent uses of one code accept it at most once.
func (s *StepUps) Verify(ctx context.Context, operator, code string) (contracts.StepUp, error) {
	now := s.clock.Now().UTC()
	var (
		result  contracts.StepUp
		refusal error
	)
	err := s.store.InTx(ctx, func(tx contracts.Tx) error {
		refusal = nil
		o, err := tx.GetOperatorTOTPForUpdate(ctx, operator)
		if errors.Is(err, contracts.ErrNotFound) {
			refusal = ErrNotEnrolled
			return nil
		}
		if err != nil {
			return err
		}
		if o.LockedUntil != nil {
			if now.Before(*o.LockedUntil) {
				refusal = &LockedError{Until: *o.LockedUntil}
				return nil
			}
			o.LockedUntil, o.Failures, o.FailuresSince = nil, 0, nil // the lockout is over
		}
		secret, err := s.box.Open(sealOwner(operator), o.SealedSecret)
		if err != nil {
			return fmt.Errorf("operators: open the TOTP secret of %s: %w", operator, err)
		}
		if step, ok := MatchStep(secret, code, now, o.LastStep); ok {
			o.LastStep, o.Failures, o.FailuresSince = step, 0, nil
			result = contracts.StepUp{ID: "stp_" + ulid.MustNew(ulid.Timestamp(now), rand.Reader).String(), Operator: operator, VerifiedAt: now}
			if err := tx.UpdateOperatorTOTPState(ctx, o); err != nil {
				return err
			}
			return tx.InsertStepUp(ctx, result)
		}
		if o.FailuresSince == nil || now.Sub(*o.FailuresSince) >= FailureWindow {
			o.Failures, o.FailuresSince = 0, &now
		}
		o.Failures++
		refusal = ErrWrongCode
		if o.Failures >= MaxFailures {
			until := now.Add(Lockout)
			o.LockedUntil, o.Failures, o.FailuresSince = &until, 0, nil
			refusal = &LockedError{Until: until, Fresh: true}
		}
		return tx.UpdateOperatorTOTPState(ctx, o)
	})
	if err != nil {
		return contracts.StepUp{}, err
	}
	if refusal != nil {
		return contracts.StepUp{}, refusal
	}
	return result, nil
}

// Now is the time on the StepUps' clock.
func (s *StepUps) Now() time.Time { return s.clock.Now() }

// Require returns operator's step-up when it is at most ValidFor old at the clock's time;
// otherwise ErrStepUpRequired.
func (s *StepUps) Require(ctx context.Context, operator string) (contracts.StepUp, error) {
	su, err := s.store.LatestStepUp(ctx, operator)
	if errors.Is(err, contracts.ErrNotFound) {
		return contracts.StepUp{}, ErrStepUpRequired
	}
	if err != nil {
		return contracts.StepUp{}, err
	}
	if s.clock.Now().After(su.VerifiedAt.Add(ValidFor)) {
		return contracts.StepUp{}, ErrStepUpRequired
	}
	return su, nil
}

// Enrolment is a new TOTP secret, shown once to the operator being enrolled.
type Enrolment struct {
	// Secret is the base32 secret, for entering by hand.
	Secret string
	// URL is the otpauth:// URL (for a QR code).
	URL string
}

// Enroll gives operator a new TOTP secret in tx, sealed under box, replacing any earlier
// one (and resetting its state). The secret leaves only in the returned Enrolment.
func Enroll(ctx context.Context, tx contracts.Tx, box *secrets.Box, operator, by string, now time.Time) (Enrolment, error) {
	key, err := totp.Generate(totp.GenerateOpts{Issuer: Issuer, AccountName: operator, Period: uint(Period / time.Second),
		SecretSize: SecretSize, Digits: Digits, Algorithm: otp.AlgorithmSHA1, Rand: rand.Reader})
	if err != nil {
		return Enrolment{}, fmt.Errorf("operators: generate a TOTP secret: %w", err)
	}
	err = tx.PutOperatorTOTP(ctx, contracts.OperatorTOTP{Operator: operator, SealedSecret: box.Seal(sealOwner(operator), key.Secret()),
		EnrolledBy: by, EnrolledAt: now})
	if err != nil {
		return Enrolment{}, err
	}
	return Enrolment{Secret: key.Secret(), URL: key.URL()}, nil
}

// Unlock lifts operator's lockout and clears the wrong-code count in tx, returning the
// state before; ErrNotEnrolled when there is no enrolment.
func Unlock(ctx context.Context, tx contracts.Tx, operator string) (contracts.OperatorTOTP, error) {
	o, err := tx.GetOperatorTOTPForUpdate(ctx, operator)
	if errors.Is(err, contracts.ErrNotFound) {
		return contracts.OperatorTOTP{}, ErrNotEnrolled
	}
	if err != nil {
		return contracts.OperatorTOTP{}, err
	}
	before := o
	o.Failures, o.FailuresSince, o.LockedUntil = 0, nil, nil
	return before, tx.UpdateOperatorTOTPState(ctx, o)
}
