module github.com/ecs-keyagent/ecs-keyagent

go 1.26.0

require (
	github.com/BurntSushi/toml v1.6.0
	github.com/coreos/go-systemd/v22 v22.7.0
	github.com/fsnotify/fsnotify v1.10.1
	github.com/rogpeppe/go-internal v1.16.0
	go.uber.org/goleak v1.3.0
	go.uber.org/zap v1.28.0
	golang.org/x/crypto v0.59.0
	golang.org/x/sys v0.50.0
)

require (
	github.com/godbus/dbus/v5 v5.1.0 // indirect
	go.uber.org/multierr v1.10.0 // indirect
	golang.org/x/tools v0.26.0 // indirect
)
