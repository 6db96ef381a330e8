package gmopg

// ErrInfo codes the simulator answers (docs/partners/gmopg.md §3, §5; GMO error table as carried by
// the gmopg package). The ErrCode paired with each is derived by errCodeOf.
const (
	infoBadMethod       = "E31500014" // request method is not POST
	infoBadContentType  = "E00000002" // Content-Type is not application/x-www-form-urlencoded (payhub's reading)
	infoBadAccept       = "E00000003" // Accept does not allow text/plain (payhub's reading)
	infoNoShopID        = "E01010001"
	infoNoShopPass      = "E01020001"
	infoBadShop         = "E01030002" // ShopID/ShopPass wrong
	infoNoOrderID       = "E01040001"
	infoDuplicateOrder  = "E01040010"
	infoBadOrderID      = "E01040013" // over 27 characters or outside [A-Za-z0-9-]
	infoNoJobCd         = "E01050001"
	infoBadJobCd        = "E01050002"
	infoNoAmount        = "E01060001"
	infoAmountDigits    = "E01060005" // more than 7 digits
	infoAmountNotNumber = "E01060006" // not a positive whole number
	infoAmountMismatch  = "E01060010" // SALES amount ≠ authorised amount
	infoTaxDigits       = "E01070005"
	infoTaxNotNumber    = "E01070006"
	infoBadTdFlag       = "E01080007"
	infoNo3DSContract   = "E01080010" // TdFlag=2 without a 3DS contract
	info3DSRequired     = "E01080101" // the shop requires 3DS but TdFlag is not 2
	infoNoAccessID      = "E01090001"
	infoBadAccessID     = "E01090008"
	infoNoAccessPass    = "E01100001"
	infoBadAccessPass   = "E01100008"
	infoUnknownAccess   = "E01110002" // no transaction with that AccessID/AccessPass (or OrderID)
	infoNotExecuted     = "E01110010" // the transaction has not been executed
	infoNoMethod        = "E01260001"
	infoBadMethodValue  = "E01260002"
	infoNoPayTimes      = "E01270001"
	infoPayTimesDigits  = "E01270005"
	infoPayTimesNumber  = "E01270006"
	infoLocked          = "E01410010" // transaction locked (an earlier request is still running)
	infoAuthExpired     = "E01420010" // the authorisation has lapsed
	infoAmountRange     = "E01490005" // Amount + Tax out of range
	infoAlreadySettled  = "E11010001"
	infoStateNotAllowed = "E11010003" // JobCd not allowed in the transaction's state
	infoTooOld          = "E11010010" // more than 180 days after the authorisation
	info3DSNoRetURL     = "E21010001" // 3DS needed but no RetUrl (payhub's choice of code)
	info3DSIncomplete   = "E21030001" // SecureTran2 before the 3DS flow returned
	info3DSFailed       = "E21030007" // 3DS authentication failed (challenge rejected)
	infoCardNoRefused   = "E61040001" // raw card numbers not permitted
	infoInFlight        = "E90010001" // double submission: the first request is still running
	infoSystemError     = "E91099999"
	infoRateLimited     = "E92000001"
	infoTokenMissing    = "EX1000301"
	infoTokenUsed       = "EX1000302"
	infoTokenExpired    = "EX1000303"
	infoTokenInvalid    = "EX1000304"
	infoComms           = "42C010000" // CAFIS / issuer communication failure
)

// errCodeOf is the 3-character ErrCode for a 9-character ErrInfo: 42G020000 → G02,
// 42C010000 → C01, E01040010 → E01, EX1000302 → EX1.
func errCodeOf(info string) string {
	if len(info) == 9 && info[:2] == "42" {
		return info[2:5]
	}
	if len(info) >= 3 {
		return info[:3]
	}
	return info
}
