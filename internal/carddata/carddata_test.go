package carddata

import (
	"encoding/json"
	"fmt"
	mrand "math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// Test card numbers (brands' published test PANs).
const (
	visa     = "4111111111111111"
	visa13   = "4222222222222"
	visa19   = "4111111111111111110" // 19 digits, Luhn-valid
	master   = "5555555555554444"
	master2  = "2223003122003222"
	amex     = "378282246310005"
	jcb      = "3530111333300000"
	diners   = "36259600000004"
	discover = "6011111111111117"
	unionpay = "6200000000000005"
)

// scripts are decimal digit sets of other scripts, by their zero.
var scripts = map[string]rune{
	"full-width": 0xFF10, "Arabic-Indic": 0x0660, "Extended Arabic-Indic": 0x06F0, "Devanagari": 0x0966,
	"Bengali": 0x09E6, "Thai": 0x0E50, "Myanmar": 0x1040, "Mathematical bold": 0x1D7CE,
}

// inScript writes the ASCII digits of s in the script whose zero is zero.
func inScript(s string, zero rune) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return zero + r - '0'
		}
		return r
	}, s)
}

// group writes digits in groups of the given sizes (the last takes the rest) joined by sep.
func group(digits, sep string, sizes ...int) string {
	var parts []string
	for _, n := range sizes {
		if n >= len(digits) {
			break
		}
		parts = append(parts, digits[:n])
		digits = digits[n:]
	}
	return strings.Join(append(parts, digits), sep)
}

// The attacks of the security review (issue 15), and what a careless store or an input
// method sends: each must be found.
func TestContainsCardNumber(t *testing.T) {
	found := []string{
		visa, "4111 1111 1111 1111", "4111-1111-1111-1111", master, master2, amex, jcb, diners, discover, unionpay,
		"pay with 4242424242424242 please", `"4012888888881881"`, "card4111111111111111", "4111111111111111x",
		// Separators the review used, and runs of them.
		"4111.1111.1111.1111", "4111  1111  1111  1111", "4111/1111/1111/1111", "4111_1111_1111_1111",
		"4111\t1111\t1111\t1111", "4111\u00a01111\u00a01111\u00a01111", "4111--1111-1111-1111", "4111 - 1111 - 1111 - 1111",
		"4111\n1111\n1111\n1111", "4111 . 1111 / 1111 _ 1111",
		// What an IME or a word processor puts between groups.
		"4111\u30001111\u30001111\u30001111", "4111ー1111ー1111ー1111", "4111・1111・1111・1111", "4111–1111—1111−1111",
		"4111\u200b1111\u200b1111\u200b1111", "4111\u00ad1111\u00ad1111\u00ad1111", "4111\u202f1111\u202f1111\u202f1111",
		"4\u03321\u03321\u03321\u0332111111111111", "4111，1111，1111，1111", "4111．1111．1111．1111",
		// Digits of other scripts.
		"４１１１１１１１１１１１１１１１", "４１１１　１１１１　１１１１　１１１１", "٤١١١١١١١١١١١١١١١", "४१११११११११११११११",
		"๔๑๑๑๑๑๑๑๑๑๑๑๑๑๑๑", "۴۱۱۱-۱۱۱۱-۱۱۱۱-۱۱۱۱", "4111 ١١١١ ११११ １１１１",
		// Other groupings: Amex 4-6-5, Diners 4-6-4, 19 digits grouped, one digit at a time.
		group(amex, " ", 4, 6), group(diners, " ", 4, 6), group(visa19, " ", 4, 4, 4, 4), group(visa19, " ", 6),
		group(visa, " ", 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1), group(visa, "", 16),
		// Zero padding keeps the Luhn sum.
		"04111111111111111", "0000" + visa, "0000 4111 1111 1111 1111", "000000000000000000000" + visa,
		// Beside an identifier, or in a UUID-looking value that is not a UUID.
		"7d9132d9-8fe0-4d32-8130-32246785fa50 4111111111111111", "4111-1111-1111-1111-7d9132d98fe0",
		"pay_01JD0000000000000000000000/4111111111111111",
		// In JSON text, a URL, a query.
		`{"a":[4111,1111,1111,1111]}`, "https://shop.example/pay?pan=4111111111111111&x=1", "4111111111111111.5",
		"5555555555554444 is not 4111 1111",
	}
	for _, s := range found {
		if !ContainsCardNumber(s) {
			t.Errorf("missed %q", s)
		}
	}
	notFound := []string{
		"", "4111111111111112", "411111111111111", // bad Luhn, too short
		"900081818800000000",      // PayPay barcode: not a card industry's prefix
		"391000000000000000",      // LINE Pay My Code fixture
		"7000000000000000",        // nanaco
		"1606180000000000000",     // 19 digits starting 1 (an Idempotency-Key from date +%s%N)
		"2000000000000000006",     // date +%s%N once Unix time starts with 2 (2033), Luhn-valid
		"2221000000000000000",     // 19 digits in Mastercard's 2-series, which is 16 digits
		"41111111111111111111111", // 23 digits: not a card number
		"4111111111111111110",     // 19 digits unseparated: an identifier, whatever the prefix
		"2021121600698709519",     // a LINE Pay transactionId
		"14111111111111111",       // a PAN inside a longer run of digits is not looked for
		"41111111111111110",       //   … nor followed by more digits
		"pay_01JD0000000000000000000000", "12:34", "2026-11-28T12:00:00Z", "2026-11-28 12:34:56.789123",
		"090-1234-5678", "+81 3 1234 5678", "〒100-0001", "203.0.113.45", "1,234,567 JPY",
		visa13, "4901234567894", "4512345678901", // 13 digits: no longer a Visa length; JAN codes
		"03-4123-4569, 03-0003-5678", // phone numbers: a group starting with 0 starts no card number
		"04111 1111 1111 1111",       //   … nor does a PAN hidden behind one
		// Identifiers, the review's UUIDs among them.
		"7d9132d9-8fe0-4d32-8130-32246785fa50", "801e6198-9411-4040-8141-67ca0f7b57bf",
		"65796013-7850-4209-8a01-6a2b48cefff2", "7D9132D9-8FE0-4D32-8130-32246785FA50",
		"{7d9132d9-8fe0-4d32-8130-32246785fa50}", "urn:uuid:7d9132d9-8fe0-4d32-8130-32246785fa50",
		"order-7d9132d9-8fe0-4d32-8130-32246785fa50", "7d9132d98fe04d32813032246785fa50",
		"tok_6d297ef74df20905f8d2fc55ec7af3960981299722f0620e", "c342755681979775c2471a2f",
		"01JD5Y7R3M2K8T4V6W9X0Z1AB4", "re_01JD5Y7R3M2K8T4V6W9X0Z1AB4",
		// Masked card numbers and last four digits are not card numbers.
		"4111 11** **** 1111", "************1111", "411111******1111",
	}
	for _, s := range notFound {
		if ContainsCardNumber(s) {
			t.Errorf("flagged %q", s)
		}
	}
}

