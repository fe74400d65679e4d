package main

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/lambda"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/s3"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/sqs"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/mountainhighway/marketplace/internal/registry"
)

// Queue settings that are the same for every queue.
const (
	// visibilityFactor: AWS's guidance for Lambda event sources is a
	// visibility timeout of at least six times the function's timeout (plus
	// the batching window), so that a message being retried after a
	// throttled or failed invocation is not handed to a second consumer
	// while the first still holds it.
	visibilityFactor = 6
	// queueRetention gives a backlog four days to drain before messages
	// are lost, over a long weekend of a broken worker.
	queueRetention = 4 * 24 * time.Hour
	// dlqRetention is SQS's maximum. A standard queue's message keeps its
	// original enqueue time when it moves to the DLQ, so this is what
	// leaves on-call ten days or more to look at and redrive it.
	dlqRetention = 14 * 24 * time.Hour
	// maxVisibility is SQS's upper limit on a visibility timeout.
	maxVisibility = 12 * time.Hour
	// maxBatchWindow is Lambda's upper limit on the batching window.
	maxBatchWindow = 5 * time.Minute
	// maxReceiveCountLimit is SQS's upper limit on a redrive policy's
	// maxReceiveCount.
	maxReceiveCountLimit = 1000
	// maxQueueName is SQS's limit on queue names.
	maxQueueName = 80
)

// Batch sizes: without a batching window Lambda accepts 1 to 10 messages;
// larger batches need a window, which would delay every image, so the
// program keeps to 10.
const (
	minBatchSize = 1
	maxBatchSize = 10
)

// reportBatchItemFailures makes Lambda read the wrapper's list of failed
// messages (internal/lambdasqs) and retry only those; without it, one
// poison message would have the whole batch redelivered.
const reportBatchItemFailures = "ReportBatchItemFailures"

// queueName matches a registry queue name: the physical names add a stage
// prefix and a -dlq suffix to it.
var queueName = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

// objectNotification sends a bucket prefix's ObjectCreated events to a
// registry queue.
type objectNotification struct {
	Bucket registry.Bucket
	Prefix string
	Queue  string // registry queue name
}

// objectNotifications are the program's S3 → SQS wiring: a presigned POST
// into uploads/ queues the new file for the image worker.
var objectNotifications = []objectNotification{
	{Bucket: registry.Uploads, Prefix: uploadsPrefix, Queue: "images"},
}

// jobQueue is one registry queue as deployed.
type jobQueue struct {
	Name     string // registry name, "images"
	Consumer registry.Function
	Queue    *sqs.Queue
	DLQ      *sqs.Queue
	// Policy lets S3 send to the queue; nil when no bucket notifies it.
	Policy *sqs.QueuePolicy
	// Mapping is the consumer's event source mapping, set by addConsumers.
	Mapping *lambda.EventSourceMapping
}

// jobs is the component that owns the background-work plumbing: one queue
// and dead-letter queue per registry queue, the S3 notifications that feed
// them, and the event source mappings that run their consumers.
type jobs struct {
	pulumi.ResourceState

	// Queues holds the queues in registry order of their consumers.
	Queues        []*jobQueue
	Notifications []*s3.BucketNotification
}

// queue returns the deployed queue with a registry name, or nil.
func (j *jobs) queue(name string) *jobQueue {
	for _, q := range j.Queues {
		if q.Name == name {
			return q
		}
	}
	return nil
}

// queueVisibility is the visibility timeout of a consumer's queue.
func queueVisibility(spec registry.Function) time.Duration {
	return visibilityFactor*spec.Timeout + spec.Queue.BatchWindow
}

