"""kmsguard's test launcher for moto 5.2.1.

Starts moto's standalone server with the few operations and checks kmsguard
needs that moto 5.2.1 lacks, so integration tests and the demo exercise them
over HTTP. Everything added is listed in docs/testing.md. The launcher refuses
any other moto version: the patches are written against 5.2.1's internals.

Added:
  cloudformation  a TemplateURL on 127.0.0.1 (the CDK CLI's asset bucket on
        this server) is read path-style, as moto already does for localhost
  logs  AssociateKmsKey, DisassociateKmsKey (by logGroupName); AssociateKmsKey
        checks the key as CloudWatch Logs does: a missing or not Enabled key
        is an InvalidParameterException, a key policy without an Allow for
        the service principal logs.<region>.amazonaws.com an
        AccessDeniedException (conditions are not evaluated)
  cloudformation  UpdateTerminationProtection (cdk deploy calls it for a
        stack with termination protection: the hub and organization stacks)
  cloudformation  Tags as CloudFormation takes them on AWS::SSM::Parameter
        (a mapping; moto expects a list) and AWS::KMS::Key (a list of
        Key/Value; moto expects TagKey/TagValue): moto failed the resource
  kms   EnableKeyRotation keeps RotationPeriodInDays (90-2560, default 365)
        and GetKeyRotationStatus returns it; EnableKeyRotation refuses
        Disabled keys (DisabledException), keys pending deletion
        (KMSInvalidStateException) and keys that cannot rotate: asymmetric,
        HMAC, imported material (UnsupportedOperationException).
  kms   multi-Region keys: each replica keeps its own MultiRegionConfiguration
        (moto shared the primary's, so describing a replica turned the
        primary into a REPLICA); ScheduleKeyDeletion on a primary that still
        has replicas leaves it PendingReplicaDeletion with no deletion date,
        as AWS does
  kms   imported key material, as AWS models it (KMS developer guide,
        "Importing key material"; API reference for CreateKey,
        GetParametersForImport, ImportKeyMaterial, DeleteImportedKeyMaterial,
        ReplicateKey): a key created with Origin EXTERNAL starts PendingImport
        without material (moto made it Enabled); GetParametersForImport
        returns an import token and a public key (refused for a key whose
        origin is not EXTERNAL, UnsupportedOperationException, and for a key
        pending deletion, KMSInvalidStateException); ImportKeyMaterial takes a
        token issued for that key and makes a PendingImport key Enabled with
        the ExpirationModel and ValidTo asked (KEY_MATERIAL_EXPIRES needs a
        ValidTo, KEY_MATERIAL_DOES_NOT_EXPIRE refuses one); it accepts any
        wrapped bytes as the material, since an emulator cannot check that
        they unwrap to the key's original material; DeleteImportedKeyMaterial
        makes the key PendingImport (a key pending deletion keeps its state)
        and clears ValidTo and ExpirationModel; DescribeKey returns
        ExpirationModel and ValidTo for EXTERNAL keys; a replica of a
        multi-Region EXTERNAL key starts PendingImport (each replica gets its
        own import of the same material)
  securityhub  BatchImportFindings as AWS takes it: refused where Security
        Hub is not enabled (InvalidAccessException); a finding whose
        AwsAccountId or ProductArn names another account than the caller's
        fails (the default product ARN imports only the caller's own
        findings); a new finding starts Workflow NEW; an update keeps
        Workflow, Note, UserDefinedFields and VerificationState (providers
        cannot change them) and sets Workflow NEW again when Compliance turns
        from PASSED to FAILED or the record from ARCHIVED to ACTIVE.
        BatchUpdateFindings (Workflow status and Note), which moto lacks.
  tag   GetResources takes the resource type filter logs:log-group, AWS's
        name (the resource type in a log group's ARN); moto knows log groups
        only as logs:loggroup and returned none for AWS's name
  organizations  ListAccounts answers as AWS does: outside an organization
        AWSOrganizationsNotInUseException (moto returned no accounts);
        from a member account AccessDeniedException unless it is a
        delegated administrator, which gets the organization's accounts
        (moto returned none); at most 20 accounts a page, the API's
        maximum (moto gave 100), so callers must paginate; DescribeAccount
        follows the same rule (moto answered a member's call with
        AccountNotFoundException, which reads as "outside")
"""
import copy
import json
import sys

