package dynamotest

import (
	"context"
	"slices"
	"sync"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go/middleware"

	"github.com/mountainhighway/marketplace/internal/registry"
	"github.com/mountainhighway/marketplace/internal/telemetry"
)

// Actions records, per registry function, the DynamoDB IAM actions its
// requests performed — read from the invocation the wrappers put in the
// request's context — so a test can hold them against the registry, from
// which each function's IAM role is built. It catches the least-privilege
// mistakes no local stack can: DynamoDB Local checks no permissions.
type Actions struct {
	mu sync.Mutex
	m  map[string]map[registry.TableAction]bool
}

// NewActions returns an empty recorder.
func NewActions() *Actions { return &Actions{m: map[string]map[registry.TableAction]bool{}} }

// Option installs the recorder on a client. A transaction needs the
// actions of its parts, so those are recorded instead of the operation.
func (a *Actions) Option(o *dynamodb.Options) {
	o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
		return st.Initialize.Add(middleware.InitializeMiddlewareFunc("record-actions",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				if fn := telemetry.FromContext(ctx).Dimensions["Function"]; fn != "" {
					a.add(fn, actionsOf(ctx, in.Parameters)...)
				}
				return next.HandleInitialize(ctx, in)
			}), middleware.Before)
	})
}

func actionsOf(ctx context.Context, params any) []registry.TableAction {
	tx, ok := params.(*dynamodb.TransactWriteItemsInput)
	if !ok {
		return []registry.TableAction{registry.TableAction("dynamodb:" + awsmiddleware.GetOperationName(ctx))}
	}
	var out []registry.TableAction
	for _, it := range tx.TransactItems {
		switch {
		case it.Put != nil:
			out = append(out, registry.PutItem)
		case it.Update != nil:
			out = append(out, registry.UpdateItem)
		case it.Delete != nil:
			out = append(out, registry.DeleteItem)
		case it.ConditionCheck != nil:
			out = append(out, registry.ConditionCheck)
		}
	}
	return out
}

func (a *Actions) add(fn string, actions ...registry.TableAction) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.m[fn] == nil {
		a.m[fn] = map[registry.TableAction]bool{}
	}
	for _, x := range actions {
		a.m[fn][x] = true
	}
}

// Functions returns how many functions made calls so far.
func (a *Actions) Functions() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.m)
}

// Violations lists, sorted, "<function> needs <action>" for every action a
// function performed that its registry entry does not grant.
func (a *Actions) Violations() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []string
	for name, actions := range a.m {
		fn, ok := registry.Lookup(name)
		if !ok {
			out = append(out, name+" is not in the registry")
			continue
		}
		for x := range actions {
			if !slices.Contains(fn.Table, x) {
				out = append(out, name+" needs "+string(x))
			}
		}
	}
	slices.Sort(out)
	return out
}
