package guardrail

import (
	"context"
	"fmt"
	"time"
)

// Memory is what the driver remembers between invocations (the ledger,
// functions/ledger): how often kmsguard fixed a resource lately, whether
// it stepped back from it, and the key states it saw.
type Memory interface {
	// Remediations counts what kmsguard fixed on the resource since then
	// (or since an operator cleared it, if later).
	Remediations(ctx context.Context, r MemoryRef, since time.Time) (int, error)
	// SteppedBack reports whether kmsguard stepped back from the resource,
	// until when, and from whom.
	SteppedBack(ctx context.Context, r MemoryRef) (bool, time.Time, string, error)
	// StepBack records that kmsguard stops acting on the resource.
	StepBack(ctx context.Context, r MemoryRef, until time.Time, actor string) error
}

// MemoryRef names a resource as one guardrail sees it.
type MemoryRef struct {
	Guardrail, Account, Region, Resource string
}

// LoopBreaker is how many remediations of one resource by one guardrail
// within Window make kmsguard step back from it (AWS Config's
// MaximumAutomaticAttempts, per resource and window).
type LoopBreaker struct {
	Max    int
	Window time.Duration
}

// DefaultLoopBreaker: three fixes of the same resource in an hour.
var DefaultLoopBreaker = LoopBreaker{Max: 3, Window: time.Hour}

// Stater is implemented by a Logic that can say, in a few words, what
// state the resource was in and is in after kmsguard's action: the ledger
// records both.
type Stater[S any] interface {
	States(s S) (before, after string)
}

// OutcomeRecorder records every outcome (the ledger); at is the event's
// time, which with its id keys the record, so a redelivery rewrites it.
type OutcomeRecorder interface {
	RecordOutcome(ctx context.Context, out Outcome, at time.Time) error
}

// WithRecorder records every outcome the runner handles.
func (r *Runner) WithRecorder(rec OutcomeRecorder) *Runner {
	r.recorder = rec
	return r
}

// KeyStates is the key states kmsguard saw: recorded from the key-state
// events its guardrails receive, and looked up (in the ledger, then in
// CloudTrail) to restore the state a key had before it was scheduled for
// deletion.
type KeyStates interface {
	RecordKeyState(ctx context.Context, account, region, keyID, state string, at time.Time, eventID string) error
	KeyStateBefore(ctx context.Context, account, region, keyID string, at time.Time) KeyStateSeen
}

// KeyStateSeen is a key's state before a moment and how it was learned.
type KeyStateSeen struct {
	// State is Enabled or Disabled; "" when neither source could tell.
	State string
	At    time.Time
	// Source says where it was learned ("kmsguard's ledger", "CloudTrail"),
	// or why it could not be.
	Source string
	// By is who made the change that set it, when known.
	By string
}

// SetKeyStates gives the driver's calls the key states (Call.KeyStates).
func (d *Driver[API, S]) SetKeyStates(k KeyStates) { d.keys = k }

// Policies are the last key policy without findings kmsguard saw for each
// key, so an alert can offer it back and remediate mode can restore it.
type Policies interface {
	LastGoodPolicy(ctx context.Context, account, region, keyID string) (GoodPolicy, bool)
	RecordGoodPolicy(ctx context.Context, account, region, keyID string, p GoodPolicy) error
}

// GoodPolicy is a key policy without findings, when and from which event
// kmsguard saw it.
type GoodPolicy struct {
	Policy  string
	At      time.Time
	EventID string
}

// SetPolicies gives the driver's calls the good policies (Call.Policies).
func (d *Driver[API, S]) SetPolicies(p Policies) { d.policies = p }

// SetMemory gives the driver its memory and loop breaker.
func (d *Driver[API, S]) SetMemory(m Memory, lb LoopBreaker) {
	d.memory, d.loop = m, lb
}

// VerdictSteppedBack is the subject's verdict when kmsguard steps back.
const VerdictSteppedBack = "kmsguard stepped back"

// loopBreak turns a remediation into stepping back when kmsguard has fixed
// the resource Max times within Window: someone (the actor of this event)
// keeps undoing it, and fighting them only fills inboxes. Once stepped
// back, later decisions to act are skipped without an alert until the
// window passes or an operator clears it (kmsguard history clear). A
// memory that cannot be read does not stop a remediation: protecting the
// resource comes first. A CRITICAL remediation (a key pending deletion, a
// key policy open to the world) never steps back: otherwise anyone who
// could undo it a few times would switch kmsguard off for that resource,
// and what it protects against cannot be undone later.
func (d *Driver[API, S]) loopBreak(ctx context.Context, c *Call[API], out Outcome, dec Decision, resource string) Decision {
	if d.memory == nil || dec.Kind != Remediate || dec.Severity == SeverityCritical || d.loop.Max <= 0 || resource == "" {
		return dec
	}
	ref := MemoryRef{Guardrail: d.spec.ID, Account: out.Account, Region: out.Region, Resource: resource}
	clear := fmt.Sprintf("kmsguard history clear --guardrail %s --account %s --region %s %s", d.spec.ID, out.Account, out.Region, resource)
	if stepped, until, who, err := d.memory.SteppedBack(ctx, ref); err == nil && stepped {
		return Decision{Kind: Ignore, Reason: fmt.Sprintf("kmsguard stepped back from this %s until %s, after %s kept undoing its fixes; resume now with: %s",
			d.noun(), until.UTC().Format(time.RFC3339), who, clear)}
	}
	now := time.Now()
	n, err := d.memory.Remediations(ctx, ref, now.Add(-d.loop.Window))
	if err != nil || n < d.loop.Max {
		return dec
	}
	who := "someone"
	if c.Event != nil && c.Event.Record != nil {
		if w := c.Event.Record.UserIdentity.Words(); w != "" {
			who = w
		}
	}
	until := now.Add(d.loop.Window)
	if err := d.memory.StepBack(ctx, ref, until, who); err != nil {
		return dec // could not record it: keep protecting the resource
	}
	return Decision{Kind: Notify, Severity: SeverityHigh, Verdict: VerdictSteppedBack, NoExemption: true,
		Reason: fmt.Sprintf("the %s was fixed by kmsguard %d times in the last %d minutes and %s undid it again (%s): to stop the two from fighting, kmsguard leaves it as it is and stops acting on it until %s. Find out why %s keeps changing it; to let kmsguard act again now, run: %s",
			d.noun(), n, int(d.loop.Window.Minutes()), who, dec.Reason, until.UTC().Format(time.RFC3339), who, clear)}
}
