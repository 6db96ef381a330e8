package carddata

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"flag"
	"fmt"
	mrand "math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
)

// TestFalsePositiveRates' sample size and seed. The README's figures come from
//
//	go test -run '^TestFalsePositiveRates$' -v ./internal/carddata/ -args -carddata.samples=1000000 -carddata.seed=1
var (
	samples = flag.Int("carddata.samples", 0, "values per format in TestFalsePositiveRates (0: 200,000, or 20,000 with -short or -race)")
	seed    = flag.Uint64("carddata.seed", 0, "seed of TestFalsePositiveRates' values (0: a random seed, logged)")
)

// measuredAt is the moment time-based identifiers are drawn around, fixed so that a seed
// reproduces every value.
var measuredAt = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)

// idFormat is one kind of identifier a store puts in an Idempotency-Key, an order_id or
// metadata, and whether payhub promises never to refuse it.
type idFormat struct {
	name  string
	never bool // a documented identifier format: must never be refused
	gen   func(r *mrand.Rand) string
}

func idFormats() []idFormat {
	return []idFormat{
		{"UUID v4", true, func(r *mrand.Rand) string { return uuidString(r, 4) }},
		{"UUID v4, upper case", true, func(r *mrand.Rand) string { return strings.ToUpper(uuidString(r, 4)) }},
		{"UUID v7", true, func(r *mrand.Rand) string { return uuidString(r, 7) }},
		{"order-<UUID v4>", true, func(r *mrand.Rand) string { return "order-" + uuidString(r, 4) }},
		{"UUID without hyphens (32 hex)", true, func(r *mrand.Rand) string { return randomHexString(r, 16) }},
		{"ULID", true, func(r *mrand.Rand) string { return randomULID(r) }},
		{"payhub id (pay_ + ULID)", true, func(r *mrand.Rand) string { return "pay_" + randomULID(r) }},
		{"tok_ + 48 hex (GMO simulator token)", true, func(r *mrand.Rand) string { return "tok_" + randomHexString(r, 24) }},
		{"24 hex (MongoDB ObjectId)", true, func(r *mrand.Rand) string { return randomHexString(r, 12) }},
		{"19-digit number", true, func(r *mrand.Rand) string {
			return strconv.FormatUint(1e18+r.Uint64N(9e18), 10)
		}},
		{"19-digit ns timestamp 2001-2100 (date +%s%N)", true, func(r *mrand.Rand) string {
			return strconv.FormatUint(1e18+r.Uint64N(3.1e18), 10)
		}},
		{"LINE Pay transactionId (yyyymmdd + 11 digits)", true, func(r *mrand.Rand) string {
			return fmt.Sprintf("%04d%02d%02d%011d", 2020+r.IntN(80), 1+r.IntN(12), 1+r.IntN(28), r.Int64N(1e11))
		}},
		{"JAN code (EAN-13, 45/49…)", true, func(r *mrand.Rand) string { return janCode(r) }},
		{"13-digit ms timestamp", true, func(r *mrand.Rand) string { return strconv.FormatInt(measuredAt.UnixMilli()-r.Int64N(3e11), 10) }},
		// Not identifier formats payhub promises anything about, for the record.
		{"26 base32 (crypto/rand.Text)", false, func(r *mrand.Rand) string { return randomBase32(r, 26) }},
		{"12 random letters and digits", false, func(r *mrand.Rand) string { return randomAlnum(r, 12) }},
		{"random 16 digits (card-shaped)", false, func(r *mrand.Rand) string { return fmt.Sprintf("%016d", r.Int64N(1e16)) }},
		{"random 13-18 digits", false, func(r *mrand.Rand) string {
			d := 13 + r.IntN(6)
			return fmt.Sprintf("%0*d", d, r.Int64N(pow10(d)))
		}},
	}
}

// janCode is a Japanese product code: EAN-13 with prefix 45 or 49 and its check digit
// (weights 1 and 3, not Luhn's).
func janCode(r *mrand.Rand) string {
	d := []byte{'4', "59"[r.IntN(2)]}
	for len(d) < 12 {
		d = append(d, byte('0'+r.IntN(10)))
	}
	sum := 0
	for i, c := range d {
		sum += int(c-'0') * (1 + 2*(i%2))
	}
	return string(append(d, byte('0'+(10-sum%10)%10)))
}

