package hub

import (
	"context"
	"time"
)

// repeat runs pass every interval until ctx ends — first at once when immediately is set —
// and logs what fails as what. The Run* background jobs are repeat over their Once pass.
func (h *Hub) repeat(ctx context.Context, interval time.Duration, immediately bool, what string, pass func(context.Context) error) {
	t := time.NewTicker(interval)
	defer t.Stop()
	if immediately {
		h.runPass(ctx, what, pass)
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			h.runPass(ctx, what, pass)
		}
	}
}

func (h *Hub) runPass(ctx context.Context, what string, pass func(context.Context) error) {
	if err := pass(ctx); err != nil && ctx.Err() == nil {
		h.log.ErrorContext(ctx, what, "err", err)
	}
}

// stopping reports that the worker's ctx ended: it starts no new item. An item it began
// runs to its end under a context that does not end with ctx (context.WithoutCancel), so a
// stopping instance never leaves a partner call unrecorded or writes to a closed database.
func stopping(ctx context.Context) bool { return ctx.Err() != nil }
