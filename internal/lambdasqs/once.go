package lambdasqs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/mountainhighway/marketplace/internal/telemetry"
)

// Deduper remembers which pieces of work have been done, so that a
// duplicate delivery (SQS delivers at least once, and producers retry) is
// recognised. sqsjobs.Deduper implements it on the DynamoDB table.
type Deduper interface {
	// FirstTime records key for ttl and reports whether it was not already
	// recorded (or its record had expired). It is atomic: of two
	// concurrent calls with the same key, exactly one gets true.
	FirstTime(ctx context.Context, key string, ttl time.Duration) (bool, error)
	// Forget removes key's record, so that the work can be done again: Once
	// calls it when the work failed after FirstTime, because otherwise the
	// retry of a failed message would be skipped as a duplicate and the
	// work would never be done.
	Forget(ctx context.Context, key string) error
}

// KeyFunc returns the deduplication key of a message: what identifies the
// work it asks for (an upload's object key and ETag, an event id), not the
// SQS message id, which differs when a producer sends the same thing twice.
// An error fails the message.
type KeyFunc func(msg events.SQSMessage) (string, error)

// forgetTimeout bounds Forget after a failure. It runs on a context that
// ignores the invocation's cancellation, because a handler that failed by
// running out of time must still release its key.
const forgetTimeout = 2 * time.Second

// Once returns a Handler that runs h for the first delivery of each key and
// acknowledges later ones without running h. If h fails, the key is
// forgotten again so that the retry runs h.
//
// One case is not covered: if the process dies while h runs (a Lambda
// timeout, which the wrapper's deadline reserve makes unlikely), the key
// stays recorded for ttl and the redelivery is skipped as a duplicate. h
// should therefore still make its writes idempotent where it can; Once is
// for the side effects that cannot be (a count, an e-mail).
func Once(d Deduper, ttl time.Duration, key KeyFunc, h Handler) Handler {
	return func(ctx context.Context, msg events.SQSMessage) (err error) {
		k, err := key(msg)
		if err != nil {
			return fmt.Errorf("lambdasqs.Once: deduplication key: %w", err)
		}
		first, err := d.FirstTime(ctx, k, ttl)
		if err != nil {
			return fmt.Errorf("lambdasqs.Once: %w", err)
		}
		log := telemetry.FromContext(ctx).Logger
		if !first {
			log.Info("duplicate delivery skipped", slog.String("dedupKey", k))
			return nil
		}
		returned := false
		// Deferred so that a panicking h, which the wrapper recovers and
		// fails like an error, releases the key too.
		defer func() {
			if returned && err == nil {
				return
			}
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), forgetTimeout)
			defer cancel()
			if ferr := d.Forget(fctx, k); ferr != nil {
				log.Error("forgetting the deduplication key failed; the retry will be skipped as a duplicate",
					slog.String("dedupKey", k), slog.String("error", ferr.Error()))
				err = errors.Join(err, fmt.Errorf("lambdasqs.Once: %w", ferr))
			}
		}()
		err = h(ctx, msg)
		returned = true
		return err
	}
}
