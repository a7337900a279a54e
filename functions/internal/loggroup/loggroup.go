// Package loggroup is a CloudWatch Logs log group as kmsguard reads it: the
// sweep lists them and the log guardrails decide on them.
package loggroup

// Group is a log group's current state.
type Group struct {
	Found    bool
	Name     string
	ARN      string // without the trailing ":*"
	KMSKeyID string
	// TagsRead says Tags holds the log group's tags (ListTagsForResource's
	// answer, or the sweep's bulk read with tag:GetResources); a listed
	// group without it has its tags read when a decision needs them.
	TagsRead bool
	Tags     map[string]string
}

// ID is the log group's name.
func (g Group) ID() string { return g.Name }
