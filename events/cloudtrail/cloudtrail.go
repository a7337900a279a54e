// Package cloudtrail holds the typed shape of the events kmsguard consumes: the
// EventBridge envelope, the CloudTrail record carried in "AWS API Call via
// CloudTrail" events, and the native KMS service events.
//
// The types tolerate the variation seen in real records (eventVersion 1.02 to
// 1.08, optional fields missing, responseElements null, keyId as an id or an
// ARN). Everything request-specific stays as raw JSON so that each guardrail
// decodes only the fields it needs.
package cloudtrail

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// DetailTypeAPICall is the detail-type of every CloudTrail-delivered API event.
const DetailTypeAPICall = "AWS API Call via CloudTrail"

// Native KMS event detail-types (not via CloudTrail).
const (
	DetailTypeKeyDeletion = "KMS CMK Deletion"
	DetailTypeKeyRotation = "KMS CMK Rotation"
)

// MaxEventBytes bounds what Parse accepts. EventBridge events are at most
// 256 KB; anything larger is not an event we were sent.
const MaxEventBytes = 256 * 1024

// ErrBadEvent marks input that can never be handled, however often it is
// retried. Callers test for it with errors.Is.
var ErrBadEvent = errors.New("bad event")

// Envelope is the EventBridge event around a CloudTrail record or a native
// service event.
type Envelope struct {
	Version    string          `json:"version"`
	ID         string          `json:"id"`
	DetailType string          `json:"detail-type"`
	Source     string          `json:"source"`
	Account    string          `json:"account"`
	Time       time.Time       `json:"time"`
	Region     string          `json:"region"`
	Resources  []string        `json:"resources"`
	Detail     json.RawMessage `json:"detail"`
}

// Record is a CloudTrail record (the detail of an "AWS API Call via CloudTrail"
// event). Only fields kmsguard reads are typed.
type Record struct {
	EventVersion       string           `json:"eventVersion"`
	UserIdentity       UserIdentity     `json:"userIdentity"`
	EventTime          time.Time        `json:"eventTime"`
	EventSource        string           `json:"eventSource"`
	EventName          string           `json:"eventName"`
	AWSRegion          string           `json:"awsRegion"`
	SourceIPAddress    string           `json:"sourceIPAddress"`
	UserAgent          string           `json:"userAgent"`
	ErrorCode          string           `json:"errorCode"`
	ErrorMessage       string           `json:"errorMessage"`
	RequestParameters  json.RawMessage  `json:"requestParameters"`
	ResponseElements   json.RawMessage  `json:"responseElements"`
	RequestID          string           `json:"requestID"`
	EventID            string           `json:"eventID"`
	ReadOnly           *bool            `json:"readOnly"`
	Resources          []RecordResource `json:"resources"`
	EventType          string           `json:"eventType"`
	RecipientAccountID string           `json:"recipientAccountId"`
	EventCategory      string           `json:"eventCategory"`
	AdditionalData     json.RawMessage  `json:"additionalEventData"`
}

// RecordResource is one entry of a record's resources list. Type is missing
// in some older KMS records.
type RecordResource struct {
	AccountID string `json:"accountId"`
	Type      string `json:"type"`
	ARN       string `json:"ARN"`
}

// UserIdentity is the caller. Nearly every field is optional.
type UserIdentity struct {
	Type           string          `json:"type"`
	PrincipalID    string          `json:"principalId"`
	ARN            string          `json:"arn"`
	AccountID      string          `json:"accountId"`
	AccessKeyID    string          `json:"accessKeyId"`
	UserName       string          `json:"userName"`
	InvokedBy      string          `json:"invokedBy"`
	SessionContext *SessionContext `json:"sessionContext"`
}

// SessionContext is present for temporary credentials.
type SessionContext struct {
	SessionIssuer *SessionIssuer `json:"sessionIssuer"`
	Attributes    struct {
		MFAAuthenticated string `json:"mfaAuthenticated"`
		CreationDate     string `json:"creationDate"`
	} `json:"attributes"`
	SourceIdentity string `json:"sourceIdentity"`
}

