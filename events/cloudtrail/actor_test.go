package cloudtrail

import "testing"

func issuer(name string) *SessionContext {
	return &SessionContext{SessionIssuer: &SessionIssuer{Type: "Role", UserName: name}}
}

func TestUserIdentity_Words(t *testing.T) {
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

func TestUserIdentity_Short(t *testing.T) {
	tests := []struct {
		u    UserIdentity
		want string
	}{
		{UserIdentity{Type: "AssumedRole", ARN: "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_AdministratorAccess_0123456789abcdef/jane.doe@example.com",
			SessionContext: issuer("AWSReservedSSO_AdministratorAccess_0123456789abcdef")}, "jane.doe"},
		{UserIdentity{Type: "AssumedRole", ARN: "arn:aws:sts::111122223333:assumed-role/Admin/alice", SessionContext: issuer("Admin")}, "alice"},
		{UserIdentity{Type: "AssumedRole", ARN: "arn:aws:sts::111122223333:assumed-role/Admin/alice@example.com", SessionContext: issuer("Admin")}, "alice"},
		{UserIdentity{Type: "AssumedRole", ARN: "arn:aws:sts::111122223333:assumed-role/Deployer/botocore-session-1700000000", SessionContext: issuer("Deployer")}, "Deployer"},
		{UserIdentity{Type: "AssumedRole", ARN: "arn:aws:sts::111122223333:assumed-role/Deployer/1700000000"}, "Deployer"},
		{UserIdentity{Type: "AssumedRole", ARN: "arn:aws:sts::111122223333:assumed-role/Deployer/1700000000", InvokedBy: "cloudformation.amazonaws.com"}, "Deployer via cloudformation"},
		{UserIdentity{Type: "IAMUser", UserName: "bob", ARN: "arn:aws:iam::111122223333:user/bob"}, "bob"},
		{UserIdentity{Type: "Root", AccountID: "111122223333", ARN: "arn:aws:iam::111122223333:root"}, "ROOT"},
		{UserIdentity{Type: "AWSService", InvokedBy: "logs.amazonaws.com"}, "logs"},
		{UserIdentity{Type: "FederatedUser", ARN: "arn:aws:sts::111122223333:federated-user/carol"}, "carol"},
		{UserIdentity{}, ""},
	}
	for _, tt := range tests {
		if got := tt.u.Short(); got != tt.want {
			t.Errorf("%s %s: %q, want %q", tt.u.Type, tt.u.ARN, got, tt.want)
		}
	}
}
