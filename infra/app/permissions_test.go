package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/kmsguard/kmsguard/functions/guardrail"
	"github.com/kmsguard/kmsguard/infra/app"
	"github.com/kmsguard/kmsguard/internal/moto"
)

// The member roles, as synthesized, on moto's IAM enforcement: a
// guardrail's credentials can make its own calls and are refused the
// others' (key-rotation's on PutKeyPolicy). moto authorizes KMS calls on
// the action alone: it does not evaluate aws:RequestedRegion or
// kms:BypassPolicyLockoutSafetyCheck (its condition support needs the
// request to carry the key), nor resources. So the Allow statements go in
// without their conditions, on "*", and the Deny is left out: the Region
// limit, the resources and the Deny are checked on the template
// (TestGlobalSpoke_Roles).
func TestMemberRoles_EffectivePermissionsOnMoto(t *testing.T) {
	ctx := context.Background()
	srv, err := moto.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	const member = "111122223333"
	tpl := synth(t, "single", singleYAML).templates[app.GlobalStack]
	statements := rolePolicies(tpl)

	mcfg, err := srv.AccountConfig(ctx, member, "eu-west-1")
	if err != nil {
		t.Fatal(err)
	}
	k := kms.NewFromConfig(mcfg)
	key, err := k.CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	keyID := key.KeyMetadata.KeyId
	creds := map[string]aws.CredentialsProvider{}
	for _, id := range []string{"key-rotation", "key-policy"} {
		name := guardrail.MemberRoleName(id)
		var allow []map[string]any
		for _, st := range statements[name] {
			if st["Effect"] == "Allow" {
				delete(st, "Condition")
				st["Resource"] = "*" // moto matches the action only (it authorizes KMS calls on "*")
				allow = append(allow, st)
			}
		}
		doc, _ := json.Marshal(map[string]any{"Version": "2012-10-17", "Statement": allow})
		c := iam.NewFromConfig(mcfg)
		trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"sts:AssumeRole"}]}`
		if _, err := c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(name), AssumeRolePolicyDocument: aws.String(trust)}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String(name), PolicyName: aws.String("spec"), PolicyDocument: aws.String(string(doc))}); err != nil {
			t.Fatal(err)
		}
		hub, _ := srv.Config(ctx, "eu-west-1")
		p := aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(sts.NewFromConfig(hub), "arn:aws:iam::"+member+":role/"+name, func(o *stscreds.AssumeRoleOptions) {
			o.RoleSessionName = guardrail.SessionName(id)
		}))
		if _, err := p.Retrieve(ctx); err != nil { // assumed before IAM is enforced
			t.Fatal(err)
		}
		creds[id] = p
	}
	resp, err := http.Post(srv.URL+"/moto-api/reset-auth", "text/plain", strings.NewReader("0"))
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("enforce IAM: %v %v", err, resp)
	}
	resp.Body.Close()
	as := func(id string) *kms.Client {
		c := mcfg.Copy()
		c.Credentials = creds[id]
		c.RetryMaxAttempts = 1
		return kms.NewFromConfig(c)
	}
	// moto answers an IAM refusal with a 403 in XML, which the KMS (JSON)
	// client cannot decode: the status tells.
	denied := func(err error) bool {
		var re *awshttp.ResponseError
		return errors.As(err, &re) && re.HTTPStatusCode() == http.StatusForbidden
	}
	policy := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"}]}`
	if _, err := as("key-rotation").EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: keyID}); err != nil {
		t.Errorf("key-rotation refused its own EnableKeyRotation: %v", err)
	}
	if _, err := as("key-rotation").PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: keyID, PolicyName: aws.String("default"), Policy: aws.String(policy)}); !denied(err) {
		t.Errorf("key-rotation's credentials on PutKeyPolicy: %v, want AccessDenied", err)
	}
	if _, err := as("key-policy").PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: keyID, PolicyName: aws.String("default"), Policy: aws.String(policy)}); err != nil {
		t.Errorf("key-policy refused its own PutKeyPolicy: %v", err)
	}
	if _, err := as("key-policy").ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: keyID}); !denied(err) {
		t.Errorf("key-policy's credentials on ScheduleKeyDeletion: %v, want AccessDenied", err)
	}
}

// rolePolicies maps each role name of a template to its policy statements.
func rolePolicies(tpl map[string]any) map[string][]map[string]any {
	names := map[string]string{}
	for lid, r := range tpl["Resources"].(map[string]any) {
		res := r.(map[string]any)
		if res["Type"] == "AWS::IAM::Role" {
			names[lid], _ = props(res)["RoleName"].(string)
		}
	}
	out := map[string][]map[string]any{}
	for _, p := range resources(tpl, "AWS::IAM::Policy") {
		for _, ref := range props(p)["Roles"].([]any) {
			name := names[ref.(map[string]any)["Ref"].(string)]
			for _, st := range props(p)["PolicyDocument"].(map[string]any)["Statement"].([]any) {
				out[name] = append(out[name], resolveJoins(st).(map[string]any))
			}
		}
	}
	return out
}

// resolveJoins renders Fn::Join of plain strings and the partition and
// account pseudo-parameters, as CloudFormation would for the member.
func resolveJoins(v any) any {
	switch x := v.(type) {
	case map[string]any:
		if j, ok := x["Fn::Join"].([]any); ok && len(j) == 2 {
			var parts []string
			for _, e := range j[1].([]any) {
				switch p := e.(type) {
				case string:
					parts = append(parts, p)
				case map[string]any:
					switch p["Ref"] {
					case "AWS::Partition":
						parts = append(parts, "aws")
					case "AWS::AccountId":
						parts = append(parts, "111122223333")
					}
				}
			}
			return strings.Join(parts, j[0].(string))
		}
		out := map[string]any{}
		for k, e := range x {
			out[k] = resolveJoins(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = resolveJoins(e)
		}
		return out
	}
	return v
}
