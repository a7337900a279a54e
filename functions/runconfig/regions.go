package runconfig

import "slices"

// Region is one AWS Region of the commercial partition (aws).
type Region struct {
	// Code is the Region code, for example eu-west-1.
	Code string
	// OptIn is true for Regions launched after March 20, 2019: they are
	// disabled in every account until someone enables them, and
	// StackSets cannot deploy to an account where they are not enabled.
	OptIn bool
}

// Regions are the Region codes of the commercial partition, in code order.
// GovCloud (us-gov-*) and China (cn-*) are other partitions, with other
// accounts: kmsguard does not deploy there.
//
// Sources: the list of Regions and their opt-in status,
// https://docs.aws.amazon.com/global-infrastructure/latest/regions/aws-regions.html,
// and which Regions need enabling ("Regions launched after March 20, 2019"),
// https://docs.aws.amazon.com/accounts/latest/reference/manage-acct-regions.html.
// Cross-checked against the aws partition of the AWS SDK for Go v2's
// partitions.json. A Region launched later is refused until it is added here.
var Regions = []Region{
	{"af-south-1", true},
	{"ap-east-1", true},
	{"ap-east-2", true},
	{"ap-northeast-1", false},
	{"ap-northeast-2", false},
	{"ap-northeast-3", false},
	{"ap-south-1", false},
	{"ap-south-2", true},
	{"ap-southeast-1", false},
	{"ap-southeast-2", false},
	{"ap-southeast-3", true},
	{"ap-southeast-4", true},
	{"ap-southeast-5", true},
	{"ap-southeast-6", true},
	{"ap-southeast-7", true},
	{"ca-central-1", false},
	{"ca-west-1", true},
	{"eu-central-1", false},
	{"eu-central-2", true},
	{"eu-north-1", false},
	{"eu-south-1", true},
	{"eu-south-2", true},
	{"eu-west-1", false},
	{"eu-west-2", false},
	{"eu-west-3", false},
	{"il-central-1", true},
	{"me-central-1", true},
	{"me-south-1", true},
	{"mx-central-1", true},
	{"sa-east-1", false},
	{"us-east-1", false},
	{"us-east-2", false},
	{"us-west-1", false},
	{"us-west-2", false},
}

// LookupRegion returns the Region with this code.
func LookupRegion(code string) (Region, bool) {
	i := slices.IndexFunc(Regions, func(r Region) bool { return r.Code == code })
	if i < 0 {
		return Region{}, false
	}
	return Regions[i], true
}

// IsRegion reports whether code is a Region of the commercial partition.
func IsRegion(code string) bool {
	_, ok := LookupRegion(code)
	return ok
}

// IsOptIn reports whether region is an opt-in Region (false for a code
// that is not a Region).
func IsOptIn(region string) bool {
	r, ok := LookupRegion(region)
	return ok && r.OptIn
}
