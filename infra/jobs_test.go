package main

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mountainhighway/marketplace/internal/registry"
)

// registryConsumers returns the registry's queue consumers, failing the test
// if there are none (the images queue is expected).
func registryConsumers(t testing.TB) []registry.Function {
	t.Helper()
	out := consumers(registry.All())
	require.NotEmpty(t, out, "the registry has queue consumers")
	return out
}

// assertQueue checks a consumer's queue, dead-letter queue, redrive-allow
// policy and event source mapping against its registry entry.
func assertQueue(t *testing.T, m *mocks, spec registry.Function, stage string) {
	t.Helper()
	q := spec.Queue
	name := physical(stage, q.Name)

	main := m.one(t, typeQueue, "queue-"+q.Name)
	dlq := m.one(t, typeQueue, "queue-"+q.Name+"-dlq")
	assert.Equal(t, name, main.in("name"))
	assert.Equal(t, name+"-dlq", dlq.in("name"))
	for _, r := range []recorded{main, dlq} {
		assert.Equal(t, true, r.in("sqsManagedSseEnabled"), "%s: encrypted at rest", r.Name)
		assert.Nil(t, r.in("kmsMasterKeyId"), "%s: SSE-SQS, which S3 can send to", r.Name)
		assert.Equal(t, "mountain-highway:infra:Jobs", r.Parent, r.Name)
	}

	visibility, ok := main.in("visibilityTimeoutSeconds").(float64)
	require.True(t, ok, "%s: visibility timeout set", name)
	assert.GreaterOrEqual(t, visibility, 6*spec.Timeout.Seconds(), "%s: visibility ≥ 6 × the consumer's timeout", name)
	assert.Equal(t, 6*spec.Timeout.Seconds()+q.BatchWindow.Seconds(), visibility, "%s: 6 × timeout + batching window", name)
	assert.Equal(t, float64(4*24*3600), main.in("messageRetentionSeconds"), "%s: 4 days", name)
	assert.Equal(t, float64(14*24*3600), dlq.in("messageRetentionSeconds"), "%s: 14 days", name+"-dlq")
	assert.Nil(t, dlq.in("redrivePolicy"), "a dead-letter queue has no dead-letter queue")

	var redrive struct {
		DeadLetterTargetArn string `json:"deadLetterTargetArn"`
		MaxReceiveCount     int    `json:"maxReceiveCount"`
	}
	decodeJSON(t, main.in("redrivePolicy"), &redrive)
	assert.Equal(t, queueArn(stage, q.Name+"-dlq"), redrive.DeadLetterTargetArn, name)
	assert.Equal(t, q.MaxReceiveCount, redrive.MaxReceiveCount, name)

	allow := m.one(t, typeRedriveAllow, "queue-"+q.Name+"-dlq-allow")
	assert.Equal(t, queueURL(stage, q.Name+"-dlq"), allow.in("queueUrl"))
	var allowDoc struct {
		RedrivePermission string   `json:"redrivePermission"`
		SourceQueueArns   []string `json:"sourceQueueArns"`
	}
	decodeJSON(t, allow.in("redriveAllowPolicy"), &allowDoc)
	assert.Equal(t, "byQueue", allowDoc.RedrivePermission, "only the named queue may use the DLQ")
	assert.Equal(t, []string{queueArn(stage, q.Name)}, allowDoc.SourceQueueArns)

	mapping := m.one(t, typeMapping, "queue-"+q.Name+"-consumer")
	assert.Equal(t, queueArn(stage, q.Name), mapping.in("eventSourceArn"))
	assert.Equal(t, "arn:aws:lambda:"+testRegion+":"+testAccount+":function:"+physical(stage, spec.Name), mapping.in("functionName"))
	assert.Equal(t, float64(q.BatchSize), mapping.in("batchSize"))
	assert.Equal(t, q.BatchWindow.Seconds(), mapping.in("maximumBatchingWindowInSeconds"))
	assert.Equal(t, []any{"ReportBatchItemFailures"}, mapping.in("functionResponseTypes"), "only failed messages are retried")
	assert.Equal(t, true, mapping.in("enabled"))
	assert.True(t, mapping.hasDep(typeRolePolicy, spec.Name+"-policy"), "the mapping waits for the role's SQS permissions")
	assert.Equal(t, "mountain-highway:infra:Jobs", mapping.Parent)
}