// SessionIssuer is the role (or user) that issued the session.
type SessionIssuer struct {
	Type        string `json:"type"`
	PrincipalID string `json:"principalId"`
	ARN         string `json:"arn"`
	AccountID   string `json:"accountId"`
	UserName    string `json:"userName"`
}

// IssuerRoleName is the name of the role behind an AssumedRole identity, or ""
// for any other identity.
func (u UserIdentity) IssuerRoleName() string {
	if u.SessionContext == nil || u.SessionContext.SessionIssuer == nil {
		return ""
	}
	if u.SessionContext.SessionIssuer.Type != "" && u.SessionContext.SessionIssuer.Type != "Role" {
		return ""
	}
	return u.SessionContext.SessionIssuer.UserName
}

// IssuerRoleARN is the ARN of the role behind an assumed-role session, or
// "" for any other identity.
func (u UserIdentity) IssuerRoleARN() string {
	if u.SessionContext == nil || u.SessionContext.SessionIssuer == nil {
		return ""
	}
	return u.SessionContext.SessionIssuer.ARN
}

// Principal is the most specific principal ARN available: the caller's ARN,
// else the session issuer's, else the invoking service, else the account.
func (u UserIdentity) Principal() string {
	switch {
	case u.ARN != "":
		return u.ARN
	case u.SessionContext != nil && u.SessionContext.SessionIssuer != nil && u.SessionContext.SessionIssuer.ARN != "":
		return u.SessionContext.SessionIssuer.ARN
	case u.InvokedBy != "":
		return u.InvokedBy
	case u.AccountID != "":
		return "account " + u.AccountID
	}
	return "unknown principal"
}

// Event is a parsed EventBridge event. Record is set for CloudTrail API
// events; KeyID for native KMS service events.
type Event struct {
	Envelope
	Record *Record
	// NativeKeyID is detail["key-id"] of a native KMS service event.
	NativeKeyID string
}

// IsAPICall reports whether the event carries a CloudTrail record (an API
// call or a service event delivered via CloudTrail).
func (e *Event) IsAPICall() bool { return e.Record != nil }

// Name is the CloudTrail eventName, or the detail-type of a service event.
func (e *Event) Name() string {
	if e.Record != nil {
		return e.Record.EventName
	}
	return e.DetailType
}

// EventID is the idempotency key: CloudTrail's eventID when present, else the
// EventBridge id.
func (e *Event) EventID() string {
	if e.Record != nil && e.Record.EventID != "" {
		return e.Record.EventID
	}
	return e.ID
}

// AccountID is the account the event happened in. CloudTrail's
// recipientAccountId wins over the envelope, which a cross-account bus
// forward may rewrite.
func (e *Event) AccountID() string {
	if e.Record != nil && e.Record.RecipientAccountID != "" {
		return e.Record.RecipientAccountID
	}
	if e.Record != nil && e.Record.UserIdentity.AccountID != "" && e.Account == "" {
		return e.Record.UserIdentity.AccountID
	}
	return e.Account
}

// RegionName is the Region the event happened in.
func (e *Event) RegionName() string {
	if e.Record != nil && e.Record.AWSRegion != "" {
		return e.Record.AWSRegion
	}
	return e.Region
}

// When is the time of the call (CloudTrail eventTime, else the envelope time).
func (e *Event) When() time.Time {
	if e.Record != nil && !e.Record.EventTime.IsZero() {
		return e.Record.EventTime
	}
	return e.Time
}

