package live_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/kmsguard/kmsguard/internal/moto"
)

var srv *moto.Server

func TestMain(m *testing.M) { moto.RunTests(m, &srv) }

// The live suite's scenarios on moto, in every make test: what TestLive does
// in a real account is known to work before anyone runs it there.
func TestRehearsal_OnMoto(t *testing.T) {
	cfg, err := srv.Config(context.Background(), "eu-west-1")
	if err != nil {
		t.Fatal(err)
	}
	runScenarios(t, env{cfg: cfg, account: moto.DefaultAccount, region: "eu-west-1", run: fmt.Sprint(time.Now().UnixNano())})
}
