package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/stdlib"
)

// ListenControls holds one PostgreSQL connection listening on ControlsChannel and calls
// changed once it listens (a change may have come just before) and after every
// notification, until ctx ends or the connection fails (its error is returned; the
// caller listens again). The kill switches and limits then reach this instance within
// milliseconds of a change committed anywhere; the periodic re-read stays as the net
// under a lost notification (docs/security.md §4). On SQLite, one process owns the
// database and there is nothing to hear: it returns errors.ErrUnsupported at once.
func (s *DB) ListenControls(ctx context.Context, changed func()) error {
	if !s.d.postgres {
		return errors.ErrUnsupported
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("store: listen for controls: %w", err)
	}
	defer conn.Close()
	return conn.Raw(func(driverConn any) error {
		sc, ok := driverConn.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("store: listen for controls: unexpected driver connection %T", driverConn)
		}
		pc := sc.Conn()
		if _, err := pc.Exec(ctx, "LISTEN "+ControlsChannel); err != nil {
			return fmt.Errorf("store: listen for controls: %w", err)
		}
		// Leave the pooled connection as it was found, if it is still alive.
		defer func() { _, _ = pc.Exec(context.WithoutCancel(ctx), "UNLISTEN "+ControlsChannel) }()
		changed()
		for {
			if _, err := pc.WaitForNotification(ctx); err != nil {
				return fmt.Errorf("store: wait for a controls notification: %w", err)
			}
			changed()
		}
	})
}
