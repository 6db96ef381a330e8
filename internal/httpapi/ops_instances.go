package httpapi

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"payhub/internal/auth"
	"payhub/internal/hub"
)

// instanceJSON is one payhub instance as GET /v1/ops/instances answers it (docs/ops-api.md,
// "Routes").
type instanceJSON struct {
	Object      string     `json:"object"`
	ID          string     `json:"id"`
	Version     string     `json:"version"`
	StartedAt   time.Time  `json:"started_at"`
	HeartbeatAt time.Time  `json:"heartbeat_at"`
	StoppedAt   *time.Time `json:"stopped_at"`
	Alive       bool       `json:"alive"`
	Self        bool       `json:"self"`
	Leases      int        `json:"work_leases"`
}

func (s *Server) registerOpsInstances(g *gin.RouterGroup) {
	s.opsRoute(g, http.MethodGet, "/instances", auth.RoleViewer, s.listInstances)
}

// listInstances handles GET /v1/ops/instances: every payhub process registered on the
// database, the latest started first, whether it is alive, and how many work leases it
// holds.
func (s *Server) listInstances(c *gin.Context) {
	list, err := s.hub.Instances(c.Request.Context())
	if err != nil {
		s.writeError(c, err)
		return
	}
	out := listJSON[instanceJSON]{Object: "list", Data: make([]instanceJSON, 0, len(list))}
	for _, i := range list {
		out.Data = append(out.Data, instanceJSON{Object: "instance", ID: i.ID, Version: i.Version, StartedAt: i.StartedAt.UTC(),
			HeartbeatAt: i.HeartbeatAt.UTC(), StoppedAt: utcPtr(i.StoppedAt), Alive: i.Alive, Self: i.Self, Leases: i.Leases})
	}
	c.JSON(http.StatusOK, out)
}

// readyz answers 200 while this instance can serve: the database answers and its schema is
// not behind this build's migrations (another instance of an older build may not have
// migrated it); 503 otherwise, so that the load balancer sends it nothing. A schema ahead
// of this build's (a newer release migrated it: a rolling upgrade is under way) is still
// 200, saying so: the newer release's migrations only expand the schema (docs/design.md,
// "Rolling upgrades (expand, then contract)").
func (s *Server) readyz(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
	defer cancel()
	r, err := s.hub.Ready(ctx)
	if err != nil {
		s.log.WarnContext(c.Request.Context(), "readiness check failed", "err", err)
		reason := "database_unreachable"
		if behind := (*hub.SchemaBehindError)(nil); errors.As(err, &behind) {
			reason = "schema_behind"
		}
		c.JSON(http.StatusServiceUnavailable, gin.H{"status": "unavailable", "reason": reason})
		return
	}
	if r.SchemaAhead() {
		c.JSON(http.StatusOK, gin.H{"status": "ready", "schema": "ahead", "schema_version": r.SchemaApplied,
			"build_schema_version": r.SchemaKnown})
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": "ready"})
}
