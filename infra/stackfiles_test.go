package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/mountainhighway/marketplace/internal/registry"
)

// TestProjectFile pins what the archive paths rely on: Pulumi runs a program
// whose main is a directory with that directory as working directory, so
// ../dist from infra/ is dist/ at the repository root.
func TestProjectFile(t *testing.T) {
	var project struct {
		Name    string `yaml:"name"`
		Runtime string `yaml:"runtime"`
		Main    string `yaml:"main"`
	}
	readYAML(t, "../Pulumi.yaml", &project)
	assert.Equal(t, "mountain-highway", project.Name)
	assert.Equal(t, "go", project.Runtime)
	assert.Equal(t, "infra/", project.Main)
	assert.Equal(t, filepath.Join("dist", "health.zip"), filepath.Join(project.Main, artifactDir, "health.zip"))
}

// TestStackFiles checks that each stack file parses, sets every required
// non-secret key, holds no secret in plain text, and is enough, with the
// secrets added, for the program to run.
func TestStackFiles(t *testing.T) {
	tests := []struct {
		stack     string
		retention float64
	}{
		{stageStaging, 14},
		{stageProd, 90},
	}
	for _, tt := range tests {
		t.Run(tt.stack, func(t *testing.T) {
			var file struct {
				Config map[string]any `yaml:"config"`
			}
			readYAML(t, "../Pulumi."+tt.stack+".yaml", &file)
			assert.Equal(t, "eu-west-1", file.Config["aws:region"])
			assert.Equal(t, tt.stack, file.Config["mountain-highway:stage"])
			for _, key := range requiredKeys {
				if key == "cursorKey" {
					assert.NotContains(t, file.Config, configNamespace+":"+key, "secrets are set with --secret, not written here")
					continue
				}
				assert.Contains(t, file.Config, configNamespace+":"+key)
			}
			assert.NotContains(t, file.Config, configNamespace+":sentryDsn")

			setup := stackSetup{stack: tt.stack, config: map[string]string{}}
			for k, v := range file.Config {
				setup.config[k] = configString(t, v)
			}
			setup = setup.with(configNamespace+":cursorKey", testCursorKey)
			setup.secrets = []string{configNamespace + ":cursorKey"}
			m := setup.mustRun(t)
			for _, lg := range m.ofType(typeLogGroup) {
				assert.Equal(t, tt.retention, lg.in("retentionInDays"), lg.Name)
			}
		})
	}
}

// TestOutputs checks the stack outputs operators and CI read after a deploy.
func TestOutputs(t *testing.T) {
	var got map[string]any
	_, err := validSetup(stageStaging).run(func(ctx *pulumi.Context) error {
		cfg, err := loadConfig(ctx)
		if err != nil {
			return err
		}
		infra, err := newInfrastructure(ctx, cfg)
		if err != nil {
			return err
		}
		outs := infra.outputs()
		keys := make([]string, 0, len(outs))
		for k := range outs {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		values := make([]any, len(keys))
		for i, k := range keys {
			values[i] = outs[k]
		}
		var wg sync.WaitGroup
		wg.Add(1)
		pulumi.All(values...).ApplyT(func(all []any) (any, error) {
			defer wg.Done()
			got = map[string]any{}
			for i, k := range keys {
				got[k] = all[i]
			}
			return nil, nil
		})
		wg.Wait()
		return nil
	})
	require.NoError(t, err)

	names := map[string]string{}
	for _, spec := range registry.All() {
		names[spec.Name] = physical(stageStaging, spec.Name)
	}
	assert.Equal(t, map[string]any{
		"apiUrl":              "https://api-id.execute-api." + testRegion + ".amazonaws.com",
		"tableName":           "mh-staging-table",
		"alarmTopicArn":       "arn:aws:sns:" + testRegion + ":" + testAccount + ":mh-staging-alarms",
		"signingKeysSecret":   "mh-staging-signing-keys",
		"functionNames":       names,
		"dashboardName":       "mh-staging-overview",
		"dashboardUrl":        "https://" + testRegion + ".console.aws.amazon.com/cloudwatch/home?region=" + testRegion + "#dashboards/dashboard/mh-staging-overview",
		"uploadsBucket":       "mh-staging-uploads-" + testAccount,
		"mediaBucket":         "mh-staging-media-" + testAccount,
		"mediaBaseUrl":        "https://" + testCDNDomain,
		"queueUrls":           map[string]string{"images": queueURL(stageStaging, "images")},
		"deadLetterQueueUrls": map[string]string{"images": queueURL(stageStaging, "images-dlq")},
	}, got)
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, yaml.Unmarshal(b, v), path)
}

// configString renders a stack file value the way the Pulumi CLI hands it to
// the program: scalars as text, lists and maps as JSON.
func configString(t *testing.T, v any) string {
	t.Helper()
	switch v := v.(type) {
	case string:
		return v
	case []any, map[string]any:
		b, err := json.Marshal(v)
		require.NoError(t, err)
		return string(b)
	default:
		return fmt.Sprint(v)
	}
}