import moto

PINNED = "5.2.1"
if moto.__version__ != PINNED:
    sys.exit(f"kmsguard moto launcher: moto {PINNED} required, found {moto.__version__}")

import moto.cloudformation.models as cfn_models  # noqa: E402
import moto.kms.models as kms_models  # noqa: E402
import moto.ssm.models as ssm_models  # noqa: E402
import moto.cloudformation.responses as cfn_responses  # noqa: E402
import moto.cloudformation.utils as cfn_utils  # noqa: E402
from moto.core.exceptions import JsonRESTError  # noqa: E402
from moto.core.responses import ActionResult  # noqa: E402
from moto.kms.models import KmsBackend, kms_backends  # noqa: E402
from moto.kms.responses import KmsResponse  # noqa: E402
from moto.logs.exceptions import InvalidParameterException, ResourceNotFoundException  # noqa: E402
from moto.logs.responses import LogsResponse  # noqa: E402
from moto.server import main  # noqa: E402


def _logs_group(resp):
    name = resp._get_param("logGroupName")
    if resp._get_param("resourceIdentifier"):
        raise InvalidParameterException(msg="kmsguard launcher: resourceIdentifier is not supported")
    group = resp.logs_backend.groups.get(name)
    if group is None:
        raise ResourceNotFoundException()
    return group


class _LogsAccessDenied(JsonRESTError):
    code = 400

    def __init__(self, message):
        super().__init__("AccessDeniedException", message)


def _admits_logs(policy, region):
    service = f"logs.{region}.amazonaws.com"
    try:
        statements = json.loads(policy).get("Statement", [])
    except (ValueError, AttributeError):
        return False
    if isinstance(statements, dict):
        statements = [statements]
    for st in statements:
        if not isinstance(st, dict) or st.get("Effect") != "Allow":
            continue
        principal = st.get("Principal")
        services = principal.get("Service", []) if isinstance(principal, dict) else []
        if service in ([services] if isinstance(services, str) else services):
            return True
    return False


def associate_kms_key(self):
    group = _logs_group(self)
    key_id = self._get_param("kmsKeyId")
    if not key_id or not key_id.startswith("arn:"):
        raise InvalidParameterException(msg="kmsKeyId must be a key ARN")
    backend = kms_backends[self.current_account][self.region]
    key = backend.keys.get(backend.get_key_id(key_id))
    if key is None or key.key_state != "Enabled":
        raise InvalidParameterException(msg=f"The specified KMS key {key_id} does not exist or is disabled")
    if not _admits_logs(key.policy, self.region):
        raise _LogsAccessDenied(
            f"The specified KMS key does not exist or is not allowed to be used with Arn '{group.arn}'")
    group.kms_key_id = key_id
    return ""


def disassociate_kms_key(self):
    group = _logs_group(self)
    group.kms_key_id = None
    return ""


_get_stack_from_s3_url = cfn_utils.get_stack_from_s3_url


def get_stack_from_s3_url(template_url, account_id, partition):
    return _get_stack_from_s3_url(template_url.replace("127.0.0.1", "localhost"), account_id, partition)


cfn_utils.get_stack_from_s3_url = get_stack_from_s3_url
cfn_models.get_stack_from_s3_url = get_stack_from_s3_url
cfn_responses.get_stack_from_s3_url = get_stack_from_s3_url

def update_termination_protection(self):
    stack = self.cloudformation_backend.get_stack(self._get_param("StackName"))
    stack.enable_termination_protection = str(self._get_param("EnableTerminationProtection")).lower() == "true"
    return ActionResult({"StackId": stack.stack_id})


cfn_responses.CloudFormationResponse.update_termination_protection = update_termination_protection

