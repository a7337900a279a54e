package guardrail

import (
	"errors"

	"github.com/kmsguard/kmsguard/events/cloudtrail"
)

// terminalError marks a failure that no retry can fix.
type terminalError struct{ err error }

func (e terminalError) Error() string { return e.err.Error() }
func (e terminalError) Unwrap() error { return e.err }

// Terminal marks err as not worth retrying: the Lambda logs it and returns
// success, so EventBridge and Lambda do not retry it into the DLQ.
func Terminal(err error) error {
	if err == nil {
		return nil
	}
	return terminalError{err}
}

// IsTerminal reports whether err must not be retried: marked Terminal, or
// bad input from the event parser.
func IsTerminal(err error) bool {
	var t terminalError
	return errors.As(err, &t) || errors.Is(err, cloudtrail.ErrBadEvent)
}
