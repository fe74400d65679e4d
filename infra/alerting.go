package main

import (
	"fmt"
	"slices"
	"time"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/sns"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/mountainhighway/marketplace/internal/telemetry"
)

// alarmPeriodSeconds is the window every alarm evaluates: long enough to
// smooth single slow requests, short enough to page within minutes.
const alarmPeriodSeconds = 300

// api5xxThreshold is how many 5xx answers in one period page on-call. Per-route
// detail lives in the function alarms; this one catches what they cannot see
// (integration failures, throttled or timed-out invocations).
const api5xxThreshold = 5

// Queue alarm thresholds. A single message in a dead-letter queue is a job
// that failed every delivery (for images: a seller's upload that never got
// thumbnails), so it pages. A main queue whose oldest message waits a
// quarter of an hour is not being consumed: with a batch window of seconds
// and a worker of a minute, healthy queues never get near it.
const (
	dlqDepthThreshold     = 1
	queueAgeThreshold     = 15 * time.Minute
	workerFailedThreshold = 10
)

// emfFailed is the metric the queue wrapper (internal/lambdasqs) writes per
// batch: the messages returned for retry. It is the workers' equivalent of
// the HTTP functions' 5xx count, which Lambda's Errors cannot see because
// the wrapper reports failures instead of failing the invocation.
const emfFailed = "Failed"

// runbookDir is where the on-call runbooks live in the repository; each alarm
// description points at one so the page says what to do.
const runbookDir = "docs/runbooks/"

// alerting is the component that owns the alarm topic and every alarm.
type alerting struct {
	pulumi.ResourceState

	Topic  *sns.Topic
	Alarms []*cloudwatch.MetricAlarm
}

// alarmSpec is everything that differs between two alarms.
type alarmSpec struct {
	logicalName string
	name        string
	description string
	namespace   string
	metric      string
	dimensions  pulumi.StringMapInput
	statistic   string // Sum, Average …; empty when extended is set
	extended    string // a percentile such as p95
	threshold   float64
}

// newAlerting creates the alarm topic and, for every function and the API,
// alarms that notify it both on alarm and on recovery.
func newAlerting(ctx *pulumi.Context, cfg stackConfig, fns *functions, api *httpAPI, work *jobs) (*alerting, error) {
	a := &alerting{}
	if err := ctx.RegisterComponentResource("mountain-highway:infra:Alerting", "alerting", a); err != nil {
		return nil, err
	}
	child := pulumi.Parent(a)

	topic, err := sns.NewTopic(ctx, "alarms", &sns.TopicArgs{Name: pulumi.String(cfg.name("alarms"))}, child)
	if err != nil {
		return nil, err
	}
	a.Topic = topic

	if cfg.AlarmEmail != "" {
		// Email subscriptions stay pending until the recipient confirms.
		if _, err := sns.NewTopicSubscription(ctx, "alarms-email", &sns.TopicSubscriptionArgs{
			Topic:    topic.Arn,
			Protocol: pulumi.String("email"),
			Endpoint: pulumi.String(cfg.AlarmEmail),
		}, child); err != nil {
			return nil, err
		}
	}

	var specs []alarmSpec
	for _, fn := range fns.All {
		specs = append(specs, functionAlarms(cfg, fn)...)
		if fn.Spec.Queue != nil {
			specs = append(specs, workerFailedAlarm(cfg, fn))
		}
	}
	for _, q := range work.Queues {
		specs = append(specs, queueAlarms(cfg, q)...)
	}
	specs = append(specs, alarmSpec{
		logicalName: "api-5xx",
		name:        cfg.name("api-5xx"),
		description: fmt.Sprintf("%s answered %d or more 5xx in %d s. Runbook: %sapi-5xx.md",
			cfg.name("api"), api5xxThreshold, alarmPeriodSeconds, runbookDir),
		namespace: "AWS/ApiGateway",
		// HTTP APIs publish 5xx under ApiId+Stage; REST APIs' 5XXError and
		// ApiName would watch a metric that never exists.
		metric:     "5xx",
		dimensions: pulumi.StringMap{"ApiId": api.API.ID(), "Stage": api.Stage.Name},
		statistic:  "Sum",
		threshold:  api5xxThreshold,
	})

	specs = append(specs, securityAlarmSpecs(cfg, fns)...)

	for _, s := range specs {
		alarm, err := newAlarm(ctx, child, topic, s)
		if err != nil {
			return nil, fmt.Errorf("alarm %s: %w", s.name, err)
		}
		a.Alarms = append(a.Alarms, alarm)
	}

	if err := ctx.RegisterResourceOutputs(a, pulumi.Map{"topicArn": topic.Arn}); err != nil {
		return nil, err
	}
	return a, nil
}

