package moto_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	orgtypes "github.com/aws/aws-sdk-go-v2/service/organizations/types"
	"github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi"
	"github.com/aws/smithy-go"

	"github.com/kmsguard/kmsguard/internal/moto"
)

var srv *moto.Server

func TestMain(m *testing.M) { moto.RunTests(m, &srv) }

func code(err error) string {
	var api smithy.APIError
	if errors.As(err, &api) {
		return api.ErrorCode()
	}
	return ""
}

// The launcher adds what moto 5.2.1 lacks; these tests pin that behaviour.
func TestLauncher_LogsKeyAssociation(t *testing.T) {
	ctx := context.Background()
	cfg, err := srv.Config(ctx, "eu-west-1")
	if err != nil {
		t.Fatal(err)
	}
	logs := cloudwatchlogs.NewFromConfig(cfg)
	if _, err := logs.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String("/x")}); err != nil {
		t.Fatal(err)
	}
	// CloudWatch Logs checks the key: it must exist, be Enabled, and admit
	// the service in its policy.
	if _, err := logs.AssociateKmsKey(ctx, &cloudwatchlogs.AssociateKmsKeyInput{LogGroupName: aws.String("/x"), KmsKeyId: aws.String("arn:aws:kms:eu-west-1:123456789012:key/abc")}); code(err) != "InvalidParameterException" {
		t.Errorf("missing key: %v", err)
	}
	c := kms.NewFromConfig(cfg)
	k, err := c.CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	key := aws.ToString(k.KeyMetadata.Arn)
	if _, err := logs.AssociateKmsKey(ctx, &cloudwatchlogs.AssociateKmsKeyInput{LogGroupName: aws.String("/x"), KmsKeyId: aws.String(key)}); code(err) != "AccessDeniedException" {
		t.Errorf("default policy: %v", err)
	}
	policy := `{"Statement":[{"Effect":"Allow","Principal":{"Service":"logs.eu-west-1.amazonaws.com"},"Action":"kms:*","Resource":"*"}]}`
	if _, err := c.PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: k.KeyMetadata.KeyId, Policy: aws.String(policy), PolicyName: aws.String("default")}); err != nil {
		t.Fatal(err)
	}
	if _, err := logs.AssociateKmsKey(ctx, &cloudwatchlogs.AssociateKmsKeyInput{LogGroupName: aws.String("/x"), KmsKeyId: aws.String(key)}); err != nil {
		t.Fatal(err)
	}
	d, _ := logs.DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{LogGroupNamePrefix: aws.String("/x")})
	if aws.ToString(d.LogGroups[0].KmsKeyId) != key {
		t.Errorf("kmsKeyId %v", d.LogGroups[0].KmsKeyId)
	}
	if _, err := logs.DisassociateKmsKey(ctx, &cloudwatchlogs.DisassociateKmsKeyInput{LogGroupName: aws.String("/x")}); err != nil {
		t.Fatal(err)
	}
	d, _ = logs.DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{LogGroupNamePrefix: aws.String("/x")})
	if d.LogGroups[0].KmsKeyId != nil {
		t.Error("key still associated")
	}
	if _, err := logs.AssociateKmsKey(ctx, &cloudwatchlogs.AssociateKmsKeyInput{LogGroupName: aws.String("/nope"), KmsKeyId: aws.String(key)}); code(err) != "ResourceNotFoundException" {
		t.Errorf("missing log group: %v", err)
	}
}

func TestLauncher_RotationPeriodAndStates(t *testing.T) {
	ctx := context.Background()
	cfg, _ := srv.Config(ctx, "eu-west-1")
	c := kms.NewFromConfig(cfg)
	k, err := c.CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	id := k.KeyMetadata.KeyId
	if _, err := c.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: id, RotationPeriodInDays: aws.Int32(180)}); err != nil {
		t.Fatal(err)
	}
	st, _ := c.GetKeyRotationStatus(ctx, &kms.GetKeyRotationStatusInput{KeyId: id})
	if !st.KeyRotationEnabled || aws.ToInt32(st.RotationPeriodInDays) != 180 {
		t.Errorf("status %+v", st)
	}
	if _, err := c.DisableKey(ctx, &kms.DisableKeyInput{KeyId: id}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: id}); code(err) != "DisabledException" {
		t.Errorf("disabled key: %v", err)
	}
	asym, _ := c.CreateKey(ctx, &kms.CreateKeyInput{KeySpec: kmstypes.KeySpecRsa2048, KeyUsage: kmstypes.KeyUsageTypeSignVerify})
	if _, err := c.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: asym.KeyMetadata.KeyId}); code(err) != "UnsupportedOperationException" {
		t.Errorf("asymmetric key: %v", err)
	}
}

