package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"payhub/contracts"
	"payhub/internal/store"
)

// testPAN is Visa's published test card number; testCVC a security code.
const (
	testPAN    = "4111111111111111"
	testPANAlt = "4111 1111 1111 1111"
	testCVC    = "737"
)

// cardProbe is one request carrying card data in one place.
type cardProbe struct {
	name, method, path, idemKey string
	body                        []byte
}

// cardProbes builds, from contracts/openapi.yaml, one request per place a store can put
// data: every property of every request body (a card number as a string, or as a number
// for integers), every query parameter, every path parameter, the Idempotency-Key, and
// security-code fields by name.
func cardProbes(t *testing.T) []cardProbe {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(contracts.OpenAPI)
	if err != nil {
		t.Fatal(err)
	}
	var probes []cardProbe
	paths := doc.Paths.InMatchingOrder()
	sort.Strings(paths)
	for _, path := range paths {
		for method, op := range doc.Paths.Value(path).Operations() {
			base := strings.NewReplacer("{id}", "pay_01JD0000000000000000000000").Replace(path)
			if strings.HasPrefix(path, "/v1/refunds/") || strings.HasPrefix(path, "/v1/events/") || strings.HasPrefix(path, "/v1/webhook-endpoints/") {
				base = strings.NewReplacer("{id}", "x_01JD0000000000000000000000").Replace(path)
			}
			name := method + " " + path
			for _, p := range op.Parameters {
				switch p.Value.In {
				case "query":
					probes = append(probes, cardProbe{name: name + " ?" + p.Value.Name, method: method,
						path: base + "?" + p.Value.Name + "=" + testPAN})
				case "path":
					probes = append(probes, cardProbe{name: name + " {" + p.Value.Name + "}", method: method,
						path: strings.ReplaceAll(path, "{"+p.Value.Name+"}", testPAN)})
				}
			}
			if method == http.MethodPost {
				probes = append(probes, cardProbe{name: name + " Idempotency-Key", method: method, path: base,
					idemKey: testPAN, body: []byte(`{}`)})
			}
			if op.RequestBody == nil {
				continue
			}
			schema := op.RequestBody.Value.Content.Get("application/json").Schema.Value
			props := make([]string, 0, len(schema.Properties))
			for prop := range schema.Properties {
				props = append(props, prop)
			}
			sort.Strings(props)
			for _, prop := range props {
				var v any = testPANAlt
				switch ps := schema.Properties[prop].Value; {
				case ps.Type.Is("integer") || ps.Type.Is("number"):
					v = json.Number(testPAN)
				case ps.Type.Is("object"):
					v = map[string]string{"note": testPANAlt}
				case ps.Type.Is("array"):
					v = []string{testPANAlt}
				}
				body, _ := json.Marshal(map[string]any{prop: v})
				probes = append(probes, cardProbe{name: name + " /" + prop, method: method, path: base, body: body})
			}
			for _, key := range []string{"cvc", "security_code", "card_number"} {
				body, _ := json.Marshal(map[string]any{key: testCVC})
				probes = append(probes, cardProbe{name: name + " /" + key, method: method, path: base, body: body})
			}
			body, _ := json.Marshal(map[string]any{"metadata": map[string]string{"cvv": testCVC}})
			probes = append(probes, cardProbe{name: name + " /metadata/cvv", method: method, path: base, body: body})
		}
	}
	return probes
}

// TestCardDataRefusedEverywhereAndKeptNowhere: a card number or security code anywhere in
// a store request is refused with 422 card_data_not_accepted before anything happens, and
// appears nowhere afterwards: not in the logs, not in the database files, not in an event.
func TestCardDataRefusedEverywhereAndKeptNowhere(t *testing.T) {
	dbPath := filepath.Join(t.TempDir(), "payhub.db")
	st, err := store.Open(context.Background(), "sqlite:"+dbPath)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, st)
	// A payment to hang the payment-scoped probes on, so they meet a real payment.
	paid := e.pay(e.a, barcodePayment(1000, barcodeOK)).json(t)["id"].(string)

	probes := cardProbes(t)
	if len(probes) < 60 {
		t.Fatalf("only %d probes: the contract walk missed operations", len(probes))
	}
	for _, p := range probes {
		path := strings.ReplaceAll(p.path, "pay_01JD0000000000000000000000", paid)
		var body io.Reader
		if p.body != nil {
			body = bytes.NewReader(p.body)
		}
		req, _ := http.NewRequest(p.method, e.url+path, body)
		req.Header.Set("Authorization", "Bearer "+e.token(e.a))
		if p.body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		key := p.idemKey
		if key == "" && p.method == http.MethodPost {
			key = newKey()
		}
		if key != "" {
			req.Header.Set("Idempotency-Key", key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnprocessableEntity || !bytes.Contains(raw, []byte(`"code":"card_data_not_accepted"`)) {
			t.Errorf("%s: %d %s", p.name, resp.StatusCode, raw)
			continue
		}
		checkAgainstContract(t, req, resp.StatusCode, resp.Header, raw)
	}
	// A partner's code that happens to pass the card checks is still the partner's.
	lineCode := luhnCompleted("39100000000000000") // 18 digits, LINE Pay's prefix, Luhn-valid
	r := e.pay(e.a, map[string]any{"amount": 10000, "currency": "TWD", "method": "linepay", "flow": "barcode", "barcode": lineCode})
	if r.status == http.StatusUnprocessableEntity && strings.Contains(string(r.body), "card_data_not_accepted") {
		t.Errorf("a LINE Pay code was taken for a card number: %s", r.body)
	}

	// Nothing of it was kept.
	events, err := st.ListEvents(context.Background(), paid)
	if err != nil {
		t.Fatal(err)
	}
	var evs bytes.Buffer
	for _, ev := range events {
		evs.Write(ev.Payload)
	}
	e.app.Close() // flush SQLite (WAL) to the files
	files, _ := filepath.Glob(dbPath + "*")
	if len(files) == 0 {
		t.Fatal("no database files to scan")
	}
	places := map[string][]byte{"logs": []byte(e.logs.String()), "events": evs.Bytes()}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		places[filepath.Base(f)] = b
	}
	cardish := regexp.MustCompile(`4111[ -]?1111[ -]?1111[ -]?1111|"(cvc|cvv|security_code)"\s*:`)
	for where, b := range places {
		if loc := cardish.FindIndex(b); loc != nil {
			t.Errorf("card data in %s: …%q…", where, b[max(0, loc[0]-40):min(len(b), loc[1]+40)])
		}
	}
	if !strings.Contains(e.logs.String(), "card data refused") {
		t.Error("the refusals were not logged at all (the fact, without the data)")
	}
}

// luhnCompleted appends the Luhn check digit to digits.
func luhnCompleted(digits string) string {
	for c := '0'; c <= '9'; c++ {
		s := digits + string(c)
		sum := 0
		for i := len(s) - 1; i >= 0; i-- {
			n := int(s[i] - '0')
			if (len(s)-1-i)%2 == 1 {
				if n *= 2; n > 9 {
					n -= 9
				}
			}
			sum += n
		}
		if sum%10 == 0 {
			return s
		}
	}
	return digits
}
