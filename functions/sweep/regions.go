package sweep

import (
	"context"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/account"
	accounttypes "github.com/aws/aws-sdk-go-v2/service/account/types"

	"github.com/kmsguard/kmsguard/functions/runconfig"
)

// RegionActions let the hub tell which opt-in Regions each account has
// enabled (AWS Account Management; the hub must be the management account
// or the Account Management delegated administrator to ask about others).
var RegionActions = []string{"account:ListRegions"}

// AccountAPI reads an account's Regions.
type AccountAPI interface {
	ListRegions(ctx context.Context, in *account.ListRegionsInput, opts ...func(*account.Options)) (*account.ListRegionsOutput, error)
}

// NotEnabled returns the opt-in Regions among regions that acct has not
// enabled. Regions enabled by default are never asked about; with no
// opt-in Region configured it makes no call. self is the caller's own
// account: Account Management refuses an AccountId naming the caller's
// own account from the management account, so it is left out
// (https://docs.aws.amazon.com/accounts/latest/reference/API_ListRegions.html).
func NotEnabled(ctx context.Context, api AccountAPI, acct, self string, regions []string) ([]string, error) {
	var optIn []string
	for _, r := range regions {
		if runconfig.IsOptIn(r) {
			optIn = append(optIn, r)
		}
	}
	if len(optIn) == 0 {
		return nil, nil
	}
	in := &account.ListRegionsInput{
		MaxResults:              aws.Int32(50),
		RegionOptStatusContains: []accounttypes.RegionOptStatus{accounttypes.RegionOptStatusEnabled, accounttypes.RegionOptStatusEnabledByDefault},
	}
	if acct != self {
		in.AccountId = aws.String(acct)
	}
	enabled := map[string]bool{}
	pg := account.NewListRegionsPaginator(api, in)
	for pg.HasMorePages() {
		out, err := pg.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list the Regions of account %s (the hub needs account:ListRegions as the management account or the Account Management delegated administrator): %w", acct, err)
		}
		for _, r := range out.Regions {
			enabled[aws.ToString(r.RegionName)] = true
		}
	}
	var off []string
	for _, r := range optIn {
		if !enabled[r] && !slices.Contains(off, r) {
			off = append(off, r)
		}
	}
	return off, nil
}
