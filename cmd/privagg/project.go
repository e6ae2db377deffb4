package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/privagg/privagg/internal/project"
	"github.com/privagg/privagg/job"
	"github.com/privagg/privagg/pipeline"
	"github.com/privagg/privagg/privacy"
)

// Where a command finds the ledger: --ledger, else PRIVAGG_LEDGER, else the
// project file's ledger: (privagg.yaml in the current folder or above, or
// --project / PRIVAGG_PROJECT), else ./privagg-ledger.duckdb for commands
// without a job and the job's own ledger: for run and plan. A job whose
// ledger: names another ledger than its project's is refused (exit 2).

// loadProject returns the project file the command uses, nil if none; it
// is read once per command.
func (g *globals) loadProject() (*project.Project, error) {
	if g.projectLoaded {
		return g.proj, nil
	}
	explicit := g.project
	if explicit == "" {
		explicit = os.Getenv(project.EnvVar)
	}
	p, err := project.Find(explicit, ".")
	if err != nil {
		return nil, usageError{err}
	}
	g.proj, g.projectLoaded = p, true
	return p, nil
}

// ledgerPath is the ledger of a command without a job. implicit is true
// when it is the default ./privagg-ledger.duckdb (no flag, variable or
// project file named one).
func ledgerPath(g *globals) (path string, implicit bool, err error) {
	if l := explicitLedger(g); l != "" {
		return l, false, nil
	}
	p, err := g.loadProject()
	if err != nil {
		return "", false, err
	}
	if p != nil {
		if p.Ledger == "" {
			return "", false, usageError{fmt.Errorf("project file %s names no ledger (it is for querying published folders): "+
				"give --ledger PATH, or add ledger: PATH to it", p.File)}
		}
		return p.Ledger, false, nil
	}
	abs, err := filepath.Abs(job.DefaultLedger)
	return abs, true, err
}

// explicitLedger is --ledger, else PRIVAGG_LEDGER (absolute), else "".
func explicitLedger(g *globals) string {
	l := g.ledger
	if l == "" {
		l = os.Getenv("PRIVAGG_LEDGER")
	}
	if l == "" {
		return ""
	}
	if abs, err := filepath.Abs(l); err == nil {
		return abs
	}
	return l
}

// jobLedger is the ledger of run or plan on the loaded job j: --ledger,
// PRIVAGG_LEDGER or the project's ledger; "" leaves the job's own. A job
// whose ledger: key names another ledger than the project's is a usage
// error naming both.
func jobLedger(g *globals, j *job.Job) (string, error) {
	if l := explicitLedger(g); l != "" {
		return l, nil
	}
	p, err := g.loadProject()
	if err != nil || p == nil || p.Ledger == "" {
		return "", err
	}
	if own, ok := jobFileLedger(j.File, j.Source); ok && !project.SamePath(own, p.Ledger) {
		return "", usageError{fmt.Errorf("job %s: ledger: %s is not the ledger of project file %s (%s): "+
			"one project keeps one ledger; remove ledger: from the job, or make the two agree, or give --ledger", j.File, own, p.File, p.Ledger)}
	}
	return p.Ledger, nil
}

// checkJobLedger applies run's path rules (pipeline.RunOptions.Check) to
// the ledger jobLedger names for j, so that plan and validate refuse what
// run refuses: a --ledger, PRIVAGG_LEDGER or project ledger inside
// output.dir.
func checkJobLedger(g *globals, j *job.Job) (ledger string, err error) {
	if ledger, err = jobLedger(g, j); err != nil {
		return "", err
	}
	return ledger, pipeline.RunOptions{Ledger: ledger}.Check(j)
}

// jobFileLedger reads the ledger: key of the job file at jobFile whose
// bytes are data (job.Job.Source: the file is not read again), resolved
// against its folder; ok is false if the file has none.
func jobFileLedger(jobFile string, data []byte) (path string, ok bool) {
	abs, err := filepath.Abs(jobFile)
	if err != nil {
		return "", false
	}
	var j struct {
		Ledger *string `yaml:"ledger"`
	}
	if yaml.Unmarshal(data, &j) != nil || j.Ledger == nil || strings.TrimSpace(*j.Ledger) == "" {
		return "", false
	}
	if filepath.IsAbs(*j.Ledger) {
		return filepath.Clean(*j.Ledger), true
	}
	return filepath.Join(filepath.Dir(abs), *j.Ledger), true
}

// newLedgerRefused refuses to create a ledger at the implicit default
// path: without a project file, a budget set from another folder would
// otherwise start a second ledger.
func newLedgerRefused(path string) error {
	for _, p := range []string{path, path + privacy.JournalSuffix} {
		if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
			return nil
		}
	}
	wd, _ := os.Getwd()
	return usageError{fmt.Errorf("no %s in %s or any folder above it, and no ledger at %s: a new ledger needs a place; "+
		"write a project file %s (version: 1, ledger: PATH), or give --ledger PATH or PRIVAGG_LEDGER", project.FileName, wd, path, project.FileName)}
}

// publishedFallback returns the project's published folders when query
// should read them instead of a ledger: the project names no ledger, or
// this user may not read it (an analyst sharing the project file).
func publishedFallback(g *globals) ([]string, error) {
	if explicitLedger(g) != "" {
		return nil, nil
	}
	p, err := g.loadProject()
	if err != nil || p == nil || len(p.Published) == 0 {
		return nil, err
	}
	if p.Ledger == "" {
		return p.Published, nil
	}
	for _, f := range []string{p.Ledger, p.Ledger + privacy.JournalSuffix} {
		if fh, err := os.Open(f); errors.Is(err, fs.ErrPermission) {
			g.logger.Info("the project's ledger is not readable by this user: querying its published folders",
				"ledger", p.Ledger, "published", strings.Join(p.Published, ","))
			return p.Published, nil
		} else if err == nil {
			fh.Close()
		}
	}
	return nil, nil
}
