package contracts

import (
	"testing"
	"time"
)

func TestSequenceRefRoundTrip(t *testing.T) {
	r := SequenceRef{Terminal: "store-001_till-01", BusinessDate: "20261206", Seq: 42}
	if got := r.String(); got != "store-001_till-01.20261206.000042" {
		t.Fatalf("String = %q", got)
	}
	back, err := ParseSequenceRef(r.String())
	if err != nil || back != r {
		t.Fatalf("ParseSequenceRef = %+v, %v", back, err)
	}
	for _, bad := range []string{"", "t.20261206", "t.20261206.0", "t.20261306.1", "t.2026120.1", "t.20261206.1000000",
		"a.b.20261206.1", "t/x.20261206.1", "t.20261206.-1", "t.20261206.x"} {
		if _, err := ParseSequenceRef(bad); err == nil {
			t.Errorf("ParseSequenceRef(%q) accepted", bad)
		}
	}
}

// A business date is the JST calendar date: 15:00 UTC is already the next day.
func TestBusinessDate(t *testing.T) {
	for at, want := range map[time.Time]string{
		time.Date(2026, 12, 6, 14, 59, 59, 0, time.UTC): "20261206",
		time.Date(2026, 12, 6, 15, 0, 0, 0, time.UTC):   "20261207",
	} {
		if got := BusinessDate(at); got != want {
			t.Errorf("BusinessDate(%s) = %s, want %s", at, got, want)
		}
	}
}
