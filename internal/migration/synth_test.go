package migration

import (
	"errors"
	"io"
	"strconv"
	"testing"
)

// synthExport is an export of n JSONL rows generated on the fly, each padded to the same
// width, so ReadAt can serve any offset without a file: memory and speed tests at any size.
type synthExport struct {
	n   int64
	buf []byte
}

const synthWidth = 320

func (s *synthExport) size() int64 { return s.n * synthWidth }

// render writes row i (with a duplicate every 5,000th row and a bad balance every 7,000th).
func (s *synthExport) render(i int64, dst []byte) {
	b := dst[:0]
	id := i
	if i%5000 == 4999 {
		id = i - 1
	}
	b = append(b, `{"user_id":"u`...)
	b = strconv.AppendInt(b, id, 10)
	b = append(b, `","balance":`...)
	bal := (i * 7919) % 300_000
	b = strconv.AppendInt(b, bal, 10)
	if i%7000 == 6999 {
		b = append(b, ".5"...)
	}
	b = append(b, `,"kyc_level":`...)
	b = strconv.AppendInt(b, i%4, 10)
	switch i % 4 {
	case 0:
		b = append(b, `,"destination":"nanaco","nanaco_number":"7`...)
		n := strconv.FormatInt(1e15+i, 10)[1:]
		b = append(b, n...)
		b = append(b, '"')
	case 1:
		b = append(b, `,"destination":"paypay","paypay_account":"la_01HZX5Y8K2M3N4P5Q6R7S8T9VW","bank_code":"0001","branch_code":"001","account_type":"ordinary","account_number":"1234567","holder_kana":"ﾔﾏﾀﾞ ﾀﾛｳ"`...)
	case 2:
		b = append(b, `,"destination":"bank","bank_code":"0001","branch_code":"001","account_type":"ordinary","account_number":"1234567","holder_kana":"ﾔﾏﾀﾞ ﾀﾛｳ"`...)
	default:
		b = append(b, `,"destination":"none","history":[`...)
		b = strconv.AppendInt(b, bal+100, 10)
		b = append(b, ",-100]"...)
	}
	b = append(b, '}')
	for len(b) < synthWidth-1 {
		b = append(b, ' ')
	}
	b = append(b, '\n')
	if len(b) != synthWidth {
		panic("synthetic row too wide")
	}
}

func (s *synthExport) ReadAt(p []byte, off int64) (int, error) {
	if s.buf == nil {
		s.buf = make([]byte, synthWidth)
	}
	n := 0
	for n < len(p) && off < s.size() {
		s.render(off/synthWidth, s.buf)
		c := copy(p[n:], s.buf[off%synthWidth:])
		n += c
		off += int64(c)
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// planAll reads the whole export into a plan.
func planAll(tb testing.TB, src io.ReaderAt, sample func(rows int64, r *Reader)) (*Plan, *Reader) {
	r, err := NewReader(src, FormatJSONL)
	if err != nil {
		tb.Fatal(err)
	}
	p := NewPlan(DefaultCaps())
	for {
		row, rej, err := r.Next()
		if errors.Is(err, io.EOF) {
			return p, r
		}
		if err != nil {
			tb.Fatal(err)
		}
		if rej != nil {
			p.AddRejection(rej)
		} else {
			p.AddRow(row)
		}
		if sample != nil {
			sample(p.Rows, r)
		}
	}
}