// TestFalsePositiveRates measures how often random identifiers of each format are taken for
// card numbers, and fails if one of a format payhub promises never to refuse is.
func TestFalsePositiveRates(t *testing.T) {
	n := *samples
	if n == 0 {
		n = 200_000
		if testing.Short() || raceEnabled {
			n = 20_000
		}
	}
	s := *seed
	if s == 0 {
		s = cryptoSeed()
	}
	// Each value is scanned as text (an Idempotency-Key, X-Request-Id, query or path), and
	// one in bodyEvery also as order_id and a metadata value in a JSON body (ScanJSON reads
	// string values with the same scan, more slowly).
	const bodyEvery = 20
	formats := idFormats()
	type result struct{ text, body, bodyN int }
	results := make([]result, len(formats))
	examples := make([]string, len(formats))
	var wg sync.WaitGroup
	for fi, f := range formats {
		wg.Go(func() {
			r := mrand.New(mrand.NewPCG(s, uint64(fi)))
			res := &results[fi]
			for i := range n {
				v := f.gen(r)
				if ContainsCardNumber(v) {
					res.text++
					examples[fi] = v
				}
				if i%bodyEvery == 0 {
					res.bodyN++
					if _, found := ScanJSON([]byte(`{"order_id":"`+v+`","metadata":{"ref":"`+v+`"}}`), nil); found {
						res.body++
						examples[fi] = v
					}
				}
			}
		})
	}
	wg.Wait()
	t.Logf("seed %d; %d values per format scanned as text, %d of them also in a JSON body", s, n, results[0].bodyN)
	for fi, f := range formats {
		res := results[fi]
		t.Logf("%-46s %7d refused (%.4f%%) as text, %6d (%.4f%%) in a body  %s", f.name,
			res.text, 100*float64(res.text)/float64(n), res.body, 100*float64(res.body)/float64(res.bodyN), examples[fi])
		if f.never && (res.text > 0 || res.body > 0) {
			t.Errorf("%s: refused %d/%d as text and %d/%d in a body, e.g. %s", f.name, res.text, n, res.body, res.bodyN, examples[fi])
		}
	}
}

// uuidString is a random RFC 9562 UUID of version v (4 or 7), lower case.
func uuidString(r *mrand.Rand, v int) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], r.Uint64())
	binary.BigEndian.PutUint64(b[8:], r.Uint64())
	if v == 7 {
		ms := uint64(measuredAt.UnixMilli()) - r.Uint64N(1e12)
		b[0], b[1], b[2], b[3], b[4], b[5] = byte(ms>>40), byte(ms>>32), byte(ms>>24), byte(ms>>16), byte(ms>>8), byte(ms)
	}
	b[6] = b[6]&0x0f | byte(v)<<4
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// randomULID is a ULID of a moment between 2000 and 2100.
func randomULID(r *mrand.Rand) string {
	var entropy [10]byte
	binary.BigEndian.PutUint64(entropy[:8], r.Uint64())
	binary.BigEndian.PutUint16(entropy[8:], uint16(r.Uint32()))
	ms := uint64(946684800000) + r.Uint64N(100*365*24*3600*1000)
	id, err := ulid.New(ms, strings.NewReader(string(entropy[:])))
	if err != nil {
		panic(err)
	}
	return id.String()
}

func randomHexString(r *mrand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return hex.EncodeToString(b)
}

func randomBase32(r *mrand.Rand, n int) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[r.IntN(len(alphabet))]
	}
	return string(b)
}

func randomAlnum(r *mrand.Rand, n int) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[r.IntN(len(alphabet))]
	}
	return string(b)
}

func pow10(n int) int64 {
	p := int64(1)
	for range n {
		p *= 10
	}
	return p
}

// cryptoSeed is an unpredictable seed.
func cryptoSeed() uint64 {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return binary.LittleEndian.Uint64(b[:])
}
