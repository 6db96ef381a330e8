// Command payhub is the one binary of payhub: serve runs the API, demo runs everything in
// one process on SQLite with the partner simulators, sim runs the simulators alone, token
// mints a store token, client registers a store client, and crashtest runs the crash
// harness against serve and sim as processes. It is the only place that reads
// configuration (flags and PAYHUB_* variables) and wires the packages together.
package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"
)

func main() {
	if err := rootCommand(os.Stderr).Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "payhub:", err)
		os.Exit(1)
	}
}

func rootCommand(logOut io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:           "payhub",
		Short:         "payhub: one payment API for store checkout systems, in front of PayPay and other partners",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(serveCommand(logOut), demoCommand(logOut), simCommand(logOut), tokenCommand(), clientCommand(), crashtestCommand(), webhookBenchCommand())
	root.AddCommand(benchCommands(logOut)...)
	return root
}

// sensitiveKeys are log attribute names whose values never reach a log.
var sensitiveKeys = []string{"authorization", "token", "secret", "password", "api_key", "apikey", "barcode", "authorization_code", "signature"}

// redact is the one slog ReplaceAttr redactor (conventions/security.md §13).
func redact(_ []string, a slog.Attr) slog.Attr {
	k := strings.ToLower(a.Key)
	for _, s := range sensitiveKeys {
		if strings.Contains(k, s) {
			return slog.String(a.Key, "***")
		}
	}
	return a
}

func newLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{ReplaceAttr: redact}))
}
