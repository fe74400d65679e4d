package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/mountainhighway/marketplace/internal/fault"
)

// Probe checks one dependency. It returns nil when the dependency answers.
type Probe func(ctx context.Context) error

type check struct {
	Status    string  `json:"status"`
	LatencyMs float64 `json:"latencyMs"`
}

// Ready serves GET /v1/health/ready: every probe is run (bounded by a
// short timeout, so a hung dependency cannot hang the check) and reported
// with its latency; 503 when any fails, so uptime monitors and deploy
// gates see a dependency outage that /v1/health (liveness) does not.
func Ready(probes map[string]Probe) http.Handler {
	return HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		checks := make(map[string]check, len(probes))
		status := http.StatusOK
		for name, probe := range probes {
			ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
			start := time.Now()
			err := probe(ctx)
			cancel()
			c := check{Status: "ok", LatencyMs: float64(time.Since(start).Microseconds()) / 1000}
			if err != nil && fault.KindOf(err) != fault.NotFound {
				c.Status = "fail"
				status = http.StatusServiceUnavailable
			}
			checks[name] = c
		}
		overall := "ok"
		if status != http.StatusOK {
			overall = "fail"
		}
		return writeJSON(w, status, "no-store", map[string]any{"status": overall, "checks": checks})
	})
}
