package guardrail

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
)

// Common are the settings every guardrail has. A guardrail's settings
// struct embeds it.
type Common struct {
	ExemptionTag string `json:"exemption_tag,omitempty" doc:"tag key whose value true exempts a resource" default:"the guardrail's exemption tag"`
}

// ExemptionTagOr is the configured exemption tag, or def.
func (c Common) ExemptionTagOr(def string) string {
	if c.ExemptionTag != "" {
		return c.ExemptionTag
	}
	return def
}

// Validator is implemented by settings structs with checks beyond their
// types; the error names the field (guardrails.<id>.<field>) and the fix.
type Validator interface{ Validate() error }

// DecodeSettings decodes one guardrail's settings strictly (unknown fields
// are errors), then runs its Validate; empty input is the zero value.
// Errors name guardrails.<id>.
func DecodeSettings[T any](raw []byte, id string) (T, error) {
	var s T
	if len(bytes.TrimSpace(raw)) > 0 && string(bytes.TrimSpace(raw)) != "null" {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&s); err != nil {
			return s, fmt.Errorf("guardrails.%s: %w", id, err)
		}
	}
	if v, ok := any(s).(Validator); ok {
		if err := v.Validate(); err != nil {
			return s, err
		}
	}
	if c, ok := any(s).(interface{ common() Common }); ok {
		if tag := c.common().ExemptionTag; tag != "" && strings.TrimSpace(tag) == "" {
			return s, fmt.Errorf("guardrails.%s.exemption_tag: a blank tag key exempts nothing; remove it or name a tag", id)
		}
	}
	return s, nil
}

func (c Common) common() Common { return c }

// Setting is one documented setting of a guardrail.
type Setting struct {
	Name    string // the YAML/JSON key
	Type    string // string, integer, boolean, list of strings
	Default string
	Doc     string
	// From names the deployment value (a kmsguard.yaml path such as
	// organization.id) that fills the setting when it is not set.
	From string
}

// SettingsSchema lists the settings of a settings struct from its json, doc,
// default and from tags, embedded structs (Common) included. A field without a
// json name or a doc is an error: every setting is documented.
func SettingsSchema(v any) ([]Setting, error) {
	t := reflect.TypeOf(v)
	if t == nil || t.Kind() != reflect.Struct {
		return nil, fmt.Errorf("settings must be a struct, not %v", t)
	}
	var out []Setting
	var problems []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Anonymous && f.Type.Kind() == reflect.Struct {
			inner, err := SettingsSchema(reflect.Zero(f.Type).Interface())
			if err != nil {
				problems = append(problems, err.Error())
			}
			out = append(out, inner...)
			continue
		}
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" {
			problems = append(problems, fmt.Sprintf("field %s has no json name", f.Name))
			continue
		}
		doc := f.Tag.Get("doc")
		if doc == "" {
			problems = append(problems, fmt.Sprintf("setting %s has no doc tag", name))
		}
		var typ string
		switch f.Type.Kind() {
		case reflect.String:
			typ = "string"
		case reflect.Int, reflect.Int64:
			typ = "integer"
		case reflect.Bool:
			typ = "boolean"
		case reflect.Slice:
			if f.Type.Elem().Kind() == reflect.String {
				typ = "list of strings"
			}
		}
		if typ == "" {
			problems = append(problems, fmt.Sprintf("setting %s has type %s, which the docs cannot describe", name, f.Type))
		}
		def := f.Tag.Get("default")
		if def == "" {
			def = "none"
		}
		out = append(out, Setting{Name: name, Type: typ, Default: def, Doc: doc, From: f.Tag.Get("from")})
	}
	if len(problems) > 0 {
		return out, fmt.Errorf("%s", strings.Join(problems, "; "))
	}
	return out, nil
}

// CheckPrincipalPattern refuses a principal ARN pattern that would trust
// more than one account: the account must be a fixed 12-digit id (a
// wildcard account lets any account of the organization, or of AWS, name a
// role to match), and the rest must name something more than "*". path is
// the setting's field path, for the error.
func CheckPrincipalPattern(path, p string) error {
	parts := strings.SplitN(p, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || (parts[2] != "iam" && parts[2] != "sts") {
		return fmt.Errorf("%s: %q must be a principal ARN pattern such as arn:aws:iam::111122223333:role/KeyAdmin", path, p)
	}
	if !ValidAccountID(parts[4]) {
		return fmt.Errorf("%s: %q must name one 12-digit account (not %q): a wildcard account trusts a role of that name in every account", path, p, parts[4])
	}
	if strings.Trim(parts[5], "*?/") == "" {
		return fmt.Errorf("%s: %q trusts every principal of the account; name the role or user", path, p)
	}
	return nil
}
