package main

import (
	"github.com/spf13/cobra"

	"github.com/privagg/privagg/job"
)

// allowWeakFlag adds --allow-weak-privacy to a command that reads privacy
// parameters (run, plan, validate, budget set).
func allowWeakFlag(cmd *cobra.Command, allow *bool) {
	cmd.Flags().BoolVar(allow, "allow-weak-privacy", false,
		"accept epsilon above 10 or delta at or above 1e-5 (weak privacy; refused with exit 2 without it)")
}

// loadJob loads a job file and, unless allowWeak, refuses weak privacy
// parameters (job.CheckStrength).
func loadJob(path string, allowWeak bool) (*job.Job, error) {
	j, err := job.LoadJob(path)
	if err != nil {
		return nil, err
	}
	if !allowWeak {
		if err := j.CheckStrength(); err != nil {
			return nil, err
		}
	}
	return j, nil
}