def _fix_cfn_tags(model, convert):
    """Wraps model's create_from_cloudformation_json to convert its Tags."""
    create = model.create_from_cloudformation_json.__func__

    def wrapped(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        props = cloudformation_json.get("Properties", {})
        if props.get("Tags"):
            props = dict(props, Tags=convert(props["Tags"]))
            cloudformation_json = dict(cloudformation_json, Properties=props)
        return create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)

    model.create_from_cloudformation_json = classmethod(wrapped)


_fix_cfn_tags(ssm_models.Parameter,
              lambda t: [{"Key": k, "Value": v} for k, v in t.items()] if isinstance(t, dict) else t)
_fix_cfn_tags(kms_models.Key,
              lambda t: [{"TagKey": e["Key"], "TagValue": e["Value"]} if "Key" in e else e for e in t])

LogsResponse.associate_kms_key = associate_kms_key
LogsResponse.disassociate_kms_key = disassociate_kms_key


class _KMSError(JsonRESTError):
    code = 400

    def __init__(self, error_type, message):
        super().__init__(error_type, message)


def _key(resp, key_id):
    backend = kms_backends[resp.current_account][resp.region]
    return backend.keys[backend.get_key_id(key_id)]


def enable_key_rotation(self):
    key_id = self._get_param("KeyId")
    self._validate_cmk_id(key_id)
    key = _key(self, key_id)
    period = self._get_param("RotationPeriodInDays") or 365
    if not 90 <= int(period) <= 2560:
        raise _KMSError("ValidationException", "RotationPeriodInDays must be between 90 and 2560")
    if key.key_state == "Disabled":
        raise _KMSError("DisabledException", f"{key.arn} is disabled.")
    if key.key_state != "Enabled":
        raise _KMSError("KMSInvalidStateException", f"{key.arn} is {key.key_state}")
    if key.key_spec != "SYMMETRIC_DEFAULT" or key.origin != "AWS_KMS":
        raise _KMSError("UnsupportedOperationException", f"{key.arn} does not support automatic rotation")
    key.key_rotation_status = True
    key.kmsguard_rotation_period = int(period)
    return json.dumps(None)


def get_key_rotation_status(self):
    key_id = self._get_param("KeyId")
    self._validate_cmk_id(key_id)
    key = _key(self, key_id)
    out = {"KeyId": key.arn, "KeyRotationEnabled": key.key_rotation_status}
    if key.key_rotation_status:
        out["RotationPeriodInDays"] = getattr(key, "kmsguard_rotation_period", 365)
    return json.dumps(out)


KmsResponse.enable_key_rotation = enable_key_rotation
KmsResponse.get_key_rotation_status = get_key_rotation_status

# Multi-Region keys. moto 5.2.1 shares one MultiRegionConfiguration dict
# between a primary and its replicas (a shallow copy), so describing a
# replica marks the primary REPLICA too; each replica gets its own here.
# And AWS puts a primary that still has replicas in PendingReplicaDeletion,
# with no deletion date, until every replica is deleted; only then does its
# own waiting period start (KMS developer guide, "Deleting multi-Region
# keys"; ScheduleKeyDeletion API reference: "KeyState" in the response).
_moto_replicate_key = KmsBackend.replicate_key


def replicate_key(self, key_id, replica_region):
    replica = _moto_replicate_key(self, key_id, replica_region)
    cfg = copy.deepcopy(replica.multi_region_configuration)
    cfg["MultiRegionKeyType"] = "REPLICA"
    replica.multi_region_configuration = cfg
    primary = self.keys[self.get_key_id(key_id)]
    primary.multi_region_configuration["MultiRegionKeyType"] = "PRIMARY"
    return replica


KmsBackend.replicate_key = replicate_key

_schedule_key_deletion = KmsResponse.schedule_key_deletion


