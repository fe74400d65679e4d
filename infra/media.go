package main

import (
	"fmt"
	"regexp"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudfront"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/s3"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/mountainhighway/marketplace/internal/registry"
)

// buckets are the registry's bucket roles; the program creates one bucket
// for each, and a registry entry may be granted access to no other.
var buckets = []registry.Bucket{registry.Uploads, registry.Media}

// The lifecycle of the uploads bucket. A presigned POST lands in uploads/
// and the image worker deletes it once processed, so whatever is still there
// after a day is an upload the worker gave up on (its message is in the
// dead-letter queue, see docs/runbooks/queue-dlq.md). Quarantined files are
// kept a month for a look at what was rejected, then go.
const (
	uploadsExpiryDays    = 1
	quarantineExpiryDays = 30
)

// quarantinePrefix is where the image worker moves files that are not
// images; the lifecycle expires them.
const quarantinePrefix = "quarantine/"

// uploadsPrefix is where presigned POSTs put new files; its ObjectCreated
// events feed the images queue.
const uploadsPrefix = "uploads/"

// publishedPrefix is the only part of the media bucket CloudFront may read:
// the thumbnails the image worker writes. It is a constant rather than
// derived from the registry's grants, so that a future private prefix in the
// media bucket is never published by accident.
const publishedPrefix = "listings/"

// noncurrentMediaDays is how long prod keeps an overwritten or deleted
// thumbnail, the window to restore after a bad deploy or a wrong delete.
const noncurrentMediaDays = 30

// cachingOptimizedPolicyID is the ID of CloudFront's managed cache policy
// "Managed-CachingOptimized" (long TTLs, no cookies, headers or query
// strings in the key, gzip and brotli). AWS documents it as a fixed ID in
// every account, so no lookup is needed at deploy time.
const cachingOptimizedPolicyID = "658327ea-f89d-4fab-a63d-7e88639e58f6"

// mediaOriginID names the media bucket inside the distribution.
const mediaOriginID = "media-bucket"

// uploadsCORSMaxAge lets browsers cache a preflight for an hour.
const uploadsCORSMaxAge = 3600

// maxBucketName is S3's limit on bucket names.
const maxBucketName = 63

// accountID matches an AWS account id.
var accountID = regexp.MustCompile(`^[0-9]{12}$`)

// media is the component that owns the object storage: the private uploads
// bucket that presigned POSTs write to, the private media bucket holding
// processed images, and the CloudFront distribution that alone may read the
// media bucket.
type media struct {
	pulumi.ResourceState

	Uploads      *s3.BucketV2
	Media        *s3.BucketV2
	Distribution *cloudfront.Distribution
	// BaseURL is https://<distribution domain>: image URLs are BaseURL +
	// "/" + key.
	BaseURL pulumi.StringOutput
}

// bucket returns the bucket of a registry role, or nil for an unknown role.
func (m *media) bucket(b registry.Bucket) *s3.BucketV2 {
	switch b {
	case registry.Uploads:
		return m.Uploads
	case registry.Media:
		return m.Media
	}
	return nil
}

// awsAccount returns the id of the account the aws provider deploys to.
func awsAccount(ctx *pulumi.Context) (string, error) {
	id, err := aws.GetCallerIdentity(ctx, &aws.GetCallerIdentityArgs{})
	if err != nil {
		return "", fmt.Errorf("looking up the AWS account id (bucket names include it): %w", err)
	}
	if !accountID.MatchString(id.AccountId) {
		return "", fmt.Errorf("the AWS account id %q is not 12 digits", id.AccountId)
	}
	return id.AccountId, nil
}

// bucketName is the physical name of a bucket: mh-<stage>-<role>-<account>.
// Bucket names are global across all AWS accounts, so the stage prefix that
// keeps every other resource apart is not enough; the account id is unique,
// stable and already known to whoever deploys, so the name stays
// predictable (runbooks and `aws s3` commands can spell it), needs no extra
// stack setting, and cannot be squatted by anyone outside the account.
func bucketName(cfg stackConfig, role registry.Bucket, account string) string {
	return cfg.name(string(role)) + "-" + account
}

// validateBucketNames checks the names before anything is deployed: S3
// rejects a name over 63 characters only when the bucket is created.
func validateBucketNames(cfg stackConfig, account string) error {
	for _, b := range buckets {
		if n := bucketName(cfg, b, account); len(n) > maxBucketName {
			return fmt.Errorf("bucket name %s is %d characters, the limit is %d", n, len(n), maxBucketName)
		}
	}
	return nil
}

