package patterns_test

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/kmsguard/kmsguard/events/patterns"
)

// Forward sends each event once, drops failed calls, and excludes the given
// sessions only for the events they are given for.
func TestForward(t *testing.T) {
	triggers := []patterns.Trigger{
		{Name: "a-put", Description: "d", EventSource: "kms.amazonaws.com", EventNames: []string{"PutKeyPolicy"}},
		{Name: "a-create", Description: "d", EventSource: "kms.amazonaws.com", EventNames: []string{"CreateKey"}, Where: map[string]any{"requestParameters": map[string]any{"policy": []any{map[string]any{"exists": true}}}}},
		{Name: "b-create", Description: "d", EventSource: "kms.amazonaws.com", EventNames: []string{"CreateKey", "DisableKeyRotation"}},
		{Name: "c-logs", Description: "d", EventSource: "logs.amazonaws.com", EventNames: []string{"CreateLogGroup"}},
		{Name: "d-native", Description: "d", Source: "aws.kms", DetailType: "KMS CMK Deletion"},
	}
	own := "arn:aws:sts::111122223333:assumed-role/kmsguard-remediator/kmsguard-a"
	rules := patterns.Forward("fwd", triggers, func(e patterns.Event) []string {
		if e.EventName == "PutKeyPolicy" {
			return []string{own}
		}
		return nil
	})
	var names []string
	for _, r := range rules {
		names = append(names, r.Name)
	}
	if want := []string{"fwd-kms-not-own", "fwd-kms", "fwd-logs", "fwd-kms-cmk-deletion"}; !slices.Equal(names, want) {
		t.Fatalf("rules %v, want %v", names, want)
	}
	ev := func(name, actor, errorCode string) []byte {
		d := map[string]any{"eventSource": "kms.amazonaws.com", "eventName": name, "userIdentity": map[string]any{"arn": actor}}
		if errorCode != "" {
			d["errorCode"] = errorCode
		}
		b, _ := json.Marshal(map[string]any{"source": "aws.kms", "detail-type": patterns.DetailTypeAPICall, "detail": d})
		return b
	}
	for _, tt := range []struct {
		name  string
		event []byte
		want  int
	}{
		{"CreateKey once, though two triggers want it", ev("CreateKey", "arn:aws:iam::111122223333:user/a", ""), 1},
		{"PutKeyPolicy by someone", ev("PutKeyPolicy", "arn:aws:iam::111122223333:user/a", ""), 1},
		{"PutKeyPolicy by kmsguard", ev("PutKeyPolicy", own, ""), 0},
		{"CreateKey by kmsguard's session: not excluded", ev("CreateKey", own, ""), 1},
		{"failed call", ev("CreateKey", "x", "AccessDenied"), 0},
		{"not watched", ev("EnableKey", "x", ""), 0},
	} {
		got, err := patterns.Select(tt.event, rules)
		if err != nil || len(got) != tt.want {
			t.Errorf("%s: %d rules (%v), want %d", tt.name, len(got), err, tt.want)
		}
	}
	if m, _ := patterns.Select([]byte(`{"source":"aws.kms","detail-type":"KMS CMK Deletion","detail":{}}`), rules); len(m) != 1 {
		t.Errorf("native event forwarded by %d rules", len(m))
	}
}

func TestMatch_Semantics(t *testing.T) {
	p := patterns.Pattern{
		"detail": map[string]any{
			"name":  []any{"A", "B"},
			"error": []any{map[string]any{"exists": false}},
			"$or": []any{
				map[string]any{"who": []any{map[string]any{"exists": false}}},
				map[string]any{"who": []any{map[string]any{"anything-but": []any{"me"}}}},
			},
			"tag": []any{map[string]any{"prefix": "prod-"}},
		},
	}
	tests := []struct {
		name  string
		event string
		want  bool
	}{
		{"all conditions hold", `{"detail":{"name":"A","tag":"prod-1"}}`, true},
		{"other actor", `{"detail":{"name":"B","who":"you","tag":"prod-1"}}`, true},
		{"excluded actor", `{"detail":{"name":"A","who":"me","tag":"prod-1"}}`, false},
		{"error present", `{"detail":{"name":"A","error":"Denied","tag":"prod-1"}}`, false},
		{"error null still exists", `{"detail":{"name":"A","error":null,"tag":"prod-1"}}`, false},
		{"wrong name", `{"detail":{"name":"C","tag":"prod-1"}}`, false},
		{"array field any element", `{"detail":{"name":["X","B"],"tag":"prod-1"}}`, true},
		{"prefix miss", `{"detail":{"name":"A","tag":"dev-1"}}`, false},
		{"missing leaf", `{"detail":{"name":"A"}}`, false},
		{"missing detail", `{}`, false},
		{"detail not object", `{"detail":"A"}`, false},
		{"case matters", `{"detail":{"name":"a","tag":"prod-1"}}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := patterns.Match(p, []byte(tt.event))
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("Match = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestMatch_AnythingButMissingField(t *testing.T) {
	// EventBridge (and moto) never match anything-but on an absent field;
	// this is why the actor filter needs $or with exists:false.
	p := patterns.Pattern{"who": []any{map[string]any{"anything-but": "me"}}}
	if m, _ := patterns.Match(p, []byte(`{}`)); m {
		t.Error("anything-but matched an absent field")
	}
}

func TestMatch_RejectsUnknownOperator(t *testing.T) {
	p := patterns.Pattern{"n": []any{map[string]any{"numeric": []any{">", 1}}}}
	if _, err := patterns.Match(p, []byte(`{"n":2}`)); err == nil {
		t.Error("unsupported operator accepted silently")
	}
}

func TestMatch_BadEvent(t *testing.T) {
	if _, err := patterns.Match(patterns.Pattern{}, []byte(`{`)); err == nil {
		t.Error("truncated event accepted")
	}
}