// validateQueue checks a queue consumer's trigger before anything is
// deployed.
func validateQueue(cfg stackConfig, spec registry.Function) error {
	q := spec.Queue
	if q == nil {
		return nil
	}
	if spec.HTTP != nil {
		return fmt.Errorf("function %s: a queue consumer cannot also have an HTTP route", spec.Name)
	}
	if !queueName.MatchString(q.Name) {
		return fmt.Errorf("function %s: queue name %q must be lower-case letters, digits and dashes", spec.Name, q.Name)
	}
	if dlq := cfg.name(q.Name + "-dlq"); len(dlq) > maxQueueName {
		return fmt.Errorf("function %s: queue name %s is %d characters, the limit is %d", spec.Name, dlq, len(dlq), maxQueueName)
	}
	if q.BatchSize < minBatchSize || q.BatchSize > maxBatchSize {
		return fmt.Errorf("function %s: batch size %d must be %d to %d", spec.Name, q.BatchSize, minBatchSize, maxBatchSize)
	}
	if q.BatchWindow < 0 || q.BatchWindow > maxBatchWindow || q.BatchWindow%time.Second != 0 {
		return fmt.Errorf("function %s: batch window %v must be whole seconds from 0 to %v", spec.Name, q.BatchWindow, maxBatchWindow)
	}
	if q.MaxReceiveCount < 1 || q.MaxReceiveCount > maxReceiveCountLimit {
		return fmt.Errorf("function %s: maxReceiveCount %d must be 1 to %d", spec.Name, q.MaxReceiveCount, maxReceiveCountLimit)
	}
	if v := queueVisibility(spec); v > maxVisibility {
		return fmt.Errorf("function %s: visibility timeout %v (%d × timeout + batch window) exceeds SQS's %v", spec.Name, v, visibilityFactor, maxVisibility)
	}
	return nil
}

// validateConsumers rejects two entries consuming one queue: Lambda would
// split its messages between them at random.
func validateConsumers(specs []registry.Function) error {
	consumer := map[string]string{}
	for _, spec := range specs {
		if spec.Queue == nil {
			continue
		}
		if other, ok := consumer[spec.Queue.Name]; ok {
			return fmt.Errorf("queue %s is consumed by both %s and %s", spec.Queue.Name, other, spec.Name)
		}
		consumer[spec.Queue.Name] = spec.Name
	}
	return nil
}

// validateNotifications checks that every notification targets a queue
// some entry consumes, from a known bucket and a folder prefix: otherwise
// uploads would pile up unprocessed.
func validateNotifications(specs []registry.Function, notes []objectNotification) error {
	for _, n := range notes {
		if !slices.Contains(buckets, n.Bucket) {
			return fmt.Errorf("notification to queue %s: unknown bucket %q", n.Queue, n.Bucket)
		}
		if !slices.ContainsFunc(specs, func(s registry.Function) bool { return s.Queue != nil && s.Queue.Name == n.Queue }) {
			return fmt.Errorf("notification of %s/%s: no registry function consumes queue %q", n.Bucket, n.Prefix, n.Queue)
		}
		if len(n.Prefix) < 2 || !strings.HasSuffix(n.Prefix, "/") || strings.ContainsAny(n.Prefix, "*?") {
			return fmt.Errorf("notification of %s to queue %s: prefix %q must be a folder such as \"uploads/\"", n.Bucket, n.Queue, n.Prefix)
		}
	}
	return nil
}

// consumers returns the queue consumers of specs, in registry order.
func consumers(specs []registry.Function) []registry.Function {
	var out []registry.Function
	for _, spec := range specs {
		if spec.Queue != nil {
			out = append(out, spec)
		}
	}
	return out
}

// newJobs creates a queue and dead-letter queue per registry queue, and the
// S3 notifications (with the queue policies they need) that feed them. The
// consumers are attached by addConsumers once the functions exist, because
// the functions' roles need the queues' ARNs first.
func newJobs(ctx *pulumi.Context, cfg stackConfig, specs []registry.Function, account string, m *media, notes []objectNotification) (*jobs, error) {
	if err := validateSpecs(cfg, specs); err != nil {
		return nil, err
	}
	if err := validateNotifications(specs, notes); err != nil {
		return nil, err
	}
	j := &jobs{}
	if err := ctx.RegisterComponentResource("mountain-highway:infra:Jobs", "jobs", j); err != nil {
		return nil, err
	}
	child := pulumi.Parent(j)
	for _, spec := range consumers(specs) {
		q, err := newJobQueue(ctx, cfg, child, spec)
		if err != nil {
			return nil, fmt.Errorf("queue %s: %w", spec.Queue.Name, err)
		}
		j.Queues = append(j.Queues, q)
	}
	if err := j.notify(ctx, child, account, m, notes); err != nil {
		return nil, err
	}
	return j, nil
}

