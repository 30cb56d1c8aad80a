package sshd

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/rogpeppe/go-internal/diff"
	"go.uber.org/zap"
)

// Apply converges the configuration: for each password path in Disable
// mode it makes "no" the effective global value, for each in Keep mode it
// removes what the agent wrote, restoring the earlier bytes. A changed
// configuration is checked with sshd -t before sshd is reloaded; if the check
// fails the earlier files are restored and the error carries sshd's message.
// Whether it is safe to disable passwords (every user has a usable key) is
// the caller's decision.
func Apply(ctx context.Context, o Options) (Result, error) {
	o, err := o.normalize()
	if err != nil {
		return Result{}, err
	}
	p, err := makePlan(o.Root, o.Config, o.keys(), o.vendor)
	if err != nil {
		return Result{}, err
	}
	res := Result{Method: p.how, Managed: p.managed, Warnings: matchWarnings(p.cfg), Reload: "nothing changed"}
	r := o.runner()
	if r == nil && len(p.cfg.problems) > 0 {
		return res, fmt.Errorf("check %s: %s", o.Config, strings.Join(p.cfg.problems, "; "))
	}
	st := store{root: o.Root, trust: o.trust}
	before, after, err := changes(p, st)
	if err != nil {
		return res, err
	}
	if o.DryRun {
		res.Reload = "not reloaded: dry run"
		for i, f := range after {
			res.Changed = append(res.Changed, f.path)
			newName := f.path
			if !f.exists {
				res.Removed = append(res.Removed, f.path)
				newName = "/dev/null"
			}
			res.Diff += string(diff.Diff(f.path, before[i].data, newName, f.data))
		}
		return res, nil
	}
	if err := write(st, before, after); err != nil {
		return res, err
	}
	if r != nil && len(after) > 0 {
		if err := r.test(ctx); err != nil {
			if rerr := restore(st, before); rerr != nil {
				err = errors.Join(err, rerr)
			}
			o.Logger.Warn("sshd rejected the new configuration; restored the earlier files", zap.Error(err))
			return res, err
		}
	}
	for _, f := range after {
		res.Changed = append(res.Changed, f.path)
		if !f.exists {
			res.Removed = append(res.Removed, f.path)
		}
		o.Logger.Info("updated sshd configuration", zap.String("file", f.path), zap.String("method", p.how))
	}
	views, pidfile, err := report(ctx, o, p.cfg, &res)
	if err != nil {
		return res, err
	}
	res.views = views
	for _, u := range o.Users {
		for i, v := range views[u] {
			for _, k := range o.keys() {
				if want := p.cfg.view(p.cfg.connections(u, o.groups[u])[i]).get(k); v.get(k) != want {
					res.Warnings = append(res.Warnings, fmt.Sprintf("sshd -T reports %s %s for %s where the agent reads %s: sshd reads the configuration differently from the agent",
						k, v.get(k), u, want))
				}
			}
		}
	}
	if o.check != nil && len(after) > 0 {
		if err := o.check(views); err != nil {
			if rerr := restore(st, before); rerr != nil {
				err = errors.Join(err, rerr)
			}
			res.Changed, res.Removed = nil, nil
			return res, err
		}
	}
	if len(after) == 0 && !o.RetryReload {
		return res, nil
	}
	if o.Root != "/" {
		res.Reload = "not reloaded: " + o.Root + " is not the running system"
		return res, nil
	}
	rl := o.Reloader
	if rl == nil {
		rl = SystemReloader{PidFile: pidfile}
	}
	res.Reloaded, res.Reload, err = rl.Reload(ctx)
	if err != nil {
		return res, fmt.Errorf("%w: %w", ErrReload, err)
	}
	return res, nil
}

// write saves after in order; on failure it puts back what it had written.
func write(st store, before, after []fileState) error {
	for i, f := range after {
		if err := st.save(f); err != nil {
			if rerr := restore(st, before[:i]); rerr != nil {
				err = errors.Join(err, rerr)
			}
			return err
		}
	}
	return nil
}

// restore puts every file back as it was, each atomically.
func restore(st store, before []fileState) error {
	var errs []error
	for i := len(before) - 1; i >= 0; i-- {
		if err := st.save(before[i]); err != nil {
			errs = append(errs, fmt.Errorf("restore %s: %w", before[i].path, err))
		}
	}
	return errors.Join(errs...)
}
