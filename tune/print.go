package tune

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
)

// WriteTable prints r as readable tables.
func WriteTable(w io.Writer, r *Report) error {
	banner := strings.Repeat("=", 78)
	fmt.Fprintln(w, banner)
	fmt.Fprintln(w, r.Notice)
	fmt.Fprintln(w, banner)
	fmt.Fprintf(w, "job %s  dataset %s  epsilon %s  delta %s\n", r.Job, r.Dataset, g4(r.Epsilon), g4(r.Delta))
	if r.Focus != "" {
		fmt.Fprintf(w, "focus: metric %s (weight 1 where an output has it, every other metric %s)\n", r.Focus, g4(FocusOtherWeight))
	}
	if r.Charge != nil {
		fmt.Fprintf(w, "tuning charge %s: epsilon %s, delta %s (recorded in the ledger)\n", r.Charge.ID, g4(r.Charge.Epsilon), g4(r.Charge.Delta))
		for _, h := range r.Histograms {
			fmt.Fprintf(w, "  histogram %s.%s: epsilon %s, noised %d time(s); its metrics share the draw\n", h.Output, h.Column, g4(h.Epsilon), h.Draws)
		}
	}
	for _, o := range r.Outputs {
		fmt.Fprintln(w)
		fmt.Fprintf(w, "output %s", o.Name)
		if r.Mode == "raw" {
			fmt.Fprintf(w, "  (%d people, %d person-partition pairs, %d partitions with data)", o.People, o.Pairs, o.Partitions)
		}
		fmt.Fprintln(w)
		tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  setting\tcurrent\trecommended")
		fmt.Fprintf(tw, "  max_partitions_per_unit\t%s\t%d\n", autoOr(o.L0.Auto, strconv.FormatInt(o.L0.Current, 10)), o.L0.Recommended)
		if !o.Public {
			fmt.Fprintf(tw, "  selection_share\t%s\t%s\n", g4(o.SelectionShare.Current), g4(o.SelectionShare.Recommended))
		}
		fmt.Fprintf(tw, "  weight\t%s\t%s\n", g4(o.Weight.Current), g4(o.Weight.Recommended))
		for _, m := range o.Metrics {
			if m.Linf != nil {
				fmt.Fprintf(tw, "  %s.max_per_unit\t%s\t%d\n", m.Name, autoOr(m.Linf.Auto, strconv.FormatInt(m.Linf.Current, 10)), m.Linf.Recommended)
			}
			if m.Clamp != nil {
				fmt.Fprintf(tw, "  %s.min, max\t%s\t%s, %s\n", m.Name, autoOr(m.Clamp.Auto, g4(m.Clamp.Current.Min)+", "+g4(m.Clamp.Current.Max)), g4(m.Clamp.Recommended.Min), g4(m.Clamp.Recommended.Max))
			}
			fmt.Fprintf(tw, "  %s.weight\t%s\t%s\n", m.Name, g4(m.Weight.Current), g4(m.Weight.Recommended))
		}
		tw.Flush()
		if r.Mode == "raw" {
			if !o.Public {
				fmt.Fprintf(w, "  expected released partitions at the recommended values: %.0f\n", o.ExpectedReleased)
			}
			printCandidates(w, o, r.Focus)
		}
		fmt.Fprintln(w, "  expected noise at the recommended values:")
		tw = tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
		for _, m := range o.Metrics {
			fmt.Fprintf(tw, "    %s\t%s\t%s\n", m.Name, m.Type, noiseText(m.Noise))
		}
		tw.Flush()
	}
	for _, n := range r.Apply {
		fmt.Fprintln(w, "note:", n)
	}
	return nil
}

func printCandidates(w io.Writer, o OutputReport, focus string) {
	share := "an equal metric share"
	if slices.ContainsFunc(o.Metrics, func(m MetricReport) bool { return m.Name == focus }) {
		share = "the share of focus metric " + focus
	}
	fmt.Fprintf(w, "  L0 candidates (at the recommended selection share; people noise: a count_units with %s):\n", share)
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "    L0\tpairs dropped\tdropped in released\texpected released\tpeople noise ±95%\tscore\t")
	for _, c := range o.L0Candidates {
		fmt.Fprintf(tw, "    %d\t%s\t%s\t%.0f\t%s\t%s\t\n", c.L0, pct(c.Loss), pct(c.LossReleased), c.Released, g4(c.PeopleNoise.CI95), g4(c.Score))
	}
	tw.Flush()
	if len(o.ShareCandidates) > 0 {
		fmt.Fprintln(w, "  selection share candidates (at the recommended L0):")
		tw = tabwriter.NewWriter(w, 2, 4, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "    share\texpected released\tpeople noise ±95%\tscore\t")
		for _, c := range o.ShareCandidates {
			fmt.Fprintf(tw, "    %s\t%.0f\t%s\t%s\t\n", g4(c.Share), c.Released, g4(c.PeopleNoise.CI95), g4(c.Score))
		}
		tw.Flush()
	}
	for _, m := range o.Metrics {
		if len(m.Candidates) == 0 {
			continue
		}
		what := "max_per_unit (rows dropped)"
		if m.Clamp != nil {
			what = "clamp [min, max] (value mass clamped away)"
		}
		fmt.Fprintf(w, "  %s %s candidates:\n", m.Name, what)
		tw = tabwriter.NewWriter(w, 2, 4, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "    candidate\tbound\tdropped\tnoise\tscore\t")
		for _, c := range m.Candidates {
			bound := fmt.Sprint(c.Linf)
			if c.Bounds != nil {
				bound = fmt.Sprintf("[%s, %s]", g4(c.Bounds.Min), g4(c.Bounds.Max))
			}
			fmt.Fprintf(tw, "    %s\t%s\t%s\t%s\t%s\t\n", c.Label, bound, pct(c.Loss), noiseText(c.Noise), g4(c.Score))
		}
		tw.Flush()
	}
}

func noiseText(n Noise) string {
	switch {
	case n.AtPeople > 0:
		return fmt.Sprintf("±%s (95%%, %d people)", g4(n.CI95), n.AtPeople)
	case n.CI95 > 0:
		return fmt.Sprintf("±%s (95%%)", g4(n.CI95))
	}
	return n.Note
}

func pct(f float64) string { return strconv.FormatFloat(100*f, 'f', 1, 64) + "%" }

func g4(f float64) string {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return "-"
	}
	return strconv.FormatFloat(f, 'g', 4, 64)
}

// autoOr is "auto" for a bound the job sets to auto, else the value.
func autoOr(auto bool, value string) string {
	if auto {
		return "auto"
	}
	return value
}
