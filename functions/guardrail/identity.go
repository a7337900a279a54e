package guardrail

import (
	"fmt"
	"strings"
)

// kmsguard's own identities. The hub Lambda of guardrail G runs as the role
// HubRoleName(G) (Lambda names the session after the function, FunctionName
// = the role name) and acts directly in the hub account; in every other
// account it assumes RemediatorRoleName with the session name
// SessionName(G). The sweep does the same as SweepID.
//
// kmsguard recognises its own calls by the exact session ARN in the
// account where the call was made, never by a role name alone: a member
// account can create a role called kmsguard-key-deletion, but it cannot
// make a session of the hub's role in the hub account, and the only role
// named kmsguard-remediator in an account kmsguard covers is the one its
// StackSet created (IAM role names are unique per account).

// RemediatorRoleName is the role the hub assumes in member accounts.
const RemediatorRoleName = "kmsguard-remediator"

// SweepID names the sweep Lambda, its role and its sessions.
const SweepID = "sweep"

// HubRoleName is the execution role (and function name) of a hub Lambda:
// a guardrail id, or SweepID.
func HubRoleName(id string) string { return "kmsguard-" + id }

// SessionName is the assumed-role session name of a hub Lambda in member
// accounts, so CloudTrail readers see which guardrail acted.
func SessionName(id string) string { return "kmsguard-" + id }

// SessionARNs are the exact userIdentity.arn values of the calls the hub
// Lambda id (a guardrail id, or SweepID) makes in account: its own role's
// session in the hub account, the remediator session elsewhere. account
// and hubAccount may be placeholders (infra passes ${AWS::AccountId}).
func SessionARNs(id, account, hubAccount, partition string) []string {
	hub := fmt.Sprintf("arn:%s:sts::%s:assumed-role/%s/%s", partition, hubAccount, HubRoleName(id), HubRoleName(id))
	member := fmt.Sprintf("arn:%s:sts::%s:assumed-role/%s/%s", partition, account, RemediatorRoleName, SessionName(id))
	if account == hubAccount {
		return []string{hub}
	}
	return []string{member, hub}
}

// OwnCall says whose kmsguard session made a call, from the record's
// userIdentity.arn and the account the call was made in: the guardrail id
// (or SweepID) and true, or "" and false for anyone else. Only exact
// session ARNs count.
func OwnCall(actorARN, account, hubAccount string, ids []string) (string, bool) {
	if actorARN == "" || !strings.HasPrefix(actorARN, "arn:") {
		return "", false
	}
	partition, _, _ := strings.Cut(strings.TrimPrefix(actorARN, "arn:"), ":")
	for _, id := range append(append([]string{}, ids...), SweepID) {
		for _, a := range SessionARNs(id, account, hubAccount, partition) {
			if a == actorARN {
				return id, true
			}
		}
	}
	return "", false
}