// Every brand's numbers, at every length it issues and at the edges of its prefix range,
// grouped and separated in every way a person or an input method does it and written in
// other scripts, are found as text, as a JSON value and as a JSON key; and the numbers of
// a length a brand does not issue are not.
func TestEveryBrandLengthAndFormIsFound(t *testing.T) {
	r := mrand.New(mrand.NewPCG(1, 2))
	type brand struct {
		prefixes []string
		lengths  []int
	}
	brands := map[string]brand{
		"visa":       {[]string{"4"}, []int{16, 18, 19}},
		"mastercard": {[]string{"51", "55", "2221", "2720"}, []int{16}},
		"amex":       {[]string{"34", "37"}, []int{15}},
		"jcb":        {[]string{"3528", "3589"}, []int{16, 17, 18, 19}},
		"diners":     {[]string{"300", "305", "36", "38"}, []int{14, 15, 16, 17, 18, 19}},
		"discover":   {[]string{"6011", "644", "649", "65"}, []int{16, 17, 18, 19}},
		"unionpay":   {[]string{"62"}, []int{16, 17, 18, 19}},
	}
	seps := []string{" ", "  ", "-", ".", "/", "_", "\t", "\u00a0", "\u3000", "ー", "\u200b", " - ", "\n"}
	for name, b := range brands {
		for _, prefix := range b.prefixes {
			for n := 13; n <= 19; n++ {
				pan := luhnNumber(r, prefix, n)
				issued := false
				for _, l := range b.lengths {
					issued = issued || l == n
				}
				if !issued {
					if ContainsCardNumber(pan) || ContainsCardNumber(group(pan, " ", 5, 5, 5)) && !anySubWindowIsCard(pan, 5, 5, 5) {
						t.Errorf("%s %s: %d digits is not a length the brand issues", name, pan, n)
					}
					continue
				}
				forms := []string{group(pan, " ", 4, 4, 4, 4), group(pan, " ", 4, 6), group(pan, " ", 6), group(pan, "-", 8)}
				if n <= 18 {
					forms = append(forms, pan) // unseparated: only up to 18 digits
				}
				for _, sep := range seps {
					forms = append(forms, group(pan, sep, 4, 4, 4, 4))
				}
				for _, f := range forms {
					for script, zero := range scripts {
						s := inScript(f, zero)
						if !ContainsCardNumber(s) {
							t.Errorf("%s: missed %q (%s)", name, s, script)
						}
					}
					if !ContainsCardNumber(f) {
						t.Errorf("%s: missed %q", name, f)
					}
					body, _ := json.Marshal(map[string]any{"metadata": map[string]string{"note": "x " + f + " y", f: "k"}})
					if _, found := ScanJSON(body, nil); !found {
						t.Errorf("%s: missed %s", name, body)
					}
				}
				if n == 19 && ContainsCardNumber(pan) {
					t.Errorf("%s: unseparated 19 digits %s read as a card number (the policy says identifier)", name, pan)
				}
			}
		}
	}
}

