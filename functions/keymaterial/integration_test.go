package keymaterial_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/kmsguard/kmsguard/events/fixtures"
	"github.com/kmsguard/kmsguard/functions/bootstrap"
	"github.com/kmsguard/kmsguard/functions/catalog"
	"github.com/kmsguard/kmsguard/functions/guardrail"
	"github.com/kmsguard/kmsguard/functions/keymaterial"
	"github.com/kmsguard/kmsguard/functions/sweep"
	"github.com/kmsguard/kmsguard/internal/moto"
	"github.com/kmsguard/kmsguard/internal/sandbox"
)

// These tests run on moto 5.2.1 with internal/moto/launcher.py, which adds
// GetParametersForImport, ImportKeyMaterial and DeleteImportedKeyMaterial
// as AWS models them (moto lacks them, and made EXTERNAL keys Enabled).

const (
	region = "eu-west-1"
	member = fixtures.Account
)

var srv *moto.Server

func TestMain(m *testing.M) { moto.RunTests(m, &srv) }

type world struct {
	*sandbox.Hub
	t   *testing.T
	ctx context.Context
	kms *kms.Client
}

func newWorld(t *testing.T) *world {
	t.Helper()
	ctx := context.Background()
	h, err := sandbox.NewHub(ctx, srv, region)
	if err != nil {
		t.Fatal(err)
	}
	c, err := h.KMS(ctx, member)
	if err != nil {
		t.Fatal(err)
	}
	return &world{Hub: h, t: t, ctx: ctx, kms: c}
}

// externalKey creates a key without material (origin EXTERNAL), with an
// alias, and imports material expiring at validTo (never when zero).
func (w *world) externalKey(alias string, validTo time.Time) string {
	id, err := w.CreateKey(w.ctx, member, sandbox.KeySpec{Alias: alias, Description: "material from the on-premises HSM", External: true})
	if err != nil {
		w.t.Fatal(err)
	}
	if s := w.state(id); s != kmstypes.KeyStatePendingImport {
		w.t.Fatalf("a new EXTERNAL key is %s, want PendingImport (as on AWS)", s)
	}
	if err := w.ImportMaterial(w.ctx, member, id, validTo); err != nil {
		w.t.Fatal(err)
	}
	if s := w.state(id); s != kmstypes.KeyStateEnabled {
		w.t.Fatalf("after the import the key is %s, want Enabled", s)
	}
	return id
}

func (w *world) deleteMaterial(id string) {
	if _, err := w.kms.DeleteImportedKeyMaterial(w.ctx, &kms.DeleteImportedKeyMaterialInput{KeyId: aws.String(id)}); err != nil {
		w.t.Fatal(err)
	}
}

func (w *world) state(id string) kmstypes.KeyState {
	s, err := w.KeyState(w.ctx, member, id)
	if err != nil {
		w.t.Fatal(err)
	}
	return s
}

func (w *world) env() *bootstrap.Env {
	h, err := bootstrap.Load(w.ctx, bootstrap.Options{Guardrails: catalog.Entries(), Log: slog.New(slog.DiscardHandler), AWS: &w.Config, TopicARN: w.TopicARN, HubAccount: sandbox.HubAccount})
	if err != nil {
		w.t.Fatal(err)
	}
	return h
}

func (w *world) runner() *guardrail.Runner {
	r, err := w.env().Runner(keymaterial.Spec().ID)
	if err != nil {
		w.t.Fatal(err)
	}
	return r
}

// deliver sends an event through the spoke's and the hub's rules on moto
// and returns the one event delivered to a guardrail.
func (w *world) deliver(raw []byte) []byte {
	events, err := w.Deliver(w.ctx, raw)
	if err != nil {
		w.t.Fatal(err)
	}
	if len(events) != 1 {
		w.t.Fatalf("the hub rules delivered %d events, want 1", len(events))
	}
	return events[0]
}