// TestQueuePerConsumer checks, for every registry entry, that a queue
// consumer has its queue, dead-letter queue and mapping with the registry's
// settings, and that nothing else is triggered by a queue.
func TestQueuePerConsumer(t *testing.T) {
	for _, stage := range stages {
		t.Run(stage, func(t *testing.T) {
			m := validSetup(stage).mustRun(t)
			workers := registryConsumers(t)
			require.Len(t, m.ofType(typeQueue), 2*len(workers), "a queue and a DLQ per consumer")
			require.Len(t, m.ofType(typeMapping), len(workers))
			require.Len(t, m.ofType(typeRedriveAllow), len(workers))

			mapped := map[any]bool{}
			for _, mp := range m.ofType(typeMapping) {
				mapped[mp.in("functionName")] = true
			}
			for _, spec := range registry.All() {
				fnArn := "arn:aws:lambda:" + testRegion + ":" + testAccount + ":function:" + physical(stage, spec.Name)
				if spec.Queue == nil {
					assert.False(t, mapped[fnArn], "%s has no queue, so no event source mapping", spec.Name)
					assert.Empty(t, m.ofTypeNamed(typeQueue, "queue-"+spec.Name), spec.Name)
					continue
				}
				assert.True(t, mapped[fnArn], spec.Name)
				assert.Nil(t, spec.HTTP, "%s: a consumer has no route", spec.Name)
				assertQueue(t, m, spec, stage)
			}
		})
	}
}

// TestQueueFollowsEntry deploys a consumer the registry does not have, with
// settings no registry entry uses, so hard-coded values cannot pass; with no
// bucket feeding it there is no queue policy and no notification.
func TestQueueFollowsEntry(t *testing.T) {
	spec := registry.Function{
		Name:    "mailer",
		Queue:   &registry.Queue{Name: "mail", BatchSize: 10, MaxReceiveCount: 7},
		Timeout: 25 * time.Second,
		Alarms:  registry.Alarms{Errors: 2, P95: 3 * time.Second},
	}
	m, err := validSetup(stageStaging).run(func(ctx *pulumi.Context) error {
		d, err := deploySpecs(ctx, []registry.Function{spec})
		if err != nil {
			return err
		}
		_, err = newAlerting(ctx, d.cfg, d.fns, d.api, d.jobs)
		return err
	})
	require.NoError(t, err)
	assertQueue(t, m, spec, stageStaging)
	assert.Equal(t, float64(150), m.one(t, typeQueue, "queue-mail").in("visibilityTimeoutSeconds"))
	assert.Empty(t, m.ofType(typeQueuePolicy), "no bucket notifies the queue, so nothing may send to it but the account")
	assert.Empty(t, m.ofType(typeNotification))
	assert.Empty(t, m.ofType(typeRoute), "a consumer gets no route")

	var doc policyDocument
	decodeJSON(t, m.one(t, typeRolePolicy, "mailer-policy").in("policy"), &doc)
	assertFunctionPolicy(t, doc, spec, stageStaging)

	for _, name := range []string{"mailer-failed", "queue-mail-dlq-messages", "queue-mail-age"} {
		m.one(t, typeAlarm, name)
	}
	assert.Contains(t, m.one(t, typeAlarm, "mailer-failed").in("alarmDescription"), "after 7 deliveries")
}

