package cloudtrail_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/kmsguard/kmsguard/events/cloudtrail"
	"github.com/kmsguard/kmsguard/events/fixtures"
)

func TestParse_EveryFixture(t *testing.T) {
	all := fixtures.All()
	if len(all) < 10 {
		t.Fatalf("only %d fixtures embedded", len(all))
	}
	for _, f := range all {
		t.Run(f.Name, func(t *testing.T) {
			ev, err := cloudtrail.Parse(f.Raw)
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			if ev.EventID() == "" || ev.AccountID() != fixtures.Account || ev.RegionName() == "" {
				t.Errorf("identity incomplete: id=%q account=%q region=%q", ev.EventID(), ev.AccountID(), ev.RegionName())
			}
			if ev.When().IsZero() {
				t.Error("no event time")
			}
			switch {
			case !ev.IsAPICall():
				if ev.NativeKeyID == "" {
					t.Error("native KMS event without key-id")
				}
			case ev.Record.EventSource == "kms.amazonaws.com" && !strings.Contains(ev.Record.EventName, "Alias"):
				if _, err := ev.Record.KeyRef(); err != nil {
					t.Errorf("key ref: %v", err)
				}
			case ev.Record.EventSource == "logs.amazonaws.com":
				if req, err := ev.Record.Logs(); err != nil || req.LogGroupName == "" {
					t.Errorf("logs request: %+v %v", req, err)
				}
			}
		})
	}
}

// Every field kmsguard types survives a decode/encode/decode round trip.
func TestParse_RoundTrip(t *testing.T) {
	for _, f := range fixtures.All() {
		ev, err := cloudtrail.Parse(f.Raw)
		if err != nil {
			t.Fatal(err)
		}
		if ev.Record == nil {
			continue
		}
		b, err := json.Marshal(ev.Record)
		if err != nil {
			t.Fatal(err)
		}
		var again cloudtrail.Record
		if err := json.Unmarshal(b, &again); err != nil {
			t.Fatal(err)
		}
		b2, err := json.Marshal(again)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != string(b2) || again.EventID != ev.Record.EventID || again.UserIdentity.Principal() != ev.Record.UserIdentity.Principal() {
			t.Errorf("%s: record changed on round trip", f.Name)
		}
	}
}

func TestKeyRef(t *testing.T) {
	const id = fixtures.FakeKeyID
	arn := "arn:aws:kms:eu-west-1:111122223333:key/" + id
	tests := []struct {
		name, req, resp string
		resources       string
		wantID, wantARN string
		wantErr         bool
	}{
		{name: "arn in request", req: `{"keyId":"` + arn + `"}`, wantID: id, wantARN: arn},
		{name: "id in request, arn in response", req: `{"keyId":"` + id + `"}`, resp: `{"keyId":"` + arn + `"}`, wantID: id, wantARN: arn},
		{name: "id only, response null", req: `{"keyId":"` + id + `"}`, resp: `null`, wantID: id},
		{name: "multi-Region id", req: `{"keyId":"mrk-1234abcd12ab34cd56ef1234567890ab"}`, wantID: "mrk-1234abcd12ab34cd56ef1234567890ab"},
		{name: "alias in request, arn in resources", req: `{"keyId":"alias/payments"}`, resources: `[{"ARN":"` + arn + `"}]`, wantID: id, wantARN: arn},
		{name: "alias only", req: `{"keyId":"alias/payments"}`},
		{name: "CreateKey response", req: `{"keySpec":"SYMMETRIC_DEFAULT"}`, resp: `{"keyMetadata":{"keyId":"` + id + `","arn":"` + arn + `"}}`, wantID: id, wantARN: arn},
		{name: "no key anywhere", req: `{}`, wantErr: true},
		{name: "request params not an object", req: `"oops"`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := cloudtrail.Record{EventName: "DisableKey", RequestParameters: json.RawMessage(tt.req)}
			if tt.resp != "" {
				rec.ResponseElements = json.RawMessage(tt.resp)
			}
			if tt.resources != "" {
				if err := json.Unmarshal([]byte(tt.resources), &rec.Resources); err != nil {
					t.Fatal(err)
				}
			}
			ref, err := rec.KeyRef()
			if tt.wantErr {
				if !errors.Is(err, cloudtrail.ErrBadEvent) {
					t.Fatalf("err = %v, want ErrBadEvent", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ref.ID != tt.wantID || ref.ARN != tt.wantARN {
				t.Errorf("got id=%q arn=%q, want id=%q arn=%q", ref.ID, ref.ARN, tt.wantID, tt.wantARN)
			}
		})
	}
}

func TestParse_BadInput(t *testing.T) {
	tests := map[string]string{
		"empty":                ``,
		"not json":             `hello`,
		"array":                `[1,2]`,
		"truncated":            `{"version":"0","detail":{"eventName":"Sched`,
		"no detail":            `{"version":"0","id":"x","detail-type":"AWS API Call via CloudTrail"}`,
		"null detail":          `{"id":"x","detail-type":"AWS API Call via CloudTrail","detail":null}`,
		"detail is a string":   `{"id":"x","detail-type":"AWS API Call via CloudTrail","detail":"boom"}`,
		"no eventName":         `{"id":"x","detail-type":"AWS API Call via CloudTrail","detail":{"eventSource":"kms.amazonaws.com"}}`,
		"eventName wrong type": `{"id":"x","detail-type":"AWS API Call via CloudTrail","detail":{"eventName":42}}`,
		"bad time":             `{"id":"x","time":"yesterday","detail-type":"AWS API Call via CloudTrail","detail":{"eventName":"DisableKey"}}`,
		"oversized":            `{"id":"` + strings.Repeat("a", cloudtrail.MaxEventBytes) + `"}`,
	}
	for name, raw := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := cloudtrail.Parse([]byte(raw))
			if !errors.Is(err, cloudtrail.ErrBadEvent) {
				t.Fatalf("err = %v, want ErrBadEvent", err)
			}
		})
	}
}