func (w *world) alerts() []sandbox.Alert {
	a, err := w.Alerts(w.ctx)
	if err != nil {
		w.t.Fatal(err)
	}
	return a
}

// at moves a recorded event to t (its eventTime and envelope time): the
// decision counts the days left from the event's time.
func at(raw []byte, from string, t time.Time) []byte {
	return bytes.ReplaceAll(raw, []byte(from), []byte(t.UTC().Format(time.RFC3339)))
}

// An import whose material expires in 10 days: a HIGH alert with the date.
// The material deleted: a CRITICAL alert; the same event again after the
// material was imported again: a WARNING, no longer CRITICAL.
func TestIntegration_ImportThenDelete(t *testing.T) {
	w := newWorld(t)
	now := time.Now().UTC().Truncate(time.Second)
	validTo := now.Add(10 * 24 * time.Hour)
	id := w.externalKey("alias/hsm-payments", validTo)
	r := w.runner()

	imp := at(fixtures.WithKey(fixtures.Get("key-material/import-key-material-expiring").Raw, id, "", ""), "2026-03-22T09:00:12Z", now)
	out, err := r.Handle(w.ctx, w.deliver(imp))
	if err != nil || out.Severity != guardrail.SeverityHigh || out.Action != guardrail.ActionNone || !out.Alerted || out.Resource != "alias/hsm-payments" {
		t.Fatalf("import: %+v %v", out, err)
	}
	day := validTo.Format("2006-01-02")
	if !strings.Contains(out.Reason, validTo.Format(time.RFC3339)) || !strings.Contains(out.Reason, "in 10 days") {
		t.Errorf("the reason lacks the date and days left: %s", out.Reason)
	}
	a := w.alerts()
	if len(a) != 1 || !strings.HasSuffix(a[0].Subject, "— expires "+day) || a[0].Attributes["severity"] != "HIGH" {
		t.Fatalf("alerts %+v", a)
	}

	w.deleteMaterial(id)
	if s := w.state(id); s != kmstypes.KeyStatePendingImport {
		t.Fatalf("after DeleteImportedKeyMaterial the key is %s, want PendingImport", s)
	}
	del := at(fixtures.WithKey(fixtures.Get("key-material/delete-imported-key-material").Raw, id, "", ""), "2026-03-20T10:15:42Z", now)
	delivered := w.deliver(del)
	out, err = r.Handle(w.ctx, delivered)
	if err != nil || out.Severity != guardrail.SeverityCritical || out.Action != guardrail.ActionNone || !out.Alerted {
		t.Fatalf("delete: %+v %v", out, err)
	}
	a = w.alerts()
	// The subject shortens the alias to stay under 100 characters.
	if len(a) != 1 || a[0].Subject != "[kmsguard] CRITICAL key-material: alias/hsm-pay… 111122223333 eu-west-1 by Alice — material deleted" {
		t.Fatalf("alerts %+v", a)
	}
	for _, must := range []string{"aws kms get-parameters-for-import --key-id", "aws kms import-key-material --key-id", "IAM user Alice", "the same key material"} {
		if !strings.Contains(a[0].Text, must) {
			t.Errorf("the CRITICAL alert lacks %q:\n%s", must, a[0].Text)
		}
	}

	// The owner imports the same material again; a late redelivery of the
	// deletion is then a WARNING, the key being usable again.
	if err := w.ImportMaterial(w.ctx, member, id, time.Time{}); err != nil {
		t.Fatal(err)
	}
	out, err = r.Handle(w.ctx, delivered)
	if err != nil || out.Severity != guardrail.SeverityWarning {
		t.Errorf("after the re-import: %+v %v", out, err)
	}
	w.alerts()
}