// anySubWindowIsCard: some run of whole groups of pan, cut by sizes, shorter than pan, is
// a card number (and makes the grouped form one).
func anySubWindowIsCard(pan string, sizes ...int) bool {
	groups := strings.Split(group(pan, " ", sizes...), " ")
	for i := range groups {
		for j := i + 1; j <= len(groups); j++ {
			w := strings.Join(groups[i:j], "")
			if len(w) < len(pan) && w[0] != '0' && isCardNumber([]byte(w)) {
				return true
			}
		}
	}
	return false
}

// luhnNumber is a random n-digit number starting with prefix whose Luhn check digit is
// right.
func luhnNumber(r *mrand.Rand, prefix string, n int) string {
	b := []byte(prefix)
	for len(b) < n-1 {
		b = append(b, byte('0'+r.IntN(10)))
	}
	for c := byte('0'); c <= '9'; c++ {
		if luhn(append(b, c)) {
			return string(append(b, c))
		}
	}
	panic("no check digit")
}

// digitValue reads every decimal digit of Unicode: each range of unicode.Nd is made of
// whole runs of ten starting at a zero, and the digits NFKC maps to ASCII agree.
func TestDigitValueTable(t *testing.T) {
	count := 0
	check := func(lo, hi, stride uint32) {
		if stride != 1 || (hi-lo+1)%10 != 0 {
			t.Errorf("unicode.Nd range %U–%U (stride %d) is not whole runs of ten", lo, hi, stride)
		}
		for r := rune(lo); r <= rune(hi); r++ {
			count++
			d, ok := digitValue(r)
			if !ok || d != byte((r-rune(lo))%10) {
				t.Errorf("digitValue(%U) = %d, %v", r, d, ok)
			}
			if n := norm.NFKC.String(string(r)); len(n) == 1 && n[0] >= '0' && n[0] <= '9' && n[0]-'0' != d {
				t.Errorf("%U: NFKC says %s, digitValue %d", r, n, d)
			}
		}
	}
	for _, rg := range unicode.Nd.R16 {
		check(uint32(rg.Lo), uint32(rg.Hi), uint32(rg.Stride))
	}
	for _, rg := range unicode.Nd.R32 {
		check(rg.Lo, rg.Hi, rg.Stride)
	}
	if count < 600 {
		t.Fatalf("only %d decimal digits", count)
	}
	for _, r := range []rune{'x', '①', 'Ⅳ', '½', '٫'} {
		if _, ok := digitValue(r); ok {
			t.Errorf("%q read as a decimal digit", r)
		}
	}
}

