// Package lab is payhub's proving ground, behind the payhub-lab binary and never shipped
// in payhub: the crash harness (tills, faults and SIGKILLs against payhub serve and sim as
// processes, reconciled with the simulators' ledgers), the bench (payhub against a bare
// pass-through at a constant arrival rate), the store-notification bench, the synthetic
// export of the retired wallet (docs/migration.md), and the bare pass-through itself. It
// runs the payhub binary as shipped for serve and sim.
package lab

import (
	"io"

	"github.com/spf13/cobra"
)

// Commands are payhub-lab's commands, logging to logOut. passthrough and profiled-serve
// are hidden: the bench starts them as its own children.
func Commands(logOut io.Writer) []*cobra.Command {
	return []*cobra.Command{crashtestCommand(), benchCommand(), webhookBenchCommand(), migExportCommand(), migRunCommand(), passthroughCommand(), profiledServeCommand(logOut)}
}
