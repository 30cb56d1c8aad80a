package main

import "testing"

// Colour is for terminals that want it: NO_COLOR (no-color.org) or
// TERM=dumb turn it off.
func TestColour(t *testing.T) {
	tests := []struct {
		name, noColor, term string
		want                bool
	}{
		{name: "plain terminal", term: "xterm-256color", want: true},
		{name: "NO_COLOR", noColor: "1", term: "xterm-256color"},
		{name: "dumb terminal", term: "dumb"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("NO_COLOR", tt.noColor)
			t.Setenv("TERM", tt.term)
			if got := colour(); got != tt.want {
				t.Errorf("colour() with NO_COLOR=%q TERM=%q = %v, want %v", tt.noColor, tt.term, got, tt.want)
			}
		})
	}
}