// newJobQueue creates one queue with its dead-letter queue.
func newJobQueue(ctx *pulumi.Context, cfg stackConfig, child pulumi.ResourceOption, spec registry.Function) (*jobQueue, error) {
	name := spec.Queue.Name
	q := &jobQueue{Name: name, Consumer: spec}
	var err error
	// SSE-SQS rather than a KMS key: S3 cannot send to a queue encrypted
	// with the AWS-managed aws/sqs key (its key policy cannot be changed to
	// admit S3), and a customer key would be one more thing to manage.
	q.DLQ, err = sqs.NewQueue(ctx, "queue-"+name+"-dlq", &sqs.QueueArgs{
		Name:                    pulumi.String(cfg.name(name + "-dlq")),
		SqsManagedSseEnabled:    pulumi.Bool(true),
		MessageRetentionSeconds: pulumi.Int(int(dlqRetention / time.Second)),
	}, child)
	if err != nil {
		return nil, err
	}
	redrive := q.DLQ.Arn.ApplyT(func(arn string) (string, error) {
		b, err := json.Marshal(map[string]any{"deadLetterTargetArn": arn, "maxReceiveCount": spec.Queue.MaxReceiveCount})
		return string(b), err
	}).(pulumi.StringOutput)
	q.Queue, err = sqs.NewQueue(ctx, "queue-"+name, &sqs.QueueArgs{
		Name:                     pulumi.String(cfg.name(name)),
		SqsManagedSseEnabled:     pulumi.Bool(true),
		VisibilityTimeoutSeconds: pulumi.Int(int(queueVisibility(spec) / time.Second)),
		MessageRetentionSeconds:  pulumi.Int(int(queueRetention / time.Second)),
		// Long polling, the most Lambda's pollers use anyway; it saves
		// empty receives when the queue is idle.
		ReceiveWaitTimeSeconds: pulumi.Int(20),
		RedrivePolicy:          redrive,
	}, child)
	if err != nil {
		return nil, err
	}
	// A resource of its own, not an argument of the DLQ: the policy names
	// the main queue, which itself names the DLQ.
	allow := q.Queue.Arn.ApplyT(func(arn string) (string, error) {
		b, err := json.Marshal(map[string]any{"redrivePermission": "byQueue", "sourceQueueArns": []string{arn}})
		return string(b), err
	}).(pulumi.StringOutput)
	if _, err := sqs.NewRedriveAllowPolicy(ctx, "queue-"+name+"-dlq-allow", &sqs.RedriveAllowPolicyArgs{
		QueueUrl:           q.DLQ.Url,
		RedriveAllowPolicy: allow,
	}, child); err != nil {
		return nil, err
	}
	return q, nil
}

// notify creates, per queue fed by a bucket, the queue policy that admits
// S3 from exactly those buckets, then one notification configuration per
// bucket. A bucket has a single notification configuration, so all of a
// bucket's queues go into one resource; it depends on the queue policies
// because S3 checks that it may send (with a test message) when the
// configuration is saved.
func (j *jobs) notify(ctx *pulumi.Context, child pulumi.ResourceOption, account string, m *media, notes []objectNotification) error {
	var policies []pulumi.Resource
	for _, q := range j.Queues {
		var sources []pulumi.StringOutput
		for _, b := range buckets {
			if slices.ContainsFunc(notes, func(n objectNotification) bool { return n.Queue == q.Name && n.Bucket == b }) {
				sources = append(sources, m.bucket(b).Arn)
			}
		}
		if len(sources) == 0 {
			continue
		}
		values := []any{q.Queue.Arn}
		for _, s := range sources {
			values = append(values, s)
		}
		doc := pulumi.All(values...).ApplyT(func(all []any) (string, error) {
			arns, err := asStrings(all)
			if err != nil {
				return "", fmt.Errorf("policy of queue %s: %w", q.Name, err)
			}
			return s3QueuePolicy(arns[0], account, arns[1:])
		}).(pulumi.StringOutput)
		policy, err := sqs.NewQueuePolicy(ctx, "queue-"+q.Name+"-policy", &sqs.QueuePolicyArgs{
			QueueUrl: q.Queue.Url,
			Policy:   doc,
		}, child)
		if err != nil {
			return fmt.Errorf("policy of queue %s: %w", q.Name, err)
		}
		q.Policy = policy
		policies = append(policies, policy)
	}

	for _, b := range buckets {
		var queues s3.BucketNotificationQueueArray
		for _, n := range notes {
			if n.Bucket != b {
				continue
			}
			q := j.queue(n.Queue)
			if q == nil {
				return fmt.Errorf("notification of %s/%s: queue %s is not deployed", n.Bucket, n.Prefix, n.Queue)
			}
			queues = append(queues, s3.BucketNotificationQueueArgs{
				Id:           pulumi.String(n.Queue + "-" + strings.TrimSuffix(n.Prefix, "/")),
				QueueArn:     q.Queue.Arn,
				Events:       pulumi.StringArray{pulumi.String("s3:ObjectCreated:*")},
				FilterPrefix: pulumi.String(n.Prefix),
			})
		}
		if len(queues) == 0 {
			continue
		}
		bucket := m.bucket(b)
		n, err := s3.NewBucketNotification(ctx, string(b)+"-notifications", &s3.BucketNotificationArgs{
			Bucket: bucket.Bucket,
			Queues: queues,
		}, child, pulumi.DependsOn(policies))
		if err != nil {
			return fmt.Errorf("notifications of %s: %w", b, err)
		}
		j.Notifications = append(j.Notifications, n)
	}
	return nil
}

