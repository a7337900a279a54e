package patterns

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Match reports whether an event (raw EventBridge JSON) matches the pattern,
// following EventBridge's rules for the operators kmsguard uses: exact values,
// exists, anything-but (value, list or prefix), prefix, suffix,
// equals-ignore-case and $or. A pattern using any other operator is an error,
// so a new operator cannot be trusted silently. Tests check this matcher
// against moto's independent implementation.
func Match(p Pattern, event []byte) (bool, error) {
	var ev any
	if err := json.Unmarshal(event, &ev); err != nil {
		return false, fmt.Errorf("event is not JSON: %w", err)
	}
	return matchObject(map[string]any(p), ev)
}

// Select returns the rules the event matches, in the order given. On the
// hub most events select one guardrail's rule; a CreateKey with a policy
// selects both key-rotation's and key-policy's, as in production, where each
// rule invokes its own Lambda.
func Select(event []byte, rules []Rule) ([]Rule, error) {
	var out []Rule
	for _, r := range rules {
		m, err := Match(r.Pattern, event)
		if err != nil {
			return nil, fmt.Errorf("rule %s: %w", r.Name, err)
		}
		if m {
			out = append(out, r)
		}
	}
	return out, nil
}

type missing struct{}

func matchObject(pattern map[string]any, ev any) (bool, error) {
	obj, _ := ev.(map[string]any)
	for key, sub := range pattern {
		if key == "$or" {
			alts, isList := sub.([]any)
			if !isList {
				return false, fmt.Errorf("$or must be a list")
			}
			matched := false
			for _, alt := range alts {
				altObj, isObj := toObject(alt)
				if !isObj {
					return false, fmt.Errorf("$or entries must be objects")
				}
				m, err := matchObject(altObj, ev)
				if err != nil {
					return false, err
				}
				matched = matched || m
			}
			if !matched {
				return false, nil
			}
			continue
		}
		var field any = missing{}
		if obj != nil {
			if v, present := obj[key]; present {
				field = v
			}
		}
		if nested, isObj := toObject(sub); isObj {
			m, err := matchObject(nested, field)
			if err != nil || !m {
				return false, err
			}
			continue
		}
		filters, isList := toList(sub)
		if !isList {
			return false, fmt.Errorf("pattern field %q must be a list or an object", key)
		}
		m, err := matchLeaf(filters, field)
		if err != nil || !m {
			return false, err
		}
	}
	return true, nil
}

func toObject(v any) (map[string]any, bool) {
	switch t := v.(type) {
	case map[string]any:
		return t, true
	case Pattern:
		return t, true
	}
	return nil, false
}

func toList(v any) ([]any, bool) {
	switch t := v.(type) {
	case []any:
		return t, true
	case []string:
		return toAny(t), true
	}
	return nil, false
}

// matchLeaf: the field matches if any filter matches it; an array field
// matches if any of its elements does.
func matchLeaf(filters []any, field any) (bool, error) {
	for _, f := range filters {
		m, err := matchFilter(f, field)
		if err != nil {
			return false, err
		}
		if m {
			return true, nil
		}
	}
	return false, nil
}

func matchFilter(f any, field any) (bool, error) {
	op, isOp := toObject(f)
	if !isOp {
		return anyElement(field, func(v any) bool { return equalScalar(f, v) }), nil
	}
	if len(op) != 1 {
		return false, fmt.Errorf("operator object must have one key, has %d", len(op))
	}
	for name, arg := range op {
		if name == "exists" {
			want, isBool := arg.(bool)
			if !isBool {
				return false, fmt.Errorf("exists takes true or false")
			}
			_, absent := field.(missing)
			return want != absent, nil
		}
		if _, absent := field.(missing); absent {
			return false, nil
		}
		switch name {
		case "prefix", "suffix", "equals-ignore-case":
			s, isStr := arg.(string)
			if !isStr {
				return false, fmt.Errorf("%s takes a string", name)
			}
			return anyElement(field, func(v any) bool { return stringOp(name, s, v) }), nil
		case "anything-but":
			return anythingBut(arg, field)
		default:
			return false, fmt.Errorf("operator %q is not supported by this matcher", name)
		}
	}
	return false, nil
}

func anythingBut(arg any, field any) (bool, error) {
	var excluded func(v any) bool
	if op, isOp := toObject(arg); isOp {
		if len(op) != 1 {
			return false, fmt.Errorf("anything-but object must have one key")
		}
		for name, a := range op {
			s, isStr := a.(string)
			if !isStr || (name != "prefix" && name != "suffix" && name != "equals-ignore-case") {
				return false, fmt.Errorf("anything-but supports prefix, suffix and equals-ignore-case with a string")
			}
			excluded = func(v any) bool { return stringOp(name, s, v) }
		}
	} else if list, isList := toList(arg); isList {
		excluded = func(v any) bool {
			for _, x := range list {
				if equalScalar(x, v) {
					return true
				}
			}
			return false
		}
	} else {
		excluded = func(v any) bool { return equalScalar(arg, v) }
	}
	// An array field matches anything-but only if no element is excluded.
	if arr, isArr := field.([]any); isArr {
		for _, v := range arr {
			if excluded(v) {
				return false, nil
			}
		}
		return len(arr) > 0, nil
	}
	return !excluded(field), nil
}

func stringOp(name, arg string, v any) bool {
	s, isStr := v.(string)
	if !isStr {
		return false
	}
	switch name {
	case "prefix":
		return strings.HasPrefix(s, arg)
	case "suffix":
		return strings.HasSuffix(s, arg)
	case "equals-ignore-case":
		return strings.EqualFold(s, arg)
	}
	return false
}

func anyElement(field any, pred func(any) bool) bool {
	if arr, isArr := field.([]any); isArr {
		for _, v := range arr {
			if pred(v) {
				return true
			}
		}
		return false
	}
	if _, absent := field.(missing); absent {
		return false
	}
	return pred(field)
}

func equalScalar(a, b any) bool {
	switch av := a.(type) {
	case string:
		bv, ok := b.(string)
		return ok && av == bv
	case float64:
		bv, ok := b.(float64)
		return ok && av == bv
	case int:
		bv, ok := b.(float64)
		return ok && float64(av) == bv
	case bool:
		bv, ok := b.(bool)
		return ok && av == bv
	case nil:
		return b == nil
	}
	return false
}
