package beamengine

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"

	"github.com/privagg/privagg/engine"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem"

	"github.com/privagg/privagg/privacy"
)

// The Beam pipelines write their results as JSON lines through textio; the
// driver reads them back here: the row counts of pass 1 (and its rejects
// listing, rejects.go) and the noised per-partition statistics of pass 2.

func statusTag(ev event, emit func(string)) {
	emit("read")
	switch ev.Status {
	case statusRejected:
		emit("rejected")
	case statusNoConsent:
		emit("excluded")
	}
}

func formatCount(tag string, n int) string { return fmt.Sprintf(`{"tag":%q,"n":%d}`, tag, n) }

// readLines reads a file written by textio.Write through Beam's filesystem
// (so gs:// and other schemes work too).
func readLines(ctx context.Context, path string, fn func([]byte) error) error {
	fs, err := filesystem.New(ctx, path)
	if err != nil {
		return err
	}
	defer fs.Close()
	r, err := fs.OpenRead(ctx, path)
	if err != nil {
		return err
	}
	defer r.Close()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		if len(sc.Bytes()) == 0 {
			continue
		}
		if err := fn(sc.Bytes()); err != nil {
			return err
		}
	}
	return sc.Err()
}

// readCounts reads pass 1's row counts.
func readCounts(ctx context.Context, path string) (engine.InputCounts, error) {
	counts := map[string]int64{}
	err := readLines(ctx, path, func(b []byte) error {
		var c struct {
			Tag string `json:"tag"`
			N   int64  `json:"n"`
		}
		if err := json.Unmarshal(b, &c); err != nil {
			return err
		}
		counts[c.Tag] = c.N
		return nil
	})
	if err != nil {
		return engine.InputCounts{}, fmt.Errorf("read row counts: %w", err)
	}
	return engine.InputCounts{Read: counts["read"], Rejected: counts["rejected"], Excluded: counts["excluded"],
		ConsentRead: counts["consent_read"], ConsentRejected: counts["consent_rejected"]}, nil
}

// collect reads the noised statistics and, for the outputs with bound
// estimates, the exact sums of what bounding dropped (droppedPath), which r
// noises; then it builds the Release.
func collect(ctx context.Context, path, droppedPath string, r *privacy.Releaser) (*privacy.Release, map[string]privacy.OutputStats, error) {
	plan := r.Plan()
	parts := make([]map[string]*privacy.NoisedPartition, len(plan.Outputs))
	seen := make([]map[string]map[string]bool, len(plan.Outputs)) // output -> part -> "metric/stat"
	for o := range parts {
		parts[o], seen[o] = map[string]*privacy.NoisedPartition{}, map[string]map[string]bool{}
	}
	err := readLines(ctx, path, func(b []byte) error {
		var l resultLine
		if err := json.Unmarshal(b, &l); err != nil {
			return err
		}
		if l.Output < 0 || l.Output >= len(plan.Outputs) || l.Metric < 0 || l.Metric >= len(plan.Outputs[l.Output].Metrics) {
			return fmt.Errorf("result for unknown output %d metric %d", l.Output, l.Metric)
		}
		op := &plan.Outputs[l.Output]
		p := parts[l.Output][l.Key]
		if p == nil {
			keys, null, err := decodePartKey(l.Key)
			if err != nil {
				return fmt.Errorf("partition key: %w", err)
			}
			p = &privacy.NoisedPartition{Key: keys, Null: null, Metrics: make([]privacy.NoisedMetric, len(op.Metrics))}
			for i := range p.Metrics {
				p.Metrics[i].Parts = make([]privacy.Noisy, len(op.Metrics[i].Components))
			}
			parts[l.Output][l.Key] = p
			seen[l.Output][l.Key] = map[string]bool{}
		}
		m := &p.Metrics[l.Metric]
		if l.Part < 0 || l.Part >= len(m.Parts) {
			return fmt.Errorf("result for unknown part %d of output %d metric %d", l.Part, l.Output, l.Metric)
		}
		seen[l.Output][l.Key][fmt.Sprintf("%d/%d", l.Metric, l.Part)] = true
		m.Parts[l.Part] = privacy.Noisy{Int: l.Int, Float: l.Float, Values: l.Floats}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("read results: %w", err)
	}
	var sums estimates
	if plan.Bounds != nil {
		if sums, err = readEstimates(ctx, droppedPath, len(plan.Outputs)); err != nil {
			return nil, nil, err
		}
	}
	for o, op := range plan.Outputs {
		if op.Bounds != nil {
			if err := estimateDropped(r, op, len(parts[o]), sums.sums[o]); err != nil {
				return nil, nil, err
			}
		}
		want := expectedStats(op)
		list := make([]privacy.NoisedPartition, 0, len(parts[o]))
		for k, p := range parts[o] {
			if len(seen[o][k]) != want {
				return nil, nil, fmt.Errorf("output %q: a partition lacks some of its %d statistics", op.Spec.Name, want)
			}
			list = append(list, *p)
		}
		st := privacy.OutputStats{Partitions: int64(len(list)), Released: int64(len(list))}
		if err := r.AddNoisedOutput(op.Spec.Name, list, st); err != nil {
			return nil, nil, err
		}
	}
	rel, err := r.Finish()
	if err != nil {
		return nil, nil, err
	}
	return rel, r.Stats(), nil
}

// expectedStats is the number of noised statistics per partition of op.
func expectedStats(op privacy.OutputPlan) int {
	n := 0
	for _, mp := range op.Metrics {
		n += len(mp.Components)
	}
	return n
}
