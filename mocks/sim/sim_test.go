package sim

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestManualClockSetAndAdvance(t *testing.T) {
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	c := NewManualClock(start)
	if got := c.Now(); !got.Equal(start) {
		t.Fatalf("Now = %v, want %v", got, start)
	}
	if got := c.Advance(90 * time.Second); !got.Equal(start.Add(90 * time.Second)) {
		t.Fatalf("Advance = %v", got)
	}
	earlier := start.Add(-time.Hour)
	c.Set(earlier)
	if got := c.Now(); !got.Equal(earlier) {
		t.Fatalf("after Set, Now = %v, want %v", got, earlier)
	}
}

func TestManualClockConcurrentUse(t *testing.T) {
	c := NewManualClock(time.Unix(0, 0))
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				c.Advance(time.Second)
				_ = c.Now()
			}
		}()
	}
	wg.Wait()
	if got := c.Now(); !got.Equal(time.Unix(800, 0)) {
		t.Fatalf("Now = %v, want 800 s after epoch", got)
	}
}

func TestDecodeJSON(t *testing.T) {
	var v struct{ A int }
	if err := DecodeJSON([]byte(`{"A":1,"unknown":true}`), &v); err != nil || v.A != 1 {
		t.Fatalf("DecodeJSON = %v, v = %+v", err, v)
	}
	for _, bad := range []string{``, `{"A":1}{}`, `{"A":`, `{"A":1.5}`} {
		if err := DecodeJSON([]byte(bad), &v); err == nil {
			t.Errorf("DecodeJSON(%q) accepted", bad)
		}
	}
}

func TestReadBodyLimit(t *testing.T) {
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(strings.Repeat("x", MaxBodyBytes+1)))
	if _, err := ReadBody(r); !errors.Is(err, ErrBodyTooLarge) {
		t.Fatalf("ReadBody err = %v, want ErrBodyTooLarge", err)
	}
	r = httptest.NewRequest(http.MethodPost, "/", strings.NewReader("abc"))
	if b, err := ReadBody(r); err != nil || string(b) != "abc" {
		t.Fatalf("ReadBody = %q, %v", b, err)
	}
}

func TestWriteJSON(t *testing.T) {
	rec := httptest.NewRecorder()
	WriteJSON(rec, http.StatusCreated, map[string]int{"n": 1})
	if rec.Code != http.StatusCreated || rec.Header().Get("Content-Type") != "application/json" || rec.Body.String() != `{"n":1}` {
		t.Fatalf("got %d %q %q", rec.Code, rec.Header().Get("Content-Type"), rec.Body.String())
	}
	rec = httptest.NewRecorder()
	WriteJSON(rec, http.StatusOK, func() {})
	if rec.Code != http.StatusInternalServerError || !strings.HasPrefix(rec.Body.String(), "{") {
		t.Fatalf("unencodable value: got %d %q", rec.Code, rec.Body.String())
	}
}
