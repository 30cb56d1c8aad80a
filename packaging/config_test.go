package packaging

import (
	"os"
	"reflect"
	"regexp"
	"testing"

	"github.com/ecs-keyagent/ecs-keyagent/agent/config"
)

// commented matches a commented-out setting such as `#poll_interval = "30s"`.
var commented = regexp.MustCompile(`(?m)^#([a-z_]+ = )`)

// TestConfigDefaults checks that config.toml parses as shipped, and that its
// commented values, uncommented, are exactly the agent's defaults.
func TestConfigDefaults(t *testing.T) {
	data, err := os.ReadFile("config.toml")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		data []byte
	}{
		{name: "as shipped", data: data},
		{name: "uncommented", data: commented.ReplaceAll(data, []byte("$1"))},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := config.Default()
			if err := config.Parse(tt.data, &got); err != nil {
				t.Fatalf("config.Parse(config.toml %s): %v", tt.name, err)
			}
			if want := config.Default(); !reflect.DeepEqual(got, want) {
				t.Errorf("config.toml %s = %+v, want the defaults %+v", tt.name, got, want)
			}
		})
	}
	if n := len(commented.FindAll(data, -1)); n != 11 {
		t.Errorf("config.toml has %d commented settings, want 11 (one per key in the README with a default)", n)
	}
	// Keys without a default are shown as examples, "# key = value": they
	// must parse too.
	examples := example.FindAll(data, -1)
	if len(examples) != 2 {
		t.Errorf("config.toml has %d examples, want 2 (users, metrics_textfile)", len(examples))
	}
	for _, ex := range examples {
		cfg := config.Default()
		line := example.ReplaceAll(ex, []byte("$1"))
		if err := config.Parse(line, &cfg); err != nil {
			t.Errorf("config.toml example %q: %v", line, err)
		}
	}
}

// example matches an example setting such as `# users = ["root", "ecs-user"]`.
var example = regexp.MustCompile(`(?m)^# ([a-z_]+ = .*)$`)
