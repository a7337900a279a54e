package report

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"strings"

	"github.com/kmsguard/kmsguard/functions/guardrail"
	"github.com/kmsguard/kmsguard/functions/sweep"
)

// The OCSF version and class the report follows. A kmsguard finding is the
// result of checking a resource that exists against a rule (a guardrail):
// OCSF's Compliance Finding (class 2003, Findings category), "results of
// evaluations performed against resources, to check compliance with ...
// Security Standards", rather than a Detection Finding (2004), which
// reports detections of threats or anomalies in activity:
// https://schema.ocsf.io/1.6.0/classes/compliance_finding
// (attributes: https://github.com/ocsf/ocsf-schema/tree/1.6.0, events/findings/
// compliance_finding.json and finding.json, events/base_event.json, and the
// objects compliance, finding_info, remediation, resource_details, cloud,
// metadata and product).
const (
	OCSFVersion           = "1.6.0"
	OCSFCategoryFindings  = 2
	OCSFComplianceFinding = 2003
	// OCSFActivityCreate: each audit reports what it found now.
	OCSFActivityCreate = 1
)

// OCSFEvent is one Compliance Finding.
type OCSFEvent struct {
	ActivityID   int    `json:"activity_id"`
	ActivityName string `json:"activity_name"`
	CategoryUID  int    `json:"category_uid"`
	CategoryName string `json:"category_name"`
	ClassUID     int    `json:"class_uid"`
	ClassName    string `json:"class_name"`
	TypeUID      int    `json:"type_uid"`
	TypeName     string `json:"type_name"`
	SeverityID   int    `json:"severity_id"`
	Severity     string `json:"severity"`
	// Time is when the audit finished, in milliseconds since the epoch.
	Time    int64  `json:"time"`
	Message string `json:"message"`
	// StatusID is the finding's: New, or Resolved when kmsguard fixed it.
	StatusID    int               `json:"status_id"`
	Status      string            `json:"status"`
	Metadata    OCSFMetadata      `json:"metadata"`
	Cloud       OCSFCloud         `json:"cloud"`
	FindingInfo OCSFFindingInfo   `json:"finding_info"`
	Compliance  OCSFCompliance    `json:"compliance"`
	Resources   []OCSFResource    `json:"resources"`
	Remediation *OCSFRemediation  `json:"remediation,omitempty"`
	Unmapped    map[string]string `json:"unmapped,omitempty"`
}

// OCSFMetadata is the metadata object.
type OCSFMetadata struct {
	Version  string      `json:"version"`
	Product  OCSFProduct `json:"product"`
	Profiles []string    `json:"profiles"`
}

// OCSFProduct is the product object.
type OCSFProduct struct {
	Name       string `json:"name"`
	VendorName string `json:"vendor_name"`
	Version    string `json:"version"`
}

// OCSFCloud is the cloud object (the cloud profile).
type OCSFCloud struct {
	Provider string      `json:"provider"`
	Region   string      `json:"region"`
	Account  OCSFAccount `json:"account"`
}

// OCSFAccount is the account object.
type OCSFAccount struct {
	UID    string `json:"uid"`
	TypeID int    `json:"type_id"`
	Type   string `json:"type"`
}

// OCSFFindingInfo is the finding_info object.
type OCSFFindingInfo struct {
	UID      string       `json:"uid"`
	Title    string       `json:"title"`
	Desc     string       `json:"desc"`
	Types    []string     `json:"types"`
	Analytic OCSFAnalytic `json:"analytic"`
}

// OCSFAnalytic is the rule that produced the finding: the guardrail.
type OCSFAnalytic struct {
	UID    string `json:"uid"`
	Name   string `json:"name"`
	TypeID int    `json:"type_id"`
	Type   string `json:"type"`
	Desc   string `json:"desc,omitempty"`
}

// OCSFCompliance is the compliance object.
type OCSFCompliance struct {
	Standards    []string `json:"standards"`
	Control      string   `json:"control"`
	StatusID     int      `json:"status_id"`
	Status       string   `json:"status"`
	StatusDetail string   `json:"status_detail,omitempty"`
	Requirements []string `json:"requirements,omitempty"`
}

// OCSFResource is a resource_details object.
type OCSFResource struct {
	UID       string `json:"uid"`
	Name      string `json:"name,omitempty"`
	Type      string `json:"type"`
	Region    string `json:"region,omitempty"`
	Partition string `json:"cloud_partition,omitempty"`
}

// OCSFRemediation is the remediation object.
type OCSFRemediation struct {
	Desc string `json:"desc"`
}

// OCSFSeverityID maps a guardrail severity to OCSF's severity_id and its
// caption: INFO 1 Informational, WARNING 3 Medium, HIGH 4 High, CRITICAL
// 5 Critical (kmsguard has no LOW, OCSF's 2).
func OCSFSeverityID(s guardrail.Severity) (int, string) {
	switch s {
	case guardrail.SeverityInfo:
		return 1, "Informational"
	case guardrail.SeverityWarning:
		return 3, "Medium"
	case guardrail.SeverityHigh:
		return 4, "High"
	case guardrail.SeverityCritical:
		return 5, "Critical"
	}
	return 0, "Unknown"
}

