package gmopg

import (
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/text/encoding/japanese"
)

// fakeGMO is a small GMO protocol-type server for the adapter's tests: it keeps orders,
// answers in Windows-31J, and lets a test queue raw answers per call.
type fakeGMO struct {
	t        *testing.T
	shopPass string
	srv      *httptest.Server

	mu       sync.Mutex
	orders   map[string]*fakeOrder // by OrderID
	byAccess map[string]*fakeOrder
	seq      int
	script   map[string][]string // raw answers served before the real logic, per call
	calls    []fakeCall
	badCheck bool // corrupt CheckString
	now      time.Time
}

type fakeCall struct {
	name   string
	params map[string]string
	raw    string
}

type fakeOrder struct {
	id, accessID, accessPass, job, status string
	amount                                int64
	processDate                           string
	tranID                                string
	rejectTds                             bool
}

func newFake(t *testing.T) *fakeGMO {
	f := &fakeGMO{t: t, shopPass: "pass123", orders: map[string]*fakeOrder{}, byAccess: map[string]*fakeOrder{},
		script: map[string][]string{}, now: time.Date(2026, 11, 28, 3, 0, 0, 0, time.UTC)}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeGMO) adapter(t *testing.T, now time.Time) *Adapter {
	a, err := New(Config{BaseURL: f.srv.URL, ShopID: "tshop0001", ShopPass: f.shopPass, TdTenantName: "テスト店",
		Now: func() time.Time { return now }, Timeouts: UniformTimeouts(5 * time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// queue makes the next call of name answer raw (Windows-31J encoded).
func (f *fakeGMO) queue(name, raw string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.script[name] = append(f.script[name], raw)
}

func (f *fakeGMO) count(name string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.calls {
		if c.name == name {
			n++
		}
	}
	return n
}

func (f *fakeGMO) last(name string) fakeCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := len(f.calls) - 1; i >= 0; i-- {
		if f.calls[i].name == name {
			return f.calls[i]
		}
	}
	f.t.Fatalf("no %s call", name)
	return fakeCall{}
}

// decodeForm reads a form body whose values are percent-encoded Shift_JIS.
func decodeForm(raw string) (map[string]string, error) {
	out := map[string]string{}
	for _, part := range strings.Split(raw, "&") {
		k, v, _ := strings.Cut(part, "=")
		uv, err := url.QueryUnescape(v)
		if err != nil {
			return nil, err
		}
		s, err := japanese.ShiftJIS.NewDecoder().String(uv)
		if err != nil {
			return nil, err
		}
		out[k] = s
	}
	return out, nil
}

func (f *fakeGMO) write(w http.ResponseWriter, body string) {
	sj, err := japanese.ShiftJIS.NewEncoder().String(body)
	if err != nil {
		f.t.Errorf("fake: cannot encode %q", body)
	}
	w.Header().Set("Content-Type", "text/plain;charset=Windows-31J")
	_, _ = io.WriteString(w, sj)
}

func (f *fakeGMO) serve(w http.ResponseWriter, r *http.Request) {
	name, ok := strings.CutSuffix(strings.TrimPrefix(r.URL.Path, "/payment/"), ".idPass")
	if r.Method != http.MethodPost || !ok {
		f.write(w, "ErrCode=E00&ErrInfo=E00000001")
		return
	}
	if r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
		f.write(w, "ErrCode=E00&ErrInfo=E00000003")
		return
	}
	if !strings.Contains(r.Header.Get("Accept"), "text/plain") {
		f.write(w, "ErrCode=E00&ErrInfo=E00000002")
		return
	}
	b, _ := io.ReadAll(r.Body)
	p, err := decodeForm(string(b))
	if err != nil {
		f.t.Errorf("fake: undecodable body %q: %v", b, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fakeCall{name: name, params: p, raw: string(b)})
	if q := f.script[name]; len(q) > 0 {
		f.script[name] = q[1:]
		if q[0] == "HTTP500" {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		f.write(w, q[0])
		return
	}
	if name != callExecTran && name != callSecureTran2 && (p["ShopID"] != "tshop0001" || p["ShopPass"] != f.shopPass) {
		f.write(w, "ErrCode=E01&ErrInfo=E01030002")
		return
	}
	f.write(w, f.handle(name, p))
}

func (f *fakeGMO) settle(o *fakeOrder) string {
	f.seq++
	o.status = o.job
	o.tranID = fmt.Sprintf("%028d", f.seq)
	date := f.now.In(jst).Format("20060102150405")
	o.processDate = date
	fw, approve := "2a99662", "6416276"
	sum := md5.Sum([]byte(o.id + fw + "1" + "" + approve + o.tranID + date + f.shopPass))
	check := hex.EncodeToString(sum[:])
	if f.badCheck {
		check = strings.Repeat("0", 32)
	}
	return fmt.Sprintf("OrderID=%s&Forward=%s&Method=1&PayTimes=&Approve=%s&TranID=%s&TranDate=%s&CheckString=%s",
		o.id, fw, approve, o.tranID, date, check)
}

func (f *fakeGMO) handle(name string, p map[string]string) string {
	access := func() (*fakeOrder, string) {
		o := f.byAccess[p["AccessID"]]
		if o == nil || o.accessPass != p["AccessPass"] {
			return nil, "ErrCode=E01&ErrInfo=E01110002"
		}
		return o, ""
	}
	switch name {
	case callEntryTran:
		if f.orders[p["OrderID"]] != nil {
			return "ErrCode=E01&ErrInfo=E01040010"
		}
		amount, _ := strconv.ParseInt(p["Amount"], 10, 64)
		f.seq++
		o := &fakeOrder{id: p["OrderID"], job: p["JobCd"], status: statusEntry, amount: amount,
			accessID: fmt.Sprintf("%032x", f.seq), accessPass: fmt.Sprintf("%032x", f.seq+1000)}
		f.orders[o.id], f.byAccess[o.accessID] = o, o
		return "AccessID=" + o.accessID + "&AccessPass=" + o.accessPass
	case callExecTran:
		o, e := access()
		if e != "" {
			return e
		}
		if o.status != statusEntry {
			return "ErrCode=E11&ErrInfo=E11010001"
		}
		switch p["Token"] {
		case "tok_success":
			return "ACS=0&" + f.settle(o)
		case "tok_3ds", "tok_3ds_reject":
			o.status, o.rejectTds = statusTds, p["Token"] == "tok_3ds_reject"
			return "ACS=2&RedirectUrl=https://acs.example/tds2/challenge?transId=abc+1%2F&t=def=="
		case "tok_decline_g02":
			return "ErrCode=G02&ErrInfo=42G020000"
		case "tok_decline_g12":
			return "ErrCode=G12&ErrInfo=42G120000"
		case "tok_used":
			return "ErrCode=EX1&ErrInfo=EX1000302"
		}
		return "ErrCode=E01&ErrInfo=E01010001"
	case callSecureTran2:
		o, e := access()
		if e != "" {
			return e
		}
		if o.status != statusTds {
			return "ErrCode=E11&ErrInfo=E11010001"
		}
		if o.rejectTds {
			o.status = statusEntry
			return "ErrCode=E21&ErrInfo=E21030007"
		}
		return f.settle(o)
	case callAlterTran:
		o, e := access()
		if e != "" {
			return e
		}
		switch p["JobCd"] {
		case jobSales:
			if o.status != jobAuth {
				return "ErrCode=E11&ErrInfo=E11010003"
			}
			if strconv.FormatInt(o.amount, 10) != p["Amount"] {
				return "ErrCode=E01&ErrInfo=E01060010"
			}
			o.status = jobSales
		case jobVoid:
			if !strings.HasPrefix(o.processDate, f.now.In(jst).Format("20060102")) {
				return "ErrCode=E11&ErrInfo=E11010003"
			}
			o.status = jobVoid
		case jobReturn, jobReturnX:
			o.status = p["JobCd"]
		default:
			return "ErrCode=E01&ErrInfo=E01050002"
		}
		return "AccessID=" + o.accessID + "&AccessPass=" + o.accessPass + "&Forward=2a99662&Approve=1&TranID=1&TranDate=20261128120000"
	case callChangeTran:
		o, e := access()
		if e != "" {
			return e
		}
		o.amount, _ = strconv.ParseInt(p["Amount"], 10, 64)
		o.status = p["JobCd"] // the resulting kind: a refunded SALES order becomes CAPTURE
		return "AccessID=" + o.accessID + "&AccessPass=" + o.accessPass + "&Forward=2a99662&Approve=1&TranID=2&TranDate=20261128120000"
	case callSearchTrade:
		o := f.orders[p["OrderID"]]
		if o == nil {
			return "ErrCode=E01&ErrInfo=E01110002"
		}
		return fmt.Sprintf("OrderID=%s&Status=%s&ProcessDate=%s&JobCd=%s&AccessID=%s&AccessPass=%s&ItemCode=0000990&Amount=%d&Tax=0&SiteID=&MemberID=&CardNo=************1111&Expire=2712&Method=1&PayTimes=&Forward=2a99662&TranID=%s&Approve=1&ClientField1=&ClientField2=&ClientField3=",
			o.id, o.status, o.processDate, o.job, o.accessID, o.accessPass, o.amount, o.tranID)
	}
	return "ErrCode=E00&ErrInfo=E00000001"
}
