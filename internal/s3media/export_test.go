package s3media

// Exported for the tests of package s3media_test, which use the package
// from the outside as its callers do.
var (
	ClassifyForTest         = classify
	PolicyExpirationForTest = policyExpiration
	CopySourceForTest       = copySource
)
