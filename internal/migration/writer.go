package migration

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Writer writes rows in an export format (the synthetic export and round-trip tests).
type Writer struct {
	bw     *bufio.Writer
	format Format
	cw     *csv.Writer
	rec    []string
}

// NewWriter writes rows to w in format; a CSV export starts with the header row.
func NewWriter(w io.Writer, format Format) (*Writer, error) {
	wr := &Writer{bw: bufio.NewWriterSize(w, 64<<10), format: format}
	switch format {
	case FormatJSONL:
	case FormatCSV:
		wr.cw = csv.NewWriter(wr.bw)
		wr.rec = make([]string, numColumns)
		if err := wr.cw.Write(Columns); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("format %q: want jsonl or csv", format)
	}
	return wr, nil
}

// Write writes one row (it is not validated: a test may write what a Reader rejects).
func (w *Writer) Write(row Row) error {
	d := row.Destination
	var bank BankAccount
	if d.Bank != nil {
		bank = *d.Bank
	}
	if w.format == FormatCSV {
		r := w.rec
		r[colUserID], r[colBalance], r[colKYC], r[colDest] = row.UserID, strconv.FormatInt(row.Balance, 10), strconv.Itoa(row.KYCLevel), string(d.Kind)
		r[colNanaco], r[colPayPay] = d.NanacoNumber, d.PayPayAccount
		r[colBankCode], r[colBranchCode], r[colAccountType], r[colAccountNumber], r[colHolderKana] = bank.BankCode, bank.BranchCode, string(bank.Type), bank.Number, bank.HolderKana
		var h, ds []string
		for _, m := range row.History {
			h = append(h, strconv.FormatInt(m, 10))
		}
		for _, x := range row.Disputed {
			ds = append(ds, x.ID+":"+strconv.FormatInt(x.Amount, 10))
		}
		r[colHistory], r[colDisputed] = strings.Join(h, ";"), strings.Join(ds, ";")
		return w.cw.Write(r)
	}
	jr := jsonRow{
		UserID: row.UserID, Balance: json.RawMessage(strconv.FormatInt(row.Balance, 10)),
		KYCLevel: json.RawMessage(strconv.Itoa(row.KYCLevel)), Destination: string(d.Kind),
		NanacoNumber: d.NanacoNumber, PayPayAccount: d.PayPayAccount,
		BankCode: bank.BankCode, BranchCode: bank.BranchCode, AccountType: string(bank.Type),
		AccountNumber: bank.Number, HolderKana: bank.HolderKana, History: row.History,
	}
	for _, x := range row.Disputed {
		jr.Disputed = append(jr.Disputed, jsonDisputed(x))
	}
	b, err := json.Marshal(jr)
	if err != nil {
		return err
	}
	if _, err := w.bw.Write(b); err != nil {
		return err
	}
	return w.bw.WriteByte('\n')
}

// WriteRaw writes bytes as they are (a bad row, for tests and the synthetic export); a CSV
// writer is flushed first so the bytes land in order.
func (w *Writer) WriteRaw(b []byte) error {
	if w.cw != nil {
		w.cw.Flush()
		if err := w.cw.Error(); err != nil {
			return err
		}
	}
	_, err := w.bw.Write(b)
	return err
}

// Flush writes out what is buffered.
func (w *Writer) Flush() error {
	if w.cw != nil {
		w.cw.Flush()
		if err := w.cw.Error(); err != nil {
			return err
		}
	}
	return w.bw.Flush()
}
