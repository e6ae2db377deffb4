package job_test

import (
	"errors"
	"fmt"

	"github.com/privagg/privagg/job"
)

// A job file is decoded strictly, given its defaults and validated; relative
// paths resolve against the folder passed in.
func ExampleLoadJobBytes() {
	j, err := job.LoadJobBytes([]byte(`
version: 1
name: weekly
dataset: web_events
purpose: marketing
input: {path: events.csv}
privacy_unit: user_id
consent: {column: consent_marketing}
privacy: {epsilon: 1, delta: 1e-6}
outputs:
  - name: by_country
    group_by: [country]
    metrics: [{name: events, type: count}]
output: {dir: out}
`), "/data/jobs")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("input:", j.Input.Path, j.Input.Format)
	fmt.Println("output:", j.Output.Dir, j.Output.Format)
	fmt.Println("metric:", j.Outputs[0].Metrics[0].Name, j.Outputs[0].Metrics[0].MaxPerUnit)
	// Output:
	// input: /data/jobs/events.csv csv
	// output: /data/jobs/out parquet
	// metric: events 1
}

// Every problem of a job file is reported at once, each with its key.
func ExampleLoadJobBytes_problems() {
	_, err := job.LoadJobBytes([]byte("version: 1\nname: weekly\nprivacy: {epsilon: -1}\n"), "/data/jobs")
	var ce *job.ConfigError
	if errors.As(err, &ce) {
		for _, p := range ce.Problems {
			fmt.Println(p)
		}
	}
	// Output:
	// dataset: is required
	// purpose: is required
	// privacy_unit: is required
	// input.path: is required
	// consent: is required: set column (a consent column of the events), table (a consent file) or waived (the reason this data needs no consent filter)
	// privacy.epsilon: -1 must be > 0 and finite
	// outputs: is required: list at least one output
	// output.dir: is required
}