func TestUserIdentity(t *testing.T) {
	tests := []struct {
		name, json, principal, role string
	}{
		{"Root", `{"type":"Root","principalId":"111122223333","arn":"arn:aws:iam::111122223333:root","accountId":"111122223333"}`, "arn:aws:iam::111122223333:root", ""},
		{"IAMUser", `{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/bob","userName":"bob"}`, "arn:aws:iam::111122223333:user/bob", ""},
		{"AssumedRole", `{"type":"AssumedRole","arn":"arn:aws:sts::111122223333:assumed-role/Admin/alice","sessionContext":{"sessionIssuer":{"type":"Role","arn":"arn:aws:iam::111122223333:role/Admin","userName":"Admin"}}}`, "arn:aws:sts::111122223333:assumed-role/Admin/alice", "Admin"},
		{"AssumedRole without arn", `{"type":"AssumedRole","sessionContext":{"sessionIssuer":{"type":"Role","arn":"arn:aws:iam::111122223333:role/Admin","userName":"Admin"}}}`, "arn:aws:iam::111122223333:role/Admin", "Admin"},
		{"AWSService", `{"type":"AWSService","invokedBy":"cloudformation.amazonaws.com"}`, "cloudformation.amazonaws.com", ""},
		{"AWS Internal", `{"accountId":"111122223333","invokedBy":"AWS Internal"}`, "AWS Internal", ""},
		{"federated user issuer", `{"type":"FederatedUser","arn":"arn:aws:sts::111122223333:federated-user/x","sessionContext":{"sessionIssuer":{"type":"IAMUser","userName":"bob"}}}`, "arn:aws:sts::111122223333:federated-user/x", ""},
		{"empty", `{}`, "unknown principal", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var u cloudtrail.UserIdentity
			if err := json.Unmarshal([]byte(tt.json), &u); err != nil {
				t.Fatal(err)
			}
			if got := u.Principal(); got != tt.principal {
				t.Errorf("Principal() = %q, want %q", got, tt.principal)
			}
			if got := u.IssuerRoleName(); got != tt.role {
				t.Errorf("IssuerRoleName() = %q, want %q", got, tt.role)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	for _, fx := range fixtures.All() {
		f.Add(fx.Raw)
	}
	f.Add([]byte(`{"detail-type":"AWS API Call via CloudTrail","detail":{"eventName":"DisableKey","requestParameters":[]}}`))
	f.Add([]byte(`{"detail":{"eventName":"X","resources":[{"ARN":"arn:aws:kms"}]}}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		ev, err := cloudtrail.Parse(raw)
		if err != nil {
			if !errors.Is(err, cloudtrail.ErrBadEvent) {
				t.Fatalf("error not classed as bad event: %v", err)
			}
			return
		}
		_ = ev.EventID()
		_ = ev.AccountID()
		if ev.Record != nil {
			_, _, _ = ev.Record.KMS()
			_, _ = ev.Record.KeyRef()
			_ = ev.Record.UserIdentity.Principal()
		}
	})
}