def schedule_key_deletion(self):
    key_id = self._get_param("KeyId")
    self._validate_cmk_id(key_id)
    key = _key(self, key_id)
    cfg = getattr(key, "multi_region_configuration", None) if key.multi_region else None
    if cfg and cfg.get("PrimaryKey", {}).get("Arn") == key.arn:
        live = [r for r in cfg.get("ReplicaKeys", [])
                if key.id in kms_backends[self.current_account][r["Region"]].keys]
        if live:
            window = self._get_param("PendingWindowInDays") or 30
            key.enabled = False
            key.key_state = "PendingReplicaDeletion"
            key.deletion_date = None
            return json.dumps({"KeyId": key.arn, "KeyState": "PendingReplicaDeletion", "PendingWindowInDays": int(window)})
    return _schedule_key_deletion(self)


KmsResponse.schedule_key_deletion = schedule_key_deletion
# Imported key material (origin EXTERNAL), as AWS models it.
import base64  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402

_create_key = kms_models.KmsBackend.create_key


def create_key_backend(self, *args, **kwargs):
    key = _create_key(self, *args, **kwargs)
    if key.origin == "EXTERNAL":
        # AWS: "the key state of the KMS key is PendingImport" until key
        # material is imported (CreateKey, Origin EXTERNAL).
        key.key_state, key.enabled = "PendingImport", False
        key.kmsguard_valid_to, key.kmsguard_expiration = None, None
    return key


kms_models.KmsBackend.create_key = create_key_backend

_replicate_key = kms_models.KmsBackend.replicate_key


def replicate_key_backend(self, key_id, replica_region):
    out = _replicate_key(self, key_id, replica_region)
    replica = kms_backends[self.account_id][replica_region].keys.get(self.get_key_id(key_id))
    if replica is not None and replica.origin == "EXTERNAL":
        # AWS: a replica of a key with imported material is created
        # PendingImport; the same material is imported into it separately.
        replica.key_state, replica.enabled = "PendingImport", False
        replica.kmsguard_valid_to, replica.kmsguard_expiration = None, None
    return out


kms_models.KmsBackend.replicate_key = replicate_key_backend

_key_to_dict = kms_models.Key.to_dict


def key_to_dict(self):
    out = _key_to_dict(self)
    if self.origin == "EXTERNAL":
        meta = out["KeyMetadata"]
        if getattr(self, "kmsguard_expiration", None):
            meta["ExpirationModel"] = self.kmsguard_expiration
        if getattr(self, "kmsguard_valid_to", None) is not None:
            meta["ValidTo"] = self.kmsguard_valid_to
    return out


kms_models.Key.to_dict = key_to_dict


def _external_key(resp):
    key_id = resp._get_param("KeyId")
    resp._validate_cmk_id(key_id)
    key = _key(resp, key_id)
    if key.origin != "EXTERNAL":
        raise _KMSError("UnsupportedOperationException", f"{key.arn} origin is {key.origin} which is not valid for this operation.")
    return key


def get_parameters_for_import(self):
    key = _external_key(self)
    if key.key_state in ("PendingDeletion", "PendingReplicaDeletion"):
        raise _KMSError("KMSInvalidStateException", f"{key.arn} is pending deletion.")
    token = f"kmsguard-import:{key.id}:{uuid.uuid4()}"
    key.kmsguard_tokens = getattr(key, "kmsguard_tokens", set()) | {token}
    return json.dumps({
        "KeyId": key.arn,
        "ImportToken": base64.b64encode(token.encode()).decode(),
        # Not a usable wrapping key: the emulator accepts any wrapped bytes.
        "PublicKey": base64.b64encode(b"kmsguard emulator wrapping key " + key.id.encode()).decode(),
        "ParametersValidTo": time.time() + 24 * 3600,
    })