func TestKeyNamesCardData(t *testing.T) {
	cases := map[string]string{
		// The review's keys.
		"card-num": "card_number", "ccnum": "card_number", "card": "card_number", "cv2": "security_code",
		"sec_code": "security_code", "card_cvv2": "security_code",
		// Whole names, segments, camel case, capitals, full-width, Japanese.
		"cvc": "security_code", "CVV": "security_code", "security_code": "security_code", "securityCode": "security_code",
		"card_number": "card_number", "cardNumber": "card_number", "CardNumber": "card_number", "CCNumber": "card_number",
		"credit_card_number": "card_number", "customer.card.number": "card_number", "card number": "card_number",
		"billing_card_no": "card_number", "payment.cardNum": "card_number", "track_2": "card_number", "track1": "card_number",
		"pan": "card_number", "PAN": "card_number", "card_pan": "card_number", "pan_number": "card_number",
		"pin": "security_code", "pin_code": "security_code", "cardPin": "security_code", "user_PIN": "security_code",
		"cvv737": "security_code", "x_cvc_2": "security_code", "cardVerificationValue": "security_code",
		"ｃｖｖ": "security_code", "ＣａｒｄＮｕｍｂｅｒ": "card_number", "カード番号": "card_number",
		"クレジットカード番号": "card_number", "セキュリティコード": "security_code", "ｶｰﾄﾞ番号": "card_number",
		"card_number_4111": "card_number", "cid": "security_code", "Card": "card_number",
		// Not card data.
		"card_token": "", "cardToken": "", "card_brand": "", "card_last4": "", "card_expiry": "", "card_id": "",
		"shipping": "", "spinner": "", "opinion": "", "japan": "", "melon_pan": "", "panel": "", "company": "",
		"customer_cid": "", "discount_code": "", "code": "", "order_id": "", "number": "", "account_id": "",
		"card_number_last4": "", "cardNumberMasked": "", "card_no_hash": "", "card_number_token": "",
		"point_card_number": "", "nanaco_card_no": "", "memberCardNumber": "", "gift_card_number": "",
		"bank_account_number": "", "tracking_number": "", "track_id": "", "cv": "", "metadata": "", "note": "",
	}
	for key, want := range cases {
		if got := KeyNamesCardData(key); got != want {
			t.Errorf("KeyNamesCardData(%q) = %q, want %q (segments %q)", key, got, want, keySegments(key))
		}
	}
}

func TestScanJSON(t *testing.T) {
	lineKey := "391000000000000000" // LINE Pay My Code fixture
	exempt := func(pointer, v string) bool {
		return pointer == "/barcode" && strings.HasPrefix(v, "39") && len(v) == 18
	}
	cases := []struct {
		body string
		want Finding // What "" = not found
	}{
		{`{"amount":1200,"card_token":"tok_abc12345"}`, Finding{}},
		{`{"amount":1200,"metadata":{"note":"4111 1111 1111 1111"}}`, Finding{Pointer: "/metadata/note", What: "card_number"}},
		{`{"amount":4111111111111111}`, Finding{Pointer: "/amount", What: "card_number"}},
		{`{"amount":4.111111111111111e15}`, Finding{Pointer: "/amount", What: "card_number"}},
		{`{"amount":4111111111111111.0}`, Finding{Pointer: "/amount", What: "card_number"}},
		{`{"amount":1e999999999}`, Finding{}},
		{`{"a":[{"b":"x"},{"c":"5555555555554444"}]}`, Finding{Pointer: "/a/1/c", What: "card_number"}},
		{`{"a":"\u0034\u0031\u0031\u0031 1111 1111 1111"}`, Finding{Pointer: "/a", What: "card_number"}},
		{`{"a":"\uff14\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11"}`, Finding{Pointer: "/a", What: "card_number"}},
		// Keys: the pointer names the object and the member's position, never the key.
		{`{"security_code":"123"}`, Finding{Member: 1, Key: true, What: "security_code"}},
		{`{"metadata":{"a":"b","CVV":"123"}}`, Finding{Pointer: "/metadata", Member: 2, Key: true, What: "security_code"}},
		{`{"card-number":""}`, Finding{Member: 1, Key: true, What: "card_number"}},
		{`{"4111111111111111":"key"}`, Finding{Member: 1, Key: true, What: "card_number"}},
		{`{"amount":1,"metadata":{"x":"1","4111.1111.1111.1111":"x"}}`, Finding{Pointer: "/metadata", Member: 2, Key: true, What: "card_number"}},
		{`{"metadata":{"４１１１１１１１１１１１１１１１":"x"}}`, Finding{Pointer: "/metadata", Member: 1, Key: true, What: "card_number"}},
		{`{"metadata":{"cvv737":"x"}}`, Finding{Pointer: "/metadata", Member: 1, Key: true, What: "security_code"}},
		// A key that is not a plain name is not repeated on the way to a value.
		{`{"metadata":{"ref 4111 1111":"4111 1111 1111 1111"}}`, Finding{Pointer: "/metadata", Member: 1, What: "card_number"}},
		{`{"x":{"a b":{"c":[{"d":"4111111111111111"}]}}}`, Finding{Pointer: "/x", Member: 1, What: "card_number"}},
		{`{"x":{"a b":{"cvv":1}}}`, Finding{Pointer: "/x", Member: 1, What: "security_code"}},
		{`{"note12345":"4111111111111111"}`, Finding{Member: 1, What: "card_number"}},
		{`{"line2":"4111111111111111"}`, Finding{Pointer: "/line2", What: "card_number"}},
		// Duplicate keys: the first value is scanned too.
		{`{"note":"4111 1111 1111 1111","note":"x"}`, Finding{Pointer: "/note", What: "card_number"}},
		// Not JSON, or data after the value: the whole body as text.
		{`not json 4111111111111111`, Finding{What: "card_number"}},
		{`{"a":1} 4111111111111111`, Finding{What: "card_number"}},
		{`{"a":"4111 1111 1111 1111`, Finding{What: "card_number"}},
		{`{"barcode":"` + lineKey + `"}`, Finding{}},
		{`{"order_id":"` + lineKey + `"}`, Finding{}},
		{`{"order_id":"7d9132d9-8fe0-4d32-8130-32246785fa50","metadata":{"ts":"1732752000123456789"}}`, Finding{}},
		{`[]`, Finding{}}, {`{}`, Finding{}}, {``, Finding{}}, {`"4111111111111111"`, Finding{What: "card_number"}},
	}
	for _, c := range cases {
		f, found := ScanJSON([]byte(c.body), exempt)
		if found != (c.want.What != "") || f != c.want {
			t.Errorf("ScanJSON(%s) = %+v, %v; want %+v", c.body, f, found, c.want)
		}
	}
}

