package paypay

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"strings"
)

// emptyMarker stands in for both the content type and the body hash of a request without a
// body (GET, DELETE), as docs/partners/paypay.md §2.1 step 1 requires.
const emptyMarker = "empty"

// Sign computes the value of the Authorization header for one PayPay request, exactly as
// docs/partners/paypay.md §2.1 describes: "hmac OPA-Auth:apiKey:mac:nonce:epoch:hash". path is the request
// path without the query string; contentType and body are the exact string and bytes sent.
// An empty body (nil or zero length) signs "empty" as both content type and hash.
func Sign(apiKey, apiSecret, method, path, nonce string, epoch int64, contentType string, body []byte) string {
	hash := emptyMarker
	if len(body) == 0 {
		contentType = emptyMarker
	} else {
		sum := md5.New()
		sum.Write([]byte(contentType))
		sum.Write(body)
		hash = base64.StdEncoding.EncodeToString(sum.Sum(nil))
	}
	epochText := strconv.FormatInt(epoch, 10)
	macData := strings.Join([]string{path, strings.ToUpper(method), nonce, epochText, contentType, hash}, "\n")
	mac := hmac.New(sha256.New, []byte(apiSecret))
	mac.Write([]byte(macData))
	signature := base64.StdEncoding.EncodeToString(mac.Sum(nil))
	return "hmac OPA-Auth:" + strings.Join([]string{apiKey, signature, nonce, epochText, hash}, ":")
}
