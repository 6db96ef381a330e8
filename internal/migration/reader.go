package migration

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"runtime"
	"strings"
	"unicode/utf8"

	"payhub/internal/jsonin"
)

// Format is an export file format.
type Format string

// The export formats (docs/migration.md §1).
const (
	// FormatJSONL is one JSON object per line.
	FormatJSONL Format = "jsonl"
	// FormatCSV is RFC 4180 CSV with a header row naming exactly Columns.
	FormatCSV Format = "csv"
)

// FormatFor is the format a file name's extension implies: .jsonl or .ndjson, or .csv.
func FormatFor(name string) (Format, error) {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".jsonl", ".ndjson":
		return FormatJSONL, nil
	case ".csv":
		return FormatCSV, nil
	}
	return "", fmt.Errorf("cannot tell the format of %s from its extension (.jsonl or .csv): give --format", filepath.Base(name))
}

// ParseFormat reads a --format value.
func ParseFormat(s string) (Format, error) {
	switch Format(s) {
	case FormatJSONL, FormatCSV:
		return Format(s), nil
	}
	return "", fmt.Errorf("format %q: want jsonl or csv", s)
}

// Columns are the CSV header's columns; a header must name each exactly once, in any order.
var Columns = []string{
	"user_id", "balance", "kyc_level", "destination", "nanaco_number", "paypay_account",
	"bank_code", "branch_code", "account_type", "account_number", "holder_kana", "history", "disputed",
}

const (
	colUserID = iota
	colBalance
	colKYC
	colDest
	colNanaco
	colPayPay
	colBankCode
	colBranchCode
	colAccountType
	colAccountNumber
	colHolderKana
	colHistory
	colDisputed
	numColumns
)

// jsonRow is a JSONL row as decoded (strictly: jsonin refuses unknown and duplicate members).
type jsonRow struct {
	UserID        string          `json:"user_id"`
	Balance       json.RawMessage `json:"balance"`
	KYCLevel      json.RawMessage `json:"kyc_level"`
	Destination   string          `json:"destination"`
	NanacoNumber  string          `json:"nanaco_number,omitempty"`
	PayPayAccount string          `json:"paypay_account,omitempty"`
	BankCode      string          `json:"bank_code,omitempty"`
	BranchCode    string          `json:"branch_code,omitempty"`
	AccountType   string          `json:"account_type,omitempty"`
	AccountNumber string          `json:"account_number,omitempty"`
	HolderKana    string          `json:"holder_kana,omitempty"`
	History       []int64         `json:"history,omitempty"`
	Disputed      []jsonDisputed  `json:"disputed,omitempty"`
}

type jsonDisputed struct {
	ID     string `json:"id"`
	Amount int64  `json:"amount"`
}

// Reader streams an export, one row at a time.
//
// Memory: the reader holds one row (at most MaxRowBytes) and its buffers, whatever the file's
// size, plus the duplicate-user index. That index is exact — a row is rejected as
// duplicate_user only when an earlier row of the file has byte-for-byte the same user_id,
// confirmed by re-reading that row from the file (src's ReadAt), never on a hash alone — and
// its resident memory is bounded: an in-memory table (per user an 8-byte slot, kept at most
// 3/4 full, and a 5-byte row offset) while it fits DefaultIndexMemory (or WithIndexMemory),
// past that a table in an unlinked temporary file read and written with ReadAt/WriteAt (page
// cache, not the process's memory), fronted by an in-memory buffer of new users and a Bloom
// filter that spares nearly every new user a read (docs/migration.md §6). Close releases its
// memory and files. A Bloom filter alone was not used: it needs the same exact confirmation to
// never reject a good row.
type Reader struct {
	src    io.ReaderAt
	format Format
	seen   userIndex

	// JSONL
	br   *bufio.Reader
	off  int64 // bytes consumed
	line int64
	buf  []byte

	// CSV
	cr    *csv.Reader
	guard *guard
	bom   int64
	cols  [numColumns]int

	scratch fields
}

// Option is a NewReader option.
type Option func(*options)

type options struct {
	indexMemory int64
	tempDir     string
}

// WithIndexMemory sets the duplicate-user index's budget of resident memory in bytes
// (DefaultIndexMemory if 0; at least 64 KiB). Past it the index spills to a temporary file.
func WithIndexMemory(bytes int64) Option { return func(o *options) { o.indexMemory = bytes } }