// TestUploadsNotifyImagesQueue checks the S3 → SQS wiring: new objects under
// uploads/ of the uploads bucket, and only there, go to the images queue,
// and the notification is saved only after the queue policy that lets S3
// send.
func TestUploadsNotifyImagesQueue(t *testing.T) {
	for _, stage := range stages {
		t.Run(stage, func(t *testing.T) {
			m := validSetup(stage).mustRun(t)
			require.Len(t, m.ofType(typeNotification), 1, "only the uploads bucket notifies")
			n := m.one(t, typeNotification, "uploads-notifications")
			assert.Equal(t, "mh-"+stage+"-uploads-"+testAccount, n.in("bucket"))
			assert.Equal(t, []any{map[string]any{
				"id":           "images-uploads",
				"queueArn":     queueArn(stage, "images"),
				"events":       []any{"s3:ObjectCreated:*"},
				"filterPrefix": "uploads/",
			}}, n.in("queues"))
			assert.Nil(t, n.in("lambdaFunctions"))
			assert.Nil(t, n.in("topics"))
			assert.True(t, n.hasDep(typeQueuePolicy, "queue-images-policy"), "S3 checks it may send when the notification is saved")
			assert.True(t, n.hasDep(typeBucket, "uploads-bucket"))
			assert.Equal(t, "mountain-highway:infra:Jobs", n.Parent)
		})
	}
}

// TestImagesQueuePolicy checks that S3 may send to the images queue only
// for the uploads bucket of this account.
func TestImagesQueuePolicy(t *testing.T) {
	for _, stage := range stages {
		t.Run(stage, func(t *testing.T) {
			m := validSetup(stage).mustRun(t)
			require.Len(t, m.ofType(typeQueuePolicy), 1)
			p := m.one(t, typeQueuePolicy, "queue-images-policy")
			assert.Equal(t, queueURL(stage, "images"), p.in("queueUrl"))
			var doc policyDocument
			decodeJSON(t, p.in("policy"), &doc)
			require.Len(t, doc.Statement, 1)
			st := doc.Statement[0]
			assert.Equal(t, "Allow", st.Effect)
			assert.Equal(t, map[string]string{"Service": "s3.amazonaws.com"}, st.Principal)
			assert.Equal(t, []string{"sqs:SendMessage"}, st.Action)
			assert.Equal(t, []string{queueArn(stage, "images")}, st.Resource)
			assert.Equal(t, map[string]map[string]string{
				"ArnEquals":    {"aws:SourceArn": bucketArn(stage, registry.Uploads)},
				"StringEquals": {"aws:SourceAccount": testAccount},
			}, st.Condition, "without aws:SourceArn any bucket of any account could send")
		})
	}
}

// TestOnlyConsumersReachQueues looks at every role policy from an attacker's
// side: a function without a queue has no SQS action at all, and a consumer
// reaches only its own queue, never its dead-letter queue or another queue.
func TestOnlyConsumersReachQueues(t *testing.T) {
	m := validSetup(stageProd).mustRun(t)
	for _, spec := range registry.All() {
		var doc policyDocument
		decodeJSON(t, m.one(t, typeRolePolicy, spec.Name+"-policy").in("policy"), &doc)
		var actions, resources []string
		for _, st := range doc.Statement {
			touches := false
			for _, a := range st.Action {
				if strings.HasPrefix(strings.ToLower(a), "sqs:") {
					actions = append(actions, a)
					touches = true
				}
			}
			if touches {
				resources = append(resources, st.Resource...)
			}
			for _, r := range st.Resource {
				if strings.HasPrefix(r, "arn:aws:sqs:") {
					assert.True(t, touches, "%s: an SQS resource in a non-SQS statement", spec.Name)
				}
			}
		}
		if spec.Queue == nil {
			assert.Empty(t, actions, "%s consumes no queue", spec.Name)
			continue
		}
		assert.NotContains(t, actions, "sqs:SendMessage", "%s only consumes", spec.Name)
		assert.NotContains(t, actions, "sqs:PurgeQueue", spec.Name)
		assert.Equal(t, []string{queueArn(stageProd, spec.Queue.Name)}, resources, spec.Name)
	}
}

