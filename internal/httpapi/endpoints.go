package httpapi

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/gin-gonic/gin"

	"payhub/contracts"
	"payhub/contracts/api"
	"payhub/internal/hub"
	"payhub/internal/idempotency"
	"payhub/internal/render"
)

func eventTypes(in *[]api.EventType, pointer string) ([]contracts.EventType, error) {
	if in == nil {
		return nil, nil
	}
	out := make([]contracts.EventType, 0, len(*in))
	for _, t := range *in {
		if !t.Valid() {
			return nil, invalidField(pointer, "Unknown event type "+string(t)+".")
		}
		out = append(out, contracts.EventType(t))
	}
	return out, nil
}

// CreateWebhookEndpoint handles POST /v1/webhook-endpoints.
func (s *Server) CreateWebhookEndpoint(c *gin.Context, _ api.CreateWebhookEndpointParams) {
	var req api.CreateWebhookEndpointRequest
	body, err := readJSON(c, &req, false)
	var types []contracts.EventType
	if err == nil {
		types, err = eventTypes(req.EventTypes, "/event_types")
	}
	if err != nil {
		s.writeError(c, err)
		return
	}
	cmd := hub.CreateEndpoint{URL: req.Url, Description: deref(req.Description), EventTypes: types}
	s.execute(c, body, func(ctx context.Context, caller hub.Caller, idem idempotency.Key) (hub.Response, error) {
		return s.hub.CreateWebhookEndpoint(ctx, caller, idem, cmd)
	})
}

// ListWebhookEndpoints handles GET /v1/webhook-endpoints.
func (s *Server) ListWebhookEndpoints(c *gin.Context) {
	eps, err := s.hub.ListWebhookEndpoints(c.Request.Context(), callerFrom(c))
	if err != nil {
		s.writeError(c, err)
		return
	}
	list := api.WebhookEndpointList{Object: api.WebhookEndpointListObjectList, Data: make([]api.WebhookEndpoint, 0, len(eps))}
	for _, e := range eps {
		list.Data = append(list.Data, render.APIEndpoint(e))
	}
	body, _ := json.Marshal(list)
	c.Data(http.StatusOK, "application/json", body)
}

// GetWebhookEndpoint handles GET /v1/webhook-endpoints/{id}.
func (s *Server) GetWebhookEndpoint(c *gin.Context, id api.WebhookEndpointIdPath) {
	e, err := s.hub.GetWebhookEndpoint(c.Request.Context(), callerFrom(c), id)
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.Data(http.StatusOK, "application/json", render.WebhookEndpoint(e, ""))
}

// DeleteWebhookEndpoint handles DELETE /v1/webhook-endpoints/{id}.
func (s *Server) DeleteWebhookEndpoint(c *gin.Context, id api.WebhookEndpointIdPath) {
	if err := s.hub.DeleteWebhookEndpoint(c.Request.Context(), callerFrom(c), id); err != nil {
		s.writeError(c, err)
		return
	}
	body, _ := json.Marshal(api.DeletedWebhookEndpoint{Object: api.DeletedWebhookEndpointObjectWebhookEndpoint, Id: id, Deleted: true})
	c.Data(http.StatusOK, "application/json", body)
}

// RotateWebhookSecret handles POST /v1/webhook-endpoints/{id}/rotate-secret.
func (s *Server) RotateWebhookSecret(c *gin.Context, id api.WebhookEndpointIdPath, _ api.RotateWebhookSecretParams) {
	s.execute(c, nil, func(ctx context.Context, caller hub.Caller, idem idempotency.Key) (hub.Response, error) {
		return s.hub.RotateWebhookSecret(ctx, caller, idem, id)
	})
}

// EnableWebhookEndpoint handles POST /v1/webhook-endpoints/{id}/enable.
func (s *Server) EnableWebhookEndpoint(c *gin.Context, id api.WebhookEndpointIdPath, _ api.EnableWebhookEndpointParams) {
	s.execute(c, nil, func(ctx context.Context, caller hub.Caller, idem idempotency.Key) (hub.Response, error) {
		return s.hub.EnableWebhookEndpoint(ctx, caller, idem, id)
	})
}

// RedeliverToWebhookEndpoint handles POST /v1/webhook-endpoints/{id}/redeliver.
func (s *Server) RedeliverToWebhookEndpoint(c *gin.Context, id api.WebhookEndpointIdPath, _ api.RedeliverToWebhookEndpointParams) {
	var req api.RedeliverRangeRequest
	body, err := readJSON(c, &req, false)
	var types []contracts.EventType
	if err == nil {
		types, err = eventTypes(req.Types, "/types")
	}
	if err != nil {
		s.writeError(c, err)
		return
	}
	s.execute(c, body, func(ctx context.Context, caller hub.Caller, idem idempotency.Key) (hub.Response, error) {
		return s.hub.RedeliverRange(ctx, caller, idem, id, req.From, req.To, types)
	})
}

// RedeliverEvent handles POST /v1/events/{id}/redeliver.
func (s *Server) RedeliverEvent(c *gin.Context, id api.EventIdPath, _ api.RedeliverEventParams) {
	var req api.RedeliverEventRequest
	body, err := readJSON(c, &req, true)
	if err != nil {
		s.writeError(c, err)
		return
	}
	s.execute(c, body, func(ctx context.Context, caller hub.Caller, idem idempotency.Key) (hub.Response, error) {
		return s.hub.RedeliverEvent(ctx, caller, idem, id, deref(req.EndpointId))
	})
}

// ListEventDeliveryAttempts handles GET /v1/events/{id}/attempts.
func (s *Server) ListEventDeliveryAttempts(c *gin.Context, id api.EventIdPath) {
	attempts, err := s.hub.ListDeliveryAttempts(c.Request.Context(), callerFrom(c), id)
	if err != nil {
		s.writeError(c, err)
		return
	}
	list := api.DeliveryAttemptList{Object: api.DeliveryAttemptListObjectList, Data: make([]api.DeliveryAttempt, 0, len(attempts))}
	for _, a := range attempts {
		out := api.DeliveryAttempt{Object: api.DeliveryAttemptObjectDeliveryAttempt, Id: a.ID, EventId: a.EventID,
			EndpointId: a.EndpointID, AttemptedAt: a.AttemptedAt.UTC(), LatencyMs: int(a.Latency.Milliseconds()), Error: render.Optional(a.Error)}
		if a.HTTPStatus != 0 {
			status := a.HTTPStatus
			out.HttpStatus = &status
		}
		list.Data = append(list.Data, out)
	}
	body, _ := json.Marshal(list)
	c.Data(http.StatusOK, "application/json", body)
}
