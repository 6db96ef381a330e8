// Command payhub is the product binary: serve runs the API, demo runs everything in one
// process on SQLite with the partner simulators, sim runs the simulators alone, token mints
// a store token, client registers a store client and migrate plan plans the retired
// wallet's migration (docs/migration.md). It only wires: the commands and what
// they assemble live in internal/app, configuration reading in internal/config. The crash
// harness, the benches and the bare pass-through are payhub-lab's, never shipped here.
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"payhub/internal/app"
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
	root.AddCommand(app.Commands(logOut)...)
	return root
}
