// Command wardwatch runs WardWatch: the web UI, the gateway ingestion
// endpoint, the location engine and the stores, in one process.
//
//	wardwatch serve   [-config FILE]          run WardWatch
//	wardwatch demo    [-config FILE]          run it with a simulated hospital
//	wardwatch migrate [-config FILE]          apply database migrations
//	wardwatch user add -username NAME [-role ROLE] [-config FILE]
//	wardwatch replay --gateways G.csv --sightings S.csv [--zones Z.geojson] [--config engine.yaml] [--truth T.csv] --out P.csv
//	wardwatch calibrate --gateways G.csv --sightings S.csv (--truth T.csv | --gateway-to-gateway) --out G2.csv
//	wardwatch version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr)
	stop()
	if errors.Is(err, errUsage) || errors.Is(err, flag.ErrHelp) {
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "wardwatch: %v\n", err)
		os.Exit(1)
	}
}

// errUsage means the command line was wrong; the usage has been printed.
var errUsage = errors.New("usage")

const usage = `Usage:
  wardwatch serve   [-config FILE]   run WardWatch
  wardwatch demo    [-config FILE]   run WardWatch with a simulated hospital
  wardwatch migrate [-config FILE]   apply database migrations and print the schema version
  wardwatch user add -username NAME [-role admin|facilities|nurse|viewer] [-config FILE]
                                     create a user with a generated password
  wardwatch replay --gateways G.csv --sightings S.csv [--zones Z.geojson]
                   [--config engine.yaml] [--truth T.csv] --out P.csv
                                     run the location engine over recorded sightings
  wardwatch calibrate --gateways G.csv --sightings S.csv (--truth T.csv | --gateway-to-gateway)
                      --out G2.csv   fit gateway radio parameters from a survey or from gateways
  wardwatch apply -f site.yaml [-dry-run] [-prune] [-config FILE]
                                     make the configuration match a site file
  wardwatch export [-o FILE] [-config FILE]
                                     write the configuration as a site file
  wardwatch version                  print the version

Configuration: see config.example.yaml; every key can be set with a WARDWATCH_… variable.
`

// run is the whole program; main only adapts it to the process.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) < 2 {
		fmt.Fprint(stderr, usage)
		return errUsage
	}
	cmd, rest := args[1], args[2:]
	switch cmd {
	case "serve":
		return runServe(ctx, rest, getenv, stdout, stderr)
	case "demo":
		return runDemo(ctx, rest, getenv, stdout, stderr)
	case "migrate":
		return runMigrate(ctx, rest, getenv, stdout, stderr)
	case "user":
		if len(rest) == 0 || rest[0] != "add" {
			fmt.Fprint(stderr, usage)
			return errUsage
		}
		return runUserAdd(ctx, rest[1:], getenv, stdout, stderr)
	case "replay":
		return runReplay(ctx, rest, getenv, stdout, stderr)
	case "calibrate":
		return runCalibrate(ctx, rest, getenv, stdout, stderr)
	case "apply":
		return runApply(ctx, rest, getenv, stdout, stderr)
	case "export":
		return runExport(ctx, rest, getenv, stdout, stderr)
	case "version":
		fmt.Fprintf(stdout, "wardwatch %s\n", version)
		return nil
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprintf(stderr, "wardwatch: unknown command %q\n\n%s", cmd, usage)
	return errUsage
}

// parseFlags parses a subcommand's flags, including -config, and loads the
// configuration.
func parseFlags(name string, args []string, getenv func(string) string, stderr io.Writer, define func(*flag.FlagSet)) (Config, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", getenv("WARDWATCH_CONFIG"), "configuration `file` (YAML); env WARDWATCH_CONFIG")
	if define != nil {
		define(fs)
	}
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "wardwatch %s: unexpected argument %q\n", name, fs.Arg(0))
		return Config{}, errUsage
	}
	return LoadConfig(*configPath, getenv)
}