// Parse decodes an EventBridge event. It fails with an error wrapping
// ErrBadEvent for input that no retry can fix: not JSON, not an object,
// a missing detail, or an API-call event without eventName.
func Parse(raw []byte) (*Event, error) {
	if len(raw) > MaxEventBytes {
		return nil, fmt.Errorf("%w: %d bytes is over the %d-byte EventBridge limit", ErrBadEvent, len(raw), MaxEventBytes)
	}
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, fmt.Errorf("%w: not a JSON object", ErrBadEvent)
	}
	var ev Event
	if err := json.Unmarshal(trimmed, &ev.Envelope); err != nil {
		return nil, fmt.Errorf("%w: envelope: %v", ErrBadEvent, err)
	}
	detail := bytes.TrimSpace(ev.Detail)
	if len(detail) == 0 || bytes.Equal(detail, []byte("null")) {
		return nil, fmt.Errorf("%w: event %q has no detail", ErrBadEvent, ev.ID)
	}
	if detail[0] != '{' {
		return nil, fmt.Errorf("%w: event %q: detail is not an object", ErrBadEvent, ev.ID)
	}
	// "AWS API Call via CloudTrail", "AWS Service Event via CloudTrail", ...
	if strings.HasSuffix(ev.DetailType, "via CloudTrail") || ev.DetailType == "" {
		var rec Record
		if err := json.Unmarshal(detail, &rec); err != nil {
			return nil, fmt.Errorf("%w: event %q: CloudTrail record: %v", ErrBadEvent, ev.ID, err)
		}
		if rec.EventName == "" {
			return nil, fmt.Errorf("%w: event %q: CloudTrail record has no eventName", ErrBadEvent, ev.ID)
		}
		ev.Record = &rec
		return &ev, nil
	}
	var native struct {
		KeyID string `json:"key-id"`
	}
	if err := json.Unmarshal(detail, &native); err != nil {
		return nil, fmt.Errorf("%w: event %q: %s detail: %v", ErrBadEvent, ev.ID, ev.DetailType, err)
	}
	ev.NativeKeyID = native.KeyID
	return &ev, nil
}

// KMSRequest holds the request parameters KMS records carry. Fields absent
// from a given call stay zero.
type KMSRequest struct {
	KeyID                          string `json:"keyId"`
	PendingWindowInDays            int    `json:"pendingWindowInDays"`
	RotationPeriodInDays           int    `json:"rotationPeriodInDays"`
	Policy                         string `json:"policy"`
	PolicyName                     string `json:"policyName"`
	BypassPolicyLockoutSafetyCheck bool   `json:"bypassPolicyLockoutSafetyCheck"`
	// CreateGrant (https://docs.aws.amazon.com/kms/latest/developerguide/ct-creategrant.html).
	GranteePrincipal  string            `json:"granteePrincipal"`
	RetiringPrincipal string            `json:"retiringPrincipal"`
	Operations        []string          `json:"operations"`
	Constraints       *GrantConstraints `json:"constraints"`
	GrantName         string            `json:"name"`
	// PrimaryRegion is UpdatePrimaryRegion's new primary Region
	// (https://docs.aws.amazon.com/kms/latest/developerguide/ct-update-primary-region.html).
	PrimaryRegion string `json:"primaryRegion"`
}

// GrantConstraints are a grant's encryption context constraints.
type GrantConstraints struct {
	EncryptionContextSubset map[string]string `json:"encryptionContextSubset"`
	EncryptionContextEquals map[string]string `json:"encryptionContextEquals"`
}

// KMSResponse holds the response elements KMS records may carry. DeletionDate
// is kept as recorded: its layout varies between records and it is absent
// for multi-Region primaries, so kmsguard reads the date from DescribeKey.
type KMSResponse struct {
	KeyID string `json:"keyId"`
	// KeyMetadata is in CreateKey responses.
	KeyMetadata struct {
		KeyID string `json:"keyId"`
		ARN   string `json:"arn"`
	} `json:"keyMetadata"`
	KeyState string `json:"keyState"`
	// GrantID is in CreateGrant responses.
	GrantID             string `json:"grantId"`
	DeletionDate        string `json:"deletionDate"`
	PendingWindowInDays int    `json:"pendingWindowInDays"`
}

