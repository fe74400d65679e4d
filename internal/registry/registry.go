// Package registry lists every function of the system as pure data: its
// trigger, who may call it, what it touches, its sizing and its alarm
// thresholds. The dev server, the Lambda wrapper, the Pulumi program and the
// consistency tests are all derived from it, so it imports nothing heavy.
package registry

import "time"

// Auth says who may call an HTTP route.
type Auth string

// The auth levels, from least to most privileged.
const (
	Public Auth = "public" // anyone, no token
	User   Auth = "user"   // any signed-in account
	Seller Auth = "seller" // accounts with the seller role
	Admin  Auth = "admin"  // accounts with the admin role
)

// TableAction is one DynamoDB action a function may perform on the table and
// its indexes. The Pulumi program grants exactly these, nothing more.
type TableAction string

// The DynamoDB actions functions use. Transactions are authorised per
// contained action, so there is no separate transaction action.
const (
	GetItem        TableAction = "dynamodb:GetItem"
	BatchGetItem   TableAction = "dynamodb:BatchGetItem"
	Query          TableAction = "dynamodb:Query"
	PutItem        TableAction = "dynamodb:PutItem"
	UpdateItem     TableAction = "dynamodb:UpdateItem"
	DeleteItem     TableAction = "dynamodb:DeleteItem"
	BatchWriteItem TableAction = "dynamodb:BatchWriteItem"
	ConditionCheck TableAction = "dynamodb:ConditionCheckItem"
)

// Route is the HTTP trigger of a function: an API Gateway route key, whose
// path syntax ({name} parameters) is also the net/http ServeMux syntax.
type Route struct {
	Method string
	Path   string
}

// Pattern returns the route as a net/http ServeMux pattern, "GET /v1/x/{id}".
func (r Route) Pattern() string { return r.Method + " " + r.Path }

// Key returns the route as an API Gateway route key, "GET /v1/x/{id}".
func (r Route) Key() string { return r.Method + " " + r.Path }

// Queue is the SQS trigger of a worker function. Each queue has a
// dead-letter queue that receives a message after MaxReceiveCount failed
// deliveries.
type Queue struct {
	Name            string // logical name, e.g. "images"; the queue is mh-<stage>-<name>
	BatchSize       int
	BatchWindow     time.Duration
	MaxReceiveCount int
}

// Bucket names the project's buckets by role.
type Bucket string

// The buckets. Uploads receives presigned POSTs (private; its uploads/
// prefix notifies the images queue); media holds processed images served
// by CloudFront.
const (
	Uploads Bucket = "uploads"
	Media   Bucket = "media"
)

// S3Action is one S3 action a function may perform under a prefix.
type S3Action string

// The S3 actions functions use. A presigned POST is signed with the
// signer's own credentials, so presigning needs PutObject.
const (
	GetObject    S3Action = "s3:GetObject"
	PutObject    S3Action = "s3:PutObject"
	DeleteObject S3Action = "s3:DeleteObject"
)

// BucketAccess grants actions on the keys of a bucket under a prefix.
type BucketAccess struct {
	Bucket  Bucket
	Prefix  string
	Actions []S3Action
}

// Alarms holds the thresholds of the per-function CloudWatch alarms.
type Alarms struct {
	// Errors is the number of failed invocations in five minutes that pages.
	Errors int
	// P95 is the p95 duration over five minutes that counts as slow.
	P95 time.Duration
}

// Function is one deployable unit: a folder functions/<Name> with its own
// binary, role, log group and alarms.
type Function struct {
	Name        string
	Description string
	HTTP        *Route // nil for functions triggered otherwise
	Queue       *Queue // the SQS trigger of a worker
	Auth        Auth   // who may call the HTTP route; unset for workers
	Table       []TableAction
	Buckets     []BucketAccess
	MemoryMB    int
	Timeout     time.Duration
	// MaxBody bounds the request body the wrapper reads; larger bodies get 413.
	MaxBody int64
	// Signs marks the functions that issue access tokens: only they may
	// read the private signing keys.
	Signs  bool
	Alarms Alarms
}

// Defaults applied by All to entries that leave a field zero.
const (
	DefaultMemoryMB = 256
	DefaultTimeout  = 10 * time.Second
	DefaultMaxBody  = 64 << 10
	DefaultErrors   = 5
	DefaultP95      = 1 * time.Second
)