func TestValidateQueue(t *testing.T) {
	cfg := stackConfig{Stage: stageStaging}
	ok := registry.Function{
		Name:    "worker",
		Auth:    registry.Public,
		Timeout: time.Minute,
		Queue:   &registry.Queue{Name: "images", BatchSize: 5, BatchWindow: time.Second, MaxReceiveCount: 3},
	}
	tests := []struct {
		name    string
		edit    func(*registry.Function)
		wantErr string // "" for valid
	}{
		{"valid", func(*registry.Function) {}, ""},
		{"no window", func(f *registry.Function) { f.Queue.BatchWindow = 0 }, ""},
		{"batch of one", func(f *registry.Function) { f.Queue.BatchSize = 1 }, ""},
		{"batch of ten", func(f *registry.Function) { f.Queue.BatchSize = 10 }, ""},
		{"longest window", func(f *registry.Function) { f.Queue.BatchWindow = 5 * time.Minute }, ""},
		{"with a route", func(f *registry.Function) {
			f.HTTP = &registry.Route{Method: "POST", Path: "/v1/x"}
			f.Timeout = 10 * time.Second
		}, "cannot also have an HTTP route"},
		{"empty batch", func(f *registry.Function) { f.Queue.BatchSize = 0 }, "batch size 0 must be 1 to 10"},
		{"batch of eleven", func(f *registry.Function) { f.Queue.BatchSize = 11 }, "batch size 11"},
		{"negative window", func(f *registry.Function) { f.Queue.BatchWindow = -time.Second }, "batch window"},
		{"fractional window", func(f *registry.Function) { f.Queue.BatchWindow = 1500 * time.Millisecond }, "whole seconds"},
		{"window too long", func(f *registry.Function) { f.Queue.BatchWindow = 301 * time.Second }, "batch window"},
		{"no redrive", func(f *registry.Function) { f.Queue.MaxReceiveCount = 0 }, "maxReceiveCount 0"},
		{"redrive beyond SQS", func(f *registry.Function) { f.Queue.MaxReceiveCount = 1001 }, "maxReceiveCount 1001"},
		{"upper-case name", func(f *registry.Function) { f.Queue.Name = "Images" }, "lower-case"},
		{"empty name", func(f *registry.Function) { f.Queue.Name = "" }, "lower-case"},
		{"fifo name", func(f *registry.Function) { f.Queue.Name = "images.fifo" }, "lower-case"},
		{"name too long", func(f *registry.Function) { f.Queue.Name = strings.Repeat("q", 70) }, "the limit is 80"},
		{"visibility beyond SQS", func(f *registry.Function) { f.Timeout = 2 * time.Hour }, "exceeds SQS's 12h0m0s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := ok
			q := *ok.Queue
			spec.Queue = &q
			tt.edit(&spec)
			err := validateSpec(cfg, spec)
			if tt.wantErr == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
			assert.Contains(t, err.Error(), "function worker")
		})
	}
}

func TestTwoConsumersOfOneQueue(t *testing.T) {
	a := registry.Function{Name: "a", Timeout: time.Minute, Queue: &registry.Queue{Name: "images", BatchSize: 1, MaxReceiveCount: 3}}
	b := a
	b.Name = "b"
	err := validateSpecs(stackConfig{Stage: stageStaging}, []registry.Function{a, b})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "queue images is consumed by both a and b")
}

