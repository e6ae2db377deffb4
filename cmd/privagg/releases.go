package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/privagg/privagg/catalog"
	"github.com/privagg/privagg/privacy"
)

func init() { register(newReleasesCmd) }

func newReleasesCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use: "releases",
		Example: `  privagg releases list
  privagg releases show 3f9a1c2d7e4b`,
		Short: "The catalog of releases: what was released, with which guarantee, and where",
		Long: `The releases recorded in the ledger (--ledger, else PRIVAGG_LEDGER, else the
project file's ledger:, else ./privagg-ledger.duckdb), read from the ledger
(opened read-only) and the manifests in the release store beside it.`,
	}
	cmd.AddCommand(newReleasesListCmd(g), newReleasesShowCmd(g))
	return cmd
}

func loadCatalog(cmd *cobra.Command, g *globals) (*catalog.Catalog, error) {
	led, err := openReadOnly(g)
	if err != nil {
		return nil, err
	}
	return catalog.Load(cmd.Context(), led)
}

func newReleasesListCmd(g *globals) *cobra.Command {
	var (
		format string
		wide   bool
	)
	cmd := &cobra.Command{
		Use: "list [--format table|json] [--wide]",
		Example: `  privagg releases list
  privagg releases list --wide
  privagg releases list --format json`,
		Short: "List every release, oldest first",
		Long: `List every release: id, state (reserved, stored, published), when it
reached that state, dataset, purpose, epsilon, delta and the rows released,
in at most 100 columns (long cells are cut with …). --wide adds the job, k,
noise, the rows of each output, the names to query its tables by, the
release store folder and the report, all in full. --format json prints an
array of releases with every field, per table its files and per metric its
noise and 95% confidence interval.`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			format, err := checkTableFormat(format, "")
			if err != nil {
				return err
			}
			cat, err := loadCatalog(cmd, g)
			if err != nil {
				return err
			}
			if format == formatJSON {
				return writeJSON(g.stdout, cat.Releases)
			}
			if len(cat.Releases) == 0 {
				_, err := fmt.Fprintln(g.stdout, "no releases in the ledger "+cat.LedgerPath)
				return err
			}
			if err := releasesTable(cat.Releases, wide).write(g.stdout, tableWidthOr(wide)); err != nil {
				return err
			}
			for i := range cat.Releases {
				if p := cat.Releases[i].Problem; p != "" {
					fmt.Fprintf(g.stdout, "release %s: %s\n", cat.Releases[i].ReleaseID, p)
				}
			}
			return nil
		},
	}
	budgetFormatFlag(cmd, &format)
	wideFlag(cmd, &wide)
	return cmd
}

// releasesTable is the table of releases list: the columns that fit a
// terminal, or with wide every column.
func releasesTable(releases []catalog.Release, wide bool) *textTable {
	t := &textTable{header: []string{"RELEASE ID", "STATE", "TIME", "DATASET", "PURPOSE", "EPSILON", "DELTA", "ROWS"},
		right: []bool{5: true, 6: true, 7: true}}
	if wide {
		t.header = append(t.header, "JOB", "K", "NOISE", "ROWS PER OUTPUT", "QUERY AS", "STORE", "REPORT")
	}
	for i := range releases {
		r := &releases[i]
		var rows int64
		for _, tb := range r.Tables {
			rows += tb.Rows
		}
		cells := []string{r.ReleaseID, string(r.State), timeOrDash(releaseTime(r)), r.Dataset, r.Purpose,
			r.Epsilon.Format(), r.Delta.Format(), strconv.FormatInt(rows, 10)}
		if wide {
			cells = append(cells, r.Job, kOrDash(r.K), orDash(r.Noise), rowsSummary(r), queryNames(r), r.StoreDir, orDash(r.Report))
		}
		t.add(cells...)
	}
	return t
}

// tableWidthOr is the width a table may take: tableWidth, or no limit (0)
// with --wide.
func tableWidthOr(wide bool) int {
	if wide {
		return 0
	}
	return tableWidth
}

func newReleasesShowCmd(g *globals) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use: "show RELEASE_ID [--format table|json]",
		Example: `  privagg releases show 3f9a1c2d7e4b
  privagg releases show 3f9a1c2d7e4b --format json`,
		Short: "Show one release: its guarantee, tables, metrics' confidence intervals and report",
		Args:  exactArgs("RELEASE_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkBudgetFormat(format); err != nil {
				return err
			}
			cat, err := loadCatalog(cmd, g)
			if err != nil {
				return err
			}
			r := cat.Release(args[0])
			if r == nil {
				return usageError{fmt.Errorf("release %q: %w in ledger %s (see privagg releases list)", args[0], privacy.ErrUnknownRelease, cat.LedgerPath)}
			}
			if format == "json" {
				return writeJSON(g.stdout, r)
			}
			return showRelease(g.stdout, r)
		},
	}
	budgetFormatFlag(cmd, &format)
	return cmd
}

