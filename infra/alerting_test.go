package main

import (
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mountainhighway/marketplace/internal/registry"
)

func TestAlarmTopic(t *testing.T) {
	tests := []struct {
		name  string
		email string
	}{
		{"without email", ""},
		{"with email", "oncall@example.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := validSetup(stageProd).with("mountain-highway:alarmEmail", tt.email).mustRun(t)
			topic := m.one(t, typeTopic, "alarms")
			assert.Equal(t, "mh-prod-alarms", topic.in("name"))
			subs := m.ofType(typeSubscription)
			if tt.email == "" {
				assert.Empty(t, subs)
				return
			}
			require.Len(t, subs, 1)
			assert.Equal(t, "email", subs[0].in("protocol"))
			assert.Equal(t, tt.email, subs[0].in("endpoint"))
			assert.Equal(t, topic.out("arn"), subs[0].in("topic"))
		})
	}
}

// TestFunctionAlarms checks the three alarms of every function against its
// registry thresholds.
func TestFunctionAlarms(t *testing.T) {
	for _, stage := range stages {
		t.Run(stage, func(t *testing.T) {
			m := validSetup(stage).mustRun(t)
			specs := registry.All()
			workers := len(consumers(specs))
			require.Len(t, m.ofType(typeAlarm), 3*len(specs)+1+len(securityAlarms)+3*workers,
				"three per function, the API 5xx alarm, the security alarms, and per worker its Failed alarm and its queue's two")
			topicArn := m.one(t, typeTopic, "alarms").out("arn")

			for _, spec := range specs {
				name := physical(stage, spec.Name)
				tests := []struct {
					suffix, metric, statistic, extended, runbook string
					threshold                                    float64
				}{
					{"errors", "Errors", "Sum", "", "docs/runbooks/lambda-errors.md", float64(spec.Alarms.Errors)},
					{"throttles", "Throttles", "Sum", "", "docs/runbooks/lambda-throttles.md", 1},
					{"p95", "Duration", "", "p95", "docs/runbooks/lambda-duration-p95.md", float64(spec.Alarms.P95.Milliseconds())},
				}
				for _, tt := range tests {
					a := m.one(t, typeAlarm, spec.Name+"-"+tt.suffix)
					msg := name + " " + tt.suffix
					assert.Equal(t, name+"-"+tt.suffix, a.in("name"), msg)
					assert.Equal(t, "AWS/Lambda", a.in("namespace"), msg)
					assert.Equal(t, tt.metric, a.in("metricName"), msg)
					assert.Equal(t, map[string]any{"FunctionName": name}, a.in("dimensions"), msg)
					assert.Equal(t, float64(300), a.in("period"), msg)
					assert.Equal(t, float64(1), a.in("evaluationPeriods"), msg)
					assert.Equal(t, "GreaterThanOrEqualToThreshold", a.in("comparisonOperator"), msg)
					assert.Equal(t, tt.threshold, a.in("threshold"), msg)
					assert.Equal(t, "notBreaching", a.in("treatMissingData"), msg)
					assert.Equal(t, []any{topicArn}, a.in("alarmActions"), msg)
					assert.Equal(t, []any{topicArn}, a.in("okActions"), msg)
					if tt.extended != "" {
						assert.Equal(t, tt.extended, a.in("extendedStatistic"), msg)
						assert.Nil(t, a.in("statistic"), msg)
					} else {
						assert.Equal(t, tt.statistic, a.in("statistic"), msg)
						assert.Nil(t, a.in("extendedStatistic"), msg)
					}
					desc, _ := a.in("alarmDescription").(string)
					assert.Contains(t, desc, name, msg)
					assert.Contains(t, desc, tt.runbook, msg)
				}
			}
		})
	}
}

func TestAPI5xxAlarm(t *testing.T) {
	m := validSetup(stageStaging).mustRun(t)
	a := m.one(t, typeAlarm, "api-5xx")
	assert.Equal(t, "AWS/ApiGateway", a.in("namespace"))
	assert.Equal(t, "5xx", a.in("metricName"), "HTTP APIs publish 5xx, not the REST API 5XXError")
	assert.Equal(t, map[string]any{"ApiId": "api-id", "Stage": "$default"}, a.in("dimensions"))
	assert.Equal(t, "Sum", a.in("statistic"))
	assert.Equal(t, float64(300), a.in("period"))
	assert.Equal(t, float64(api5xxThreshold), a.in("threshold"))
	assert.Equal(t, "notBreaching", a.in("treatMissingData"))
	topicArn := m.one(t, typeTopic, "alarms").out("arn")
	assert.Equal(t, []any{topicArn}, a.in("alarmActions"))
	assert.Equal(t, []any{topicArn}, a.in("okActions"))
	assert.Contains(t, a.in("alarmDescription"), "docs/runbooks/api-5xx.md")
}

