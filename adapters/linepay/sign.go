package linepay

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
)

// The HMAC and device headers (docs/partners/linepay.md §3.1).
const (
	headerChannelID       = "X-LINE-ChannelId"
	headerNonce           = "X-LINE-Authorization-Nonce"
	headerSignature       = "X-LINE-Authorization"
	headerDeviceProfileID = "X-LINE-MerchantDeviceProfileId"
	headerDeviceType      = "X-LINE-MerchantDeviceType"
)

// Sign computes X-LINE-Authorization exactly as docs/partners/linepay.md §3.1 describes:
// Base64(HMAC-SHA256(key=channelSecret, channelSecret + path + content + nonce)). path
// starts at the version prefix (no scheme, host or port) and is the path as sent; content
// is the exact body bytes of a POST ("" when it has none) or the raw query of a GET as sent,
// without "?" ("" when it has none). The result is padded standard Base64 (44 characters).
func Sign(channelSecret, path, content, nonce string) string {
	mac := hmac.New(sha256.New, []byte(channelSecret))
	mac.Write([]byte(channelSecret))
	mac.Write([]byte(path))
	mac.Write([]byte(content))
	mac.Write([]byte(nonce))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}