// newMedia creates both buckets and the distribution in front of the media
// bucket.
func newMedia(ctx *pulumi.Context, cfg stackConfig, account string) (*media, error) {
	if err := validateBucketNames(cfg, account); err != nil {
		return nil, err
	}
	m := &media{}
	if err := ctx.RegisterComponentResource("mountain-highway:infra:Media", "media", m); err != nil {
		return nil, err
	}
	child := pulumi.Parent(m)

	var err error
	// Uploads are transient (a day at most), so the bucket is never
	// versioned: a version history would keep every rejected file.
	if m.Uploads, err = newPrivateBucket(ctx, cfg, child, registry.Uploads, account, false); err != nil {
		return nil, err
	}
	if err := uploadsLifecycle(ctx, child, m.Uploads); err != nil {
		return nil, err
	}
	if err := uploadsCORS(ctx, cfg, child, m.Uploads); err != nil {
		return nil, err
	}
	if _, err := newBucketPolicy(ctx, child, "uploads-policy", m.Uploads, nil); err != nil {
		return nil, err
	}

	// Media is what listings show: prod keeps versions so that a buggy
	// worker or a wrong delete can be undone; staging does not need it.
	if m.Media, err = newPrivateBucket(ctx, cfg, child, registry.Media, account, cfg.isProd()); err != nil {
		return nil, err
	}
	if err := m.newDistribution(ctx, cfg, child); err != nil {
		return nil, err
	}

	if err := ctx.RegisterResourceOutputs(m, pulumi.Map{
		"uploadsBucket": m.Uploads.Bucket,
		"mediaBucket":   m.Media.Bucket,
		"mediaBaseUrl":  m.BaseURL,
	}); err != nil {
		return nil, err
	}
	return m, nil
}

// newPrivateBucket creates a bucket nobody outside the account can reach:
// every public access block on, ACLs disabled (the bucket owner owns every
// object, whoever wrote it), S3-managed encryption, and versioning as asked.
// Prod buckets survive `pulumi destroy` unless emptied by hand; staging ones
// are emptied and deleted with the stack.
func newPrivateBucket(ctx *pulumi.Context, cfg stackConfig, child pulumi.ResourceOption, role registry.Bucket, account string, versioned bool) (*s3.BucketV2, error) {
	prefix := string(role)
	opts := []pulumi.ResourceOption{child}
	if cfg.isProd() && role == registry.Media {
		// Uploads can be lost (a seller uploads again); the images every
		// listing shows cannot.
		opts = append(opts, pulumi.Protect(true))
	}
	bucket, err := s3.NewBucketV2(ctx, prefix+"-bucket", &s3.BucketV2Args{
		Bucket:       pulumi.String(bucketName(cfg, role, account)),
		ForceDestroy: pulumi.Bool(!cfg.isProd()),
	}, opts...)
	if err != nil {
		return nil, err
	}
	if _, err := s3.NewBucketPublicAccessBlock(ctx, prefix+"-public-access", &s3.BucketPublicAccessBlockArgs{
		Bucket:                bucket.Bucket,
		BlockPublicAcls:       pulumi.Bool(true),
		BlockPublicPolicy:     pulumi.Bool(true),
		IgnorePublicAcls:      pulumi.Bool(true),
		RestrictPublicBuckets: pulumi.Bool(true),
	}, child); err != nil {
		return nil, err
	}
	if _, err := s3.NewBucketOwnershipControls(ctx, prefix+"-ownership", &s3.BucketOwnershipControlsArgs{
		Bucket: bucket.Bucket,
		Rule:   s3.BucketOwnershipControlsRuleArgs{ObjectOwnership: pulumi.String("BucketOwnerEnforced")},
	}, child); err != nil {
		return nil, err
	}
	// SSE-S3, not KMS: CloudFront's OAC and S3's own event notifications
	// work with it without key policies, and there is no per-request KMS
	// cost on every thumbnail served.
	if _, err := s3.NewBucketServerSideEncryptionConfigurationV2(ctx, prefix+"-encryption", &s3.BucketServerSideEncryptionConfigurationV2Args{
		Bucket: bucket.Bucket,
		Rules: s3.BucketServerSideEncryptionConfigurationV2RuleArray{
			s3.BucketServerSideEncryptionConfigurationV2RuleArgs{
				ApplyServerSideEncryptionByDefault: s3.BucketServerSideEncryptionConfigurationV2RuleApplyServerSideEncryptionByDefaultArgs{
					SseAlgorithm: pulumi.String("AES256"),
				},
			},
		},
	}, child); err != nil {
		return nil, err
	}
	// "Disabled" is only valid for a bucket that was never versioned;
	// turning versioning off later means "Suspended", by hand.
	status := "Disabled"
	if versioned {
		status = "Enabled"
	}
	versioning, err := s3.NewBucketVersioningV2(ctx, prefix+"-versioning", &s3.BucketVersioningV2Args{
		Bucket:                  bucket.Bucket,
		VersioningConfiguration: s3.BucketVersioningV2VersioningConfigurationArgs{Status: pulumi.String(status)},
	}, child)
	if err != nil {
		return nil, err
	}
	if versioned {
		// Old versions are the undo window, not an archive.
		if _, err := s3.NewBucketLifecycleConfigurationV2(ctx, prefix+"-lifecycle", &s3.BucketLifecycleConfigurationV2Args{
			Bucket: bucket.Bucket,
			Rules: s3.BucketLifecycleConfigurationV2RuleArray{
				s3.BucketLifecycleConfigurationV2RuleArgs{
					Id:     pulumi.String("expire-noncurrent-versions"),
					Status: pulumi.String("Enabled"),
					Filter: s3.BucketLifecycleConfigurationV2RuleFilterArgs{Prefix: pulumi.String("")},
					NoncurrentVersionExpiration: s3.BucketLifecycleConfigurationV2RuleNoncurrentVersionExpirationArgs{
						NoncurrentDays: pulumi.Int(noncurrentMediaDays),
					},
					Expiration: s3.BucketLifecycleConfigurationV2RuleExpirationArgs{ExpiredObjectDeleteMarker: pulumi.Bool(true)},
				},
			},
			// S3 rejects noncurrent-version rules until versioning is on.
		}, child, pulumi.DependsOn([]pulumi.Resource{versioning})); err != nil {
			return nil, err
		}
	}
	return bucket, nil
}

