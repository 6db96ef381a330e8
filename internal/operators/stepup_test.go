package operators_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"payhub/contracts"
	"payhub/internal/clock"
	"payhub/internal/operators"
	"payhub/internal/secrets"
	"payhub/internal/store/storetest"
)

// t0 is 10 s into a time step: 1_750_000_020 is a multiple of 30.
var t0 = time.Unix(1_750_000_020, 0).Add(10 * time.Second).UTC()

type fixture struct {
	st     contracts.Store
	clk    *clock.Manual
	box    *secrets.Box
	ups    *operators.StepUps
	secret string
}

// enrolled is op-alice enrolled on a store of every database, with the clock at t0.
func enrolled(t *testing.T, st contracts.Store) *fixture {
	t.Helper()
	box, err := secrets.NewRing(secrets.NewKey())
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{st: st, clk: clock.NewManual(t0), box: box}
	f.ups = operators.New(st, box, f.clk)
	err = st.InTx(context.Background(), func(tx contracts.Tx) error {
		e, err := operators.Enroll(context.Background(), tx, box, "op-alice", "cli:sec", t0)
		f.secret = e.Secret
		if !strings.HasPrefix(e.URL, "otpauth://totp/payhub:op-alice?") || !strings.Contains(e.URL, "secret="+e.Secret) {
			t.Errorf("url %q", e.URL)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// code is the code of the step at.
func (f *fixture) code(t *testing.T, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(f.secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// wrong is a code that is none of the three allowed at the clock's time.
func (f *fixture) wrong(t *testing.T) string {
	now := f.clk.Now()
	for _, c := range []string{"000000", "111111", "222222", "333333"} {
		if c != f.code(t, now.Add(-operators.Period)) && c != f.code(t, now) && c != f.code(t, now.Add(operators.Period)) {
			return c
		}
	}
	t.Fatal("no wrong code")
	return ""
}

func (f *fixture) verify(t *testing.T, code string) error {
	t.Helper()
	_, err := f.ups.Verify(context.Background(), "op-alice", code)
	return err
}

// each runs fn on SQLite and, with PAYHUB_TEST_POSTGRES_URL, on PostgreSQL.
func each(t *testing.T, fn func(t *testing.T, f *fixture)) {
	for _, db := range storetest.Databases() {
		t.Run(db.Name, func(t *testing.T) {
			if db.Name == "postgres" {
				storetest.SkipUnlessPostgres(t)
			}
			fn(t, enrolled(t, db.Open(t)))
		})
	}
}

func TestSecretIsSealedAtRest(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		o, err := f.st.GetOperatorTOTP(context.Background(), "op-alice")
		if err != nil {
			t.Fatal(err)
		}
		if len(f.secret) != 32 { // 20 bytes in base32
			t.Errorf("secret %d characters, want 32 (20 bytes)", len(f.secret))
		}
		if strings.Contains(o.SealedSecret, f.secret) || !strings.HasPrefix(o.SealedSecret, f.box.CurrentPrefix()) {
			t.Errorf("stored secret %q is not sealed", o.SealedSecret)
		}
		if o.EnrolledBy != "cli:sec" || !o.EnrolledAt.Equal(t0) {
			t.Errorf("enrolment %+v", o)
		}
	})
}

// The same code twice within one step: the second is refused (RFC 6238 §5.2).
func TestCodeIsAcceptedOnce(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		c := f.code(t, t0)
		if err := f.verify(t, c); err != nil {
			t.Fatalf("first use: %v", err)
		}
		f.clk.Advance(5 * time.Second)
		if err := f.verify(t, c); !errors.Is(err, operators.ErrWrongCode) {
			t.Fatalf("second use in the same step: %v, want ErrWrongCode", err)
		}
	})
}

// A code from the previous step after a newer one was used: refused, though it is within
// the skew; so is an older step's code after the next step's was used.
func TestOlderStepAfterNewerIsRefused(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		if err := f.verify(t, f.code(t, t0)); err != nil {
			t.Fatal(err)
		}
		if err := f.verify(t, f.code(t, t0.Add(-operators.Period))); !errors.Is(err, operators.ErrWrongCode) {
			t.Fatalf("previous step after the current: %v, want ErrWrongCode", err)
		}
		// The next step's code (a fast device) is accepted; the current one is then refused.
		if err := f.verify(t, f.code(t, t0.Add(operators.Period))); err != nil {
			t.Fatalf("next step: %v", err)
		}
		f.clk.Advance(operators.Period)
		if err := f.verify(t, f.code(t, t0)); !errors.Is(err, operators.ErrWrongCode) {
			t.Fatalf("older step after a newer: %v, want ErrWrongCode", err)
		}
	})
}

// ±31 s skew: a device 31 s off is accepted when that lands in the previous or next step
// (skew ±1 step) and refused when it lands two steps away, depending on where in the step
// the server's clock is.
func TestSkew(t *testing.T) {
	stepStart := t0.Add(-10 * time.Second)
	for _, tc := range []struct {
		name   string
		server time.Time
		device time.Duration
		ok     bool
	}{
		{"device 31 s behind, 10 s into the step", stepStart.Add(10 * time.Second), -31 * time.Second, true},
		{"device 31 s ahead, 10 s into the step", stepStart.Add(10 * time.Second), 31 * time.Second, true},
		{"device 31 s behind, at the step's start", stepStart, -31 * time.Second, false},
		{"device 31 s ahead, at the step's end", stepStart.Add(29 * time.Second), 31 * time.Second, false},
		{"device 61 s behind", stepStart.Add(29 * time.Second), -61 * time.Second, false},
		{"device 61 s ahead", stepStart, 61 * time.Second, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := enrolled(t, storetest.OpenSQLite(t))
			f.clk.Set(tc.server)
			err := f.verify(t, f.code(t, tc.server.Add(tc.device)))
			if tc.ok && err != nil || !tc.ok && !errors.Is(err, operators.ErrWrongCode) {
				t.Fatalf("verify = %v, accepted want %v", err, tc.ok)
			}
		})
	}
}

