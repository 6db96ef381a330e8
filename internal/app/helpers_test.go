package app

import (
	"crypto"
	"io"

	"github.com/spf13/cobra"

	paypaysim "payhub/mocks/paypay"
)

// Test credentials of the partners: distinctive strings, so that a log scan can look for
// them.
const (
	testPayPayKey      = "test-paypay-key-7f3a"
	testPayPaySecret   = "test-paypay-secret-c0ffee-do-not-log"
	testPayPayMerchant = "test-merchant-01"
	testLinePayChannel = "1650000077"
	testLinePaySecret  = "test-linepay-secret-5eed-do-not-log"
)

// barcodeOK is the PayPay simulator's barcode that pays.
const barcodeOK = paypaysim.BarcodeOK

// storeClient is a registered till: its client, store and signing key.
type storeClient struct {
	key                  crypto.Signer
	kid, clientID, store string
}

func barcodePayment(amount int, barcode string) map[string]any {
	return map[string]any{"amount": amount, "currency": "JPY", "method": "paypay", "flow": "barcode",
		"barcode": barcode, "terminal_id": "till-01", "order_id": "order-1"}
}

// rootCommand is the payhub binary's command tree, as cmd/payhub builds it.
func rootCommand(logOut io.Writer) *cobra.Command {
	root := &cobra.Command{Use: "payhub", SilenceUsage: true, SilenceErrors: true}
	root.AddCommand(Commands(logOut)...)
	return root
}
