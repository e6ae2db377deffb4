package console

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/privagg/privagg/explain"
	"github.com/privagg/privagg/job"
	"github.com/privagg/privagg/privacy"
)

// The what-if page: for the job files of Config.JobsDir and the epsilons
// the user types, the expected error of every metric and the people a row
// needs to be released, from explain.Explain (as `privagg plan --what-if`
// does). It reads no data. An officer's console adds whether each epsilon
// fits the dataset's remaining budget (read-only).

// defaultEpsilons is the form's initial value.
const defaultEpsilons = "0.25, 0.5, 1, 2"

// maxEpsilons and maxJobs bound one page.
const (
	maxEpsilons = 8
	maxJobs     = 20
)

type whatIfView struct {
	JobsDir  string
	Jobs     []string
	Job      string // the selected job file; "" is every job
	Epsilons string // as typed
	Problem  string
	Results  []jobWhatIf
}

type jobWhatIf struct {
	File    string
	J       *job.Job
	Problem string
	Columns []whatIfColumn
	Outputs []outputWhatIf
}

// whatIfColumn is one epsilon: the job's own (Own) or one typed in.
type whatIfColumn struct {
	Epsilon float64
	Own     bool
	Spend   privacy.Share
	Problem string // the plan failed
	// The ledger (officer): does it fit the dataset's remaining budget?
	Checked bool
	Fits    bool
	Fit     string
}

type outputWhatIf struct {
	Name    string
	GroupBy []string
	Public  bool
	Rows    []whatIfRow
}

type whatIfRow struct {
	Label     string // metric name, or the release chance
	Type      string
	Selection bool
	Cells     []whatIfCell
}

// whatIfCell holds the plan's numbers (full precision in data-* attributes)
// and their text.
type whatIfCell struct {
	Text     string
	CI95     string // count, count_units, sum
	StdDev   string
	ByPeople []string // mean, variance: CI95 at explain.PeopleScale
	People50 string   // partition selection
	People95 string
}

func (s *Server) whatIf(w http.ResponseWriter, r *http.Request) {
	v := whatIfView{JobsDir: s.cfg.JobsDir, Epsilons: defaultEpsilons}
	q := r.URL.Query()
	if q.Has("epsilon") {
		v.Epsilons = q.Get("epsilon")
	}
	status := http.StatusOK
	if s.cfg.JobsDir == "" {
		s.render(w, r, status, "whatif.html", s.newPage("What if", "whatif", v))
		return
	}
	jobs, err := listJobs(s.cfg.JobsDir)
	if err != nil {
		s.fail(w, r, http.StatusInternalServerError, "The jobs folder could not be read.", err)
		return
	}
	v.Jobs, v.Job = jobs, q.Get("job")
	eps, err := parseEpsilons(v.Epsilons)
	switch {
	case err != nil:
		v.Problem, status = err.Error(), http.StatusBadRequest
	case v.Job != "" && !slices.Contains(jobs, v.Job):
		v.Problem, status = fmt.Sprintf("There is no job file %q in %s.", v.Job, s.cfg.JobsDir), http.StatusNotFound
	default:
		selected := jobs
		if v.Job != "" {
			selected = []string{v.Job}
		}
		if len(selected) > maxJobs {
			v.Problem = fmt.Sprintf("The folder has %d job files; the first %d are shown (pick one above).", len(selected), maxJobs)
			selected = selected[:maxJobs]
		}
		for _, name := range selected {
			v.Results = append(v.Results, s.explainJob(r, filepath.Join(s.cfg.JobsDir, name), name, eps))
		}
	}
	s.render(w, r, status, "whatif.html", s.newPage("What if", "whatif", v))
}

// listJobs names the job files of dir: regular *.yaml and *.yml files,
// sorted; symlinks and hidden files are left out.
func listJobs(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("jobs folder: %w", err)
	}
	var out []string
	for _, e := range entries {
		n := e.Name()
		if e.Type().IsRegular() && !strings.HasPrefix(n, ".") && (strings.HasSuffix(n, ".yaml") || strings.HasSuffix(n, ".yml")) {
			out = append(out, n)
		}
	}
	return out, nil
}

// parseEpsilons reads the epsilons typed into the form: up to maxEpsilons
// finite numbers > 0, separated by commas or spaces; duplicates dropped.
func parseEpsilons(s string) ([]float64, error) {
	var out []float64
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ';' || r == ' ' || r == '\t' }) {
		e, err := strconv.ParseFloat(f, 64)
		if err != nil || math.IsNaN(e) || math.IsInf(e, 0) || e <= 0 {
			return nil, fmt.Errorf("epsilon %q: each epsilon must be a finite number > 0, such as 0.5", f)
		}
		if !slices.Contains(out, e) {
			out = append(out, e)
		}
	}
	if len(out) > maxEpsilons {
		return nil, fmt.Errorf("%d epsilons: at most %d at once", len(out), maxEpsilons)
	}
	return out, nil
}

