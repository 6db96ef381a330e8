package gmopg

import (
	"strings"

	"payhub/contracts"
)

// class is payhub's reading of a GMO error (docs/partners/gmopg.md §5).
type class int

const (
	// classUnknown: GMO may or may not have acted (E90, E91, C.., 42C…, unrecognised codes).
	classUnknown class = iota
	// classDecline: the issuer declined (G.., 42G…); final.
	classDecline
	// classToken: the MP token is missing, used, expired or invalid (EX10003xx); final.
	classToken
	// classAuth: 3-D Secure failed (E21…); final.
	classAuth
	// classConfig: input or configuration error (E00, E01, E31, E41, E61…); final, nothing
	// happened, operations must look.
	classConfig
	// classState: the transaction's state forbids the call (E11010002/3/10, E01420010); final.
	classState
	// classSettled: already settled / may already be complete (E11010001, E11010999):
	// the earlier call probably went through; confirm with SearchTrade.
	classSettled
	// classDuplicate: the OrderID exists (E01040010); recover it with SearchTrade.
	classDuplicate
	// classRetryable: not processed, try again (E92, E82).
	classRetryable
)

// Error infos payhub branches on.
const (
	infoDuplicateOrder = "E01040010"
	infoNoSuchTrade    = "E01110002"
	infoAmountMismatch = "E01060010"
	infoAuthExpired    = "E01420010"
	infoSettled        = "E11010001"
	infoMaybeComplete  = "E11010999"
	infoNotSettled     = "E11010002"
	infoJobNotAllowed  = "E11010003"
	infoTooOld         = "E11010010"
)

// classifyOne reads one ErrCode/ErrInfo pair by §5's table.
func classifyOne(e gmoError) class {
	info, code := e.Info, e.Code
	switch info {
	case infoSettled, infoMaybeComplete:
		return classSettled
	case infoDuplicateOrder:
		return classDuplicate
	case infoNotSettled, infoJobNotAllowed, infoTooOld, infoAuthExpired:
		return classState
	}
	switch {
	case strings.HasPrefix(info, "E92") || strings.HasPrefix(info, "E82"):
		return classRetryable
	case strings.HasPrefix(info, "E90") || strings.HasPrefix(info, "E91"):
		return classUnknown
	case strings.HasPrefix(info, "42C") || (strings.HasPrefix(code, "C") && len(code) == 3):
		return classUnknown
	case strings.HasPrefix(info, "42G") || (strings.HasPrefix(code, "G") && len(code) == 3 && isDigits(code[1:])):
		return classDecline
	case strings.HasPrefix(info, "EX10003"):
		return classToken
	case strings.HasPrefix(info, "E21"):
		return classAuth
	case len(info) == 9 && (strings.HasPrefix(info, "E00") || strings.HasPrefix(info, "E01") ||
		strings.HasPrefix(info, "E31") || strings.HasPrefix(info, "E41") || strings.HasPrefix(info, "E61")):
		return classConfig
	}
	return classUnknown
}

// classifyAll reads an answer's errors. Any unknown-class entry makes the whole answer
// unknown; otherwise the first entry decides (GMO lists the deciding error first).
func classifyAll(errs []gmoError) class {
	if len(errs) == 0 {
		return classUnknown
	}
	for _, e := range errs {
		if classifyOne(e) == classUnknown {
			return classUnknown
		}
	}
	return classifyOne(errs[0])
}

// hasInfo reports whether errs carries info.
func hasInfo(errs []gmoError, info string) bool {
	for _, e := range errs {
		if e.Info == info {
			return true
		}
	}
	return false
}

// declineCode is the failure code of a decline: G02/G03 insufficient funds or over the
// limit, G83 expired card, anything else card_declined.
func declineCode(errs []gmoError) string {
	for _, e := range errs {
		g := e.Code
		if strings.HasPrefix(e.Info, "42G") && len(e.Info) >= 5 {
			g = "G" + e.Info[3:5]
		}
		switch g {
		case "G02", "G03":
			return contracts.FailureInsufficientFunds
		case "G83":
			return contracts.FailureExpired
		}
	}
	return contracts.FailureCardDeclined
}

// failureOf maps a final error class to payhub's failure code.
func failureOf(c class, errs []gmoError) string {
	switch c {
	case classDecline:
		return declineCode(errs)
	case classToken:
		return contracts.FailureCardTokenInvalid
	case classAuth:
		return contracts.FailureAuthenticationFailed
	case classState:
		if hasInfo(errs, infoAuthExpired) {
			return contracts.FailureExpired
		}
		return contracts.FailurePartnerRejected
	case classRetryable:
		return contracts.FailurePartnerUnavailable
	}
	return contracts.FailurePartnerRejected
}

// final reports whether c is a definite refusal (nothing moved).
func final(c class) bool {
	switch c {
	case classDecline, classToken, classAuth, classConfig, classState:
		return true
	}
	return false
}

// codeOf renders errs for PartnerCode: the ErrInfo values, '|'-joined.
func codeOf(errs []gmoError) string {
	var parts []string
	for _, e := range errs {
		v := e.Info
		if v == "" {
			v = e.Code
		}
		parts = append(parts, truncate(v, 12))
	}
	return truncate(strings.Join(parts, "|"), 100)
}

// isDigits reports whether s is non-empty ASCII digits.
func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// truncate shortens s to at most n bytes, keeping valid UTF-8.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}
