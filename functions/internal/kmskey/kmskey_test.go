package kmskey

import (
	"context"
	"slices"
	"testing"
	"time"

	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/kmsguard/kmsguard/functions/internal/fakekms"
)

// Aliases are read for every alert and cached per client (one per account
// and Region) and key for AliasesFor.
func TestReadAliases_Cached(t *testing.T) {
	now := time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)
	saved := aliasCache
	aliasCache = &ttlCache{ttl: AliasesFor, max: 4096, now: func() time.Time { return now }}
	t.Cleanup(func() { aliasCache = saved })

	f := fakekms.New()
	fk := f.AddKey("1234abcd-12ab-34cd-56ef-1234567890ab", kmstypes.KeyStateEnabled, nil, "alias/orders")
	read := func() []string {
		k := Key{Found: true, Meta: fk.Meta}
		if err := k.ReadAliases(context.Background(), f); err != nil {
			t.Fatal(err)
		}
		return k.Aliases
	}
	calls := func() int {
		return len(slices.DeleteFunc(slices.Clone(f.Calls), func(c string) bool { return c != "ListAliases" }))
	}
	if a := read(); !slices.Equal(a, []string{"alias/orders"}) || calls() != 1 {
		t.Fatalf("aliases %v after %d calls", a, calls())
	}
	read()
	if calls() != 1 {
		t.Errorf("second read within %v made a call", AliasesFor)
	}
	// Another account's or Region's client is another world.
	other := fakekms.New()
	other.AddKey("1234abcd-12ab-34cd-56ef-1234567890ab", kmstypes.KeyStateEnabled, nil)
	k := Key{Found: true, Meta: fk.Meta}
	if err := k.ReadAliases(context.Background(), other); err != nil || len(k.Aliases) != 0 {
		t.Errorf("other client: %v %v", k.Aliases, err)
	}
	now = now.Add(AliasesFor)
	fk.Aliases = []string{"alias/orders-v2"}
	if a := read(); !slices.Equal(a, []string{"alias/orders-v2"}) || calls() != 2 {
		t.Errorf("after %v: %v, %d calls", AliasesFor, a, calls())
	}
}

// A key the sweep hands with its aliases listed (none, perhaps) is not read
// again for an alert.
func TestReadAliases_KnownAreNotRead(t *testing.T) {
	f := fakekms.New()
	fk := f.AddKey("1234abcd-12ab-34cd-56ef-1234567890ac", kmstypes.KeyStateEnabled, nil, "alias/orders")
	k := Key{Found: true, Meta: fk.Meta, AliasesRead: true}
	if err := k.ReadAliases(context.Background(), f); err != nil || len(k.Aliases) != 0 || len(f.Calls) != 0 {
		t.Errorf("aliases %v, calls %v, %v", k.Aliases, f.Calls, err)
	}
}