// Exempt is asked about a value at its exact pointer only, and a value it exempts elsewhere
// is still card data.
func TestScanJSONExempt(t *testing.T) {
	var asked []string
	exempt := func(pointer, v string) bool {
		asked = append(asked, pointer)
		return pointer == "/barcode"
	}
	for body, want := range map[string]bool{
		`{"barcode":"4111111111111111"}`:                           false,
		`{"x":{"barcode":"4111111111111111"}}`:                     true,
		`{"barcode":"x","order_id":"4111111111111111"}`:            true,
		`{"a b c 12345":{"barcode":"4111111111111111"}}`:           true, // not an exact pointer: not asked
		`{"barcode":"4111111111111111","cvv":"737"}`:               true,
		`{"barcode":"4111111111111111","metadata":{}}`:             false,
		`{"barcode":["4111111111111111"]}`:                         true,
		`[{"barcode":"4111111111111111"}]`:                         true,
		`{"barcode":"4111111111111111","barcode2":"1"}`:            false,
		`{"barcode":"4111111111111111","x":[[[["a"]]]]}`:           false,
		`{"barcode":"4111111111111111","y":"4111-1111"}`:           false,
		`{"barcode":"4111111111111111","z":"5555 5555 5555 4444"}`: true,
	} {
		asked = asked[:0]
		if _, found := ScanJSON([]byte(body), exempt); found != want {
			t.Errorf("ScanJSON(%s) found %v, want %v (exempt asked about %q)", body, found, want, asked)
		}
		for _, p := range asked {
			if p != "/barcode" && p != "/x/barcode" && p != "/order_id" && p != "/barcode/0" && p != "/0/barcode" && p != "/z" {
				t.Errorf("ScanJSON(%s) asked exempt about %q", body, p)
			}
		}
	}
}

// pointerIsSafe: every segment of a finding's pointer is an array index or a plain key.
func pointerIsSafe(p string) bool {
	if p == "" {
		return true
	}
	if !strings.HasPrefix(p, "/") {
		return false
	}
	for _, seg := range strings.Split(p[1:], "/") {
		if _, err := strconv.Atoi(seg); err != nil && !plainKey(seg) {
			return false
		}
	}
	return true
}