func showRelease(w io.Writer, r *catalog.Release) error {
	var b strings.Builder
	fmt.Fprintf(&b, "release %s: %s\n", r.ReleaseID, r.State)
	fmt.Fprintf(&b, "dataset %s, purpose %s, job %s\n", r.Dataset, r.Purpose, r.Job)
	fmt.Fprintf(&b, "guarantee: epsilon %s, delta %s (whole release), k %s, noise %s\n", r.Epsilon, r.Delta, kOrDash(r.K), orDash(r.Noise))
	fmt.Fprintf(&b, "reserved %s, stored %s, published %s\n", timeOrDash(&r.ReservedAt), timeOrDash(r.StoredAt), timeOrDash(r.PublishedAt))
	fmt.Fprintf(&b, "output dir: %s\nrelease store: %s\nreport: %s\n", orDash(r.OutputDir), r.StoreDir, orDash(r.Report))
	if r.Problem != "" {
		fmt.Fprintf(&b, "problem: %s\n", r.Problem)
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return err
	}
	for _, t := range r.Tables {
		fmt.Fprintf(w, "\ntable %s: %d rows, %s, group by %s\n  file: %s\n", t.Output, t.Rows, t.Format, strings.Join(t.GroupBy, ", "), t.Path)
		if t.DuckDBTable != "" {
			fmt.Fprintf(w, "  duckdb table: %s\n", t.DuckDBTable)
		}
		if t.QueryName != "" {
			q := t.QueryName
			if t.Latest {
				q += " (and " + t.Output + ": the latest release)"
			}
			fmt.Fprintf(w, "  query as: %s\n", q)
		}
		if b := boundsSummary(t); b != "" {
			fmt.Fprintf(w, "  bounds: %s\n", b)
		}
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  METRIC\tKIND\tMECHANISM\tEPSILON\tDELTA\tL0\tLINF\tNOISE SD\t95% CI HALF-WIDTH\tCI COVERS")
		for _, m := range t.Metrics {
			sd, ci := "varies by row", "see the row's "+m.Name+privacy.CISuffix
			if m.NoiseStdDev != nil && m.CI95 != nil {
				sd, ci = "±"+est(*m.NoiseStdDev), "±"+est(*m.CI95)
			}
			if !slices.Contains(m.Columns, m.Name+privacy.CISuffix) {
				ci = "none (no _ci95 column)"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\n", m.Name, m.Kind, m.Mechanism, num(m.Epsilon), num(m.Delta), m.L0, num(m.LInf), sd, ci, orDash(m.Interval))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return nil
}

// releaseTime is when the release reached its state.
func releaseTime(r *catalog.Release) *time.Time {
	switch {
	case r.PublishedAt != nil:
		return r.PublishedAt
	case r.StoredAt != nil:
		return r.StoredAt
	}
	return &r.ReservedAt
}

func rowsSummary(r *catalog.Release) string {
	if len(r.Tables) == 0 {
		return "-"
	}
	parts := make([]string, len(r.Tables))
	for i, t := range r.Tables {
		parts[i] = fmt.Sprintf("%s=%d", t.Output, t.Rows)
	}
	return strings.Join(parts, ",")
}

func queryNames(r *catalog.Release) string {
	var names []string
	for _, t := range r.Tables {
		if t.QueryName != "" {
			names = append(names, t.QueryName)
		}
	}
	return orDash(strings.Join(names, ","))
}

func kOrDash(k int64) string {
	if k == 0 {
		return "-"
	}
	return strconv.FormatInt(k, 10)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// boundsSummary says in one line how a table was bounded and what bounding
// removed, from its manifest; "" when the job estimated nothing.
func boundsSummary(t catalog.Table) string {
	b := t.Bounds
	if b == nil {
		return ""
	}
	l0 := fmt.Sprintf("L0 %s", num(b.L0.Value))
	if b.L0.Auto {
		l0 += " (auto)"
	}
	parts := []string{l0}
	if d := b.Dropped; d != nil {
		removed := fmt.Sprintf("bounding removed about %s of the (person, row) pairs", percent(d.Pairs))
		if d.Rows != nil {
			removed += ", " + percent(*d.Rows) + " of the rows"
		}
		for _, c := range slices.Sorted(maps.Keys(d.Mass)) {
			removed += fmt.Sprintf(", %s of %s", percent(d.Mass[c]), c)
		}
		parts = append(parts, removed)
	}
	var fixed, not []string
	for _, m := range t.Metrics {
		switch {
		case m.Bias != nil && m.Bias.Corrected:
			fixed = append(fixed, m.Name)
		case m.Bias != nil:
			not = append(not, m.Name)
		}
	}
	if len(fixed) > 0 {
		parts = append(parts, "corrected: "+strings.Join(fixed, ", "))
	}
	if len(not) > 0 {
		parts = append(parts, "not corrected (estimate too noisy): "+strings.Join(not, ", "))
	}
	return strings.Join(parts, "; ")
}
