package account

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestLookupUser(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	passwd := "root:x:0:0:root:/root:/bin/bash\n" +
		"rooter:x:7:7::/home/rooter:/bin/sh\n" +
		"ecs-user:x:1000:1000:ECS user,,,:/home/ecs-user:/bin/bash\n" +
		"badhome:x:1001:1001::home/rel:/bin/sh\n" +
		"dotdot:x:1002:1002::/home/../etc:/bin/sh\n" +
		"baduid:x:-1:0::/home/x:/bin/sh\n" +
		"short:x:1\n"
	if err := os.WriteFile(filepath.Join(root, "etc/passwd"), []byte(passwd), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		user    string
		want    Account
		wantErr bool
		noUser  bool
	}{
		{name: "root", user: "root", want: Account{Name: "root", UID: 0, GID: 0, Home: "/root", Shell: "/bin/bash"}},
		{name: "prefix is not a match", user: "roo", wantErr: true, noUser: true},
		{name: "ecs-user", user: "ecs-user", want: Account{Name: "ecs-user", UID: 1000, GID: 1000, Home: "/home/ecs-user", Shell: "/bin/bash"}},
		{name: "relative home", user: "badhome", wantErr: true},
		{name: "unclean home", user: "dotdot", wantErr: true},
		{name: "negative uid", user: "baduid", wantErr: true},
		{name: "short line", user: "short", wantErr: true},
		{name: "missing", user: "nobody", wantErr: true, noUser: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Lookup(root, tt.user)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("Lookup(%q) = %+v, want an error", tt.user, got)
				}
				if tt.noUser != errors.Is(err, ErrNoUser) {
					t.Errorf("Lookup(%q) error = %v, ErrNoUser = %v", tt.user, err, tt.noUser)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("Lookup(%q) = %+v, %v, want %+v", tt.user, got, err, tt.want)
			}
		})
	}
}
