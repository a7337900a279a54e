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
	role, session := u.roleSession()
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

// Short is the actor in as few words as an alert subject has room for:
// "ROOT" (in capitals: a call by root is flagged wherever it shows), the
// Identity Center user (without the domain of an email address), the IAM
// user, the session of a role when it names a person (else the role), the
// service's short name. Empty when the
// record names nobody.
func (u UserIdentity) Short() string {
	role, session := u.roleSession()
	switch u.Type {
	case "Root":
		return "ROOT"
	case "IAMUser":
		return u.UserName
	case "AWSService":
		return strings.TrimSuffix(u.InvokedBy, ".amazonaws.com")
	case "FederatedUser":
		if i := strings.LastIndex(u.ARN, "/"); i >= 0 {
			return u.ARN[i+1:]
		}
	case "AssumedRole":
		switch {
		case ssoRole.MatchString(role) && session != "":
			// The person's Identity Center user name; of an email
			// address, the part before @ (the body has all of it).
			if i := strings.Index(session, "@"); i > 0 {
				return session[:i]
			}
			return session
		case u.InvokedBy != "":
			return role + " via " + strings.TrimSuffix(u.InvokedBy, ".amazonaws.com")
		case personLike(session):
			return strings.SplitN(session, "@", 2)[0] // who, not which role: the body has both
		}
		return role
	}
	return ""
}

// roleSession is the role and session name of an assumed-role caller: the
// role from the session issuer, else from the ARN.
func (u UserIdentity) roleSession() (role, session string) {
	if i := strings.LastIndex(u.ARN, "/"); i >= 0 && strings.Contains(u.ARN, ":assumed-role/") {
		session = u.ARN[i+1:]
	}
	if u.SessionContext != nil && u.SessionContext.SessionIssuer != nil {
		role = u.SessionContext.SessionIssuer.UserName
	}
	if role == "" {
		if parts := strings.Split(u.ARN, "/"); len(parts) == 3 {
			role = parts[1]
		}
	}
	return role, session
}

// sdkSession matches the session names SDKs and tools make up: they name
// no person.
var sdkSession = regexp.MustCompile(`(?i)(session|sdk|botocore|boto3|terraform|cli)|[0-9]{6,}`)

// personLike reports a session name that reads like a person's: a user
// name or an email address, not an SDK's or a pipeline's run id.
func personLike(session string) bool {
	if session == "" || len(session) > 64 || sdkSession.MatchString(session) {
		return false
	}
	return userName.MatchString(session)
}

var userName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9._+-]*(@[A-Za-z0-9.-]+)?$`)
