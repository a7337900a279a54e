package keypolicy

import (
	"slices"
	"strings"
	"testing"
)

const (
	own     = "111122223333"
	org     = "o-a1b2c3d4e5"
	trusted = "444455556666"
	foreign = "999988887777"
)

var ctx = Context{Account: own, OrganizationID: org, TrustedAccounts: []string{trusted}, AdminPrincipals: []string{"arn:aws:iam::111122223333:role/KeyAdmin*"}}

// rootStmt is the default key policy statement that enables IAM policies.
const rootStmt = `{"Sid":"Enable IAM User Permissions","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"}`

func pol(stmts ...string) string {
	return `{"Version":"2012-10-17","Id":"key-policy","Statement":[` + strings.Join(stmts, ",") + `]}`
}

func TestAnalyze(t *testing.T) {
	tests := []struct {
		name      string
		policy    string
		ctx       *Context
		want      []string // sorted finding codes
		removable []int
	}{
		// Policies from the AWS documentation.
		{"default key policy (KMS developer guide)", pol(rootStmt), nil, nil, nil},
		{"default key policy, root as account id", pol(`{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"kms:*","Resource":"*"}`), nil, nil, nil},
		{"console policy with key administrators allow-listed", pol(rootStmt,
			`{"Sid":"Allow access for Key Administrators","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/KeyAdmins"},"Action":["kms:Create*","kms:Describe*","kms:Enable*","kms:List*","kms:Put*","kms:Update*","kms:Revoke*","kms:Disable*","kms:Get*","kms:Delete*","kms:TagResource","kms:UntagResource","kms:ScheduleKeyDeletion","kms:CancelKeyDeletion"],"Resource":"*"}`,
			`{"Sid":"Allow use of the key","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/app"},"Action":["kms:Encrypt","kms:Decrypt","kms:ReEncrypt*","kms:GenerateDataKey*","kms:DescribeKey"],"Resource":"*"}`,
			`{"Sid":"Allow attachment of persistent resources","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/app"},"Action":["kms:CreateGrant","kms:ListGrants","kms:RevokeGrant"],"Resource":"*","Condition":{"Bool":{"kms:GrantIsForAWSResource":"true"}}}`),
			nil, nil, nil},
		{"console key administrators not allow-listed", pol(rootStmt,
			`{"Sid":"Allow access for Key Administrators","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/Ops"},"Action":["kms:Create*","kms:Put*","kms:ScheduleKeyDeletion"],"Resource":"*"}`), nil, []string{CodeBroadAdmin}, nil},
		{"cross-account use: external account root (KMS developer guide)", pol(rootStmt,
			`{"Sid":"Allow an external account to use this KMS key","Effect":"Allow","Principal":{"AWS":["arn:aws:iam::999988887777:root"]},"Action":["kms:Encrypt","kms:Decrypt","kms:ReEncrypt*","kms:GenerateDataKey*","kms:DescribeKey"],"Resource":"*"}`),
			nil, []string{CodeExternal}, []int{1}},
		{"cross-account use: trusted account", pol(rootStmt,
			`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444455556666:role/reader"},"Action":"kms:Decrypt","Resource":"*"}`), nil, nil, nil},
		{"AWS managed key pattern: CallerAccount + ViaService", pol(
			`{"Sid":"Allow access through EBS for all principals in the account that are authorized to use EBS","Effect":"Allow","Principal":{"AWS":"*"},"Action":["kms:Encrypt","kms:Decrypt","kms:ReEncrypt*","kms:GenerateDataKey*","kms:CreateGrant","kms:DescribeKey"],"Resource":"*","Condition":{"StringEquals":{"kms:CallerAccount":"111122223333","kms:ViaService":"ec2.eu-west-1.amazonaws.com"}}}`,
			`{"Sid":"Allow direct access to key metadata to the account","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":["kms:Describe*","kms:Get*","kms:List*","kms:RevokeGrant"],"Resource":"*"}`),
			nil, []string{CodeLockout}, nil},
		{"ViaService alone does not restrict the account", pol(rootStmt,
			`{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"kms:Decrypt","Resource":"*","Condition":{"StringEquals":{"kms:ViaService":"s3.eu-west-1.amazonaws.com"}}}`), nil, []string{CodePublic}, []int{1}},
		{"CloudWatch Logs service statement (logs guide)", pol(rootStmt,
			`{"Effect":"Allow","Principal":{"Service":"logs.eu-west-1.amazonaws.com"},"Action":["kms:Encrypt*","kms:Decrypt*","kms:ReEncrypt*","kms:GenerateDataKey*","kms:Describe*"],"Resource":"*","Condition":{"ArnLike":{"kms:EncryptionContext:aws:logs:arn":"arn:aws:logs:eu-west-1:111122223333:*"}}}`), nil, nil, nil},
		{"CloudTrail service statement with SourceArn", pol(rootStmt,
			`{"Sid":"Allow CloudTrail to encrypt logs","Effect":"Allow","Principal":{"Service":"cloudtrail.amazonaws.com"},"Action":"kms:GenerateDataKey*","Resource":"*","Condition":{"StringEquals":{"aws:SourceArn":"arn:aws:cloudtrail:eu-west-1:111122223333:trail/org"}}}`), nil, nil, nil},

		// PUBLIC.
		{"principal string star", pol(rootStmt, `{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Resource":"*"}`), nil, []string{CodePublic}, []int{1}},
		{"principal AWS star", pol(rootStmt, `{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"kms:Decrypt","Resource":"*"}`), nil, []string{CodePublic}, []int{1}},
		{"principal AWS star in a list", pol(rootStmt, `{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::111122223333:role/app","*"]},"Action":["kms:Decrypt"],"Resource":"*"}`), nil, []string{CodePublic}, []int{1}},
		{"wildcard account in ARN", pol(rootStmt, `{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::*:root"},"Action":"kms:Decrypt","Resource":"*"}`), nil, []string{CodePublic}, []int{1}},
		{"wildcard role in own account is not public", pol(rootStmt, `{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/app-*"},"Action":"kms:Decrypt","Resource":"*"}`), nil, nil, nil},
		{"Allow with NotPrincipal", pol(rootStmt, `{"Effect":"Allow","NotPrincipal":{"AWS":"arn:aws:iam::111122223333:user/mallory"},"Action":"kms:Decrypt","Resource":"*"}`), nil, []string{CodePublic}, []int{1}},
		{"Deny with NotPrincipal is fine", pol(rootStmt, `{"Effect":"Deny","NotPrincipal":{"AWS":"arn:aws:iam::111122223333:role/app"},"Action":"kms:Decrypt","Resource":"*"}`), nil, nil, nil},
		{"public statement that also grants root is kept", pol(`{"Sid":"Mixed","Effect":"Allow","Principal":{"AWS":["arn:aws:iam::111122223333:root","*"]},"Action":"kms:*","Resource":"*"}`), nil, []string{CodeBroadAdmin, CodePublic}, nil},
		{"public with kms:* is also broad admin", pol(rootStmt, `{"Sid":"Open","Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}`), nil, []string{CodeBroadAdmin, CodePublic}, []int{1}},
		{"Allow with NotAction to everyone", pol(rootStmt, `{"Effect":"Allow","Principal":"*","NotAction":"kms:Decrypt","Resource":"*"}`), nil, []string{CodeBroadAdmin, CodePublic}, []int{1}},

		// Account-restricting conditions.
		{"PrincipalOrgID own org", pol(rootStmt, `{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalOrgID":"o-a1b2c3d4e5"}}}`), nil, nil, nil},
		{"PrincipalOrgID other org", pol(rootStmt, `{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalOrgID":"o-zzzzzzzzzz"}}}`), nil, []string{CodeExternal}, []int{1}},
		{"PrincipalOrgID with wildcard value", pol(rootStmt, `{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Resource":"*","Condition":{"StringLike":{"aws:PrincipalOrgID":"o-*"}}}`), nil, []string{CodePublic}, []int{1}},
		{"PrincipalOrgID IfExists does not restrict", pol(rootStmt, `{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Resource":"*","Condition":{"StringEqualsIfExists":{"aws:PrincipalOrgID":"o-a1b2c3d4e5"}}}`), nil, []string{CodePublic}, []int{1}},
		{"PrincipalAccount own", pol(rootStmt, `{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"kms:Decrypt","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalAccount":["111122223333"]}}}`), nil, nil, nil},
		{"PrincipalAccount IfExists still restricts (always present)", pol(rootStmt, `{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"kms:Decrypt","Resource":"*","Condition":{"StringEqualsIfExists":{"aws:PrincipalAccount":"111122223333"}}}`), nil, nil, nil},
		{"PrincipalAccount foreign", pol(rootStmt, `{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"kms:Decrypt","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalAccount":"999988887777"}}}`), nil, []string{CodeExternal}, []int{1}},
		{"SourceAccount own", pol(rootStmt, `{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Resource":"*","Condition":{"StringEquals":{"aws:SourceAccount":"111122223333"}}}`), nil, nil, nil},
		{"SourceAccount IfExists does not restrict", pol(rootStmt, `{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Resource":"*","Condition":{"StringEqualsIfExists":{"aws:SourceAccount":"111122223333"}}}`), nil, []string{CodePublic}, []int{1}},
		{"SourceOwner own", pol(rootStmt, `{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Resource":"*","Condition":{"StringEquals":{"AWS:SourceOwner":"111122223333"}}}`), nil, nil, nil},
		{"SourceArn with fixed own account", pol(rootStmt, `{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Resource":"*","Condition":{"ArnLike":{"aws:SourceArn":"arn:aws:sns:eu-west-1:111122223333:*"}}}`), nil, nil, nil},
		{"SourceArn with wildcard account", pol(rootStmt, `{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Resource":"*","Condition":{"ArnLike":{"aws:SourceArn":"arn:aws:sns:eu-west-1:*:topic"}}}`), nil, []string{CodePublic}, []int{1}},
		{"PrincipalArn with fixed account", pol(rootStmt, `{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Resource":"*","Condition":{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::111122223333:role/*"}}}`), nil, nil, nil},
		{"PrincipalArn in a foreign account", pol(rootStmt, `{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Resource":"*","Condition":{"ArnEquals":{"aws:PrincipalArn":"arn:aws:iam::999988887777:role/x"}}}`), nil, []string{CodeExternal}, []int{1}},
		{"kms:CallerAccount own, key in any case", pol(rootStmt, `{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Resource":"*","Condition":{"StringEquals":{"KMS:CALLERACCOUNT":"111122223333"}}}`), nil, nil, nil},
		{"operator in other case", pol(rootStmt, `{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Resource":"*","Condition":{"stringequals":{"kms:CallerAccount":"111122223333"}}}`), nil, nil, nil},
		{"ForAnyValue restricts", pol(rootStmt, `{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Resource":"*","Condition":{"ForAnyValue:StringEquals":{"aws:PrincipalOrgID":"o-a1b2c3d4e5"}}}`), nil, nil, nil},
		{"ForAllValues does not restrict (vacuous when absent)", pol(rootStmt, `{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Resource":"*","Condition":{"ForAllValues:StringEquals":{"aws:PrincipalOrgID":"o-a1b2c3d4e5"}}}`), nil, []string{CodePublic}, []int{1}},
		{"negated operator does not restrict", pol(rootStmt, `{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Resource":"*","Condition":{"StringNotEquals":{"aws:PrincipalAccount":"999988887777"}}}`), nil, []string{CodePublic}, []int{1}},
		{"policy variable is not a fixed value", pol(rootStmt, `{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalAccount":"${aws:ResourceAccount}"}}}`), nil, []string{CodePublic}, []int{1}},
		{"unrelated condition only", pol(rootStmt, `{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"true"}}}`), nil, []string{CodePublic}, []int{1}},
		{"two conditions: own account AND anything", pol(rootStmt, `{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Resource":"*","Condition":{"StringEquals":{"kms:CallerAccount":"111122223333"},"StringLike":{"aws:PrincipalOrgID":"o-*"}}}`), nil, nil, nil},
		// The organization's membership (functions/internal/trust, the model
		// key-grants decides with): a member account is inside; one whose
		// membership could not be learned is reported, never removed.
		{"named account known to be a member", pol(rootStmt, `{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::999988887777:role/x"},"Action":"kms:Decrypt","Resource":"*"}`), &Context{Account: own, Members: []string{"999988887777"}}, nil, nil},
		{"named account, membership unknown", pol(rootStmt, `{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::999988887777:role/x"},"Action":"kms:Decrypt","Resource":"*"}`), &Context{Account: own, Unsure: []string{"999988887777"}}, []string{CodeExternal}, nil},
		// Unknown organization (single-account mode before it is learned):
		// reported, never removed.
		{"no organization known: org condition is external, not removed", pol(rootStmt, `{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalOrgID":"o-a1b2c3d4e5"}}}`), &Context{Account: own}, []string{CodeExternal}, nil},

		// aws:PrincipalOrgPaths (multivalued: ForAnyValue:StringLike, as documented).
		{"org paths inside the organization", pol(rootStmt, `{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"kms:Decrypt","Resource":"*","Condition":{"ForAnyValue:StringLike":{"aws:PrincipalOrgPaths":"o-a1b2c3d4e5/r-ab12/ou-ab12-11111111/*"}}}`), nil, nil, nil},
		{"org paths of the whole organization", pol(rootStmt, `{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Resource":"*","Condition":{"ForAnyValue:StringLike":{"aws:PrincipalOrgPaths":["o-a1b2c3d4e5/*"]}}}`), nil, nil, nil},
		{"org paths of another organization: external, not public", pol(rootStmt, `{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Resource":"*","Condition":{"ForAnyValue:StringLike":{"aws:PrincipalOrgPaths":"o-zzzzzzzzzz/r-zz99/*"}}}`), nil, []string{CodeExternal}, []int{1}},
		{"org paths with a wildcard organization: public", pol(rootStmt, `{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Resource":"*","Condition":{"ForAnyValue:StringLike":{"aws:PrincipalOrgPaths":"o-*/*"}}}`), nil, []string{CodePublic}, []int{1}},
		{"org paths, organization unknown: reported, not removed", pol(rootStmt, `{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Resource":"*","Condition":{"ForAnyValue:StringLike":{"aws:PrincipalOrgPaths":"o-a1b2c3d4e5/*"}}}`), &Context{Account: own}, []string{CodeExternal}, nil},
		{"org paths under ForAllValues restrict nothing", pol(rootStmt, `{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Resource":"*","Condition":{"ForAllValues:StringLike":{"aws:PrincipalOrgPaths":"o-a1b2c3d4e5/*"}}}`), nil, []string{CodePublic}, []int{1}},

		// Deny statements that confine an open Allow.
		{"open Allow confined to the organization by a Deny", pol(rootStmt,
			`{"Sid":"Open","Effect":"Allow","Principal":"*","Action":["kms:Decrypt","kms:DescribeKey"],"Resource":"*"}`,
			`{"Sid":"OrgOnly","Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"StringNotEqualsIfExists":{"aws:PrincipalOrgID":"o-a1b2c3d4e5"}}}`), nil, nil, nil},
		{"a confining Deny that exempts AWS services: reported, not removed", pol(rootStmt,
			`{"Sid":"Open","Effect":"Allow","Principal":"*","Action":["kms:Decrypt","kms:DescribeKey"],"Resource":"*"}`,
			`{"Sid":"OrgOnly","Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"StringNotEqualsIfExists":{"aws:PrincipalOrgID":"o-a1b2c3d4e5"},"BoolIfExists":{"aws:PrincipalIsAWSService":"false"}}}`), nil, []string{CodeExternal}, nil},
		{"aws:ViaAWSService false does not confine (service-forwarded calls carry the outside caller)", pol(rootStmt,
			`{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Resource":"*"}`,
			`{"Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"StringNotEquals":{"aws:PrincipalAccount":"111122223333"},"Bool":{"aws:ViaAWSService":"false"}}}`), nil, []string{CodePublic}, []int{1}},
		{"open Allow confined to the account by a Deny on aws:PrincipalAccount", pol(rootStmt,
			`{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"kms:Decrypt","Resource":"*"}`,
			`{"Effect":"Deny","Principal":{"AWS":"*"},"Action":"kms:Decrypt","Resource":"*","Condition":{"StringNotEquals":{"aws:PrincipalAccount":["111122223333","444455556666"]}}}`), nil, nil, nil},
		{"Deny on aws:PrincipalOrgID without IfExists still confines (a negated operator holds when the key is absent)", pol(rootStmt,
			`{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Resource":"*"}`,
			`{"Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"StringNotEquals":{"aws:PrincipalOrgID":"o-a1b2c3d4e5"}}}`), nil, nil, nil},
		{"Deny covering only some of the Allow's actions does not confine", pol(rootStmt,
			`{"Effect":"Allow","Principal":"*","Action":["kms:Decrypt","kms:Encrypt"],"Resource":"*"}`,
			`{"Effect":"Deny","Principal":"*","Action":"kms:Decrypt","Resource":"*","Condition":{"StringNotEqualsIfExists":{"aws:PrincipalOrgID":"o-a1b2c3d4e5"}}}`), nil, []string{CodePublic}, []int{1}},
		{"Deny confining to another organization does not confine", pol(rootStmt,
			`{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Resource":"*"}`,
			`{"Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"StringNotEqualsIfExists":{"aws:PrincipalOrgID":"o-zzzzzzzzzz"}}}`), nil, []string{CodePublic}, []int{1}},
		{"Deny with a condition kmsguard does not read does not confine", pol(rootStmt,
			`{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Resource":"*"}`,
			`{"Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"StringNotEqualsIfExists":{"aws:PrincipalOrgID":"o-a1b2c3d4e5"},"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}}`), nil, []string{CodePublic}, []int{1}},
		{"confining Deny with org paths (ForAllValues:StringNotLike)", pol(rootStmt,
			`{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Resource":"*"}`,
			`{"Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"ForAllValues:StringNotLike":{"aws:PrincipalOrgPaths":"o-a1b2c3d4e5/*"}}}`), nil, nil, nil},
		{"confining Deny also covers an external named principal", pol(rootStmt,
			`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::999988887777:root"},"Action":"kms:Decrypt","Resource":"*"}`,
			`{"Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"StringNotEquals":{"aws:PrincipalAccount":"111122223333"}}}`), nil, nil, nil},

		// aws:PrincipalAccount lists.
		{"PrincipalAccount list all ours", pol(rootStmt, `{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalAccount":["111122223333","444455556666"]}}}`), nil, nil, nil},
		{"PrincipalAccount list with a foreign account", pol(rootStmt, `{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalAccount":["111122223333","999988887777"]}}}`), nil, []string{CodeExternal}, []int{1}},
		{"PrincipalAccount with a wildcard: public", pol(rootStmt, `{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Resource":"*","Condition":{"StringLike":{"aws:PrincipalAccount":"1111*"}}}`), nil, []string{CodePublic}, []int{1}},

		// Service principals and their source conditions.
		{"service principal with our aws:SourceAccount", pol(rootStmt, `{"Effect":"Allow","Principal":{"Service":"sns.amazonaws.com"},"Action":["kms:GenerateDataKey*","kms:Decrypt"],"Resource":"*","Condition":{"StringEquals":{"aws:SourceAccount":"111122223333"}}}`), nil, nil, nil},
		{"service principal acting for a foreign account (aws:SourceAccount)", pol(rootStmt, `{"Effect":"Allow","Principal":{"Service":"sns.amazonaws.com"},"Action":["kms:GenerateDataKey*","kms:Decrypt"],"Resource":"*","Condition":{"StringEquals":{"aws:SourceAccount":"999988887777"}}}`), nil, []string{CodeExternal}, []int{1}},
		{"service principal acting for a foreign trail (aws:SourceArn)", pol(rootStmt, `{"Effect":"Allow","Principal":{"Service":"cloudtrail.amazonaws.com"},"Action":"kms:GenerateDataKey*","Resource":"*","Condition":{"ArnLike":{"aws:SourceArn":"arn:aws:cloudtrail:*:999988887777:trail/*"}}}`), nil, []string{CodeExternal}, []int{1}},
		{"service principal without source conditions", pol(rootStmt, `{"Effect":"Allow","Principal":{"Service":"events.amazonaws.com"},"Action":["kms:GenerateDataKey","kms:Decrypt"],"Resource":"*"}`), nil, nil, nil},

		// Federated principals.
		{"SAML provider in the account", pol(rootStmt, `{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::111122223333:saml-provider/Okta"},"Action":"kms:Decrypt","Resource":"*"}`), nil, nil, nil},
		{"SAML provider of a foreign account", pol(rootStmt, `{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::999988887777:saml-provider/Okta"},"Action":"kms:Decrypt","Resource":"*"}`), nil, []string{CodeExternal}, []int{1}},
		{"web identity provider cannot be attributed", pol(rootStmt, `{"Effect":"Allow","Principal":{"Federated":"cognito-identity.amazonaws.com"},"Action":"kms:Decrypt","Resource":"*"}`), nil, []string{CodeExternal}, []int{1}},
		{"web identity confined to the organization by a Deny", pol(rootStmt,
			`{"Effect":"Allow","Principal":{"Federated":"accounts.google.com"},"Action":"kms:Decrypt","Resource":"*"}`,
			`{"Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"StringNotEqualsIfExists":{"aws:PrincipalOrgID":"o-a1b2c3d4e5"}}}`), nil, nil, nil},
		{"NotPrincipal Allow confined by a Deny", pol(rootStmt,
			`{"Effect":"Allow","NotPrincipal":{"AWS":"arn:aws:iam::111122223333:role/blocked"},"Action":"kms:Decrypt","Resource":"*"}`,
			`{"Effect":"Deny","Principal":"*","Action":"kms:Decrypt","Resource":"*","Condition":{"StringNotEquals":{"aws:PrincipalAccount":"111122223333"}}}`), nil, nil, nil},

		// EXTERNAL named principals.
		{"external role", pol(rootStmt, `{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::999988887777:role/partner"},"Action":"kms:Decrypt","Resource":"*"}`), nil, []string{CodeExternal}, []int{1}},
		{"external account id", pol(rootStmt, `{"Effect":"Allow","Principal":{"AWS":"999988887777"},"Action":"kms:Decrypt","Resource":"*"}`), nil, []string{CodeExternal}, []int{1}},
		{"external assumed-role session", pol(rootStmt, `{"Effect":"Allow","Principal":{"AWS":"arn:aws:sts::999988887777:assumed-role/r/s"},"Action":"kms:Decrypt","Resource":"*"}`), nil, []string{CodeExternal}, []int{1}},
		{"deleted principal's unique id", pol(rootStmt, `{"Effect":"Allow","Principal":{"AWS":"AROAEXAMPLEDELETED12"},"Action":"kms:Decrypt","Resource":"*"}`), nil, []string{CodeExternal}, []int{1}},
		{"external principal limited to own org by condition", pol(rootStmt, `{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::999988887777:root"},"Action":"kms:Decrypt","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalOrgID":"o-a1b2c3d4e5"}}}`), nil, nil, nil},
		{"external and lockout-safe root", pol(rootStmt, `{"Sid":"A","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::999988887777:root"},"Action":"kms:Decrypt","Resource":"*"}`, `{"Sid":"B","Effect":"Allow","Principal":"*","Action":"kms:Encrypt","Resource":"*"}`), nil, []string{CodeExternal, CodePublic}, []int{1, 2}},
		{"Principal in lower-case key", pol(rootStmt, `{"Effect":"Allow","Principal":{"aws":"arn:aws:iam::999988887777:root"},"Action":"kms:Decrypt","Resource":"*"}`), nil, []string{CodeExternal}, []int{1}},

		// LOCKOUT.
		{"no statement can change the policy", pol(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/app"},"Action":["kms:Encrypt","kms:Decrypt"],"Resource":"*"}`), nil, []string{CodeLockout}, nil},
		{"policy rights to own role are enough", pol(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/KeyAdmin"},"Action":["kms:PutKeyPolicy","kms:Describe*"],"Resource":"*"}`), nil, nil, nil},
		{"only a foreign account can change the policy", pol(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::999988887777:root"},"Action":"kms:*","Resource":"*"}`), nil, []string{CodeBroadAdmin, CodeExternal, CodeLockout}, []int{0}},
		{"deny PutKeyPolicy to everyone", pol(rootStmt, `{"Effect":"Deny","Principal":"*","Action":"kms:PutKeyPolicy","Resource":"*"}`), nil, []string{CodeLockout}, nil},
		{"bypass flag from the event", pol(rootStmt), &Context{Account: own, BypassLockoutCheck: true}, []string{CodeLockout}, nil},

		// BROAD-ADMIN.
		{"kms:* to an app role", pol(rootStmt, `{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/app"},"Action":"kms:*","Resource":"*"}`), nil, []string{CodeBroadAdmin}, nil},
		{"action star to an app role", pol(rootStmt, `{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/app"},"Action":"*","Resource":"*"}`), nil, []string{CodeBroadAdmin}, nil},
		{"deletion rights by wildcard action", pol(rootStmt, `{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/dev"},"Action":"kms:Schedule*","Resource":"*"}`), nil, []string{CodeBroadAdmin}, nil},
		{"policy rights in other case", pol(rootStmt, `{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/dev"},"Action":"KMS:putkeypolicy","Resource":"*"}`), nil, []string{CodeBroadAdmin}, nil},
		{"admin pattern covers the role", pol(rootStmt, `{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/KeyAdminTeam"},"Action":"kms:*","Resource":"*"}`), nil, nil, nil},
		{"NotAction excluding admin rights is fine", pol(rootStmt, `{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/app"},"NotAction":["kms:PutKeyPolicy","kms:ScheduleKeyDeletion","kms:Create*"],"Resource":"*"}`), nil, []string{CodeBroadAdmin}, nil},
		{"service principal with kms:* is not flagged", pol(rootStmt, `{"Effect":"Allow","Principal":{"Service":"dynamodb.amazonaws.com"},"Action":"kms:*","Resource":"*","Condition":{"StringEquals":{"aws:SourceAccount":"111122223333"}}}`), nil, nil, nil},

		// Shapes.
		{"single statement object", `{"Version":"2012-10-17","Statement":` + rootStmt + `}`, nil, nil, nil},
		{"string-or-list everywhere", pol(`{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::111122223333:root"]},"Action":["kms:*"],"Resource":["*"]}`), nil, nil, nil},
		{"boolean and number condition values", pol(rootStmt, `{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/app"},"Action":"kms:Decrypt","Resource":"*","Condition":{"Bool":{"kms:GrantIsForAWSResource":true},"NumericLessThan":{"kms:RotationPeriodInDays":365}}}`), nil, nil, nil},
	}
	if len(tests) < 40 {
		t.Fatalf("only %d policies", len(tests))
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ctx
			if tt.ctx != nil {
				c = *tt.ctx
			}
			a := Analyze(tt.policy, c)
			if a.Err != nil {
				t.Fatalf("parse error: %v", a.Err)
			}
			if got := a.Codes(); !slices.Equal(got, tt.want) {
				t.Errorf("codes = %v, want %v\n%s", got, tt.want, describe(a))
			}
			if got := a.Removable(); !slices.Equal(got, tt.removable) {
				t.Errorf("removable = %v, want %v", got, tt.removable)
			}
			for _, f := range a.Findings {
				if f.Message == "" || f.Statement == "" || !strings.HasSuffix(f.Message, ".") {
					t.Errorf("finding without a one-sentence explanation: %+v", f)
				}
			}
		})
	}
}

func describe(a Analysis) string {
	var b strings.Builder
	for _, f := range a.Findings {
		b.WriteString("  " + f.Code + " " + f.Statement + ": " + f.Message + "\n")
	}
	return b.String()
}

func TestAnalyze_NamesStatements(t *testing.T) {
	a := Analyze(pol(rootStmt, `{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Resource":"*"}`, `{"Sid":"Partner","Effect":"Allow","Principal":{"AWS":"999988887777"},"Action":"kms:Decrypt","Resource":"*"}`), ctx)
	var names []string
	for _, f := range a.Findings {
		names = append(names, f.Statement)
	}
	if !slices.Equal(names, []string{"#1", "Partner"}) {
		t.Errorf("statements named %v", names)
	}
}

func TestAnalyze_Unparseable(t *testing.T) {
	for name, p := range map[string]string{
		"empty":                             ``,
		"not json":                          `{"Statement":`,
		"duplicate Principal keys":          pol(rootStmt, `{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Principal":"*","Action":"kms:Decrypt","Resource":"*"}`),
		"duplicate AWS keys in a Principal": pol(rootStmt, `{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root","AWS":"*"},"Action":"kms:Decrypt","Resource":"*"}`),
		"array":                             `[]`,
		"no statement":                      `{"Version":"2012-10-17"}`,
		"bad effect":                        `{"Statement":[{"Effect":"Maybe","Principal":"*","Action":"kms:*"}]}`,
		"principal number":                  `{"Statement":[{"Effect":"Allow","Principal":42,"Action":"kms:*"}]}`,
		"action object":                     `{"Statement":[{"Effect":"Allow","Principal":"*","Action":{"a":1}}]}`,
		"too large":                         `{"Statement":[` + strings.Repeat(" ", MaxPolicyBytes) + `]}`,
	} {
		t.Run(name, func(t *testing.T) {
			a := Analyze(p, ctx)
			if len(a.Findings) == 0 || a.Findings[0].Code != CodeUnparseable || a.Err == nil {
				t.Errorf("findings %v, err %v", a.Findings, a.Err)
			}
			if len(a.Removable()) != 0 {
				t.Error("an unparseable policy must never lead to a removal")
			}
		})
	}
	// A principal that is a string other than "*" is flagged, not ignored.
	a := Analyze(pol(rootStmt, `{"Effect":"Allow","Principal":"arn:aws:iam::999988887777:root","Action":"kms:Decrypt","Resource":"*"}`), ctx)
	if !slices.Contains(a.Codes(), CodeUnparseable) {
		t.Errorf("codes %v", a.Codes())
	}
}

func TestWithout(t *testing.T) {
	p := pol(rootStmt, `{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Resource":"*"}`, `{"Sid":"Keep","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/app"},"Action":"kms:Decrypt","Resource":"*"}`)
	out, removed, err := Without(p, []int{1})
	if err != nil {
		t.Fatal(err)
	}
	if len(removed) != 1 || removed[0] != `{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Resource":"*"}` {
		t.Errorf("removed %v", removed)
	}
	if strings.Contains(out, `"Principal":"*"`) || !strings.Contains(out, rootStmt) || !strings.Contains(out, `"Sid":"Keep"`) || !strings.Contains(out, `"Id":"key-policy"`) {
		t.Errorf("rewritten policy %s", out)
	}
	if len(Analyze(out, ctx).Findings) != 0 {
		t.Errorf("findings remain: %v", Analyze(out, ctx).Findings)
	}
	if _, _, err := Without(pol(`{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}`), []int{0}); err == nil {
		t.Error("emptied a policy")
	}
}

func FuzzAnalyze(f *testing.F) {
	f.Add(pol(rootStmt))
	f.Add(pol(rootStmt, `{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalOrgID":"o-a1b2c3d4e5"}}}`))
	f.Add(`{"Statement":{"Effect":"Allow","NotPrincipal":{"AWS":["x"]},"NotAction":"kms:*"}}`)
	f.Add(`{"Statement":[{"Effect":"Deny","Principal":{"AWS":"*","Service":["a"]},"Action":[],"Condition":{"ForAnyValue:ArnLike":{"aws:SourceArn":["arn:aws:s3:::*"]}}}]}`)
	f.Add(`{"Statement":[null]}`)
	f.Add(`{}`)
	f.Fuzz(func(t *testing.T, policy string) {
		a := Analyze(policy, ctx)
		if a.Err != nil && len(a.Findings) == 0 {
			t.Fatal("unparseable policy reported with no findings")
		}
		if a.Err != nil && len(a.Removable()) > 0 {
			t.Fatal("unparseable policy with removable statements")
		}
		if rm := a.Removable(); len(rm) > 0 && a.Err == nil {
			if _, _, err := Without(policy, rm); err != nil && !strings.Contains(err.Error(), "empty") {
				t.Fatalf("cannot remove %v: %v", rm, err)
			}
		}
	})
}
