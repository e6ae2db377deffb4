package job

import (
	"errors"
	"strings"
	"testing"

	"github.com/privagg/privagg/privacy"
)

// auto bounds: the word replaces a bound anywhere a bound is set, outputs
// inherit privacy's, and the budget of the estimates defaults when some
// bound is auto.
func TestLoadJobAutoBounds(t *testing.T) {
	clearEnv(t)
	j, err := LoadJob(writeJob(t, `
version: 1
name: auto
dataset: web_events
purpose: marketing
input: {path: events.csv}
privacy_unit: user_id
consent: {column: consent_marketing}
privacy: {epsilon: 1, delta: 1e-6, max_partitions_per_unit: Auto}
outputs:
  - name: inherits
    group_by: [country]
    metrics:
      - {name: events, type: count, max_per_unit: auto}
      - {name: revenue, type: sum, column: revenue, min: 5, max: auto}
      - {name: spend, type: sum, column: spend, min: auto, max: -2}
  - name: own
    group_by: [channel]
    max_partitions_per_unit: 4
    metrics: [{name: people, type: count_units}]
output: {dir: out}
`))
	if err != nil {
		t.Fatal(err)
	}
	if !j.Privacy.AutoMaxPartitions || j.Privacy.BoundsShare != privacy.DefaultBoundsShare {
		t.Errorf("privacy = %+v, want auto L0 and the default bounds share", j.Privacy)
	}
	if o := j.Outputs[0]; !o.AutoMaxPartitions || !o.Metrics[0].Auto.MaxPerUnit || !o.Metrics[1].Auto.Max || o.Metrics[1].Auto.Min {
		t.Errorf("output 0 = %+v, want auto L0, max_per_unit and max", o)
	}
	// The placeholders fit the bound that is set.
	if m := j.Outputs[0].Metrics[1]; *m.Min != 5 || !(*m.Max > 5) {
		t.Errorf("revenue placeholders [%v, %v] must keep min 5 and lie above it", *m.Min, *m.Max)
	}
	if m := j.Outputs[0].Metrics[2]; *m.Max != -2 || !(*m.Min < -2) {
		t.Errorf("spend placeholders [%v, %v] must keep max -2 and lie below it", *m.Min, *m.Max)
	}
	if o := j.Outputs[1]; o.AutoMaxPartitions || o.MaxPartitionsPerUnit != 4 {
		t.Errorf("output 1 sets its own L0: %+v", o)
	}
	spec := j.PrivacySpec()
	if !spec.HasAuto() || spec.BoundsShare != privacy.DefaultBoundsShare || !spec.Outputs[0].AutoL0 {
		t.Errorf("privacy spec = %+v", spec)
	}
}

func TestLoadJobAutoRules(t *testing.T) {
	clearEnv(t)
	for _, tc := range []struct {
		name, privacy, metric, want string
	}{
		{"no budget for the estimates", "{epsilon: 1, delta: 1e-6, bounds_share: 0}", "{name: events, type: count, max_per_unit: auto}",
			"privacy.bounds_share: 0 must be > 0 when a bound is auto"},
		{"share too large", "{epsilon: 1, delta: 1e-6, bounds_share: 0.9}", "{name: events, type: count}",
			"privacy.bounds_share: 0.9 must be in [0, 0.5]"},
		{"auto where no bound is", "{epsilon: auto, delta: 1e-6}", "{name: events, type: count}",
			"privacy.epsilon"},
		{"a typo of auto", "{epsilon: 1, delta: 1e-6, max_partitions_per_unit: atuo}", "{name: events, type: count}",
			"privacy.max_partitions_per_unit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadJob(writeJob(t, strings.Replace(strings.Replace(minimalJob,
				"privacy: {epsilon: 1, delta: 1e-6}", "privacy: "+tc.privacy, 1),
				"metrics: [{name: events, type: count}]", "metrics: ["+tc.metric+"]", 1)))
			var ce *ConfigError
			if !errors.As(err, &ce) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want a ConfigError with %q", err, tc.want)
			}
		})
	}
}
