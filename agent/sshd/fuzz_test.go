package sshd

import (
	"bytes"
	"testing"

	"github.com/ecs-keyagent/ecs-keyagent/agent/agenttest"
)

// FuzzParse feeds arbitrary main files to the parser: it must never panic,
// and editMain/revertMain must give back every byte of a file without our
// markers.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"",
		"PasswordAuthentication no\n",
		"Include /etc/ssh/sshd_config.d/*.conf\nKbdInteractiveAuthentication no\n",
		"passwordauthentication=yes\nMatch User alice,!bob Address 10.0.0.0/8\n\tPasswordAuthentication yes\nMatch all\n",
		"\"Banner\" \"a b\" # c\nChallengeResponseAuthentication = yes\r\n",
		"Include a\\ b \"c\nMatch User=*\n  Include /x/*/y\n",
		"PasswordAuthentication yes",
		blockBegin + "\n" + blockEnd + "\n" + disabledPrefix + "UsePAM yes\n",
	} {
		f.Add([]byte(s))
	}
	for _, name := range agenttest.Layouts() {
		f.Add([]byte(agenttest.LayoutFiles(f, name)["etc/ssh/sshd_config"]))
	}
	root := f.TempDir() // empty: includes find nothing, and stay below it
	f.Fuzz(func(t *testing.T, data []byte) {
		src := newSource(root)
		src.set("/etc/ssh/sshd_config", data)
		c, err := parseConfig(src, "/etc/ssh/sshd_config")
		if err != nil {
			t.Fatal(err)
		}
		for _, ci := range []*connInfo{nil, {user: "root", host: testAddr, addr: testAddr}} {
			c.effective(kwPassword, ci)
			c.effective(kwKbd, ci)
		}
		matchWarnings(c)
		if bytes.Contains(data, []byte("ecs-keyagent")) {
			revertMain(data) // must not panic; the round trip needs marker-free input
			return
		}
		back, err := revertMain(editMain(data, c, []string{kwPassword, kwKbd}))
		if err != nil || !bytes.Equal(back, data) {
			t.Errorf("revertMain(editMain(%q)) = %q, %v", data, back, err)
		}
	})
}
