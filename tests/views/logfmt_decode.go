// Reads logfmt lines on stdin with go-logfmt (github.com/go-logfmt/logfmt,
// the decoder Go kit and Grafana Loki use; Debian's
// golang-github-go-logfmt-logfmt-dev) and prints each line's pairs as one
// JSON object per line, for tests/views_logfmt.rs.
package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/go-logfmt/logfmt"
)

func main() {
	dec := logfmt.NewDecoder(os.Stdin)
	out := json.NewEncoder(os.Stdout)
	for dec.ScanRecord() {
		pairs := map[string]string{}
		for dec.ScanKeyval() {
			pairs[string(dec.Key())] = string(dec.Value())
		}
		if err := out.Encode(pairs); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	if err := dec.Err(); err != nil {
		fmt.Fprintln(os.Stderr, "logfmt:", err)
		os.Exit(1)
	}
}