// WithTempDir sets the directory of the index's temporary files (os.TempDir() if "").
func WithTempDir(dir string) Option { return func(o *options) { o.tempDir = dir } }

// NewReader reads an export of the given format from src; src's ReadAt is used only to
// confirm duplicate users. A CSV header that does not name exactly Columns is an error.
func NewReader(src io.ReaderAt, format Format, opts ...Option) (*Reader, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	r := &Reader{src: src, format: format}
	r.seen.init(o.indexMemory, o.tempDir)
	// The index's mappings and files go when the reader does, if Close was not called.
	runtime.AddCleanup(r, func(m *regions) { m.release() }, r.seen.mem)
	stream := io.NewSectionReader(src, 0, math.MaxInt64)
	switch format {
	case FormatJSONL:
		r.br = bufio.NewReaderSize(stream, 64<<10)
		return r, nil
	case FormatCSV:
		br := bufio.NewReaderSize(stream, 64<<10)
		if b, err := br.Peek(3); err == nil && bytes.Equal(b, []byte("\xEF\xBB\xBF")) {
			_, _ = br.Discard(3)
			r.bom = 3
		}
		r.guard = &guard{r: br}
		r.cr = newCSVReader(r.guard)
		header, err := r.cr.Read()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil, errors.New("the CSV export is empty: it needs a header row")
			}
			return nil, fmt.Errorf("the CSV header: %w", err)
		}
		if err := r.mapHeader(header); err != nil {
			return nil, err
		}
		r.cr.FieldsPerRecord = numColumns
		return r, nil
	}
	return nil, fmt.Errorf("format %q: want jsonl or csv", format)
}

func newCSVReader(rd io.Reader) *csv.Reader {
	cr := csv.NewReader(rd)
	cr.ReuseRecord = true
	cr.FieldsPerRecord = -1
	return cr
}

func (r *Reader) mapHeader(header []string) error {
	for i := range r.cols {
		r.cols[i] = -1
	}
	for i, h := range header {
		idx := -1
		for j, c := range Columns {
			if h == c {
				idx = j
			}
		}
		switch {
		case idx < 0:
			return fmt.Errorf("the CSV header has an unknown column %q: the columns are %s", h, strings.Join(Columns, ","))
		case r.cols[idx] >= 0:
			return fmt.Errorf("the CSV header names %q twice", h)
		}
		r.cols[idx] = i
	}
	for j, c := range Columns {
		if r.cols[j] < 0 {
			return fmt.Errorf("the CSV header lacks the column %q: the columns are %s", c, strings.Join(Columns, ","))
		}
	}
	return nil
}

// Offset is how many bytes of the file the reader has consumed (for progress).
func (r *Reader) Offset() int64 {
	if r.cr != nil {
		return r.bom + r.cr.InputOffset()
	}
	return r.off
}

// Close releases the duplicate-user index's memory and temporary files now (otherwise they go
// when the Reader is collected). The Reader must not be used after.
func (r *Reader) Close() error {
	r.seen.release()
	return nil
}

// IndexBytes is the memory the duplicate-user index holds now (its resident part: at most
// the budget, DefaultIndexMemory or WithIndexMemory; what it spilled to a file is not counted).
func (r *Reader) IndexBytes() int64 { return r.seen.bytes() }

// Users is how many distinct well-formed user ids the reader has seen.
func (r *Reader) Users() int64 { return int64(r.seen.n) }

// Next yields the next row: a validated Row, or a non-nil Rejection. It returns io.EOF after
// the last row, and another error only when the file cannot be read on (an I/O error, a CSV
// record over MaxRowBytes).
func (r *Reader) Next() (Row, *Rejection, error) {
	if r.format == FormatCSV {
		return r.nextCSV()
	}
	return r.nextJSONL()
}