func TestValidateNotifications(t *testing.T) {
	specs := []registry.Function{{Name: "w", Queue: &registry.Queue{Name: "images"}}}
	tests := []struct {
		name    string
		note    objectNotification
		wantErr string
	}{
		{"the program's own", objectNotifications[0], ""},
		{"unknown bucket", objectNotification{Bucket: "logs", Prefix: "a/", Queue: "images"}, `unknown bucket "logs"`},
		{"queue nobody consumes", objectNotification{Bucket: registry.Uploads, Prefix: "uploads/", Queue: "thumbnails"}, `no registry function consumes queue "thumbnails"`},
		{"whole bucket", objectNotification{Bucket: registry.Uploads, Prefix: "", Queue: "images"}, "must be a folder"},
		{"not a folder", objectNotification{Bucket: registry.Uploads, Prefix: "uploads", Queue: "images"}, "must be a folder"},
		{"wildcard", objectNotification{Bucket: registry.Uploads, Prefix: "up*/", Queue: "images"}, "must be a folder"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := validateNotifications(specs, []objectNotification{tt.note})
			if tt.wantErr == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
	assert.NoError(t, validateNotifications(registry.All(), objectNotifications), "the registry consumes every notified queue")
}

// TestBadQueueDeploysNoQueue checks that the jobs component validates before
// it creates anything: an invalid consumer or a notification to a queue
// nobody consumes leaves no queue behind.
func TestBadQueueDeploysNoQueue(t *testing.T) {
	bad := registry.Function{Name: "w", Timeout: time.Minute, Queue: &registry.Queue{Name: "images", BatchSize: 50, MaxReceiveCount: 3}}
	good := bad
	good.Queue = &registry.Queue{Name: "images", BatchSize: 5, MaxReceiveCount: 3}
	tests := []struct {
		name    string
		specs   []registry.Function
		notes   []objectNotification
		wantErr string
	}{
		{"invalid consumer", []registry.Function{bad}, nil, "batch size 50"},
		{"notification to nobody", []registry.Function{good}, []objectNotification{{Bucket: registry.Uploads, Prefix: "x/", Queue: "other"}}, `queue "other"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := validSetup(stageStaging).run(func(ctx *pulumi.Context) error {
				_, err := deploySpecs(ctx, tt.specs, tt.notes...)
				return err
			})
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
			assert.Empty(t, m.ofType(typeQueue))
			assert.Empty(t, m.ofType(typeFunction))
		})
	}
}

// TestInvalidRegistryDeploysNothing checks the whole program: a notification
// to a queue the registry does not consume stops it before any resource.
func TestInvalidRegistryDeploysNothing(t *testing.T) {
	saved := objectNotifications
	t.Cleanup(func() { objectNotifications = saved })
	objectNotifications = []objectNotification{{Bucket: registry.Uploads, Prefix: "uploads/", Queue: "nobody"}}
	m, err := validSetup(stageStaging).run(run)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `no registry function consumes queue "nobody"`)
	assert.Empty(t, m.resources)
}

// TestAddConsumersNeedsTheConsumer covers a queue whose consumer is missing
// from the functions given: an error, not a mapping to nothing.
func TestAddConsumersNeedsTheConsumer(t *testing.T) {
	spec := registry.Function{Name: "w", Timeout: time.Minute, Queue: &registry.Queue{Name: "q", BatchSize: 1, MaxReceiveCount: 3}}
	_, err := validSetup(stageStaging).run(func(ctx *pulumi.Context) error {
		cfg, err := loadConfig(ctx)
		if err != nil {
			return err
		}
		store, err := newMedia(ctx, cfg, testAccount)
		if err != nil {
			return err
		}
		work, err := newJobs(ctx, cfg, []registry.Function{spec}, testAccount, store, nil)
		if err != nil {
			return err
		}
		return work.addConsumers(ctx, &functions{})
	})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "consumer w is not deployed")
}

// TestFunctionNeedsItsQueue covers a consumer whose queue was not built.
func TestFunctionNeedsItsQueue(t *testing.T) {
	spec := registry.Function{Name: "w", Timeout: time.Minute, Queue: &registry.Queue{Name: "q", BatchSize: 1, MaxReceiveCount: 3}}
	_, err := validSetup(stageStaging).run(func(ctx *pulumi.Context) error {
		d, err := deploySpecs(ctx, nil)
		if err != nil {
			return err
		}
		_, err = newFunctions(ctx, d.cfg, []registry.Function{spec}, functionDeps{
			Data: d.data, Tokens: newTokenSettings(d.cfg, d.api, d.id), Media: d.media, Jobs: d.jobs,
		})
		return err
	})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "queue q is not deployed")
}

// TestAccountLookup checks that the account id the bucket names need is
// required and sane, and that without it nothing is deployed.
func TestAccountLookup(t *testing.T) {
	tests := []struct {
		name    string
		mocks   *mocks
		wantErr string
	}{
		{"lookup fails", &mocks{callErr: errors.New("no credentials")}, "no credentials"},
		{"not an account id", &mocks{account: "12345"}, `"12345" is not 12 digits`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := validSetup(stageStaging).runWith(tt.mocks, run)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
			assert.Empty(t, m.resources)
		})
	}
}
