package sweep_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/kmsguard/kmsguard/events/fixtures"
	"github.com/kmsguard/kmsguard/internal/moto"
	"github.com/kmsguard/kmsguard/internal/sandbox"
)

var srv *moto.Server

func TestMain(m *testing.M) { moto.RunTests(m, &srv) }

const member = fixtures.Account

type world struct {
	*sandbox.Hub
	t   *testing.T
	ctx context.Context
}

func newWorld(t *testing.T) *world {
	t.Helper()
	sb, err := sandbox.NewHub(context.Background(), srv, "eu-west-1")
	if err != nil {
		t.Fatal(err)
	}
	return &world{Hub: sb, t: t, ctx: context.Background()}
}

func (w *world) kms() *kms.Client {
	c, err := w.KMS(w.ctx, member)
	if err != nil {
		w.t.Fatal(err)
	}
	return c
}
