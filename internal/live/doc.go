// Package live holds kmsguard's live suite: the guardrail scenarios of the
// integration tests, run in-process against a real AWS sandbox account.
//
//	KMSGUARD_LIVE_ACCOUNT=<sandbox account id> KMSGUARD_LIVE_REGION=eu-west-1 \
//	  go test -tags live -run TestLive -v ./internal/live
//
// It uses the default credential chain and refuses to run unless the
// caller's account is KMSGUARD_LIVE_ACCOUNT; without that variable or
// without credentials it skips. It creates four KMS keys, one log group and
// one SNS topic named kmsguard-live-<run>, and removes them at the end (the
// keys are scheduled for deletion with the shortest window, 7 days).
//
// The same scenarios run on moto in every `make test` (TestRehearsal), so
// the suite is known to work before anyone points it at an account.
// See docs/testing.md.
package live
