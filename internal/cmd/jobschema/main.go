// Command jobschema writes the JSON Schema of the privagg job file
// (job.JSONSchema) to the file -o names, or to stdout. `make schema` and
// `go generate ./job` run it to refresh configs/job.schema.json.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/privagg/privagg/job"
)

func main() {
	out := flag.String("o", "", "file to write (default stdout)")
	flag.Parse()
	if err := run(*out); err != nil {
		fmt.Fprintln(os.Stderr, "jobschema:", err)
		os.Exit(1)
	}
}

func run(out string) error {
	schema, err := job.JSONSchema()
	if err != nil {
		return err
	}
	if out == "" {
		_, err = os.Stdout.Write(schema)
		return err
	}
	return os.WriteFile(out, schema, 0o644)
}
