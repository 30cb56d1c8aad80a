package sshd

import "testing"

func TestReadsFile(t *testing.T) {
	u := Target{User: "alice", Home: "/home/alice", UID: 1001}
	tests := []struct {
		name     string
		patterns []string
		want     bool
	}{
		{name: "default", patterns: []string{".ssh/authorized_keys", ".ssh/authorized_keys2"}, want: true},
		{name: "percent h", patterns: []string{"%h/.ssh/authorized_keys"}, want: true},
		{name: "absolute home", patterns: []string{"/home/%u/.ssh/authorized_keys"}, want: true},
		{name: "uid elsewhere", patterns: []string{"/etc/ssh/keys/%U"}, want: false},
		{name: "only keys2", patterns: []string{".ssh/authorized_keys2"}, want: false},
		{name: "none", patterns: []string{"none"}, want: false},
		{name: "unclean but same", patterns: []string{"%h/./.ssh//authorized_keys"}, want: true},
		{name: "literal percent", patterns: []string{"%%h/.ssh/authorized_keys"}, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := readsFile(tt.patterns, u); got != tt.want {
				t.Errorf("readsFile(%q) = %v, want %v", tt.patterns, got, tt.want)
			}
		})
	}
}
