package main

import (
	"fmt"
	"runtime"

	"github.com/privagg/privagg/internal/duckarrow"
	"github.com/privagg/privagg/internal/version"
	"github.com/spf13/cobra"
)

func init() { register(newVersionCmd) }

func newVersionCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Example: `  privagg version`,
		Short:   "Print the privagg version",
		Args:    exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			note := ""
			if !duckarrow.Available {
				note = "; built without the " + duckarrow.Tag + " build tag: only version runs; " + duckarrow.InstallLine
			}
			_, err := fmt.Fprintf(g.stdout, "privagg %s (%s, %s/%s%s)\n", version.Version, runtime.Version(), runtime.GOOS, runtime.GOARCH, note)
			return err
		},
	}
}
