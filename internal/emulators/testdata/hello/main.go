// Command hello is the smallest useful Lambda function, used by the
// emulators tests to run a real bootstrap under RIE: it greets, reports the
// environment variables it was asked about, logs one JSON line per call, and
// fails on request.
package main

import (
	"context"
	"errors"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
)

// request is the invocation payload.
type request struct {
	Name string   `json:"name"`
	Env  []string `json:"env"`  // names of environment variables to report
	Fail bool     `json:"fail"` // return an error instead of a greeting
}

// response is the invocation result.
type response struct {
	Message string            `json:"message"`
	Env     map[string]string `json:"env,omitempty"`
}

func main() {
	logger := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	logger.Info("init")
	lambda.Start(func(ctx context.Context, req request) (response, error) {
		logger.InfoContext(ctx, "invoke", "name", req.Name)
		if req.Fail {
			return response{}, errors.New("asked to fail")
		}
		resp := response{Message: "hello, " + req.Name}
		for _, k := range req.Env {
			if resp.Env == nil {
				resp.Env = map[string]string{}
			}
			if v, ok := os.LookupEnv(k); ok {
				resp.Env[k] = v
			}
		}
		return resp, nil
	})
}