// readLine reads the next JSONL line into r.buf (without the newline). long reports a line
// over MaxRowBytes, whose rest is skipped.
func (r *Reader) readLine() (start int64, long bool, err error) {
	start = r.off
	r.buf = r.buf[:0]
	for {
		chunk, err := r.br.ReadSlice('\n')
		r.off += int64(len(chunk))
		if !long {
			if len(r.buf)+len(chunk) > MaxRowBytes+2 {
				long = true
				r.buf = r.buf[:0]
			} else {
				r.buf = append(r.buf, chunk...)
			}
		}
		switch {
		case err == nil:
			r.line++
			r.buf = bytes.TrimSuffix(bytes.TrimSuffix(r.buf, []byte("\n")), []byte("\r"))
			return start, long, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			if r.off == start {
				return start, false, io.EOF
			}
			r.line++
			r.buf = bytes.TrimSuffix(r.buf, []byte("\r"))
			return start, long, nil
		default:
			return start, false, err
		}
	}
}

func (r *Reader) nextJSONL() (Row, *Rejection, error) {
	for {
		start, long, err := r.readLine()
		if err != nil {
			return Row{}, nil, err
		}
		if long {
			return Row{}, &Rejection{Line: r.line, Reason: ReasonMalformedRow, Detail: fmt.Sprintf("the line is longer than %d bytes", MaxRowBytes)}, nil
		}
		if len(bytes.TrimSpace(r.buf)) == 0 {
			continue // a blank line is no row
		}
		f := &r.scratch
		if rej := decodeJSONRow(r.buf, r.line, f); rej != nil {
			return Row{}, rej, nil
		}
		return r.finish(f, start)
	}
}

// decodeJSONRow fills f from one JSONL line, or rejects it as malformed_row.
func decodeJSONRow(line []byte, lineNo int64, f *fields) *Rejection {
	var jr jsonRow
	if err := jsonin.Decode(line, &jr); err != nil {
		return &Rejection{Line: lineNo, Reason: ReasonMalformedRow, Detail: jsonDetail(err)}
	}
	*f = fields{
		line: lineNo, userID: jr.UserID, dest: jr.Destination, nanaco: jr.NanacoNumber, paypay: jr.PayPayAccount,
		bankCode: jr.BankCode, branchCode: jr.BranchCode, accountType: jr.AccountType,
		accountNumber: jr.AccountNumber, holderKana: jr.HolderKana, history: jr.History,
	}
	f.balance, f.balanceNotNumber = rawNumber(jr.Balance)
	f.kyc, f.kycNotNumber = rawNumber(jr.KYCLevel)
	for _, d := range jr.Disputed {
		f.disputed = append(f.disputed, Disputed(d))
	}
	return nil
}

// rawNumber is a JSON value's text when it is a number literal; a string, bool, array or
// object is notNumber; null or absent is "".
func rawNumber(raw json.RawMessage) (text string, notNumber bool) {
	raw = bytes.TrimSpace(raw)
	switch {
	case len(raw) == 0 || string(raw) == "null":
		return "", false
	case raw[0] == '-' || raw[0] >= '0' && raw[0] <= '9':
		return string(raw), false
	}
	return "", true
}

// jsonDetail is jsonin's refusal without its code prefix (it never echoes values).
func jsonDetail(err error) string {
	msg := err.Error()
	if _, rest, ok := strings.Cut(msg, ": "); ok {
		return rest
	}
	return msg
}

func (r *Reader) nextCSV() (Row, *Rejection, error) {
	r.guard.base = r.cr.InputOffset()
	start := r.bom + r.cr.InputOffset()
	rec, err := r.cr.Read()
	if err != nil {
		var pe *csv.ParseError
		switch {
		case errors.Is(err, io.EOF):
			return Row{}, nil, io.EOF
		case errors.Is(err, errRecordTooLong):
			return Row{}, nil, fmt.Errorf("a CSV record after line %d is longer than %d bytes (an unterminated quote?): %w", r.line, MaxRowBytes, err)
		case errors.As(err, &pe):
			r.line = int64(pe.StartLine)
			detail := pe.Err.Error()
			if errors.Is(pe.Err, csv.ErrFieldCount) {
				detail = fmt.Sprintf("%d fields, the header has %d", len(rec), numColumns)
			}
			return Row{}, &Rejection{Line: int64(pe.StartLine), Reason: ReasonMalformedRow, Detail: detail}, nil
		default:
			return Row{}, nil, err
		}
	}
	line, _ := r.cr.FieldPos(0)
	r.line = int64(line)
	f := &r.scratch
	if rej := csvFields(rec, &r.cols, r.line, f); rej != nil {
		return Row{}, rej, nil
	}
	return r.finish(f, start)
}

