package cloudtrail

import (
	"regexp"
	"strings"
)

// ssoRole is the role IAM Identity Center creates for a permission set:
// AWSReservedSSO_<permission set>_<16 hex digits>.
var ssoRole = regexp.MustCompile(`^AWSReservedSSO_(.+)_[0-9a-f]{16}$`)

// Words says who made the call the way a person names them: the IAM
// Identity Center user and permission set, the IAM user, the role and its
// session, the AWS service, or the root user. Empty when the record names
// nobody.
func (u UserIdentity) Words() string {
	session := ""
	if i := strings.LastIndex(u.ARN, "/"); i >= 0 && strings.Contains(u.ARN, ":assumed-role/") {
		session = u.ARN[i+1:]
	}
	switch u.Type {
	case "Root":
		return "the root user of account " + u.AccountID
	case "IAMUser":
		return "IAM user " + u.UserName
	case "AWSService":
		return "the AWS service " + u.InvokedBy
	case "FederatedUser":
		if i := strings.LastIndex(u.ARN, "/"); i >= 0 {
			return "federated user " + u.ARN[i+1:]
		}
	case "AssumedRole":
		role := ""
		if u.SessionContext != nil && u.SessionContext.SessionIssuer != nil {
			role = u.SessionContext.SessionIssuer.UserName
		}
		if role == "" {
			if parts := strings.Split(u.ARN, "/"); len(parts) == 3 {
				role = parts[1]
			}
		}
		if m := ssoRole.FindStringSubmatch(role); m != nil {
			return "Identity Center user " + session + " (permission set " + m[1] + ")"
		}
		if u.InvokedBy != "" {
			return "role " + role + " used by " + u.InvokedBy
		}
		return "role " + role + ", session " + session
	}
	return ""
}