// KMS's native event after it deleted expired material (moto does not
// expire material: the deletion stands in for it). The event is handled as
// recorded: moto's EventBridge drops the account of the events it delivers.
func TestIntegration_ExpiredNativeEvent(t *testing.T) {
	w := newWorld(t)
	id := w.externalKey("alias/hsm-reports", time.Now().Add(time.Hour))
	w.deleteMaterial(id)
	raw := fixtures.WithKey(fixtures.Get("key-material/kms-imported-key-material-expiration").Raw, id, "", "")
	if _, err := w.Deliver(w.ctx, raw); err != nil { // the rules accept it
		t.Fatal(err)
	}
	out, err := w.runner().Handle(w.ctx, raw)
	if err != nil || out.Severity != guardrail.SeverityCritical || !out.Alerted {
		t.Fatalf("%+v %v", out, err)
	}
	if a := w.alerts(); len(a) != 1 || !strings.HasSuffix(a[0].Subject, "— material expired") {
		t.Errorf("alerts %+v", a)
	}
}

// The sweep reports every key without material and every key whose
// material expires within the horizon, with the date, in the digest; keys
// whose material does not expire or expires later, and keys with KMS's own
// material, are not reported (and not read beyond their listing).
func TestIntegration_Sweep(t *testing.T) {
	w := newWorld(t)
	now := time.Now().UTC()
	soon := now.Add(10 * 24 * time.Hour).Truncate(time.Second)
	expiring := w.externalKey("alias/hsm-expiring", soon)
	gone := w.externalKey("alias/hsm-gone", time.Time{})
	w.deleteMaterial(gone)
	w.externalKey("alias/hsm-forever", time.Time{})
	w.externalKey("alias/hsm-later", now.Add(200*24*time.Hour))
	if _, err := w.CreateKey(w.ctx, member, sandbox.KeySpec{Alias: "alias/ordinary"}); err != nil {
		t.Fatal(err)
	}
	rep, err := sweep.Run(w.ctx, w.env(), sweep.Options{Targets: []sweep.Target{{Account: member, Region: region}}})
	if err != nil || len(rep.Errors) > 0 {
		t.Fatalf("%v %v", err, rep.Errors)
	}
	found := map[string]sweep.Finding{}
	for _, f := range rep.Findings {
		if f.Guardrail == keymaterial.Spec().ID {
			found[f.Resource] = f
		}
		if f.Guardrail == "key-policy" && strings.HasPrefix(f.Resource, "alias/hsm-gone") {
			t.Errorf("key-policy reported a key without material: %+v", f)
		}
	}
	if len(found) != 2 {
		t.Fatalf("key-material findings %+v, want alias/hsm-expiring and alias/hsm-gone", found)
	}
	if f := found["alias/hsm-gone"]; f.Severity != guardrail.SeverityHigh || !strings.Contains(f.Reason, "PendingImport") || !hasCommand(f.Remedy, "aws kms import-key-material") {
		t.Errorf("the key without material: %+v", f)
	}
	if f := found["alias/hsm-expiring"]; f.Severity != guardrail.SeverityHigh || !strings.Contains(f.Reason, soon.Format(time.RFC3339)) || f.ARN == "" {
		t.Errorf("the expiring key: %+v", f)
	}
	if !strings.Contains(found["alias/hsm-expiring"].ARN, expiring) {
		t.Errorf("finding ARN %s", found["alias/hsm-expiring"].ARN)
	}
	digest := sweep.Digest(rep).Body
	for _, must := range []string{"key-material 111122223333/eu-west-1 alias/hsm-expiring", soon.Format(time.RFC3339), "key-material 111122223333/eu-west-1 alias/hsm-gone", "PendingImport"} {
		if !strings.Contains(strings.Join(strings.Fields(digest), " "), must) {
			t.Errorf("the digest lacks %q:\n%s", must, digest)
		}
	}
}

func hasCommand(steps []sweep.Step, prefix string) bool {
	for _, st := range steps {
		for _, c := range st.Commands {
			if strings.HasPrefix(c, prefix) {
				return true
			}
		}
	}
	return false
}
