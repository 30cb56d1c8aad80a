package main

import (
	"context"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// machine describes where the figures were taken.
type machine struct {
	cpus                     int
	cpuModel, memory, kernel string
	goVersion, tools         string
	loadStart, loadEnd       string
	loads                    []string // at the start of each part
	start, end               time.Time
	scratchFS                string
}

func describeMachine() machine {
	m := machine{cpus: runtime.NumCPU(), goVersion: runtime.Version(), loadStart: loadAvg(), start: time.Now().UTC()}
	m.cpuModel = procField("/proc/cpuinfo", "model name")
	m.memory = procField("/proc/meminfo", "MemTotal")
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.kernel = strings.TrimSpace(string(b))
	}
	var tools []string
	for _, t := range [][]string{{"hyperfine", "--version"}, {"curl", "--version"}} {
		if out, err := exec.Command(t[0], t[1:]...).Output(); err == nil {
			first, _, _ := strings.Cut(string(out), "\n")
			tools = append(tools, strings.Join(strings.Fields(first)[:2], " "))
		}
	}
	m.tools = strings.Join(tools, ", ")
	return m
}

// procField returns the value of the first "name : value" line of a /proc file.
func procField(path, name string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "unknown"
	}
	for line := range strings.Lines(string(b)) {
		k, v, ok := strings.Cut(line, ":")
		if ok && strings.TrimSpace(k) == name {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

// loadAvg is the 1, 5 and 15 minute load average.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	return strings.Join(strings.Fields(string(b))[:3], " ")
}

// fsType names the filesystem the scratch trees live on: fsync costs
// differ by orders of magnitude between tmpfs and a disk.
func fsType(dir string) string {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return "unknown"
	}
	switch st.Type {
	case 0x01021994:
		return "tmpfs"
	case 0xEF53:
		return "ext4"
	case 0x58465342:
		return "xfs"
	case 0x9123683E:
		return "btrfs"
	case 0x794c7630:
		return "overlayfs"
	}
	return "unknown"
}

// sizeResult is the stripped binary.
type sizeResult struct {
	bytes int64
	build string
}

// benchSize reports the size of bin/ecs-keyagent as `make build` makes it
// (CGO_ENABLED=0, -trimpath, -ldflags '-s -w').
func benchSize(ctx context.Context, dir string, r *report) error {
	fi, err := os.Stat(agentBin(r.opts.bin))
	if err != nil {
		return err
	}
	r.size = &sizeResult{bytes: fi.Size(),
		build: "CGO_ENABLED=0 go build -trimpath -ldflags '-s -w -X main.version=...' -o bin/ecs-keyagent ./cmd/ecs-keyagent"}
	return nil
}
