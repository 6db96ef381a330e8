package app

import (
	"io"

	"github.com/spf13/cobra"
)

// Commands are the payhub binary's commands, logging to logOut.
func Commands(logOut io.Writer) []*cobra.Command {
	return []*cobra.Command{ServeCommand(logOut), DemoCommand(logOut), SimCommand(logOut), TokenCommand(), ClientCommand(), SecretsCommand(), AuditCommand(), LedgerCommand(), MigrateCommand(), CompensateCommand(), withOperatorCommands(OpsCommand())}
}
