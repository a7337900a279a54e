package cloudtrail

import "testing"

func TestUserIdentity_Words(t *testing.T) {
	issuer := func(name string) *SessionContext {
		return &SessionContext{SessionIssuer: &SessionIssuer{Type: "Role", UserName: name}}
	}
	tests := []struct {
		u    UserIdentity
		want string
	}{
		{UserIdentity{Type: "AssumedRole", ARN: "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_AdministratorAccess_0123456789abcdef/jane.doe@example.com",
			SessionContext: issuer("AWSReservedSSO_AdministratorAccess_0123456789abcdef")}, "Identity Center user jane.doe@example.com (permission set AdministratorAccess)"},
		{UserIdentity{Type: "AssumedRole", ARN: "arn:aws:sts::111122223333:assumed-role/Admin/alice", SessionContext: issuer("Admin")}, "role Admin, session alice"},
		{UserIdentity{Type: "AssumedRole", ARN: "arn:aws:sts::111122223333:assumed-role/Deployer/1700000000", InvokedBy: "cloudformation.amazonaws.com"}, "role Deployer used by cloudformation.amazonaws.com"},
		{UserIdentity{Type: "IAMUser", UserName: "bob", ARN: "arn:aws:iam::111122223333:user/bob"}, "IAM user bob"},
		{UserIdentity{Type: "Root", AccountID: "111122223333", ARN: "arn:aws:iam::111122223333:root"}, "the root user of account 111122223333"},
		{UserIdentity{Type: "AWSService", InvokedBy: "logs.amazonaws.com"}, "the AWS service logs.amazonaws.com"},
		{UserIdentity{Type: "FederatedUser", ARN: "arn:aws:sts::111122223333:federated-user/carol"}, "federated user carol"},
		{UserIdentity{}, ""},
	}
	for _, tt := range tests {
		if got := tt.u.Words(); got != tt.want {
			t.Errorf("%s %s: %q, want %q", tt.u.Type, tt.u.ARN, got, tt.want)
		}
	}
}