// resourceTypes name the kinds the sweep lists as AWS CloudFormation does.
var resourceTypes = map[guardrail.ResourceKind]string{
	guardrail.KindKMSKey:   "AWS::KMS::Key",
	guardrail.KindLogGroup: "AWS::Logs::LogGroup",
}

// FindingUID is a finding's stable identifier: the same guardrail, account,
// Region and resource (its ARN when known) give the same uid in every audit.
func FindingUID(f sweep.Finding) string {
	res := f.ARN
	if res == "" {
		res = f.Resource
	}
	sum := sha256.Sum256([]byte(strings.Join([]string{f.Guardrail, f.Account, f.Region, res}, "\x00")))
	return "kmsguard-" + hex.EncodeToString(sum[:16])
}

// OCSFEvents are the report's findings as OCSF Compliance Findings.
// Orphaned keys, drift and the targets that could not be checked are not
// findings of a guardrail: they are in the text, JSON and HTML reports.
func OCSFEvents(a Audit, o Options) []OCSFEvent {
	when := a.Finished
	if when.IsZero() {
		when = a.Started
	}
	out := make([]OCSFEvent, 0, len(a.Findings))
	for _, f := range a.Findings {
		spec, _ := specOf(f.Guardrail)
		sevID, sev := OCSFSeverityID(f.Severity)
		title := f.Guardrail + ": " + f.Resource
		e := OCSFEvent{
			ActivityID: OCSFActivityCreate, ActivityName: "Create",
			CategoryUID: OCSFCategoryFindings, CategoryName: "Findings",
			ClassUID: OCSFComplianceFinding, ClassName: "Compliance Finding",
			TypeUID: OCSFComplianceFinding*100 + OCSFActivityCreate, TypeName: "Compliance Finding: Create",
			SeverityID: sevID, Severity: sev,
			Time:     when.UnixMilli(),
			Message:  title + ": " + f.Reason,
			StatusID: 1, Status: "New",
			Metadata: OCSFMetadata{Version: OCSFVersion, Product: OCSFProduct{Name: "kmsguard", VendorName: "kmsguard", Version: o.Version}, Profiles: []string{"cloud"}},
			Cloud:    OCSFCloud{Provider: "AWS", Region: f.Region, Account: OCSFAccount{UID: f.Account, TypeID: 10, Type: "AWS Account"}},
			FindingInfo: OCSFFindingInfo{UID: FindingUID(f), Title: title, Desc: f.Reason,
				Types:    append([]string{"kmsguard/" + f.Guardrail}, f.Findings...),
				Analytic: OCSFAnalytic{UID: f.Guardrail, Name: f.Guardrail, TypeID: 1, Type: "Rule", Desc: spec.Summary}},
			// Every finding failed its guardrail's check; one whose check
			// could not run did not yield a result (Warning).
			Compliance: OCSFCompliance{Standards: []string{"kmsguard guardrails"}, Control: f.Guardrail, StatusID: 3, Status: "Fail",
				StatusDetail: f.Reason, Requirements: f.Findings},
			Resources: []OCSFResource{resource(f, spec)},
			Unmapped:  map[string]string{"kmsguard_mode": string(f.Mode), "kmsguard_action": f.Action},
		}
		if f.Error != "" {
			e.Compliance.StatusID, e.Compliance.Status = 2, "Warning"
			e.Compliance.StatusDetail = f.Reason + "; error: " + f.Error
			e.FindingInfo.Desc = e.Compliance.StatusDetail
			e.Unmapped["kmsguard_error"] = f.Error
		}
		if Fixed(f) {
			e.StatusID, e.Status = 4, "Resolved"
		}
		if t := RemedyText(f.Remedy); t != "" {
			e.Remediation = &OCSFRemediation{Desc: t}
		}
		out = append(out, e)
	}
	return out
}

func resource(f sweep.Finding, spec guardrail.Spec) OCSFResource {
	r := OCSFResource{UID: f.ARN, Name: f.Resource, Type: resourceTypes[spec.Sweep.Kind], Region: f.Region}
	if r.UID == "" {
		r.UID = f.Resource
	}
	if r.Type == "" {
		r.Type = spec.Resource
	}
	if p, _, ok := strings.Cut(strings.TrimPrefix(f.ARN, "arn:"), ":"); ok && strings.HasPrefix(f.ARN, "arn:") {
		r.Partition = p
	}
	return r
}

// OCSF is the report's findings as a JSON array of OCSF Compliance
// Findings (OCSFEvents).
func OCSF(w io.Writer, a Audit, o Options) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(OCSFEvents(a, o))
}