// All returns every function, in a stable order, with defaults filled in.
func All() []Function {
	fns := []Function{
		{
			Name:        "health",
			Description: "Liveness: answers without touching any dependency.",
			HTTP:        &Route{"GET", "/v1/health"},
			Auth:        Public,
			MemoryMB:    128,
			Timeout:     3 * time.Second,
			Alarms:      Alarms{P95: 100 * time.Millisecond},
		},
		{
			Name:        "health-ready",
			Description: "Readiness: checks the dependencies (DynamoDB) and reports their latency.",
			HTTP:        &Route{"GET", "/v1/health/ready"},
			Auth:        Public,
			Table:       []TableAction{GetItem},
			MemoryMB:    128,
			Timeout:     5 * time.Second,
			Alarms:      Alarms{P95: 200 * time.Millisecond},
		},
		{
			Name:        "listing-get",
			Description: "Returns one published listing.",
			HTTP:        &Route{"GET", "/v1/listings/{id}"},
			Auth:        Public,
			Table:       []TableAction{Query, UpdateItem}, // the listing and its counters; view counts, aggregated
			Alarms:      Alarms{P95: 200 * time.Millisecond},
		},
		{
			Name:        "listing-list",
			Description: "Browses and searches published listings by keyword, category and price.",
			HTTP:        &Route{"GET", "/v1/listings"},
			Auth:        Public,
			Table:       []TableAction{Query, BatchGetItem},
			Alarms:      Alarms{P95: 200 * time.Millisecond},
		},
		{
			Name:        "listing-create",
			Description: "Creates a draft listing owned by the calling seller.",
			HTTP:        &Route{"POST", "/v1/listings"},
			Auth:        Seller,
			Table:       []TableAction{GetItem, PutItem},
			MaxBody:     16 << 10,
			Alarms:      Alarms{P95: 200 * time.Millisecond},
		},
		{
			Name:        "listing-update",
			Description: "Edits a listing under optimistic locking (If-Match).",
			HTTP:        &Route{"PATCH", "/v1/listings/{id}"},
			Auth:        Seller,
			Table:       []TableAction{GetItem, PutItem, BatchWriteItem},
			MaxBody:     16 << 10,
			Alarms:      Alarms{P95: 200 * time.Millisecond},
		},
		{
			Name:        "listing-publish",
			Description: "Makes a listing visible to buyers.",
			HTTP:        &Route{"POST", "/v1/listings/{id}/publish"},
			Auth:        Seller,
			Table:       []TableAction{GetItem, PutItem, BatchWriteItem},
			MaxBody:     1 << 10,
			Alarms:      Alarms{P95: 200 * time.Millisecond},
		},
		{
			Name:        "listing-archive",
			Description: "Hides a listing from buyers.",
			HTTP:        &Route{"POST", "/v1/listings/{id}/archive"},
			Auth:        Seller,
			Table:       []TableAction{GetItem, PutItem, BatchWriteItem},
			MaxBody:     1 << 10,
			Alarms:      Alarms{P95: 200 * time.Millisecond},
		},
		{
			Name:        "listing-image-upload",
			Description: "Returns a presigned POST for one image of the caller's listing.",
			HTTP:        &Route{"POST", "/v1/listings/{id}/images"},
			Auth:        Seller,
			Table:       []TableAction{GetItem, Query},
			Buckets:     []BucketAccess{{Bucket: Uploads, Prefix: "uploads/", Actions: []S3Action{PutObject}}},
			MaxBody:     1 << 10,
			Alarms:      Alarms{P95: 200 * time.Millisecond},
		},
		{
			Name:        "listing-image-delete",
			Description: "Removes an image from the caller's listing.",
			HTTP:        &Route{"DELETE", "/v1/listings/{id}/images/{imageId}"},
			Auth:        Seller,
			Table:       []TableAction{Query, GetItem, PutItem, UpdateItem, DeleteItem},
			Buckets:     []BucketAccess{{Bucket: Media, Prefix: "listings/", Actions: []S3Action{DeleteObject}}},
			MaxBody:     1 << 10,
			Alarms:      Alarms{P95: 300 * time.Millisecond},
		},
		{
			Name:        "image-worker",
			Description: "Checks uploaded images, strips their metadata and writes thumbnails.",
			Queue:       &Queue{Name: "images", BatchSize: 5, BatchWindow: time.Second, MaxReceiveCount: 3},
			Table:       []TableAction{GetItem, PutItem, UpdateItem},
			Buckets: []BucketAccess{
				{Bucket: Uploads, Prefix: "uploads/", Actions: []S3Action{GetObject, DeleteObject}},
				{Bucket: Uploads, Prefix: "quarantine/", Actions: []S3Action{PutObject}},
				{Bucket: Media, Prefix: "listings/", Actions: []S3Action{PutObject}},
			},
			MemoryMB: 1536, // decoding a 40-megapixel image peaks near 700 MB of heap
			Timeout:  60 * time.Second,
			Alarms:   Alarms{P95: 20 * time.Second},
		},
		{
			Name:        "favorite-add",
			Description: "Adds a listing to the caller's favourites (idempotent).",
			HTTP:        &Route{"PUT", "/v1/listings/{id}/favorite"},
			Auth:        User,
			Table:       []TableAction{GetItem, PutItem, UpdateItem, ConditionCheck},
			MaxBody:     1 << 10,
			Alarms:      Alarms{P95: 200 * time.Millisecond},
		},
		{
			Name:        "favorite-remove",
			Description: "Removes a listing from the caller's favourites (idempotent).",
			HTTP:        &Route{"DELETE", "/v1/listings/{id}/favorite"},
			Auth:        User,
			Table:       []TableAction{GetItem, DeleteItem, UpdateItem},
			MaxBody:     1 << 10,
			Alarms:      Alarms{P95: 200 * time.Millisecond},
		},
		{
			Name:        "favorite-list",
			Description: "Lists the caller's favourite listings, most recent first.",
			HTTP:        &Route{"GET", "/v1/me/favorites"},
			Auth:        User,
			Table:       []TableAction{GetItem, Query, BatchGetItem},
			Alarms:      Alarms{P95: 200 * time.Millisecond},
		},
		{
			Name:        "auth-register",
			Description: "Creates a buyer account and signs it in.",
			HTTP:        &Route{"POST", "/v1/auth/register"},
			Auth:        Public,
			Table:       []TableAction{PutItem},
			MemoryMB:    1024, // argon2id hashing is CPU-bound; CPU grows with memory
			MaxBody:     4 << 10,
			Signs:       true,
			Alarms:      Alarms{P95: 800 * time.Millisecond},
		},
		{
			Name:        "auth-login",
			Description: "Signs in with email and password, behind per-IP and per-account limits.",
			HTTP:        &Route{"POST", "/v1/auth/login"},
			Auth:        Public,
			Table:       []TableAction{GetItem, PutItem, UpdateItem, DeleteItem},
			MemoryMB:    1024,
			MaxBody:     4 << 10,
			Signs:       true,
			Alarms:      Alarms{P95: 800 * time.Millisecond},
		},
		{
			Name:        "auth-refresh",
			Description: "Rotates a refresh token into new tokens; reuse ends the session family.",
			HTTP:        &Route{"POST", "/v1/auth/refresh"},
			Auth:        Public,
			Table:       []TableAction{GetItem, PutItem, UpdateItem},
			MaxBody:     4 << 10,
			Signs:       true,
			Alarms:      Alarms{P95: 200 * time.Millisecond},
		},
		{
			Name:        "auth-logout",
			Description: "Ends the session a refresh token belongs to.",
			HTTP:        &Route{"POST", "/v1/auth/logout"},
			Auth:        Public,
			Table:       []TableAction{GetItem, UpdateItem},
			MaxBody:     4 << 10,
			Alarms:      Alarms{P95: 200 * time.Millisecond},
		},
		{
			Name:        "me-get",
			Description: "Returns the caller's own account.",
			HTTP:        &Route{"GET", "/v1/me"},
			Auth:        User,
			Table:       []TableAction{GetItem},
			Alarms:      Alarms{P95: 200 * time.Millisecond},
		},
		{
			Name:        "me-update",
			Description: "Changes the caller's own profile.",
			HTTP:        &Route{"PATCH", "/v1/me"},
			Auth:        User,
			Table:       []TableAction{GetItem, UpdateItem},
			MaxBody:     4 << 10,
			Alarms:      Alarms{P95: 200 * time.Millisecond},
		},
		{
			Name:        "me-seller",
			Description: "Makes the caller a seller.",
			HTTP:        &Route{"POST", "/v1/me/seller"},
			Auth:        User,
			Table:       []TableAction{GetItem, UpdateItem},
			MaxBody:     1 << 10,
			Alarms:      Alarms{P95: 200 * time.Millisecond},
		},
		{
			Name:        "admin-user-roles",
			Description: "Replaces a user's roles (admins only).",
			HTTP:        &Route{"PUT", "/v1/admin/users/{id}/roles"},
			Auth:        Admin,
			Table:       []TableAction{GetItem, UpdateItem},
			MaxBody:     1 << 10,
			Alarms:      Alarms{P95: 200 * time.Millisecond},
		},
		{
			Name:        "jwks",
			Description: "Serves the public keys that verify access tokens.",
			HTTP:        &Route{"GET", "/.well-known/jwks.json"},
			Auth:        Public,
			Table:       []TableAction{GetItem},
			MemoryMB:    128,
			Alarms:      Alarms{P95: 200 * time.Millisecond},
		},
		{
			Name:        "openid-configuration",
			Description: "Serves the discovery document API Gateway's JWT authorizer reads.",
			HTTP:        &Route{"GET", "/.well-known/openid-configuration"},
			Auth:        Public,
			MemoryMB:    128,
			Alarms:      Alarms{P95: 100 * time.Millisecond},
		},
	}
	for i := range fns {
		f := &fns[i]
		if f.MemoryMB == 0 {
			f.MemoryMB = DefaultMemoryMB
		}
		if f.Timeout == 0 {
			f.Timeout = DefaultTimeout
		}
		if f.MaxBody == 0 {
			f.MaxBody = DefaultMaxBody
		}
		if f.Alarms.Errors == 0 {
			f.Alarms.Errors = DefaultErrors
		}
		if f.Alarms.P95 == 0 {
			f.Alarms.P95 = DefaultP95
		}
	}
	return fns
}

// HTTP returns the functions that serve an HTTP route.
func HTTP() []Function {
	var out []Function
	for _, f := range All() {
		if f.HTTP != nil {
			out = append(out, f)
		}
	}
	return out
}

// Lookup returns the function with the given name.
func Lookup(name string) (Function, bool) {
	for _, f := range All() {
		if f.Name == name {
			return f, true
		}
	}
	return Function{}, false
}