// KMS decodes the KMS request and response of a record. A null or missing
// part decodes to its zero value.
func (r *Record) KMS() (KMSRequest, KMSResponse, error) {
	var req KMSRequest
	var resp KMSResponse
	if err := decodeOptional(r.RequestParameters, &req); err != nil {
		return req, resp, fmt.Errorf("%w: requestParameters: %v", ErrBadEvent, err)
	}
	if err := decodeOptional(r.ResponseElements, &resp); err != nil {
		return req, resp, fmt.Errorf("%w: responseElements: %v", ErrBadEvent, err)
	}
	return req, resp, nil
}

func decodeOptional(raw json.RawMessage, v any) error {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil
	}
	return json.Unmarshal(raw, v)
}

// KeyRef identifies a KMS key from an event: the value as recorded (an id,
// an ARN or an alias) and, when it is an ARN, its parts.
type KeyRef struct {
	Raw     string
	ID      string // bare key id ("1234abcd-..." or "mrk-...") when known
	ARN     string // key ARN when known
	Account string // from the ARN
	Region  string // from the ARN
}

// ParseKeyRef splits a keyId as it appears in CloudTrail: a key id, a key ARN
// or an alias name/ARN. Aliases keep ID empty.
func ParseKeyRef(s string) KeyRef {
	s = strings.TrimSpace(s)
	ref := KeyRef{Raw: s}
	if strings.HasPrefix(s, "arn:") {
		// arn:partition:kms:region:account:key/id
		parts := strings.SplitN(s, ":", 6)
		if len(parts) == 6 && parts[2] == "kms" {
			ref.Region, ref.Account = parts[3], parts[4]
			if id, ok := strings.CutPrefix(parts[5], "key/"); ok && id != "" {
				ref.ID, ref.ARN = id, s
			}
		}
		return ref
	}
	if strings.HasPrefix(s, "alias/") || s == "" {
		return ref
	}
	ref.ID = s
	return ref
}

// KeyRef finds the key an API-call record is about: requestParameters.keyId,
// else responseElements.keyId, else the first AWS::KMS::Key resource.
func (r *Record) KeyRef() (KeyRef, error) {
	req, resp, err := r.KMS()
	if err != nil {
		return KeyRef{}, err
	}
	if resp.KeyMetadata.ARN != "" {
		if ref := ParseKeyRef(resp.KeyMetadata.ARN); ref.ID != "" {
			return ref, nil
		}
	}
	if resp.KeyMetadata.KeyID != "" {
		return ParseKeyRef(resp.KeyMetadata.KeyID), nil
	}
	for _, candidate := range []string{req.KeyID, resp.KeyID} {
		if ref := ParseKeyRef(candidate); ref.ID != "" {
			if ref.ARN == "" && resp.KeyID != "" {
				if full := ParseKeyRef(resp.KeyID); full.ID == ref.ID {
					return full, nil
				}
			}
			return ref, nil
		}
	}
	for _, res := range r.Resources {
		if ref := ParseKeyRef(res.ARN); ref.ID != "" {
			return ref, nil
		}
	}
	if req.KeyID != "" {
		// An alias: the guardrail resolves it with DescribeKey.
		return ParseKeyRef(req.KeyID), nil
	}
	return KeyRef{}, fmt.Errorf("%w: %s record names no KMS key", ErrBadEvent, r.EventName)
}

// LogsRequest holds the request parameters of CloudWatch Logs records.
type LogsRequest struct {
	LogGroupName       string `json:"logGroupName"`
	KMSKeyID           string `json:"kmsKeyId"`
	ResourceIdentifier string `json:"resourceIdentifier"`
}

// Logs decodes the request of a CloudWatch Logs record.
func (r *Record) Logs() (LogsRequest, error) {
	var req LogsRequest
	if err := decodeOptional(r.RequestParameters, &req); err != nil {
		return req, fmt.Errorf("%w: requestParameters: %v", ErrBadEvent, err)
	}
	return req, nil
}