// csvFields fills f from one CSV record, or rejects it as malformed_row.
func csvFields(rec []string, cols *[numColumns]int, line int64, f *fields) *Rejection {
	for _, v := range rec {
		if !utf8.ValidString(v) {
			return &Rejection{Line: line, Reason: ReasonMalformedRow, Detail: "the record is not valid UTF-8"}
		}
	}
	get := func(c int) string { return rec[cols[c]] }
	*f = fields{
		line: line, userID: get(colUserID), balance: get(colBalance), kyc: get(colKYC), dest: get(colDest),
		nanaco: get(colNanaco), paypay: get(colPayPay), bankCode: get(colBankCode), branchCode: get(colBranchCode),
		accountType: get(colAccountType), accountNumber: get(colAccountNumber), holderKana: get(colHolderKana),
	}
	if h := get(colHistory); h != "" {
		for i, part := range strings.Split(h, ";") {
			n, err := parseInt(part)
			if err != nil {
				f.historyError = fmt.Sprintf("history entry %d is not an integer (history is signed integers separated by ;)", i+1)
				break
			}
			f.history = append(f.history, n)
		}
	}
	if d := get(colDisputed); d != "" {
		for i, part := range strings.Split(d, ";") {
			id, amount, ok := strings.Cut(part, ":")
			n, err := parseInt(amount)
			if !ok || err != nil {
				f.disputedError = fmt.Sprintf("disputed entry %d is not id:amount (disputed is id:amount pairs separated by ;)", i+1)
				break
			}
			f.disputed = append(f.disputed, Disputed{ID: id, Amount: n})
		}
	}
	return nil
}

// finish validates f and applies the duplicate-user rule.
func (r *Reader) finish(f *fields, start int64) (Row, *Rejection, error) {
	row, rej := validate(f)
	if !validUserID(f.userID) {
		return row, rej, nil
	}
	first, dup, err := r.seen.add(f.userID, start, r.userAt)
	if err != nil {
		return Row{}, nil, err
	}
	if dup {
		if rej == nil {
			rej = &Rejection{Line: row.Line, UserID: row.UserID, Balance: row.Balance, BalanceKnown: true, Kind: row.Destination.Kind}
		}
		rej.Reason = ReasonDuplicateUser
		rej.Detail = fmt.Sprintf("user_id is also on the row at byte offset %d; the first row stands", first)
		return Row{}, rej, nil
	}
	return row, rej, nil
}

// userAt re-reads the user id of the row starting at byte offset off.
func (r *Reader) userAt(off int64) (string, error) {
	sec := io.NewSectionReader(r.src, off, math.MaxInt64-off)
	var f fields
	switch r.format {
	case FormatCSV:
		cr := newCSVReader(bufio.NewReaderSize(io.LimitReader(sec, 2*MaxRowBytes), 4096))
		rec, err := cr.Read()
		if err != nil || len(rec) != numColumns {
			return "", fmt.Errorf("re-reading the row at byte offset %d to confirm a duplicate user: %v", off, err)
		}
		return rec[r.cols[colUserID]], nil
	default:
		br := bufio.NewReaderSize(io.LimitReader(sec, MaxRowBytes+2), 4096)
		line, err := br.ReadBytes('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("re-reading the row at byte offset %d to confirm a duplicate user: %w", off, err)
		}
		if rej := decodeJSONRow(bytes.TrimSpace(line), 0, &f); rej != nil {
			return "", fmt.Errorf("re-reading the row at byte offset %d to confirm a duplicate user: it no longer decodes (was the file changed?)", off)
		}
		return f.userID, nil
	}
}

// errRecordTooLong stops a CSV record over MaxRowBytes (encoding/csv has no limit of its own).
var errRecordTooLong = errors.New("CSV record too long")

// guard bounds how far encoding/csv may read past the start of the current record.
type guard struct {
	r    io.Reader
	read int64 // bytes handed to csv
	base int64 // csv's InputOffset at the start of the record
}

func (g *guard) Read(p []byte) (int, error) {
	if g.read-g.base > MaxRowBytes+64<<10 {
		return 0, errRecordTooLong
	}
	n, err := g.r.Read(p)
	g.read += int64(n)
	return n, err
}
