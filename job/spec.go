package job

import "github.com/privagg/privagg/privacy"

// PrivacySpec is the privacy-relevant part of the job, for privacy.NewPlan.
// It copies the loaded job: LoadJob has applied every default.
func (j *Job) PrivacySpec() privacy.JobSpec {
	spec := privacy.JobSpec{
		Epsilon: j.Privacy.Epsilon,
		Delta:   j.Privacy.Delta,
		Noise:   j.Privacy.Noise,
		K:       j.Privacy.K,

		BoundsShare: j.Privacy.BoundsShare,
	}
	for i := range j.Outputs {
		spec.Outputs = append(spec.Outputs, j.outputSpec(&j.Outputs[i]))
	}
	return spec
}

// outputSpec is the privacy-relevant part of output o.
func (j *Job) outputSpec(o *Output) privacy.OutputSpec {
	os := privacy.OutputSpec{
		Name:                 o.Name,
		GroupBy:              o.GroupBy,
		MaxPartitionsPerUnit: o.MaxPartitionsPerUnit,
		PublicPartitions:     o.PublicKeysOnly(),
		Weight:               o.Weight,
		SelectionShare:       o.SelectionShare,
		Selection:            o.Selection,
		AutoL0:               o.AutoMaxPartitions,
	}
	if c := o.Consistency; c != nil {
		os.Consistency = &privacy.Consistency{UnitsLeRows: c.UnitsLeRows, RollupOf: c.RollupOf}
	}
	for i := range o.Metrics {
		os.Metrics = append(os.Metrics, o.Metrics[i].spec())
	}
	return os
}

// spec is the metric as the privacy layer sees it.
func (m *Metric) spec() privacy.MetricSpec {
	ms := privacy.MetricSpec{Name: m.Name, Kind: privacy.MetricKind(m.Type), Column: m.Column, MaxPerUnit: m.MaxPerUnit, Ranks: m.Ranks, Weight: m.Weight, Auto: m.Auto}
	if m.Min != nil {
		ms.Min = *m.Min
	}
	if m.Max != nil {
		ms.Max = *m.Max
	}
	if kind, ok := privacy.LookupMetric(ms.Kind); ok && kind.Fields().MaxPerUnit && ms.MaxPerUnit == 0 {
		ms.MaxPerUnit = DefaultCountMaxPerUnit
	}
	return ms
}
