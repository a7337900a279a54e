package sandbox

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/kmsguard/kmsguard/events/cloudtrail"
	"github.com/kmsguard/kmsguard/events/fixtures"
)

// Enact makes the API call a recorded CloudTrail event records, in the
// event's account on the emulator, so that the state the event implies is
// real: any guardrail's example is staged this way, whatever its event
// (the catalog-driven tests need no per-guardrail setup). Every member
// account has what the spokes deploy there (the regional logs key).
//
// The call is the SDK client method named after the event (kms or logs),
// with requestParameters decoded into its input (encoding/json matches the
// field names case-insensitively). A call on a key runs on a fresh key
// created first; the event returned names that key, or the key the call
// created (CreateKey).
func (h *Hub) Enact(ctx context.Context, raw []byte) ([]byte, error) {
	ev, err := cloudtrail.Parse(raw)
	if err != nil || ev.Record == nil {
		return nil, fmt.Errorf("enact: not a CloudTrail API call: %v", err)
	}
	account, rec := ev.AccountID(), ev.Record
	if _, err := h.LogsKey(ctx, account); err != nil {
		return nil, err
	}
	var client any
	switch rec.EventSource {
	case "kms.amazonaws.com":
		client, err = h.KMS(ctx, account)
	case "logs.amazonaws.com":
		client, err = h.Logs(ctx, account)
	case "ssm.amazonaws.com", "events.amazonaws.com":
		cfg, cerr := h.Server.AccountConfig(ctx, account, h.Region)
		err = cerr
		if rec.EventSource == "ssm.amazonaws.com" {
			client = ssm.NewFromConfig(cfg)
		} else {
			client = eventbridge.NewFromConfig(cfg)
		}
	default:
		return nil, fmt.Errorf("enact: no client for %s", rec.EventSource)
	}
	if err != nil {
		return nil, err
	}
	params := map[string]any{}
	if len(rec.RequestParameters) > 0 && string(rec.RequestParameters) != "null" {
		if err := json.Unmarshal(rec.RequestParameters, &params); err != nil {
			return nil, fmt.Errorf("enact: requestParameters: %w", err)
		}
	}
	out := raw
	if _, ok := params["keyId"]; ok {
		// A call on imported key material needs a key created without
		// material (origin EXTERNAL).
		material := rec.EventName == "ImportKeyMaterial" || rec.EventName == "DeleteImportedKeyMaterial"
		id, err := h.CreateKey(ctx, account, KeySpec{Alias: "alias/example-" + strings.ToLower(rec.EventName), External: material})
		if err != nil {
			return nil, err
		}
		params["keyId"] = id // a bare id: the emulator refuses ARNs for some calls
		out = fixtures.WithKey(raw, id, "", "")
		switch rec.EventName {
		case "DeleteImportedKeyMaterial":
			// There is material to delete: imported first, as its owner did.
			if err := h.ImportMaterial(ctx, account, id, time.Time{}); err != nil {
				return nil, err
			}
		case "ImportKeyMaterial":
			// CloudTrail records neither the import token nor the wrapped
			// material, and writes validTo in a layout that is not RFC 3339
			// ("May 21, 2025, 5:47:45 AM"), in the past for any recorded
			// event: the call is staged with a fresh token, placeholder
			// material and, for expiring material, 10 days from now.
			c, _ := client.(*kms.Client)
			p, err := c.GetParametersForImport(ctx, &kms.GetParametersForImportInput{KeyId: aws.String(id),
				WrappingAlgorithm: kmstypes.AlgorithmSpecRsaesOaepSha256, WrappingKeySpec: kmstypes.WrappingKeySpecRsa2048})
			if err != nil {
				return nil, fmt.Errorf("enact: get parameters for import: %w", err)
			}
			params["importToken"], params["encryptedKeyMaterial"] = p.ImportToken, []byte("placeholder key material")
			delete(params, "validTo")
			if m, _ := params["expirationModel"].(string); m != string(kmstypes.ExpirationModelTypeKeyMaterialDoesNotExpire) {
				params["validTo"] = time.Now().Add(10 * 24 * time.Hour).UTC()
			}
		}
	}
	m := reflect.ValueOf(client).MethodByName(rec.EventName)
	if !m.IsValid() {
		return nil, fmt.Errorf("enact: the %s client has no %s", rec.EventSource, rec.EventName)
	}
	in := reflect.New(m.Type().In(1).Elem())
	b, _ := json.Marshal(params)
	if err := json.Unmarshal(b, in.Interface()); err != nil {
		return nil, fmt.Errorf("enact: %s input: %w", rec.EventName, err)
	}
	res := m.Call([]reflect.Value{reflect.ValueOf(ctx), in})
	if err, _ := res[1].Interface().(error); err != nil {
		return nil, fmt.Errorf("enact %s: %w", rec.EventName, err)
	}
	// A call that created a key (CreateKey): the event names the new key.
	if meta := reflect.Indirect(res[0]).FieldByName("KeyMetadata"); meta.IsValid() && !meta.IsNil() {
		if id, ok := meta.Elem().FieldByName("KeyId").Interface().(*string); ok && aws.ToString(id) != "" && params["keyId"] == nil {
			out = fixtures.WithKey(raw, aws.ToString(id), "", "")
		}
	}
	// A call that made a grant (CreateGrant): the event names the new grant.
	if g := reflect.Indirect(res[0]).FieldByName("GrantId"); g.IsValid() {
		if id, ok := g.Interface().(*string); ok && aws.ToString(id) != "" {
			out = fixtures.WithGrant(out, aws.ToString(id))
		}
	}
	return out, nil
}