// uploadsLifecycle expires what the worker left behind in uploads/ and what
// it quarantined.
func uploadsLifecycle(ctx *pulumi.Context, child pulumi.ResourceOption, bucket *s3.BucketV2) error {
	expire := func(id, prefix string, days int) s3.BucketLifecycleConfigurationV2RuleArgs {
		return s3.BucketLifecycleConfigurationV2RuleArgs{
			Id:         pulumi.String(id),
			Status:     pulumi.String("Enabled"),
			Filter:     s3.BucketLifecycleConfigurationV2RuleFilterArgs{Prefix: pulumi.String(prefix)},
			Expiration: s3.BucketLifecycleConfigurationV2RuleExpirationArgs{Days: pulumi.Int(days)},
		}
	}
	_, err := s3.NewBucketLifecycleConfigurationV2(ctx, "uploads-lifecycle", &s3.BucketLifecycleConfigurationV2Args{
		Bucket: bucket.Bucket,
		Rules: s3.BucketLifecycleConfigurationV2RuleArray{
			expire("expire-uploads", uploadsPrefix, uploadsExpiryDays),
			expire("expire-quarantine", quarantinePrefix, quarantineExpiryDays),
		},
	}, child)
	return err
}

// uploadsCORS lets the web app's origins POST to the uploads bucket from the
// browser. Without configured origins (an API-only stack) there is no CORS
// at all: curl and mobile clients do not need it.
func uploadsCORS(ctx *pulumi.Context, cfg stackConfig, child pulumi.ResourceOption, bucket *s3.BucketV2) error {
	if len(cfg.CORSOrigins) == 0 {
		return nil
	}
	_, err := s3.NewBucketCorsConfigurationV2(ctx, "uploads-cors", &s3.BucketCorsConfigurationV2Args{
		Bucket: bucket.Bucket,
		CorsRules: s3.BucketCorsConfigurationV2CorsRuleArray{
			s3.BucketCorsConfigurationV2CorsRuleArgs{
				AllowedMethods: pulumi.StringArray{pulumi.String("POST")},
				AllowedOrigins: pulumi.ToStringArray(cfg.CORSOrigins),
				// What may be uploaded is bounded by the signed POST policy
				// (key, size, content type), not by request headers.
				AllowedHeaders: pulumi.StringArray{pulumi.String("*")},
				ExposeHeaders:  pulumi.StringArray{pulumi.String("ETag"), pulumi.String("Location")},
				MaxAgeSeconds:  pulumi.Int(uploadsCORSMaxAge),
			},
		},
	}, child)
	return err
}