// explainJob plans the job at path for its own epsilon and each of eps.
func (s *Server) explainJob(r *http.Request, path, name string, eps []float64) jobWhatIf {
	res := jobWhatIf{File: name}
	j, err := job.LoadJob(path)
	if err != nil {
		res.Problem = err.Error()
		return res
	}
	res.J = j
	type plan struct {
		col whatIfColumn
		rep *explain.PlanReport
	}
	plans := []plan{{col: whatIfColumn{Epsilon: j.Privacy.Epsilon, Own: true}}}
	for _, e := range eps {
		if e != j.Privacy.Epsilon {
			plans = append(plans, plan{col: whatIfColumn{Epsilon: e}})
		}
	}
	for i := range plans {
		p := &plans[i]
		e := p.col.Epsilon
		if p.col.Own {
			e = 0 // the job as written
		}
		p.rep, err = explain.Explain(r.Context(), j, e, "", true)
		if err != nil {
			p.col.Problem = err.Error()
			continue
		}
		p.col.Spend = p.rep.Spend
		if s.mode == ModeOfficer {
			s.checkFit(r, j.Dataset, &p.col)
		}
	}
	for _, p := range plans {
		res.Columns = append(res.Columns, p.col)
	}
	// Rows come from the first plan that worked; every plan of a job has
	// the same outputs and metrics.
	var first *explain.PlanReport
	for _, p := range plans {
		if p.rep != nil {
			first = p.rep
			break
		}
	}
	if first == nil {
		return res
	}
	for oi, po := range first.Outputs {
		ov := outputWhatIf{Name: po.Name, GroupBy: po.GroupBy, Public: po.Public}
		sel := whatIfRow{Label: "people a row needs to be released", Selection: true}
		for _, p := range plans {
			sel.Cells = append(sel.Cells, selectionCell(p.rep, oi))
		}
		ov.Rows = append(ov.Rows, sel)
		for mi, pm := range po.Metrics {
			row := whatIfRow{Label: pm.Name, Type: pm.Type}
			for _, p := range plans {
				row.Cells = append(row.Cells, metricCell(p.rep, oi, mi))
			}
			ov.Rows = append(ov.Rows, row)
		}
		res.Outputs = append(res.Outputs, ov)
	}
	return res
}

// checkFit asks the ledger (read-only) whether the column's spend fits the
// dataset's remaining budget.
func (s *Server) checkFit(r *http.Request, dataset string, col *whatIfColumn) {
	st, err := s.led.Check(r.Context(), dataset, col.Spend.Epsilon, col.Spend.Delta)
	var be *privacy.BudgetError
	col.Checked = true
	switch {
	case err == nil:
		col.Fits = true
		col.Fit = fmt.Sprintf("fits: epsilon %s of %s remaining would be left", fmtNum(st.EpsilonRemaining.Float64()-col.Spend.Epsilon), fmtNum(st.EpsilonRemaining.Float64()))
	case errors.As(err, &be):
		col.Fit = "refused: " + be.Reason
	default:
		col.Fit = "the ledger could not be read: " + err.Error()
	}
}

func selectionCell(rep *explain.PlanReport, oi int) whatIfCell {
	if rep == nil {
		return whatIfCell{Text: "-"}
	}
	po := rep.Outputs[oi]
	if po.Public || po.Selection == nil {
		return whatIfCell{Text: "every listed key is released (public partitions)"}
	}
	sel := po.Selection
	return whatIfCell{
		Text:     fmt.Sprintf("%s for a 50%% chance, %s for 95%%", formatInt(sel.People50), formatInt(sel.People95)),
		People50: strconv.FormatInt(sel.People50, 10), People95: strconv.FormatInt(sel.People95, 10),
	}
}

func metricCell(rep *explain.PlanReport, oi, mi int) whatIfCell {
	if rep == nil {
		return whatIfCell{Text: "-"}
	}
	pm := rep.Outputs[oi].Metrics[mi]
	switch {
	case pm.CI95ByPeople != nil:
		var c whatIfCell
		var parts []string
		for _, n := range explain.PeopleScale {
			ci := pm.CI95ByPeople[strconv.FormatInt(n, 10)]
			c.ByPeople = append(c.ByPeople, fullNum(ci))
			parts = append(parts, "±"+fmtNum(ci)+" at "+formatInt(n)+" people")
		}
		c.Text = strings.Join(parts, "; ")
		return c
	case pm.Type == string(privacy.Quantiles):
		if len(pm.Components) == 0 {
			return whatIfCell{Text: "-"}
		}
		sd := pm.Components[0].Scale
		return whatIfCell{Text: "noise sd " + fmtNum(sd) + " per node count of the quantile tree", StdDev: fullNum(sd)}
	default:
		return whatIfCell{Text: "±" + fmtNum(pm.CI95) + " (sd " + fmtNum(pm.StdDev) + ")", CI95: fullNum(pm.CI95), StdDev: fullNum(pm.StdDev)}
	}
}
