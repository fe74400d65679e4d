package main

import (
	"slices"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRegistrationErrorsPropagate makes the registration of each resource in
// turn fail, and checks that the program returns the error instead of
// carrying on without that resource.
//
// Mock registrations fail asynchronously, so the fault is injected the only
// way the SDK fails one synchronously: a stack transformation that tries to
// re-parent the chosen resource, which registerResource rejects.
func TestRegistrationErrorsPropagate(t *testing.T) {
	setup := validSetup(stageStaging).with(configNamespace+":alarmEmail", "oncall@example.com")
	targets := setup.mustRun(t).resources
	require.Greater(t, len(targets), 10)

	for _, target := range targets {
		t.Run(target.Type+"/"+target.Name, func(t *testing.T) {
			m, err := setup.run(func(ctx *pulumi.Context) error {
				var elsewhere pulumi.ResourceState
				if err := ctx.RegisterComponentResource("test:fault:Elsewhere", "fault-parent", &elsewhere); err != nil {
					return err
				}
				if err := ctx.RegisterStackTransformation(func(args *pulumi.ResourceTransformationArgs) *pulumi.ResourceTransformationResult {
					if args.Type != target.Type || args.Name != target.Name {
						return nil
					}
					return &pulumi.ResourceTransformationResult{Props: args.Props, Opts: []pulumi.ResourceOption{pulumi.Parent(&elsewhere)}}
				}); err != nil {
					return err
				}
				return run(ctx)
			})
			require.Error(t, err)
			assert.Contains(t, err.Error(), "parent")
			assert.False(t, slices.ContainsFunc(m.resources, func(r recorded) bool {
				return r.Type == target.Type && r.Name == target.Name
			}), "the failed resource must not be registered")
		})
	}
}
