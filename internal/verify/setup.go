package verify

// RejectsJob is the rejects listing's test job, shared by the embedded
// engine's and the Beam engine's tests so that both list the rejected rows
// of one job: it can reject a row for each of its columns (the privacy
// unit, the consent column, the source of a derived key and a metric's
// column).
const RejectsJob = `version: 1
name: rejects
dataset: d
purpose: marketing
input: {path: events.csv, max_reject_fraction: 0.9}
privacy_unit: user_id
consent: {column: consent_marketing}
columns:
  week: {from: ts, truncate: week}
privacy: {epsilon: 1, delta: 1e-6, k: 1, max_partitions_per_unit: 1}
outputs:
  - name: by_week
    group_by: [week]
    public_partitions: {week: ["2026-01-05"]}
    metrics: [{name: revenue, type: sum, column: revenue, min: 0, max: 100}]
output: {dir: out, format: csv}
ledger: ledger/privagg-ledger.duckdb
`
