package bootstrap

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"

	"github.com/kmsguard/kmsguard/functions/guardrail"
	"github.com/kmsguard/kmsguard/functions/ledger"
)

// LookupAPI reads a key's recent management events from CloudTrail.
type LookupAPI interface {
	LookupEvents(ctx context.Context, in *cloudtrail.LookupEventsInput, opts ...func(*cloudtrail.Options)) (*cloudtrail.LookupEventsOutput, error)
}

// Bounds of the CloudTrail look-up of a key's state before its deletion:
// LookupEvents answers 2 requests per second per account and Region and
// keeps 90 days; a key's recent history fits in a few pages.
const (
	lookupPages = 3
	lookupPause = 500 * time.Millisecond
	lookupSpan  = 90 * 24 * time.Hour
)

// memory is the ledger as the guardrails use it: outcomes, the loop
// breaker, and key states, with CloudTrail behind it for keys the ledger
// has not seen change.
type memory struct {
	l     *ledger.Ledger
	trail func(account, region string) (LookupAPI, error)
	sleep func(context.Context, time.Duration) error
}

func ref(r guardrail.MemoryRef) ledger.Ref {
	return ledger.Ref{Guardrail: r.Guardrail, Account: r.Account, Region: r.Region, Resource: r.Resource}
}

func (m *memory) Remediations(ctx context.Context, r guardrail.MemoryRef, since time.Time) (int, error) {
	return m.l.Remediations(ctx, ref(r), since)
}

func (m *memory) SteppedBack(ctx context.Context, r guardrail.MemoryRef) (bool, time.Time, string, error) {
	return m.l.SteppedBack(ctx, ref(r))
}

func (m *memory) StepBack(ctx context.Context, r guardrail.MemoryRef, until time.Time, actor string) error {
	return m.l.StepBack(ctx, ref(r), until, actor)
}

// RecordOutcome writes an outcome to the ledger.
func (m *memory) RecordOutcome(ctx context.Context, out guardrail.Outcome, at time.Time) error {
	res := out.ResourceID
	if res == "" {
		res = out.Resource
	}
	if res == "" {
		return nil // rejected before naming a resource: the log has it
	}
	result := ledger.ResultNothing
	switch {
	case out.Error != "":
		result = ledger.ResultFailed
	case out.Action != "" && out.Action != guardrail.ActionNone:
		result = ledger.ResultFixed
	case out.Alerted || out.Severity != "":
		result = ledger.ResultAlerted
	}
	return m.l.Record(ctx, ledger.Entry{
		Ref: ledger.Ref{Guardrail: out.Guardrail, Account: out.Account, Region: out.Region, Resource: res},
		At:  at, EventID: out.EventID, EventName: out.EventName, Actor: out.Actor, Mode: string(out.Mode), Action: out.Action,
		Result: result, Severity: string(out.Severity), Reason: out.Reason, Before: out.Before, After: out.After, Name: out.Resource,
	})
}

func (m *memory) RecordKeyState(ctx context.Context, account, region, keyID, state string, at time.Time, eventID string) error {
	return m.l.KeyState(ctx, account, region, keyID, state, at, eventID)
}

// KeyStateBefore asks the ledger, then CloudTrail (the last 90 days of
// the key's EnableKey, DisableKey, CreateKey and CancelKeyDeletion).
func (m *memory) KeyStateBefore(ctx context.Context, account, region, keyID string, at time.Time) guardrail.KeyStateSeen {
	if st, when, ok, err := m.l.KeyStateBefore(ctx, account, region, keyID, at); err == nil && ok {
		return guardrail.KeyStateSeen{State: st, At: when, Source: "kmsguard's ledger"}
	}
	if m.trail == nil {
		return guardrail.KeyStateSeen{Source: "kmsguard's ledger has no state change of this key, and CloudTrail was not asked"}
	}
	api, err := m.trail(account, region)
	if err != nil {
		return guardrail.KeyStateSeen{Source: "kmsguard's ledger has no state change of this key, and CloudTrail could not be asked: " + err.Error()}
	}
	seen, err := lookupKeyState(ctx, api, keyID, at, m.sleep)
	if err != nil {
		return guardrail.KeyStateSeen{Source: "kmsguard's ledger has no state change of this key, and CloudTrail could not be read: " + err.Error()}
	}
	return seen
}

// keyStateOf is the state an event leaves a key in.
var keyStateOf = map[string]string{"EnableKey": "Enabled", "CreateKey": "Enabled", "DisableKey": "Disabled", "CancelKeyDeletion": "Disabled"}

// lookupKeyState finds the last state-changing event of the key before t
// in CloudTrail, at most lookupPages pages, lookupPause apart.
func lookupKeyState(ctx context.Context, api LookupAPI, keyID string, t time.Time, sleep func(context.Context, time.Duration) error) (guardrail.KeyStateSeen, error) {
	in := &cloudtrail.LookupEventsInput{
		LookupAttributes: []cttypes.LookupAttribute{{AttributeKey: cttypes.LookupAttributeKeyResourceName, AttributeValue: aws.String(keyID)}},
		StartTime:        aws.Time(t.Add(-lookupSpan)), EndTime: aws.Time(t), MaxResults: aws.Int32(50),
	}
	for page := 0; page < lookupPages; page++ {
		if page > 0 {
			if err := sleep(ctx, lookupPause); err != nil {
				return guardrail.KeyStateSeen{}, err
			}
		}
		out, err := api.LookupEvents(ctx, in)
		if err != nil {
			return guardrail.KeyStateSeen{}, err
		}
		for _, e := range out.Events { // newest first
			st, ok := keyStateOf[aws.ToString(e.EventName)]
			if !ok || !aws.ToTime(e.EventTime).Before(t) {
				continue
			}
			return guardrail.KeyStateSeen{State: st, At: aws.ToTime(e.EventTime), Source: "CloudTrail: " + aws.ToString(e.EventName), By: aws.ToString(e.Username)}, nil
		}
		if out.NextToken == nil {
			return guardrail.KeyStateSeen{Source: "no EnableKey, DisableKey or CreateKey of this key in kmsguard's ledger or in CloudTrail's last 90 days"}, nil
		}
		in.NextToken = out.NextToken
	}
	return guardrail.KeyStateSeen{Source: fmt.Sprintf("no state change of this key in kmsguard's ledger or in CloudTrail's %d most recent events for it", lookupPages*50)}, nil
}

// LastGoodPolicy is the key's last policy without findings in the ledger.
func (m *memory) LastGoodPolicy(ctx context.Context, account, region, keyID string) (guardrail.GoodPolicy, bool) {
	p, at, id, ok, err := m.l.GoodPolicy(ctx, account, region, keyID)
	if err != nil || !ok {
		return guardrail.GoodPolicy{}, false
	}
	return guardrail.GoodPolicy{Policy: p, At: at, EventID: id}, true
}

// RecordGoodPolicy keeps a key's policy without findings.
func (m *memory) RecordGoodPolicy(ctx context.Context, account, region, keyID string, p guardrail.GoodPolicy) error {
	return m.l.SetGoodPolicy(ctx, account, region, keyID, p.Policy, p.At, p.EventID)
}
