package glob

import "testing"

func TestMatch(t *testing.T) {
	tests := []struct {
		p, s string
		want bool
	}{
		{"arn:aws:iam::*:role/Admin", "arn:aws:iam::111122223333:role/Admin", true},
		{"arn:aws:iam::*:role/Admin", "arn:aws:iam::111122223333:role/Admin2", false},
		{"arn:aws:iam::*:role/Admin*", "arn:aws:iam::111122223333:role/AdminX/y", true},
		{"arn:aws:iam::1111222233?3:role/A", "arn:aws:iam::111122223333:role/A", true},
		{"*", "anything", true},
		{"", "", true},
		{"", "x", false},
		{"a*b*c", "aXbYc", true},
		{"a*b*c", "aXbY", false},
		{"ARN:aws:*", "arn:aws:x", false},
	}
	for _, tt := range tests {
		if got := Match(tt.p, tt.s); got != tt.want {
			t.Errorf("Match(%q, %q) = %v, want %v", tt.p, tt.s, got, tt.want)
		}
	}
}
