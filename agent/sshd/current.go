package sshd

import (
	"context"
	"errors"
)

// Setting is an effective value and the line that set it.
type Setting struct {
	Value  string `json:"value"`
	Source string `json:"source"` // "FILE:LINE", or "default"
}

// UserState is sshd's configuration in force for one target user.
type UserState struct {
	User                         string  `json:"user"`
	PasswordAuthentication       Setting `json:"passwordauthentication"`
	KbdInteractiveAuthentication Setting `json:"kbdinteractiveauthentication"`
	UsePAM                       Setting `json:"usepam"`
	PubkeyAuthentication         Setting `json:"pubkeyauthentication"`
	AuthorizedKeysFile           Setting `json:"authorizedkeysfile"`
	Logon                        Logon   `json:"logon"`
}

// ErrNoConfig is returned by Current when sshd has no configuration file.
var ErrNoConfig = errors.New("no sshd configuration")

// Current reads sshd's configuration in force for targets, writing
// nothing: what sshd -T -C says when sshd can run, else the agent's parser
// (checkedBy says which), with the line behind each value where the parser
// can tell.
func Current(ctx context.Context, o Options, targets []Target) (checkedBy string, states []UserState, err error) {
	if skip := absent(o); skip != "" {
		return "", nil, ErrNoConfig
	}
	o.Password, o.KbdInteractive = Keep, Keep
	o.Users, o.groups = nil, map[string][]string{}
	for _, t := range targets {
		o.Users = append(o.Users, t.User)
		o.groups[t.User] = t.Groups
	}
	res, err := Inspect(ctx, o)
	if err != nil {
		return res.CheckedBy, nil, err
	}
	for _, t := range targets {
		vs := res.views[t.User]
		if len(vs) == 0 {
			continue
		}
		v := vs[0]
		set := func(k string) Setting {
			src := v.where[k]
			if src == "" {
				src = "default"
			}
			return Setting{Value: v.get(k), Source: src}
		}
		states = append(states, UserState{
			User:                         t.User,
			PasswordAuthentication:       set(kwPassword),
			KbdInteractiveAuthentication: set(kwKbd),
			UsePAM:                       set(kwUsePAM),
			PubkeyAuthentication:         set(kwPubkey),
			AuthorizedKeysFile:           set(kwAuthorizedKeysFile),
			Logon:                        combine(t, vs, nil),
		})
	}
	return res.CheckedBy, states, nil
}
