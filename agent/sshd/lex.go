package sshd

import (
	"errors"
	"strings"
)

const whitespace = " \t\r\n"

var errQuote = errors.New("unbalanced quotes")

// splitLine splits a configuration line into keyword and arguments as
// process_server_config_line does: the keyword is cut by strdelim (space,
// one '=' or a quoted word), the rest by argv_split (quotes, backslash
// escapes, a '#' that starts a word ends the line). A blank or comment line
// yields an empty keyword.
func splitLine(line string) (string, []string, error) {
	kw, rest, err := cutKeyword(line)
	if kw == "" || err != nil {
		return "", nil, err
	}
	args, err := argvSplit(rest)
	if err != nil {
		return "", nil, err
	}
	return kw, args, nil
}

// cutKeyword returns the keyword of a line and the rest of it unsplit, as
// process_server_config_line has them before argv_split: Match reads its
// criteria from that rest with strdelim, not from the split arguments.
func cutKeyword(line string) (kw, rest string, err error) {
	s := strings.TrimRight(line, whitespace+"\f")
	s = strings.TrimLeft(s, whitespace)
	kw, rest, ok := strdelim(s)
	if ok && kw == "" {
		kw, rest, ok = strdelim(rest)
	}
	if !ok || kw == "" || kw[0] == '#' {
		return "", "", nil
	}
	if rest == "" {
		return "", "", errors.New("no argument after keyword \"" + kw + "\"")
	}
	return kw, rest, nil
}

// strdelim returns the first word of s and what follows it. ok is false
// where strdelim returns NULL (an unmatched quote), so sshd skips the line.
func strdelim(s string) (word, rest string, ok bool) {
	i := strings.IndexAny(s, whitespace+"\"=")
	if i < 0 {
		return s, "", true
	}
	if s[i] == '"' {
		// The quote is removed and the word runs to the next quote.
		j := strings.IndexByte(s[i+1:], '"')
		if j < 0 {
			return "", "", false
		}
		word = s[:i] + s[i+1:i+1+j]
		return word, strings.TrimLeft(s[i+2+j:], whitespace), true
	}
	word, rest = s[:i], s[i+1:]
	equals := s[i] == '='
	rest = strings.TrimLeft(rest, whitespace)
	if !equals && strings.HasPrefix(rest, "=") {
		rest = strings.TrimLeft(rest[1:], whitespace)
	}
	return word, rest, true
}

// argvSplit is argv_split(s, ..., terminate_on_comment=1) from misc.c.
func argvSplit(s string) ([]string, error) {
	var args []string
	i := 0
	for i < len(s) {
		if s[i] == ' ' || s[i] == '\t' {
			i++
			continue
		}
		if s[i] == '#' {
			break
		}
		var arg strings.Builder
		var quote byte
	token:
		for ; i < len(s); i++ {
			c := s[i]
			switch {
			case c == '\\' && i+1 < len(s) && (s[i+1] == '\'' || s[i+1] == '"' || s[i+1] == '\\' || (quote == 0 && s[i+1] == ' ')):
				i++
				arg.WriteByte(s[i])
			case quote == 0 && (c == ' ' || c == '\t'):
				break token
			case quote == 0 && (c == '"' || c == '\''):
				quote = c
			case quote != 0 && c == quote:
				quote = 0
			default:
				arg.WriteByte(c)
			}
		}
		if quote != 0 {
			return nil, errQuote
		}
		args = append(args, arg.String())
	}
	return args, nil
}