// s3QueuePolicy lets S3 send the notifications of the given buckets, in this
// account, to the queue. Without the conditions the service principal would
// admit any bucket of any account.
func s3QueuePolicy(queueArn, account string, bucketArns []string) (string, error) {
	doc := policyDocument{Version: policyVersion}
	for i, b := range bucketArns {
		doc.Statement = append(doc.Statement, policyStatement{
			Sid:       fmt.Sprintf("S3Notifications%d", i),
			Effect:    "Allow",
			Principal: map[string]string{"Service": "s3.amazonaws.com"},
			Action:    []string{"sqs:SendMessage"},
			Resource:  []string{queueArn},
			Condition: map[string]map[string]string{
				"ArnEquals":    {"aws:SourceArn": b},
				"StringEquals": {"aws:SourceAccount": account},
			},
		})
	}
	return marshalPolicy(doc)
}

// addConsumers attaches each queue's consumer: a Lambda event source mapping
// with the registry's batch settings that reports failed messages one by one.
func (j *jobs) addConsumers(ctx *pulumi.Context, fns *functions) error {
	child := pulumi.Parent(j)
	for _, q := range j.Queues {
		fn := fns.byName(q.Consumer.Name)
		if fn == nil {
			return fmt.Errorf("queue %s: consumer %s is not deployed", q.Name, q.Consumer.Name)
		}
		spec := fn.Spec.Queue
		mapping, err := lambda.NewEventSourceMapping(ctx, "queue-"+q.Name+"-consumer", &lambda.EventSourceMappingArgs{
			EventSourceArn:                 q.Queue.Arn,
			FunctionName:                   fn.Function.Arn,
			Enabled:                        pulumi.Bool(true),
			BatchSize:                      pulumi.Int(spec.BatchSize),
			MaximumBatchingWindowInSeconds: pulumi.Int(int(spec.BatchWindow / time.Second)),
			FunctionResponseTypes:          pulumi.StringArray{pulumi.String(reportBatchItemFailures)},
			// Lambda checks the role can receive from the queue when the
			// mapping is created.
		}, child, pulumi.DependsOn([]pulumi.Resource{fn.Policy}))
		if err != nil {
			return fmt.Errorf("consumer of queue %s: %w", q.Name, err)
		}
		q.Mapping = mapping
	}
	return ctx.RegisterResourceOutputs(j, pulumi.Map{"queueUrls": j.queueURLs(), "deadLetterQueueUrls": j.dlqURLs()})
}

// queueURLs maps each registry queue to its URL, for the stack outputs.
func (j *jobs) queueURLs() pulumi.StringMap {
	urls := pulumi.StringMap{}
	for _, q := range j.Queues {
		urls[q.Name] = q.Queue.Url
	}
	return urls
}

// dlqURLs maps each registry queue to its dead-letter queue's URL.
func (j *jobs) dlqURLs() pulumi.StringMap {
	urls := pulumi.StringMap{}
	for _, q := range j.Queues {
		urls[q.Name] = q.DLQ.Url
	}
	return urls
}