func FuzzScanJSON(f *testing.F) {
	for _, s := range []string{`{"a":"4111 1111 1111 1111"}`, `{"cvc":1}`, `[1,2,{"x":null}]`, "4111-1111", `{"a":` + strings.Repeat("[", 100),
		`{"metadata":{"4111111111111111":"x"}}`, `{"metadata":{"note":"４１１１１１１１１１１１１１１１"}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		f, found := ScanJSON(body, nil)
		if !found && f != (Finding{}) {
			t.Fatalf("finding %+v without found", f)
		}
		if found && (f.What != "card_number" && f.What != "security_code" || f.Member < 0 || f.Key && f.Member == 0) {
			t.Fatalf("finding %+v", f)
		}
		// The pointer holds nothing of the keys sent but plain names (at most four digits).
		if !pointerIsSafe(f.Pointer) {
			t.Fatalf("pointer %q repeats key text", f.Pointer)
		}
		if ContainsCardNumber(f.Pointer) {
			t.Fatalf("pointer %q holds a card number", f.Pointer)
		}
		if ContainsCardNumber(string(body)) && !found {
			// Text with a card number is always found, JSON or not (keys, values or rest);
			// only JSON syntax inside a number (a quote or a bracket between its groups) or
			// an escape sequence can hide it from the text scan.
			if !strings.ContainsAny(string(body), `\"[]{}`) {
				t.Fatalf("card number in %q not found", body)
			}
		}
		// What is found in a string value is found in the same text with Unicode digits.
		var s string
		if json.Unmarshal(body, &s) == nil && ContainsCardNumber(s) {
			for _, zero := range scripts {
				if !ContainsCardNumber(inScript(s, zero)) {
					t.Fatalf("%q found in ASCII, not as %q", s, inScript(s, zero))
				}
			}
		}
	})
}

// FuzzCardNumberForms: a card number of any brand, grouped any way, with any run of
// separators and in any script, in any text around it that ends at a non-digit, is found.
func FuzzCardNumberForms(f *testing.F) {
	f.Add(uint64(4111111111111111), uint8(0), uint8(0), uint8(0), uint8(0), "note: ", " thanks")
	f.Add(uint64(5555555555554444), uint8(1), uint8(3), uint8(2), uint8(1), "", "")
	f.Add(uint64(378282246310005), uint8(2), uint8(5), uint8(4), uint8(3), "x", "y")
	f.Add(uint64(3530111333300000), uint8(3), uint8(7), uint8(6), uint8(5), "{", "}")
	f.Add(uint64(6212345678901234567), uint8(6), uint8(9), uint8(1), uint8(2), "ref ", "")
	prefixes := []string{"4", "51", "2221", "34", "3528", "36", "300", "6011", "644", "65", "62", "2720", "55", "38", "37"}
	seps := []string{" ", "  ", "-", ".", "/", "_", "\t", "\u00a0", "\u3000", "ー", "\u200b", " - ", "\n", "・", ", ", "\u00ad"}
	zeros := []rune{'0', 0xFF10, 0x0660, 0x06F0, 0x0966, 0x09E6, 0x0E50, 0x1D7CE}
	f.Fuzz(func(t *testing.T, seed uint64, brand, sep, grouping, script uint8, before, after string) {
		r := mrand.New(mrand.NewPCG(seed, 0))
		prefix := prefixes[int(brand)%len(prefixes)]
		lengths := map[byte][]int{'4': {16, 18, 19}, '5': {16}, '2': {16}}[prefix[0]]
		switch {
		case prefix == "34" || prefix == "37":
			lengths = []int{15}
		case lengths == nil:
			lengths = []int{16, 17, 18, 19}
		}
		pan := luhnNumber(r, prefix, lengths[r.IntN(len(lengths))])
		var s string
		switch grouping % 5 {
		case 0:
			s = group(pan, seps[int(sep)%len(seps)], 4, 4, 4, 4)
		case 1:
			s = group(pan, seps[int(sep)%len(seps)], 4, 6)
		case 2:
			s = group(pan, seps[int(sep)%len(seps)], 1+r.IntN(8), 1+r.IntN(8), 1+r.IntN(8))
		case 3:
			s = group(pan, seps[int(sep)%len(seps)], 6)
		default:
			if len(pan) == 19 {
				s = group(pan, seps[int(sep)%len(seps)], 10)
			} else {
				s = pan
			}
		}
		s = inScript(s, zeros[int(script)%len(zeros)])
		// The text around ends, where it touches the number, at a character that is not a
		// letter, a digit or a separator (which could join it to the number or to an
		// identifier's shape).
		if endsInDigitOrSeparator(before, false) || endsInDigitOrSeparator(after, true) {
			return
		}
		text := before + s + after
		if !ContainsCardNumber(text) {
			t.Fatalf("missed %s in %q", pan, text)
		}
		body, _ := json.Marshal(map[string]any{"metadata": map[string]string{"note": text}})
		if _, found := ScanJSON(body, nil); !found {
			t.Fatalf("missed %s in %s", pan, body)
		}
		body, _ = json.Marshal(map[string]any{"metadata": map[string]string{text: "x"}})
		if f, found := ScanJSON(body, nil); !found || f.Pointer != "/metadata" || !f.Key || ContainsCardNumber(fmt.Sprint(f)) {
			t.Fatalf("key %q: %+v, %v", text, f, found)
		}
	})
}

