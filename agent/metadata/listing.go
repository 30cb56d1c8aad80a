package metadata

import (
	"bytes"
	"fmt"
	"regexp"
)

// listEntry is one line of the public-keys/ listing: an id such as "0" or
// "skp-bp1x" and a trailing slash. The id is joined into a URL path, so it
// is checked here rather than escaped: no "..", no "%", no "/", no scheme.
var listEntry = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}/$`)

// parseListing returns the ids of a public-keys/ listing in order, each
// once. Blank lines are skipped (they name nothing); any other line that is
// not an id with a trailing slash makes the whole listing an error, since a
// listing we do not understand is no basis for changing authorized_keys.
func parseListing(body []byte) ([]string, error) {
	var ids []string
	seen := make(map[string]bool)
	lines := 0
	for line := range bytes.SplitSeq(body, []byte("\n")) {
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) == 0 {
			continue
		}
		lines++
		if lines > maxListEntries {
			return nil, fmt.Errorf("listing has more than %d entries", maxListEntries)
		}
		if !listEntry.Match(line) {
			return nil, fmt.Errorf("malformed listing entry %q", truncate(string(line), 80))
		}
		id := string(line[:len(line)-1])
		if seen[id] {
			continue
		}
		seen[id] = true
		ids = append(ids, id)
	}
	if len(ids) == 0 {
		// Only a 404 says "no key"; an empty 200 is not trusted to.
		return nil, fmt.Errorf("listing is empty")
	}
	return ids, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
