package migration

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// checkExport reads data to the end and checks every yield: a Row is valid by the format's
// rules and survives a write and a read back unchanged; a Rejection carries a known reason,
// a line and a detail; the reader stops with io.EOF or a read error, never a panic.
func checkExport(t *testing.T, data []byte, format Format) {
	r, err := NewReader(bytes.NewReader(data), format)
	if err != nil {
		if format == FormatJSONL {
			t.Fatalf("NewReader(jsonl): %v", err)
		}
		return // a CSV header that is not Columns
	}
	defer r.Close()
	for range 10_000 {
		row, rej, err := r.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			return // an over-long CSV record
		}
		if rej != nil {
			if !slices.Contains(Reasons, rej.Reason) || rej.Line < 1 || rej.Detail == "" {
				t.Fatalf("bad rejection %+v", rej)
			}
			if rej.UserID != "" && !validUserID(rej.UserID) {
				t.Fatalf("rejection names a malformed user id %q", rej.UserID)
			}
			continue
		}
		checkRow(t, row, format)
	}
}

func checkRow(t *testing.T, row Row, format Format) {
	d := row.Destination
	if !validUserID(row.UserID) || row.Balance < 0 || row.Balance > MaxBalance || row.KYCLevel < 0 || row.KYCLevel > MaxKYCLevel || !slices.Contains(Kinds, d.Kind) {
		t.Fatalf("invalid row accepted: %+v", row)
	}
	if (d.Kind == KindNanaco) != (d.NanacoNumber != "") || (d.Kind == KindPayPay) != (d.PayPayAccount != "") ||
		(d.Kind == KindBank && d.Bank == nil) || (d.Kind == KindNone && d.Bank != nil) {
		t.Fatalf("destination fields do not match the kind: %+v", d)
	}
	if len(row.History) > 0 {
		var sum int64
		for _, m := range row.History {
			sum += m
		}
		if sum != row.Balance {
			t.Fatalf("history sums to %d, balance %d", sum, row.Balance)
		}
	}
	s := DefaultCaps().Split(d.Kind, row.Balance, d.Bank != nil)
	if s.Now+s.Deferred+s.BankRefund+s.Held != row.Balance {
		t.Fatalf("split %+v does not add up to %d", s, row.Balance)
	}
	var buf bytes.Buffer
	w, _ := NewWriter(&buf, format)
	if err := w.Write(row); err != nil {
		t.Fatal(err)
	}
	_ = w.Flush()
	back, err := NewReader(bytes.NewReader(buf.Bytes()), format)
	if err != nil {
		t.Fatal(err)
	}
	defer back.Close()
	got, rej, err := back.Next()
	if err != nil || rej != nil {
		t.Fatalf("the row does not read back: %v %+v\n%s", err, rej, buf.Bytes())
	}
	got.Line, row.Line = 0, 0
	if len(got.History) == 0 {
		got.History = nil
	}
	if !reflect.DeepEqual(got, row) {
		t.Fatalf("read back %+v, want %+v", got, row)
	}
}

// FuzzJSONLRow: the JSONL reader over any bytes.
func FuzzJSONLRow(f *testing.F) {
	var buf bytes.Buffer
	w, _ := NewWriter(&buf, FormatJSONL)
	for _, row := range sampleRows() {
		_ = w.Write(row)
	}
	_ = w.Flush()
	f.Add(buf.Bytes())
	for _, tc := range rejectionCases {
		if tc.jsonl != "" {
			f.Add([]byte(tc.jsonl))
		}
	}
	f.Add([]byte(`{"user_id":"u1","balance":1,"kyc_level":1,"destination":"none"}` + "\n" + `{"user_id":"u1","balance":1,"kyc_level":1,"destination":"none"}`))
	f.Fuzz(func(t *testing.T, data []byte) { checkExport(t, data, FormatJSONL) })
}

// FuzzCSVRow: the CSV reader over any records under the header.
func FuzzCSVRow(f *testing.F) {
	var buf bytes.Buffer
	w, _ := NewWriter(&buf, FormatCSV)
	for _, row := range sampleRows() {
		_ = w.Write(row)
	}
	_ = w.Flush()
	header := strings.Join(Columns, ",") + "\n"
	f.Add(bytes.TrimPrefix(buf.Bytes(), []byte(header)))
	for _, tc := range rejectionCases {
		if tc.csv != "" {
			f.Add([]byte(tc.csv))
		}
	}
	f.Add([]byte("u1,1,1,none,,,,,,,,,\nu1,2,1,none,,,,,,,,,\n\"u2\",\"x\ny\",1,none,,,,,,,,,\n"))
	f.Fuzz(func(t *testing.T, data []byte) { checkExport(t, append([]byte(header), data...), FormatCSV) })
}