// newDistribution creates the origin access control and the distribution
// that serve the media bucket, and the bucket policy that lets only that
// distribution read it.
func (m *media) newDistribution(ctx *pulumi.Context, cfg stackConfig, child pulumi.ResourceOption) error {
	oac, err := cloudfront.NewOriginAccessControl(ctx, "media-oac", &cloudfront.OriginAccessControlArgs{
		Name:                          pulumi.String(cfg.name("media")),
		Description:                   pulumi.String("CloudFront reads " + cfg.name("media") + " with SigV4"),
		OriginAccessControlOriginType: pulumi.String("s3"),
		// Always sign: the bucket policy admits only signed requests from
		// this distribution, so an unsigned request could never succeed.
		SigningBehavior: pulumi.String("always"),
		SigningProtocol: pulumi.String("sigv4"),
	}, child)
	if err != nil {
		return err
	}
	getHead := pulumi.StringArray{pulumi.String("GET"), pulumi.String("HEAD")}
	dist, err := cloudfront.NewDistribution(ctx, "media-cdn", &cloudfront.DistributionArgs{
		Enabled:       pulumi.Bool(true),
		Comment:       pulumi.String("Listing images of " + cfg.name("media")),
		IsIpv6Enabled: pulumi.Bool(true),
		HttpVersion:   pulumi.String("http2and3"),
		// North America and Europe: where the marketplace's users are, at
		// the lowest price; other viewers are served from those edges.
		PriceClass: pulumi.String("PriceClass_100"),
		Origins: cloudfront.DistributionOriginArray{
			cloudfront.DistributionOriginArgs{
				OriginId: pulumi.String(mediaOriginID),
				// The regional name, so that a fresh bucket is reachable
				// before the global name has propagated.
				DomainName:            m.Media.BucketRegionalDomainName,
				OriginAccessControlId: oac.ID(),
			},
		},
		DefaultCacheBehavior: cloudfront.DistributionDefaultCacheBehaviorArgs{
			TargetOriginId:       pulumi.String(mediaOriginID),
			ViewerProtocolPolicy: pulumi.String("redirect-to-https"),
			AllowedMethods:       getHead,
			CachedMethods:        getHead,
			CachePolicyId:        pulumi.String(cachingOptimizedPolicyID),
			Compress:             pulumi.Bool(true),
		},
		Restrictions: cloudfront.DistributionRestrictionsArgs{
			GeoRestriction: cloudfront.DistributionRestrictionsGeoRestrictionArgs{RestrictionType: pulumi.String("none")},
		},
		ViewerCertificate: cloudfront.DistributionViewerCertificateArgs{CloudfrontDefaultCertificate: pulumi.Bool(true)},
		// The domain name exists as soon as the distribution does. Waiting
		// for it to reach every edge (many minutes) would hold up every
		// function's update, because they all take MEDIA_BASE_URL.
		WaitForDeployment: pulumi.Bool(false),
	}, child)
	if err != nil {
		return err
	}
	m.Distribution = dist
	m.BaseURL = pulumi.Sprintf("https://%s", dist.DomainName)

	_, err = newBucketPolicy(ctx, child, "media-policy", m.Media, []pulumi.StringOutput{dist.Arn})
	return err
}

// newBucketPolicy attaches a bucket's policy: TLS only and, for the media
// bucket, reads of the published prefix by the given distributions.
func newBucketPolicy(ctx *pulumi.Context, child pulumi.ResourceOption, name string, bucket *s3.BucketV2, distributions []pulumi.StringOutput) (*s3.BucketPolicy, error) {
	values := []any{bucket.Arn}
	for _, d := range distributions {
		values = append(values, d)
	}
	doc := pulumi.All(values...).ApplyT(func(all []any) (string, error) {
		arns, err := asStrings(all)
		if err != nil {
			return "", fmt.Errorf("%s: %w", name, err)
		}
		return bucketPolicy(arns[0], arns[1:])
	}).(pulumi.StringOutput)
	return s3.NewBucketPolicy(ctx, name, &s3.BucketPolicyArgs{Bucket: bucket.Bucket, Policy: doc}, child)
}

// bucketPolicy denies any request not made over TLS and lets each given
// CloudFront distribution read the published prefix. Nothing else is
// granted here: functions get their access from their own roles.
func bucketPolicy(bucketArn string, distributionArns []string) (string, error) {
	doc := policyDocument{
		Version: policyVersion,
		Statement: []policyStatement{{
			Sid:       "DenyInsecureTransport",
			Effect:    "Deny",
			Principal: map[string]string{"AWS": "*"},
			Action:    []string{"s3:*"},
			Resource:  []string{bucketArn, bucketArn + "/*"},
			Condition: map[string]map[string]string{"Bool": {"aws:SecureTransport": "false"}},
		}},
	}
	for _, d := range distributionArns {
		doc.Statement = append(doc.Statement, policyStatement{
			Sid:       "CloudFrontReadsPublished",
			Effect:    "Allow",
			Principal: map[string]string{"Service": "cloudfront.amazonaws.com"},
			Action:    []string{"s3:GetObject"},
			Resource:  []string{objectsArn(bucketArn, publishedPrefix)},
			// The service principal alone would admit every CloudFront
			// distribution of every account.
			Condition: map[string]map[string]string{"StringEquals": {"AWS:SourceArn": d}},
		})
	}
	return marshalPolicy(doc)
}