def import_key_material(self):
    key = _external_key(self)
    try:
        token = base64.b64decode(self._get_param("ImportToken") or "").decode()
    except (ValueError, UnicodeDecodeError):
        token = ""
    if token not in getattr(key, "kmsguard_tokens", set()):
        raise _KMSError("InvalidImportTokenException", "The import token is not valid for this KMS key.")
    if not self._get_param("EncryptedKeyMaterial"):
        raise _KMSError("ValidationException", "EncryptedKeyMaterial is required.")
    model = self._get_param("ExpirationModel") or "KEY_MATERIAL_EXPIRES"
    valid_to = self._get_param("ValidTo")
    if model == "KEY_MATERIAL_EXPIRES" and valid_to is None:
        raise _KMSError("ValidationException", "ValidTo is required when ExpirationModel is KEY_MATERIAL_EXPIRES.")
    if model == "KEY_MATERIAL_DOES_NOT_EXPIRE" and valid_to is not None:
        raise _KMSError("ValidationException", "ValidTo is not valid when ExpirationModel is KEY_MATERIAL_DOES_NOT_EXPIRE.")
    if key.key_state in ("PendingDeletion", "PendingReplicaDeletion"):
        raise _KMSError("KMSInvalidStateException", f"{key.arn} is pending deletion.")
    # AWS: "the key state of the KMS key changes from PendingImport to
    # Enabled"; a reimport into a key in another state keeps that state.
    if key.key_state == "PendingImport":
        key.key_state, key.enabled = "Enabled", True
    key.kmsguard_expiration = model
    key.kmsguard_valid_to = float(valid_to) if valid_to is not None else None
    return json.dumps({"KeyId": key.arn, "KeyMaterialId": uuid.uuid5(uuid.NAMESPACE_URL, key.arn).hex * 2})


def delete_imported_key_material(self):
    key = _external_key(self)
    # AWS: "When the specified KMS key is in the PendingDeletion state, this
    # operation does not change the KMS key's state. Otherwise, it changes
    # the KMS key's state to PendingImport."
    if key.key_state not in ("PendingDeletion", "PendingReplicaDeletion"):
        key.key_state, key.enabled = "PendingImport", False
    key.kmsguard_valid_to, key.kmsguard_expiration = None, None
    return json.dumps({"KeyId": key.arn})


KmsResponse.get_parameters_for_import = get_parameters_for_import
KmsResponse.import_key_material = import_key_material
KmsResponse.delete_imported_key_material = delete_imported_key_material

import moto.securityhub.urls as securityhub_urls  # noqa: E402
from moto.securityhub.models import securityhub_backends  # noqa: E402
from moto.securityhub.responses import SecurityHubResponse  # noqa: E402


class _SecurityHubError(JsonRESTError):
    code = 401

    def __init__(self, error_type, message):
        super().__init__(error_type, message)


def _securityhub(resp):
    backend = securityhub_backends[resp.current_account][resp.region]
    if not backend.enabled:
        raise _SecurityHubError("InvalidAccessException",
                                f"Account {resp.current_account} is not subscribed to AWS Security Hub")
    return backend


_KEPT = ("Workflow", "WorkflowState", "Note", "UserDefinedFields", "VerificationState")


def batch_import_findings(self):
    backend = _securityhub(self)
    body = json.loads(self.body.decode() if isinstance(self.body, bytes) else self.body)
    me = self.current_account
    failed, ok = [], 0
    for f in body.get("Findings", []):
        fid = f.get("Id", "")
        product = f.get("ProductArn", "")
        if f.get("AwsAccountId") != me or product.split(":")[4:5] != [me] or f"product/{me}/default" not in product:
            failed.append({"Id": fid, "ErrorCode": "AccessDeniedException",
                           "ErrorMessage": f"account {me} cannot import findings for account {f.get('AwsAccountId')} with {product}"})
            continue
        if not f.get("Resources"):
            failed.append({"Id": fid, "ErrorCode": "InvalidInput", "ErrorMessage": "Finding must contain at least one resource"})
            continue
        old = next((x for x in backend.findings if x.id == fid), None)
        if old is None:
            f = dict(f)
            f["Workflow"] = {"Status": "NEW"}
            f["WorkflowState"] = "NEW"
            f.pop("Note", None)
            backend.findings.append(Finding(fid, f))
        else:
            was = old.data
            new = {k: v for k, v in f.items() if k not in _KEPT}
            reopened = (was.get("Compliance", {}).get("Status") == "PASSED"
                        and new.get("Compliance", {}).get("Status") in ("FAILED", "WARNING", "NOT_AVAILABLE")) or \
                (was.get("RecordState") == "ARCHIVED" and new.get("RecordState") == "ACTIVE")
            was.update(new)
            if reopened:
                was["Workflow"] = {"Status": "NEW"}
                was["WorkflowState"] = "NEW"
        ok += 1
    return json.dumps({"FailedCount": len(failed), "SuccessCount": ok, "FailedFindings": failed})


