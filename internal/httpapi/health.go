package httpapi

import "net/http"

// Health serves GET /v1/health: liveness only. It touches no dependency, so
// uptime checks measure the platform, and a DynamoDB incident shows up in
// the readiness check and the alarms instead of failing every probe.
func Health(stage, release string) http.Handler {
	body := map[string]string{"status": "ok", "stage": stage, "release": release}
	return HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		return writeJSON(w, http.StatusOK, "no-store", body)
	})
}