// functionAlarms are the three alarms every function gets, with the
// thresholds from its registry entry.
func functionAlarms(cfg stackConfig, fn *deployedFunction) []alarmSpec {
	spec := fn.Spec
	physical := cfg.name(spec.Name)
	dims := pulumi.StringMap{"FunctionName": fn.Function.Name}
	p95 := spec.Alarms.P95.Milliseconds()
	return []alarmSpec{
		{
			logicalName: spec.Name + "-errors",
			name:        physical + "-errors",
			description: fmt.Sprintf("%s failed %d or more invocations in %d s. Runbook: %slambda-errors.md",
				physical, spec.Alarms.Errors, alarmPeriodSeconds, runbookDir),
			namespace:  "AWS/Lambda",
			metric:     "Errors",
			dimensions: dims,
			statistic:  "Sum",
			threshold:  float64(spec.Alarms.Errors),
		},
		{
			logicalName: spec.Name + "-throttles",
			name:        physical + "-throttles",
			description: fmt.Sprintf("%s was throttled in the last %d s. Runbook: %slambda-throttles.md",
				physical, alarmPeriodSeconds, runbookDir),
			namespace:  "AWS/Lambda",
			metric:     "Throttles",
			dimensions: dims,
			statistic:  "Sum",
			threshold:  1,
		},
		{
			logicalName: spec.Name + "-p95",
			name:        physical + "-p95",
			description: fmt.Sprintf("%s p95 duration reached %d ms over %d s. Runbook: %slambda-duration-p95.md",
				physical, p95, alarmPeriodSeconds, runbookDir),
			namespace:  "AWS/Lambda",
			metric:     "Duration",
			dimensions: dims,
			extended:   "p95",
			threshold:  float64(p95),
		},
	}
}

// workerFailedAlarm pages when a worker returns many messages for retry:
// the early warning before they reach the dead-letter queue. It watches the
// wrapper's EMF metric by its exact dimension set, registry name and stage.
func workerFailedAlarm(cfg stackConfig, fn *deployedFunction) alarmSpec {
	spec := fn.Spec
	physical := cfg.name(spec.Name)
	return alarmSpec{
		logicalName: spec.Name + "-failed",
		name:        physical + "-failed",
		description: fmt.Sprintf("%s returned %d or more messages of queue %s for retry in %d s; after %d deliveries they go to %s. Runbook: %squeue-dlq.md",
			physical, workerFailedThreshold, cfg.name(spec.Queue.Name), alarmPeriodSeconds, spec.Queue.MaxReceiveCount, cfg.name(spec.Queue.Name+"-dlq"), runbookDir),
		namespace:  telemetry.Namespace,
		metric:     emfFailed,
		dimensions: pulumi.StringMap{"Function": pulumi.String(spec.Name), "Stage": pulumi.String(cfg.Stage)},
		statistic:  "Sum",
		threshold:  workerFailedThreshold,
	}
}