def batch_update_findings(self):
    backend = _securityhub(self)
    body = json.loads(self.body.decode() if isinstance(self.body, bytes) else self.body)
    done, left = [], []
    for ident in body.get("FindingIdentifiers", []):
        f = next((x for x in backend.findings if x.id == ident.get("Id")
                  and x.data.get("ProductArn") == ident.get("ProductArn")), None)
        if f is None:
            left.append({"FindingIdentifier": ident, "ErrorCode": "FindingNotFound", "ErrorMessage": "finding not found"})
            continue
        if "Workflow" in body:
            f.data["Workflow"] = {"Status": body["Workflow"]["Status"]}
            f.data["WorkflowState"] = body["Workflow"]["Status"]
        if "Note" in body:
            f.data["Note"] = dict(body["Note"], UpdatedAt="2026-01-01T00:00:00Z")
        done.append(ident)
    return json.dumps({"ProcessedFindings": done, "UnprocessedFindings": left})


from moto.securityhub.models import Finding  # noqa: E402

SecurityHubResponse.batch_import_findings = batch_import_findings
SecurityHubResponse.batch_update_findings = batch_update_findings
securityhub_urls.url_paths["{0}/findings/batchupdate$"] = SecurityHubResponse.dispatch

import moto.resourcegroupstaggingapi.models as rgta_models  # noqa: E402

_get_resources_generator = rgta_models.ResourceGroupsTaggingAPIBackend._get_resources_generator


def get_resources_generator(self, tag_filters=None, resource_type_filters=None):
    if resource_type_filters:
        resource_type_filters = ["logs:loggroup" if f == "logs:log-group" else f for f in resource_type_filters]
    return _get_resources_generator(self, tag_filters=tag_filters, resource_type_filters=resource_type_filters)


rgta_models.ResourceGroupsTaggingAPIBackend._get_resources_generator = get_resources_generator

from moto.organizations.exceptions import AWSOrganizationsNotInUseException  # noqa: E402
from moto.organizations.models import organizations_backends  # noqa: E402
from moto.organizations.responses import OrganizationsResponse  # noqa: E402


class _OrgAccessDenied(JsonRESTError):
    code = 400

    def __init__(self):
        super().__init__("AccessDeniedException", "You don't have permissions to access this resource.")


# AWS Organizations API reference, ListAccounts: "This operation can be
# called only from the organization's management account or by a member
# account that is a delegated administrator"; MaxResults 1-20.
def _org_backend(resp):
    """The organization's backend for a caller that may read it: the
    management account, or a member that is a delegated administrator."""
    backend = resp.organizations_backend
    if backend.org is None:
        owner = organizations_backends.master_accounts.get(resp.current_account)
        if owner is None:
            raise AWSOrganizationsNotInUseException
        backend = organizations_backends[owner[0]][owner[1]]
        if not any(a.account.id == resp.current_account for a in backend.admins):
            raise _OrgAccessDenied()
    return backend


def list_accounts(self):
    backend = _org_backend(self)
    max_results = min(self._get_int_param("MaxResults") or 20, 20)
    accounts, next_token = backend.list_accounts(max_results=max_results, next_token=self._get_param("NextToken"))
    return json.dumps({"Accounts": accounts, "NextToken": next_token})


OrganizationsResponse.list_accounts = list_accounts


# AWS Organizations API reference, DescribeAccount: the same rule (the
# management account or a delegated administrator); moto answered every
# caller, a member with AccountNotFoundException, which reads as "that
# account is outside" where AWS says the caller may not ask.
def describe_account(self):
    return json.dumps(_org_backend(self).describe_account(**self.request_params))


OrganizationsResponse.describe_account = describe_account

if __name__ == "__main__":
    main(sys.argv[1:])