// Five wrong codes within 15 minutes lock step-up: the 6th attempt is refused even with
// the right code, until the lockout ends on time.
func TestLockout(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		for i := range operators.MaxFailures - 1 {
			f.clk.Advance(time.Minute)
			if err := f.verify(t, f.wrong(t)); !errors.Is(err, operators.ErrWrongCode) {
				t.Fatalf("wrong code %d: %v", i+1, err)
			}
		}
		f.clk.Advance(time.Minute)
		lockedAt := f.clk.Now()
		var locked *operators.LockedError
		if err := f.verify(t, f.wrong(t)); !errors.As(err, &locked) || !locked.Fresh || !locked.Until.Equal(lockedAt.Add(operators.Lockout)) {
			t.Fatalf("5th wrong code: %v, want a fresh lockout until %s", err, lockedAt.Add(operators.Lockout))
		}
		// The 6th attempt, with the right code, is refused.
		if err := f.verify(t, f.code(t, f.clk.Now())); !errors.As(err, &locked) || locked.Fresh {
			t.Fatalf("right code while locked: %v, want LockedError", err)
		}
		f.clk.Set(lockedAt.Add(operators.Lockout - time.Second))
		if err := f.verify(t, f.code(t, f.clk.Now())); !errors.As(err, &locked) {
			t.Fatalf("right code a second before the lockout ends: %v", err)
		}
		f.clk.Set(lockedAt.Add(operators.Lockout))
		if err := f.verify(t, f.code(t, f.clk.Now())); err != nil {
			t.Fatalf("right code when the lockout ends: %v", err)
		}
		// The count starts afresh: four more wrong codes do not lock.
		for range operators.MaxFailures - 1 {
			if err := f.verify(t, f.wrong(t)); !errors.Is(err, operators.ErrWrongCode) {
				t.Fatalf("after the lockout: %v", err)
			}
		}
	})
}

// Wrong codes spread over more than 15 minutes never lock; a right one clears the count.
func TestFailureWindow(t *testing.T) {
	f := enrolled(t, storetest.OpenSQLite(t))
	for range operators.MaxFailures - 1 {
		if err := f.verify(t, f.wrong(t)); !errors.Is(err, operators.ErrWrongCode) {
			t.Fatal(err)
		}
	}
	f.clk.Advance(operators.FailureWindow)
	for range operators.MaxFailures - 1 {
		if err := f.verify(t, f.wrong(t)); !errors.Is(err, operators.ErrWrongCode) {
			t.Fatalf("a new window: %v", err)
		}
	}
	if err := f.verify(t, f.code(t, f.clk.Now())); err != nil {
		t.Fatal(err)
	}
	for range operators.MaxFailures - 1 {
		if err := f.verify(t, f.wrong(t)); !errors.Is(err, operators.ErrWrongCode) {
			t.Fatalf("after a right code: %v", err)
		}
	}
}

// A change needs a step-up no older than 5 minutes.
func TestRequire(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		if _, err := f.ups.Require(ctx, "op-alice"); !errors.Is(err, operators.ErrStepUpRequired) {
			t.Fatalf("without step-up: %v", err)
		}
		su, err := f.ups.Verify(ctx, "op-alice", f.code(t, t0))
		if err != nil {
			t.Fatal(err)
		}
		f.clk.Advance(operators.ValidFor)
		if got, err := f.ups.Require(ctx, "op-alice"); err != nil || got.ID != su.ID {
			t.Fatalf("5 minutes after: %+v, %v", got, err)
		}
		if _, err := f.ups.Require(ctx, "op-bob"); !errors.Is(err, operators.ErrStepUpRequired) {
			t.Fatalf("another operator's step-up counted: %v", err)
		}
		f.clk.Advance(time.Second)
		if _, err := f.ups.Require(ctx, "op-alice"); !errors.Is(err, operators.ErrStepUpRequired) {
			t.Fatalf("older than 5 minutes: %v", err)
		}
	})
}

func TestNotEnrolledAndUnlock(t *testing.T) {
	f := enrolled(t, storetest.OpenSQLite(t))
	ctx := context.Background()
	if _, err := f.ups.Verify(ctx, "op-bob", "123456"); !errors.Is(err, operators.ErrNotEnrolled) {
		t.Fatalf("not enrolled: %v", err)
	}
	for range operators.MaxFailures {
		_ = f.verify(t, f.wrong(t))
	}
	var locked *operators.LockedError
	if err := f.verify(t, f.code(t, t0)); !errors.As(err, &locked) {
		t.Fatalf("not locked: %v", err)
	}
	err := f.st.InTx(ctx, func(tx contracts.Tx) error {
		before, err := operators.Unlock(ctx, tx, "op-alice")
		if before.LockedUntil == nil {
			t.Errorf("before = %+v", before)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.verify(t, f.code(t, t0)); err != nil {
		t.Fatalf("after unlock: %v", err)
	}
}