// queueAlarms are the two alarms of every queue: anything in its dead-letter
// queue, and a backlog nobody consumes. SQS publishes both metrics per
// queue name, once a minute; Maximum over the period is what matters.
func queueAlarms(cfg stackConfig, q *jobQueue) []alarmSpec {
	physical := cfg.name(q.Name)
	dlq := cfg.name(q.Name + "-dlq")
	return []alarmSpec{
		{
			logicalName: "queue-" + q.Name + "-dlq-messages",
			name:        dlq + "-messages",
			description: fmt.Sprintf("CRITICAL: %s holds %d or more messages: jobs of %s that failed %d deliveries and will not be retried. Runbook: %squeue-dlq.md",
				dlq, dlqDepthThreshold, cfg.name(q.Consumer.Name), q.Consumer.Queue.MaxReceiveCount, runbookDir),
			namespace:  "AWS/SQS",
			metric:     "ApproximateNumberOfMessagesVisible",
			dimensions: pulumi.StringMap{"QueueName": q.DLQ.Name},
			statistic:  "Maximum",
			threshold:  dlqDepthThreshold,
		},
		{
			logicalName: "queue-" + q.Name + "-age",
			name:        physical + "-age",
			description: fmt.Sprintf("The oldest message of %s has waited %d s or more: %s is not keeping up or not running. Runbook: %squeue-age.md",
				physical, int(queueAgeThreshold/time.Second), cfg.name(q.Consumer.Name), runbookDir),
			namespace:  "AWS/SQS",
			metric:     "ApproximateAgeOfOldestMessage",
			dimensions: pulumi.StringMap{"QueueName": q.Queue.Name},
			statistic:  "Maximum",
			threshold:  float64(queueAgeThreshold / time.Second),
		},
	}
}

// securityAlarmSpecs are the alarms on security events whose emitting
// function is deployed. They watch the wrapper's EMF metric by its exact
// dimension set: registry name, event and stage.
func securityAlarmSpecs(cfg stackConfig, fns *functions) []alarmSpec {
	var specs []alarmSpec
	for _, sa := range securityAlarms {
		if !slices.ContainsFunc(fns.All, func(fn *deployedFunction) bool { return fn.Spec.Name == sa.Function }) {
			continue
		}
		specs = append(specs, alarmSpec{
			logicalName: sa.Slug,
			name:        cfg.name(sa.Slug),
			description: fmt.Sprintf("%s reported %s %g or more times in %d s: %s. Runbook: %s%s",
				cfg.name(sa.Function), sa.Event, sa.Threshold, alarmPeriodSeconds, sa.Meaning, runbookDir, sa.Runbook),
			namespace:  telemetry.Namespace,
			metric:     emfEvents,
			dimensions: pulumi.StringMap{"Event": pulumi.String(sa.Event), "Function": pulumi.String(sa.Function), "Stage": pulumi.String(cfg.Stage)},
			statistic:  "Sum",
			threshold:  sa.Threshold,
		})
	}
	return specs
}

func newAlarm(ctx *pulumi.Context, child pulumi.ResourceOption, topic *sns.Topic, s alarmSpec) (*cloudwatch.MetricAlarm, error) {
	args := &cloudwatch.MetricAlarmArgs{
		Name:               pulumi.String(s.name),
		AlarmDescription:   pulumi.String(s.description),
		Namespace:          pulumi.String(s.namespace),
		MetricName:         pulumi.String(s.metric),
		Dimensions:         s.dimensions,
		Period:             pulumi.Int(alarmPeriodSeconds),
		EvaluationPeriods:  pulumi.Int(1),
		ComparisonOperator: pulumi.String("GreaterThanOrEqualToThreshold"),
		Threshold:          pulumi.Float64(s.threshold),
		// No invocations means nothing failed; an idle function must not page.
		TreatMissingData: pulumi.String("notBreaching"),
		AlarmActions:     pulumi.Array{topic.Arn},
		OkActions:        pulumi.Array{topic.Arn},
	}
	if s.extended != "" {
		args.ExtendedStatistic = pulumi.String(s.extended)
		// A p95 of three requests is one cold start; wait for enough samples.
		args.EvaluateLowSampleCountPercentiles = pulumi.String("ignore")
	} else {
		args.Statistic = pulumi.String(s.statistic)
	}
	return cloudwatch.NewMetricAlarm(ctx, s.logicalName, args, child)
}
