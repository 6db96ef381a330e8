// Package carddata finds card data in what store systems send payhub. payhub takes card
// tokens only and must never store, log or pass on a card number or security code
// (docs/partners/gmopg.md §7, docs/security.md §11): a request carrying anything that looks
// like one is refused before any of it is used.
//
// What a card number is here (ContainsCardNumber):
//
//   - Text is first normalised the way a person or an input method may have typed it: NFKC
//     (full-width digits and spaces, as a Japanese IME types them, become ASCII), and every
//     Unicode decimal digit of any script (Arabic-Indic, Devanagari, Thai, …) counts as its
//     digit.
//   - Digits form groups; groups joined by a run of separators (any whitespace, including
//     tab, no-break and ideographic space; hyphens and dashes, the katakana long-vowel mark;
//     . , / \ _ : ; | ' ~ and middle dots; zero-width and other format characters; combining
//     marks) form one number, whatever the run's length. Any other character (a letter, a
//     quote, a bracket) ends a number.
//   - A card number is a run of consecutive whole groups of a number, 13 to 19 digits,
//     whose prefix and length are a card industry's
//     (Visa 4: 16, 18, 19; Mastercard 51–55 and 2221–2720: 16; Amex 34, 37: 15; JCB
//     3528–3589: 16–19; Diners 300–305, 36, 38: 14–19; Discover 6011, 644–649, 65: 16–19;
//     UnionPay 62: 16–19) and whose Luhn check digit is right. Visa's 13-digit numbers are
//     no longer issued and not looked for: a 13-digit number is a JAN/EAN-13 product code
//     (Japan's 45…, 49…) far more often. A group that starts with 0 starts no card number
//     (03-5123-4567 is a phone number), except a lone run of digits (below).
//   - One group on its own — digits with no separator inside — is a card number only with 13
//     to 18 digits once its leading zeros (padding) are dropped. An unseparated run of 19 or more digits is an identifier
//     (nanosecond timestamps such as `date +%s%N`, LINE Pay transaction ids, long order
//     numbers): the card numbers of every length inside it are not looked for, since one
//     in ten random runs holds a Luhn-valid one. So a PAN inside a longer digit run is not
//     found, except behind leading zeros (`04111111111111111`, a field padded to a fixed
//     width: zero padding keeps the Luhn sum); a 19-digit card number is found when it is
//     grouped (`6212 3456 7890 1234 567`).
//   - Identifiers of an exact shape are not read for digits at all, wherever they stand in
//     a value, as long as no other letter or digit touches them: a canonical UUID
//     (8-4-4-4-12 hex digits with hyphens, any version, either case), a ULID (26 Crockford
//     base32 characters, the first 0–7; so payhub's prefixed ids such as `pay_01J…`), and a
//     run of 24 or more hex digits (a UUID without hyphens, a MongoDB ObjectId, a hash, the
//     GMO simulator's `tok_` + 48 hex tokens); the last two need a letter, since a run of
//     digits alone is read as digits. Their digit runs would otherwise read as card numbers
//     about once in a thousand.
//
// A security code, PIN or card number can also be named by a key (KeyNamesCardData): a key
// whose name segments say so is refused whatever its value.
//
// Base64 or hex of a card number, or a card number split across values, is beyond any
// scanner: the README says what a store must not do.
package carddata

// Finding says where card data was found. It never holds the data, nor any key text a
// store sent that could hold some.
type Finding struct {
	// Pointer is a JSON pointer into the body, "" for the whole body (or when the card data
	// is not in a JSON body). It is made only of array indices and plain keys (ASCII
	// letters, digits and _ . -, at most four digits): the place of a member whose key is at
	// fault, or is not plain, is given by Member instead.
	Pointer string
	// Member, when not 0, is the 1-based position of a member of the object at Pointer, in
	// the order it was sent: the card data is in that member's key (Key) or somewhere in its
	// value.
	Member int
	// Key says the card data is the key of member Member itself (its name, or text in it).
	Key bool
	// What is "card_number" or "security_code".
	What string
}

// Exempt reports whether value at pointer is known not to be card data although it looks
// like a card number (a partner's barcode its routing table recognises, say).
type Exempt func(pointer, value string) bool

// ContainsCardNumber reports whether s contains something that looks like a card number,
// read as described in the package documentation.
func ContainsCardNumber(s string) bool {
	sk := skeleton(s)
	maskIdentifiers(sk)
	return scanNumbers(sk)
}
