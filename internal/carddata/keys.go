package carddata

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Key names are read in segments: a key is cut at every character that is not a letter or
// a digit, between a lower-case and an upper-case letter (cardNumber), before the last
// capital of a capital run followed by a lower-case letter (CCNumber), and between letters
// and digits (cvv2, track_1), after NFKC (full-width letters) and in lower case. A run of
// consecutive segments, joined, is compared with the words below; so card_cvv2 is read as
// "card", "cvv", "2" and found by "cvv", sec_code by "seccode", card-num by "cardnum", and
// shipping is one segment that is not "pin".

// segmentWords are words that name card data wherever they stand in a key, as one segment
// or several joined.
var segmentWords = naming(map[string][]string{
	"security_code": {"cvv", "cvv2", "cvc", "cvc2", "cv2", "cvn", "cvn2", "cav2", "cvd", "csc", "pin",
		"securitycode", "seccode", "cardsecuritycode", "cardverificationvalue", "cardverificationcode",
		"cardverificationnumber", "セキュリティコード", "セキュリティーコード", "暗証番号"},
	"card_number": {"cardnumber", "cardnum", "cardno", "cardnr", "cardnbr", "cardpan", "ccnum", "ccnumber",
		"ccno", "ccnbr", "ccn", "creditcardnumber", "creditcardnum", "creditcardno", "primaryaccountnumber",
		"track1", "track2", "trackdata", "magstripe", "magneticstripe", "カード番号", "カードナンバー"},
})

// leadingWords name card data only at the start of a key or right after a card word:
// "pan" is also bread (melon_pan).
var leadingWords = naming(map[string][]string{"card_number": {"pan"}})

// cardWords are segments after which a leading word still counts (card_pan, cc_pan).
var cardWords = map[string]bool{"card": true, "cc": true, "credit": true, "debit": true, "primary": true}

// wholeKeys name card data only as the whole key (all segments joined): "card" alone is a
// card, card_token is not; "cid" is a security code, customer_cid is not.
var wholeKeys = naming(map[string][]string{
	"card_number":   {"card", "creditcard", "debitcard", "accountnumber", "track", "カード", "クレジットカード", "クレジットカード番号"},
	"security_code": {"cid", "cardcode"},
})

// maxWordLen is the length of the longest word of segmentWords and leadingWords, in bytes.
var maxWordLen = func() int {
	n := 0
	for _, m := range []map[string]string{segmentWords, leadingWords} {
		for w := range m {
			n = max(n, len(w))
		}
	}
	return n
}()

// naming turns lists of words by what they name into a map from word to what it names.
func naming(lists map[string][]string) map[string]string {
	m := map[string]string{}
	for what, words := range lists {
		for _, w := range words {
			m[w] = what
		}
	}
	return m
}

// notPaymentCard are segments before a card-number word that say the card is not a payment
// card (point_card_number, nanaco_card_no): a store's loyalty and e-money card numbers are
// its own business. Their values are still scanned like any other.
var notPaymentCard = map[string]bool{
	"point": true, "points": true, "loyalty": true, "member": true, "membership": true, "gift": true,
	"reward": true, "rewards": true, "stamp": true, "nanaco": true, "waon": true, "edy": true,
	"suica": true, "pasmo": true, "ponta": true, "tpoint": true, "ic": true, "transit": true,
	"library": true, "employee": true, "staff": true,
}

// derived are segments after a card-number word that say the value is not the number but
// something payhub may hold (card_number_last4, cardNumberMasked, card_no_token).
var derived = map[string]bool{
	"last": true, "first": true, "masked": true, "mask": true, "hash": true, "hashed": true,
	"token": true, "tokenized": true, "ref": true, "reference": true, "id": true, "brand": true,
	"type": true, "bin": true, "iin": true, "length": true, "len": true, "prefix": true, "suffix": true,
}

// KeyNamesCardData reports what a key names, if card data ("" otherwise).
func KeyNamesCardData(key string) string {
	segs := keySegments(key)
	if len(segs) == 0 {
		return ""
	}
	var buf [128]byte
	joined := buf[:0]
	for _, s := range segs {
		joined = append(joined, s...)
	}
	if what := wholeKeys[string(joined)]; what != "" {
		return what
	}
	for i := range segs {
		joined = joined[:0]
		for j := i; j < len(segs) && j < i+5; j++ {
			if joined = append(joined, segs[j]...); len(joined) > maxWordLen {
				break
			}
			what := segmentWords[string(joined)]
			if what == "" && (i == 0 || cardWords[segs[i-1]]) {
				what = leadingWords[string(joined)]
			}
			if what == "" {
				continue
			}
			if what == "card_number" && (i > 0 && notPaymentCard[segs[i-1]] || j+1 < len(segs) && derived[segs[j+1]]) {
				continue
			}
			return what
		}
	}
	return ""
}

// keySegments cuts a key into lower-case segments.
func keySegments(key string) []string {
	ascii := true
	for i := 0; i < len(key); i++ {
		if key[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if !ascii {
		key = norm.NFKC.String(key)
	}
	const (
		none = iota
		lower
		upper
		digit
		otherLetter // kana, kanji: no case
	)
	var segs []string
	start, kind := -1, none // the current segment starts at byte start
	cut := func(end int) {
		if start >= 0 && end > start {
			segs = append(segs, key[start:end])
		}
		start = -1
	}
	for i, r := range key {
		k := none
		switch {
		case r >= 'a' && r <= 'z', r >= utf8.RuneSelf && unicode.IsLower(r):
			k = lower
		case r >= 'A' && r <= 'Z', r >= utf8.RuneSelf && (unicode.IsUpper(r) || unicode.IsTitle(r)):
			k = upper
		case r >= '0' && r <= '9':
			k = digit
		case r >= utf8.RuneSelf && unicode.IsLetter(r):
			k = otherLetter
		case r >= utf8.RuneSelf:
			if _, ok := digitValue(r); ok {
				k = digit
			}
		}
		switch {
		case k == none:
			cut(i)
		case start < 0:
			start = i
		case k == kind:
		case k == lower && kind == upper:
			if prev := lastRuneStart(key[:i]); prev > start { // CCNumber: "CC" | "Number"
				cut(prev)
				start = prev
			}
		default: // aB, letters and digits, kana after latin
			cut(i)
			start = i
		}
		kind = k
	}
	cut(len(key))
	for i, s := range segs {
		segs[i] = foldSegment(s)
	}
	return segs
}

// lastRuneStart is the byte offset of the last rune of s.
func lastRuneStart(s string) int {
	_, size := utf8.DecodeLastRuneInString(s)
	return len(s) - size
}

// foldSegment lower-cases a segment and writes its digits in ASCII.
func foldSegment(s string) string {
	plain := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= utf8.RuneSelf || c >= 'A' && c <= 'Z' {
			plain = false
			break
		}
	}
	if plain {
		return s
	}
	return strings.Map(func(r rune) rune {
		if d, ok := digitValue(r); ok {
			return rune('0' + d)
		}
		return unicode.ToLower(r)
	}, s)
}
