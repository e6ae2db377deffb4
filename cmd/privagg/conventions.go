package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// exactArgs requires one argument per name; a missing or extra argument is a
// usage error (exit 2) that names the argument and shows the usage line.
func exactArgs(names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < len(names) {
			return usageError{fmt.Errorf("%s: missing %s (usage: %s)", cmd.CommandPath(), strings.Join(names[len(args):], " "), cmd.UseLine())}
		}
		return tooManyArgs(cmd, args, names)
	}
}

// optionalArgs allows at most one argument per name.
func optionalArgs(names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error { return tooManyArgs(cmd, args, names) }
}

func tooManyArgs(cmd *cobra.Command, args, names []string) error {
	if len(args) <= len(names) {
		return nil
	}
	want := "no arguments"
	if len(names) > 0 {
		want = "only " + strings.Join(names, " ")
	}
	return usageError{fmt.Errorf("%s: unexpected argument %q: it takes %s (usage: %s)", cmd.CommandPath(), args[len(names)], want, cmd.UseLine())}
}

// strictGroups makes every command below c that only groups subcommands
// (budget, releases) refuse a missing or mistyped subcommand with exit 2 and
// a suggestion, instead of printing its help and exiting 0.
func strictGroups(c *cobra.Command) {
	for _, sub := range c.Commands() {
		if sub.HasSubCommands() && !sub.Runnable() {
			sub.Args = cobra.ArbitraryArgs
			sub.RunE = unknownSubcommand
		}
		strictGroups(sub)
	}
}

// unknownSubcommand is the RunE of a group command: it runs only when no
// subcommand matched.
func unknownSubcommand(cmd *cobra.Command, args []string) error {
	var names []string
	for _, s := range cmd.Commands() {
		if s.IsAvailableCommand() {
			names = append(names, s.Name())
		}
	}
	one := "one of " + strings.Join(names, ", ")
	if len(args) == 0 {
		return usageError{fmt.Errorf("%s: missing subcommand: %s (see %s --help)", cmd.CommandPath(), one, cmd.CommandPath())}
	}
	msg := fmt.Sprintf("%s: unknown subcommand %q", cmd.CommandPath(), args[0])
	if cmd.SuggestionsMinimumDistance <= 0 {
		cmd.SuggestionsMinimumDistance = 2 // cobra's default, set only on its own path
	}
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		msg += fmt.Sprintf("; did you mean %q?", s[0])
	}
	return usageError{errors.New(msg + " (" + one + ")")}
}