// GetResources takes logs:log-group, the resource type in a log group's ARN
// (moto 5.2.1 knows only logs:loggroup), and returns only tagged log groups
// with their ARN without ":*", as AWS does.
func TestLauncher_TaggingLogGroupType(t *testing.T) {
	ctx := context.Background()
	if err := srv.Reset(); err != nil {
		t.Fatal(err)
	}
	cfg, _ := srv.Config(ctx, "eu-west-1")
	logs := cloudwatchlogs.NewFromConfig(cfg)
	for name, tags := range map[string]map[string]string{"/tagged": {"team": "payments"}, "/untagged": nil} {
		if _, err := logs.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String(name), Tags: tags}); err != nil {
			t.Fatal(err)
		}
	}
	out, err := resourcegroupstaggingapi.NewFromConfig(cfg).GetResources(ctx, &resourcegroupstaggingapi.GetResourcesInput{ResourceTypeFilters: []string{"logs:log-group"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.ResourceTagMappingList) != 1 {
		t.Fatalf("%d log groups, want the tagged one: %+v", len(out.ResourceTagMappingList), out.ResourceTagMappingList)
	}
	m := out.ResourceTagMappingList[0]
	if arn := aws.ToString(m.ResourceARN); arn != "arn:aws:logs:eu-west-1:123456789012:log-group:/tagged" || len(m.Tags) != 1 || aws.ToString(m.Tags[0].Value) != "payments" {
		t.Errorf("got %s %+v", arn, m.Tags)
	}
}

// ListAccounts answers as AWS Organizations does: not in an organization,
// AWSOrganizationsNotInUseException; a member account,
// AccessDeniedException until it is a delegated administrator; at most 20
// accounts a page (moto 5.2.1 answered all three with a plain list).
func TestLauncher_OrganizationsListAccounts(t *testing.T) {
	ctx := context.Background()
	if err := srv.Reset(); err != nil {
		t.Fatal(err)
	}
	cfg, _ := srv.Config(ctx, "us-east-1")
	org := organizations.NewFromConfig(cfg)
	if _, err := org.ListAccounts(ctx, &organizations.ListAccountsInput{}); code(err) != "AWSOrganizationsNotInUseException" {
		t.Fatalf("outside an organization: %v", err)
	}
	if _, err := org.CreateOrganization(ctx, &organizations.CreateOrganizationInput{FeatureSet: orgtypes.OrganizationFeatureSetAll}); err != nil {
		t.Fatal(err)
	}
	var member string
	for i := 0; i < 21; i++ {
		out, err := org.CreateAccount(ctx, &organizations.CreateAccountInput{AccountName: aws.String("a"), Email: aws.String("a" + string(rune('a'+i)) + "@example.com")})
		if err != nil {
			t.Fatal(err)
		}
		member = aws.ToString(out.CreateAccountStatus.AccountId)
	}
	page, err := org.ListAccounts(ctx, &organizations.ListAccountsInput{})
	if err != nil || len(page.Accounts) != 20 || page.NextToken == nil {
		t.Fatalf("first page: %d accounts, next %v, %v", len(page.Accounts), page.NextToken, err)
	}
	mcfg, _ := srv.AccountConfig(ctx, member, "us-east-1")
	morg := organizations.NewFromConfig(mcfg)
	if _, err := morg.ListAccounts(ctx, &organizations.ListAccountsInput{}); code(err) != "AccessDeniedException" {
		t.Fatalf("a member: %v", err)
	}
	// DescribeAccount follows the same rule; the management account is
	// told an unknown account is not found.
	if _, err := morg.DescribeAccount(ctx, &organizations.DescribeAccountInput{AccountId: aws.String(member)}); code(err) != "AccessDeniedException" {
		t.Fatalf("DescribeAccount by a member: %v", err)
	}
	if _, err := org.DescribeAccount(ctx, &organizations.DescribeAccountInput{AccountId: aws.String("999988887777")}); code(err) != "AccountNotFoundException" {
		t.Fatalf("DescribeAccount of an outsider: %v", err)
	}
	if _, err := org.RegisterDelegatedAdministrator(ctx, &organizations.RegisterDelegatedAdministratorInput{AccountId: aws.String(member), ServicePrincipal: aws.String("access-analyzer.amazonaws.com")}); err != nil {
		t.Fatal(err)
	}
	n := 0
	p := organizations.NewListAccountsPaginator(morg, &organizations.ListAccountsInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		n += len(page.Accounts)
	}
	if n != 22 {
		t.Errorf("the delegated administrator lists %d accounts, want 22", n)
	}
}

// Imported key material as AWS models it: an EXTERNAL key starts
// PendingImport; an import (with a token issued for that key) makes it
// Enabled with its expiry; a deletion makes it PendingImport again and
// clears the expiry; other keys refuse both; a replica starts PendingImport.
func TestLauncher_ImportedKeyMaterial(t *testing.T) {
	ctx := context.Background()
	cfg, _ := srv.Config(ctx, "eu-west-1")
	c := kms.NewFromConfig(cfg)
	k, err := c.CreateKey(ctx, &kms.CreateKeyInput{Origin: kmstypes.OriginTypeExternal, MultiRegion: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	id := k.KeyMetadata.KeyId
	if k.KeyMetadata.KeyState != kmstypes.KeyStatePendingImport || k.KeyMetadata.Enabled {
		t.Errorf("a new EXTERNAL key is %s (enabled %v)", k.KeyMetadata.KeyState, k.KeyMetadata.Enabled)
	}
	params := func() *kms.GetParametersForImportOutput {
		p, err := c.GetParametersForImport(ctx, &kms.GetParametersForImportInput{KeyId: id,
			WrappingAlgorithm: kmstypes.AlgorithmSpecRsaesOaepSha256, WrappingKeySpec: kmstypes.WrappingKeySpecRsa4096})
		if err != nil || len(p.ImportToken) == 0 || len(p.PublicKey) == 0 {
			t.Fatalf("%+v %v", p, err)
		}
		return p
	}
	p := params()
	if _, err := c.ImportKeyMaterial(ctx, &kms.ImportKeyMaterialInput{KeyId: id, ImportToken: []byte("forged"), EncryptedKeyMaterial: []byte("x")}); code(err) != "InvalidImportTokenException" {
		t.Errorf("a forged token: %v", err)
	}
	if _, err := c.ImportKeyMaterial(ctx, &kms.ImportKeyMaterialInput{KeyId: id, ImportToken: p.ImportToken, EncryptedKeyMaterial: []byte("x"),
		ExpirationModel: kmstypes.ExpirationModelTypeKeyMaterialExpires}); code(err) != "ValidationException" {
		t.Errorf("expiring material without ValidTo: %v", err)
	}
	validTo := time.Now().Add(48 * time.Hour).Truncate(time.Second)
	if _, err := c.ImportKeyMaterial(ctx, &kms.ImportKeyMaterialInput{KeyId: id, ImportToken: p.ImportToken, EncryptedKeyMaterial: []byte("any wrapped bytes"),
		ExpirationModel: kmstypes.ExpirationModelTypeKeyMaterialExpires, ValidTo: aws.Time(validTo)}); err != nil {
		t.Fatal(err)
	}
	d, _ := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: id})
	if m := d.KeyMetadata; m.KeyState != kmstypes.KeyStateEnabled || m.ExpirationModel != kmstypes.ExpirationModelTypeKeyMaterialExpires || !aws.ToTime(m.ValidTo).Equal(validTo) {
		t.Errorf("after the import: %s %s %v", m.KeyState, m.ExpirationModel, m.ValidTo)
	}
	if _, err := c.DeleteImportedKeyMaterial(ctx, &kms.DeleteImportedKeyMaterialInput{KeyId: k.KeyMetadata.Arn}); err != nil {
		t.Fatal(err)
	}
	d, _ = c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: id})
	if m := d.KeyMetadata; m.KeyState != kmstypes.KeyStatePendingImport || m.ValidTo != nil || m.ExpirationModel != "" {
		t.Errorf("after the deletion: %s %s %v", m.KeyState, m.ExpirationModel, m.ValidTo)
	}
	if _, err := c.ReplicateKey(ctx, &kms.ReplicateKeyInput{KeyId: id, ReplicaRegion: aws.String("us-east-1")}); err != nil {
		t.Fatal(err)
	}
	east := kms.NewFromConfig(cfg, func(o *kms.Options) { o.Region = "us-east-1" })
	if d, err := east.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: id}); err != nil || d.KeyMetadata.KeyState != kmstypes.KeyStatePendingImport {
		t.Errorf("the replica: %+v %v", d, err)
	}
	plain, _ := c.CreateKey(ctx, &kms.CreateKeyInput{})
	if _, err := c.DeleteImportedKeyMaterial(ctx, &kms.DeleteImportedKeyMaterialInput{KeyId: plain.KeyMetadata.KeyId}); code(err) != "UnsupportedOperationException" {
		t.Errorf("a key with KMS's own material: %v", err)
	}
	if _, err := c.GetParametersForImport(ctx, &kms.GetParametersForImportInput{KeyId: plain.KeyMetadata.KeyId,
		WrappingAlgorithm: kmstypes.AlgorithmSpecRsaesOaepSha256, WrappingKeySpec: kmstypes.WrappingKeySpecRsa4096}); code(err) != "UnsupportedOperationException" {
		t.Errorf("a key with KMS's own material: %v", err)
	}
}