// endsInDigitOrSeparator: the end of s that touches the number (its last character when
// before it, its first after) is a digit, a separator or a letter or digit that NFKC could
// join with the number; or s is not valid UTF-8 and so not text a JSON body carries.
func endsInDigitOrSeparator(s string, first bool) bool {
	if s == "" {
		return false
	}
	sk := skeleton(s)
	if len(sk) == 0 || norm.NFKC.String(s) != s || !utf8Valid(s) {
		return true
	}
	c := sk[len(sk)-1]
	if first {
		c = sk[0]
	}
	return isAlnum(c) || c == skSeparator || c == '-'
}

func utf8Valid(s string) bool { return strings.ToValidUTF8(s, "\uFFFD") == s }

// FuzzIdentifiersAreNotCardData: the identifier shapes payhub promises never to refuse,
// made from any bytes, on their own and beside text that ends at a non-alphanumeric.
func FuzzIdentifiersAreNotCardData(f *testing.F) {
	f.Add([]byte("\x7d\x91\x32\xd9\x8f\xe0\x4d\x32\x81\x30\x32\x24\x67\x85\xfa\x50"), uint8(0))
	f.Add([]byte("\x80\x1e\x61\x98\x94\x11\x40\x40\x81\x41\x67\xca\x0f\x7b\x57\xbf"), uint8(1))
	f.Add([]byte("\x65\x79\x60\x13\x78\x50\x42\x09\x8a\x01\x6a\x2b\x48\xce\xff\xf2"), uint8(2))
	f.Add([]byte("\x41\x11\x11\x11\x11\x11\x11\x11\x11\x11\x11\x11\x11\x11\x11\x11"), uint8(3))
	f.Add([]byte("\x01\x02\x03\x04\x05\x06\x07\x08\x09\x10\x11\x12\x13\x14\x15\x16"), uint8(4))
	f.Fuzz(func(t *testing.T, b []byte, kind uint8) {
		if len(b) < 24 {
			b = append(b, make([]byte, 24-len(b))...)
		}
		var ids []string
		h := fmt.Sprintf("%x", b[:16])
		ids = append(ids, h[:8]+"-"+h[8:12]+"-"+h[12:16]+"-"+h[16:20]+"-"+h[20:32], strings.ToUpper(h[:8]+"-"+h[8:12]+"-"+h[12:16]+"-"+h[16:20]+"-"+h[20:32]))
		const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
		u := make([]byte, 26)
		for i := range u {
			u[i] = crockford[int(b[i%len(b)]+byte(i*7))%32]
		}
		u[0] = crockford[int(b[0])%8]
		if strings.Trim(string(u), "0123456789") == "" {
			u[25] = 'Z' // a ULID has a letter (a run of digits is read as digits)
		}
		ids = append(ids, string(u), "pay_"+string(u), "evt_"+strings.ToLower(string(u)))
		n := uint64(0)
		for _, c := range b[:8] {
			n = n<<8 | uint64(c)
		}
		ids = append(ids, strconv.FormatUint(1e18+n%9e18, 10)) // 19 digits
		hexTok := fmt.Sprintf("%x", b)
		if len(hexTok) > 48 {
			hexTok = hexTok[:48]
		}
		if strings.Trim(hexTok, "0123456789") == "" {
			hexTok += "f"
		}
		ids = append(ids, "tok_"+hexTok)
		wrap := []string{"%s", "order-%s", "%s/refunds", `{"id":"%s"}`, "ref: %s.", "%s %s"}[int(kind)%6]
		for _, id := range ids {
			text := strings.ReplaceAll(wrap, "%s", id)
			if ContainsCardNumber(text) {
				t.Fatalf("identifier refused: %q", text)
			}
		}
	})
}
