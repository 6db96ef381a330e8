// Command payhub-lab proves payhub: crashtest (the crash harness), bench (payhub against a
// bare pass-through), webhookbench (store notifications from several processes),
// migration-export (a synthetic export of the retired wallet, docs/migration.md). It runs
// the payhub binary built next to it (or the one named by --payhub) and is never shipped.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"payhub/internal/lab"
)

func main() {
	root := &cobra.Command{
		Use:           "payhub-lab",
		Short:         "payhub-lab: the crash harness, the benches and the bare pass-through (never shipped)",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(lab.Commands(os.Stderr)...)
	if err := root.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "payhub-lab:", err)
		os.Exit(1)
	}
}
