package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/hookflow/hookflow/internal/sources"
)

const sourcesCheckUsage = "usage: hookflow sources check [--no-env] FILE"

// sourcesCheck: `hookflow sources check [--no-env] FILE` validates a
// sources file offline, as serve does at start (secrets included, unless
// --no-env), and prints every problem, or a table of the sources.
func sourcesCheck(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("sources check", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	noEnv := fs.Bool("no-env", false, "do not require the secrets' environment variables (checking a file away from its server)")
	if err := fs.Parse(args); err != nil || fs.NArg() != 1 {
		return usageError{sourcesCheckUsage}
	}
	path := fs.Arg(0)
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	srcs, err := sources.Parse(data)
	if err == nil && !*noEnv {
		err = sources.Resolve(srcs, os.Getenv)
	}
	if err != nil {
		lines := strings.Split(err.Error(), "\n")
		return fmt.Errorf("%s: %d problem(s):\n  %s", path, len(lines), strings.Join(lines, "\n  "))
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SOURCE\tPATH\tVERIFY\tBODY\tDEDUP\tKEY\tACCEPT\tMODE\tWORKFLOW\tTASK QUEUE\tWORKFLOW ID")
	for _, s := range srcs {
		dedup, key, accept := "body sha256", "-", "all"
		if s.Dedup != nil {
			dedup = s.Dedup.String()
		}
		if s.Key != nil {
			key = s.Key.String()
		}
		if len(s.Accept) > 0 {
			accept = strings.Join(s.Accept, ",")
		}
		mode := s.Target.Mode
		if mode == sources.ModeSignal {
			mode += " " + s.Target.Signal
		}
		fmt.Fprintf(tw, "%s\t/hooks/%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.Name, s.Path, s.Verify.Mode, s.Body, dedup, key, accept,
			mode, s.Target.Workflow, s.Target.TaskQueue, s.Target.WorkflowID)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: %d source(s), no problems\n", path, len(srcs))
	return nil
}
