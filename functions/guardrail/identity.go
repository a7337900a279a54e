package guardrail

import (
	"fmt"
	"strings"
)

// kmsguard's own identities. The hub Lambda of guardrail G runs as the role
// HubRoleName(G) (Lambda names the session after the function, whose name
// is the role's) and acts directly in the hub account. In every other
// account it assumes MemberRoleName(G), a role that can call G's actions
// and nothing else, with the session name SessionName(G). The sweep runs
// every guardrail: in the hub with its own role, elsewhere by assuming each
// guardrail's member role with the session name SessionName(SweepID); it
// lists keys and log groups through MemberRoleName(SweepID), which can only
// read.
//
// kmsguard recognises its own calls by the exact session ARN in the
// account where the call was made, never by a role name alone: a member
// account can create a role called kmsguard-key-deletion, but it cannot
// make a session of the hub's role in the hub account, and the only
// kmsguard-remediator-* roles in an account kmsguard covers are the ones its
// StackSet created (IAM role names are unique per account).

// MemberRolePrefix starts the name of every role kmsguard assumes in member
// accounts.
const MemberRolePrefix = "kmsguard-remediator-"

// SweepID names the sweep Lambda, its role and its sessions.
const SweepID = "sweep"

// MemberRoleName is the role the hub assumes in member accounts for a
// guardrail id (or SweepID: the sweep's read-only listing role).
func MemberRoleName(id string) string { return MemberRolePrefix + id }

// HubRoleName is the execution role (and function name) of a hub Lambda:
// a guardrail id, or SweepID.
func HubRoleName(id string) string { return "kmsguard-" + id }

// SessionName is the assumed-role session name of a hub Lambda in member
// accounts, so CloudTrail readers see which guardrail acted.
func SessionName(id string) string { return "kmsguard-" + id }

// SessionARNs are the exact userIdentity.arn values of calls made for
// guardrail id in account: its hub Lambda and the sweep in the hub
// account (each with its own role), and elsewhere its member role's
// sessions of its Lambda and of the sweep. account and hubAccount may be
// placeholders (infra passes ${AWS::AccountId}).
func SessionARNs(id, account, hubAccount, partition string) []string {
	out := []string{
		fmt.Sprintf("arn:%s:sts::%s:assumed-role/%s/%s", partition, hubAccount, HubRoleName(id), HubRoleName(id)),
		fmt.Sprintf("arn:%s:sts::%s:assumed-role/%s/%s", partition, hubAccount, HubRoleName(SweepID), HubRoleName(SweepID)),
	}
	if account != hubAccount {
		for _, s := range []string{SessionName(id), SessionName(SweepID)} {
			out = append(out, fmt.Sprintf("arn:%s:sts::%s:assumed-role/%s/%s", partition, account, MemberRoleName(id), s))
		}
	}
	return out
}

// OwnCall says for which guardrail kmsguard made a call, from the record's
// userIdentity.arn and the account the call was made in: the guardrail id
// and true, or "" and false for anyone else. Only exact session ARNs count.
func OwnCall(actorARN, account, hubAccount string, ids []string) (string, bool) {
	if actorARN == "" || !strings.HasPrefix(actorARN, "arn:") {
		return "", false
	}
	partition, _, _ := strings.Cut(strings.TrimPrefix(actorARN, "arn:"), ":")
	for _, id := range ids {
		for _, a := range SessionARNs(id, account, hubAccount, partition) {
			if a == actorARN {
				return id, true
			}
		}
	}
	return "", false
}

// OwnRole says which of kmsguard's roles a call was made with, whatever
// the session name: a member role of this account, or a hub Lambda role
// in the hub account. It returns the role's name, or "".
func OwnRole(actorARN, account, hubAccount string) string {
	rest, ok := strings.CutPrefix(actorARN, "arn:")
	if !ok {
		return ""
	}
	parts := strings.SplitN(rest, ":", 5) // partition, sts, "", account, assumed-role/ROLE/SESSION
	if len(parts) != 5 || parts[1] != "sts" || parts[3] != account {
		return ""
	}
	roleAndSession, ok := strings.CutPrefix(parts[4], "assumed-role/")
	if !ok {
		return ""
	}
	role, _, _ := strings.Cut(roleAndSession, "/")
	switch {
	case strings.HasPrefix(role, MemberRolePrefix) && account != hubAccount:
		return role
	case account == hubAccount && strings.HasPrefix(role, "kmsguard-"):
		return role
	}
	return ""
}
