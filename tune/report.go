package tune

// Report is what `privagg tune` prints: per output and metric, the
// candidates it compared and the values it recommends.
type Report struct {
	// Mode is "raw" (non-private: read the raw data, internal only) or
	// "dp" (clamp bounds chosen with a stated DP budget).
	Mode    string  `json:"mode"`
	Notice  string  `json:"notice"` // what the mode read and what may be done with the output
	Job     string  `json:"job"`
	Dataset string  `json:"dataset"`
	Epsilon float64 `json:"epsilon"` // the job's
	Delta   float64 `json:"delta"`
	// Charge is what DP mode spent of the dataset's budget (nil in raw
	// mode) and ChargeID the ledger entry that records it.
	Charge *Charge `json:"tuning_charge,omitempty"`
	// Histograms are DP mode's noisy histograms, one per (output, column).
	Histograms []Histogram    `json:"dp_histograms,omitempty"`
	Outputs    []OutputReport `json:"outputs"`
	Apply      []string       `json:"apply_notes,omitempty"`
	Fraction   float64        `json:"dp_fraction,omitempty"` // DP mode: the cumulative fraction get_bounds stops at
	// Focus is the metric the split serves first (raw mode, --focus), or "".
	Focus string `json:"focus,omitempty"`
}

// Histogram is one noisy histogram DP mode drew: an output's column, the
// epsilon it spent and how many times it was noised (1: every metric on
// the column reuses the draw). The charge is the sum of Epsilon × Draws.
type Histogram struct {
	Output  string  `json:"output"`
	Column  string  `json:"column"`
	Epsilon float64 `json:"epsilon"`
	Draws   int     `json:"draws"`
}

// Charge is a tuning charge in the ledger.
type Charge struct {
	ID      string  `json:"id"`
	Epsilon float64 `json:"epsilon"`
	Delta   float64 `json:"delta"`
}

// OutputReport is one output's recommendation.
type OutputReport struct {
	Name   string `json:"name"`
	Public bool   `json:"public_partitions"`
	// Raw mode only (internal): what the study read.
	People     int64 `json:"people,omitempty"`
	Pairs      int64 `json:"pairs,omitempty"`
	Partitions int64 `json:"partitions,omitempty"`

	L0             Choice[int64]   `json:"max_partitions_per_unit"`
	SelectionShare Choice[float64] `json:"selection_share"` // current and recommended 0 with public partitions
	Weight         Choice[float64] `json:"weight"`
	// ExpectedReleased is the expected number of released partitions at
	// the recommended values (raw mode).
	ExpectedReleased float64 `json:"expected_released,omitempty"`

	L0Candidates    []L0Candidate    `json:"l0_candidates,omitempty"`
	ShareCandidates []ShareCandidate `json:"selection_share_candidates,omitempty"`
	Metrics         []MetricReport   `json:"metrics"`
}

// Choice is a current and a recommended value.
type Choice[T any] struct {
	Current     T `json:"current"`
	Recommended T `json:"recommended"`
	// Auto says the job sets the current value to auto: the run estimates
	// it privately (Current is then only a placeholder).
	Auto bool `json:"current_auto,omitempty"`
}

// L0Candidate is one L0 the study compared, at the recommended selection
// share.
type L0Candidate struct {
	L0 int64 `json:"l0"`
	// Loss is the share of (person, partition) pairs dropped in
	// expectation when each person keeps a uniformly random L0 of their
	// partitions; LossReleased the share of people-in-partition lost in
	// the partitions expected to be released, bounding again among them
	// (two phases).
	Loss         float64 `json:"loss"`
	LossReleased float64 `json:"loss_released"`
	Released     float64 `json:"expected_released"`
	// PeopleNoise is the noise of a distinct-people count (count_units)
	// with an equal share of the output's metric budget.
	PeopleNoise Noise   `json:"people_noise"`
	Score       float64 `json:"score"`
}

// ShareCandidate is one selection share the study compared, at the
// recommended L0.
type ShareCandidate struct {
	Share       float64 `json:"selection_share"`
	Released    float64 `json:"expected_released"`
	PeopleNoise Noise   `json:"people_noise"`
	Score       float64 `json:"score"`
}

// MetricReport is one metric's recommendation.
type MetricReport struct {
	Name   string          `json:"name"`
	Type   string          `json:"type"`
	Weight Choice[float64] `json:"weight"`
	// Noise is the expected noise error at every recommended value
	// (bounds, L0, selection share and weights).
	Noise  Noise           `json:"noise"`
	Linf   *Choice[int64]  `json:"max_per_unit,omitempty"`
	Clamp  *Choice[Bounds] `json:"clamp,omitempty"`
	Method string          `json:"clamp_method,omitempty"` // how the recommended bounds were chosen
	// Candidates of Linf or of the clamp bounds, at the recommended L0 and
	// selection share with an equal share of the metric budget.
	Candidates []BoundCandidate `json:"candidates,omitempty"`
}

// Bounds are clamp bounds.
type Bounds struct {
	Min float64 `json:"min"`
	Max float64 `json:"max"`
}

// BoundCandidate is one Linf or clamp candidate.
type BoundCandidate struct {
	Linf   int64   `json:"max_per_unit,omitempty"`
	Bounds *Bounds `json:"clamp,omitempty"`
	Label  string  `json:"label"`
	// Loss is the share of rows (Linf) or of the absolute value mass of
	// people's partition totals (clamp) that the bound drops.
	Loss  float64 `json:"loss"`
	Noise Noise   `json:"noise"`
	Score float64 `json:"score"`
}