// TestAlarmThresholdsFollowEntry uses an entry whose thresholds differ from
// the registry defaults, so a hard-coded threshold cannot pass.
func TestAlarmThresholdsFollowEntry(t *testing.T) {
	spec := registry.Function{Name: "custom", Timeout: time.Minute, Alarms: registry.Alarms{Errors: 7, P95: 1500 * time.Millisecond}}
	m, err := validSetup(stageStaging).run(func(ctx *pulumi.Context) error {
		d, err := deploySpecs(ctx, []registry.Function{spec})
		if err != nil {
			return err
		}
		_, err = newAlerting(ctx, d.cfg, d.fns, d.api, d.jobs)
		return err
	})
	require.NoError(t, err)
	assert.Equal(t, float64(7), m.one(t, typeAlarm, "custom-errors").in("threshold"))
	assert.Equal(t, float64(1500), m.one(t, typeAlarm, "custom-p95").in("threshold"))
	assert.Contains(t, m.one(t, typeAlarm, "custom-p95").in("alarmDescription"), "1500 ms")
	assert.Equal(t, float64(1), m.one(t, typeAlarm, "custom-throttles").in("threshold"))
}

// TestQueueAlarms checks both alarms of every registry queue with their
// expected values written out: SQS's metric names, the deployed queue names
// as the only dimension, and the runbooks.
func TestQueueAlarms(t *testing.T) {
	for _, stage := range stages {
		t.Run(stage, func(t *testing.T) {
			m := validSetup(stage).mustRun(t)
			topicArn := m.one(t, typeTopic, "alarms").out("arn")
			for _, spec := range registryConsumers(t) {
				q := physical(stage, spec.Queue.Name)
				tests := []struct {
					logical, name, metric, queue, runbook string
					threshold                             float64
				}{
					{"queue-" + spec.Queue.Name + "-dlq-messages", q + "-dlq-messages", "ApproximateNumberOfMessagesVisible", q + "-dlq", "docs/runbooks/queue-dlq.md", 1},
					{"queue-" + spec.Queue.Name + "-age", q + "-age", "ApproximateAgeOfOldestMessage", q, "docs/runbooks/queue-age.md", 900},
				}
				for _, tt := range tests {
					a := m.one(t, typeAlarm, tt.logical)
					assert.Equal(t, tt.name, a.in("name"))
					assert.Equal(t, "AWS/SQS", a.in("namespace"), tt.logical)
					assert.Equal(t, tt.metric, a.in("metricName"), tt.logical)
					assert.Equal(t, map[string]any{"QueueName": tt.queue}, a.in("dimensions"), tt.logical)
					assert.Equal(t, "Maximum", a.in("statistic"), tt.logical)
					assert.Equal(t, float64(300), a.in("period"), tt.logical)
					assert.Equal(t, "GreaterThanOrEqualToThreshold", a.in("comparisonOperator"), tt.logical)
					assert.Equal(t, tt.threshold, a.in("threshold"), tt.logical)
					assert.Equal(t, []any{topicArn}, a.in("alarmActions"), tt.logical)
					assert.Equal(t, []any{topicArn}, a.in("okActions"), tt.logical)
					assert.Contains(t, a.in("alarmDescription"), tt.runbook, tt.logical)
					assert.Contains(t, a.in("alarmDescription"), tt.queue, tt.logical)
				}
				assert.True(t, strings.HasPrefix(m.one(t, typeAlarm, tests[0].logical).in("alarmDescription").(string), "CRITICAL: "),
					"a dead letter is a job that will never run")
			}
		})
	}
}

// TestWorkerFailedAlarm checks that every queue consumer, and nothing else,
// has an alarm on the wrapper's Failed metric.
func TestWorkerFailedAlarm(t *testing.T) {
	for _, stage := range stages {
		t.Run(stage, func(t *testing.T) {
			m := validSetup(stage).mustRun(t)
			for _, spec := range registry.All() {
				found := m.ofTypeNamed(typeAlarm, spec.Name+"-failed")
				if spec.Queue == nil {
					assert.Empty(t, found, "%s is not a worker", spec.Name)
					continue
				}
				require.Len(t, found, 1, spec.Name)
				a := found[0]
				assert.Equal(t, physical(stage, spec.Name)+"-failed", a.in("name"))
				assert.Equal(t, "MountainHighway", a.in("namespace"))
				assert.Equal(t, "Failed", a.in("metricName"))
				assert.Equal(t, map[string]any{"Function": spec.Name, "Stage": stage}, a.in("dimensions"),
					"EMF dimension sets are exact: both are needed")
				assert.Equal(t, "Sum", a.in("statistic"))
				assert.Equal(t, float64(10), a.in("threshold"))
				assert.Equal(t, float64(300), a.in("period"))
				assert.Contains(t, a.in("alarmDescription"), "docs/runbooks/queue-dlq.md")
			}
		})
	}
}
