package sweep_test

import (
	"reflect"
	"testing"

	"github.com/kmsguard/kmsguard/functions/internal/alert"
	"github.com/kmsguard/kmsguard/functions/sweep"
)

// Remedy reads the section as alert.Body writes it: wrapped lines join,
// commands stay whole, and the section ends at the next one.
func TestRemedy_ReadsTheAlertsSection(t *testing.T) {
	const arn = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	var b alert.Body
	b.Para("kmsguard found a key pending deletion.")
	b.Section("Key")
	b.Field("ARN", arn)
	b.Section(sweep.RemedySection)
	b.Line("To cancel the deletion and re-enable the key yourself, which is a sentence long enough to be wrapped by the body at seventy-eight columns:")
	b.Command("aws kms cancel-key-deletion --key-id " + arn + " --region eu-west-1")
	b.Command("aws kms enable-key --key-id " + arn + " --region eu-west-1")
	b.Line("Then look at who scheduled it.")
	b.Section("Event")
	b.Field("Event id", "e-1")

	want := []sweep.Step{
		{Text: "To cancel the deletion and re-enable the key yourself, which is a sentence long enough to be wrapped by the body at seventy-eight columns:",
			Commands: []string{"aws kms cancel-key-deletion --key-id " + arn + " --region eu-west-1", "aws kms enable-key --key-id " + arn + " --region eu-west-1"}},
		{Text: "Then look at who scheduled it."},
	}
	if got := sweep.Remedy(b.String()); !reflect.DeepEqual(got, want) {
		t.Errorf("Remedy:\n got %#v\nwant %#v\nbody:\n%s", got, want, b.String())
	}

	var none alert.Body
	none.Section("Key")
	none.Field("ARN", arn)
	if got := sweep.Remedy(none.String()); got != nil {
		t.Errorf("no section: %#v", got)
	}
	var empty alert.Body
	empty.Section(sweep.RemedySection)
	empty.Section("Event")
	if got := sweep.Remedy(empty.String()); got != nil {
		t.Errorf("empty section: %#v", got)
	}
}
