package config

import "github.com/kmsguard/kmsguard/functions/runconfig"

// The Region table lives in functions/runconfig, where the sweep and the
// CLI use it too (which Regions are opt-in); these names keep validation
// readable.

// Region is one AWS Region of the commercial partition.
type Region = runconfig.Region

// Regions are the Region codes of the commercial partition.
var Regions = runconfig.Regions

// LookupRegion returns the Region with this code.
func LookupRegion(code string) (Region, bool) { return runconfig.LookupRegion(code) }

// IsRegion reports whether code is a Region of the commercial partition.
func IsRegion(code string) bool { return runconfig.IsRegion(code) }

// IsOptIn reports whether region is an opt-in Region.
func IsOptIn(region string) bool { return runconfig.IsOptIn(region) }

// RegionalStackSetName is the StackSet of the regional spoke in the Regions
// enabled by default.
const RegionalStackSetName = "kmsguard-regional"

// OptInStackSetName names the StackSet of the regional spoke in one opt-in
// Region (infra/org; kmsguard preflight names it in its fix).
func OptInStackSetName(region string) string { return RegionalStackSetName + "-" + region }
