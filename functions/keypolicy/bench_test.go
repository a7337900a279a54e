package keypolicy

import "testing"

func BenchmarkAnalyze_DefaultPolicy(b *testing.B) {
	p := pol(rootStmt)
	b.ReportAllocs()
	for b.Loop() {
		Analyze(p, ctx)
	}
}

func BenchmarkAnalyze_ConsolePolicyWithConditions(b *testing.B) {
	p := pol(rootStmt,
		`{"Sid":"Admins","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/KeyAdmins"},"Action":["kms:Create*","kms:Describe*","kms:Enable*","kms:List*","kms:Put*","kms:Update*","kms:Revoke*","kms:Disable*","kms:Get*","kms:Delete*","kms:ScheduleKeyDeletion","kms:CancelKeyDeletion"],"Resource":"*"}`,
		`{"Sid":"Use","Effect":"Allow","Principal":{"AWS":"*"},"Action":["kms:Encrypt","kms:Decrypt","kms:GenerateDataKey*"],"Resource":"*","Condition":{"StringEquals":{"kms:CallerAccount":"111122223333","kms:ViaService":"s3.eu-west-1.amazonaws.com"}}}`,
		`{"Sid":"Partner","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::999988887777:root"},"Action":"kms:Decrypt","Resource":"*"}`)
	b.ReportAllocs()
	for b.Loop() {
		Analyze(p, ctx)
	}
}
