package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/auth"
	"github.com/wardwatch/wardwatch/provision"
	"github.com/wardwatch/wardwatch/sql"
)

// authPasswords hashes provisioned users' passwords with auth's bcrypt.
type authPasswords struct{}

func (authPasswords) Hash(password string) (string, error) { return auth.HashPassword(password) }
func (authPasswords) HashToken(token string) []byte        { return auth.HashToken(token) }
func (authPasswords) Check(hash, password string) bool     { return auth.CheckPassword(hash, password) }

// readSiteFile reads a site file, refusing one too large to be one.
func readSiteFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, provision.MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return data, nil
}

// runApply is "wardwatch apply -f site.yaml [-dry-run] [-prune]": it makes
// the configuration store match the site file, printing each change.
// planSite reads and checks a site file and plans the changes that would
// make the store match it.
func planSite(ctx context.Context, store *sql.Store, file string, prune bool, getenv func(string) string) (*provision.Plan, error) {
	data, err := readSiteFile(file)
	if err != nil {
		return nil, fmt.Errorf("apply: %w", err)
	}
	site, err := provision.Parse(filepath.Base(file), data)
	if err != nil {
		return nil, fmt.Errorf("apply: the file is not valid:\n%s", errorText(err))
	}
	plan, err := provision.NewPlan(ctx, store, site, provision.Options{Prune: prune, Getenv: getenv, ReadFile: os.ReadFile, Passwords: authPasswords{},
		Dir: filepath.Dir(file), ValidateProfile: validateProfile})
	if err != nil {
		return nil, fmt.Errorf("apply: nothing was changed:\n%s", errorText(err))
	}
	return plan, nil
}

// applyAtStart applies provision.file before the service starts (never
// pruning): the configuration kept in version control wins over edits
// made in the UI to the same objects; everything else is left alone.
func applyAtStart(ctx context.Context, store *sql.Store, file string, getenv func(string) string, logger *slog.Logger) error {
	plan, err := planSite(ctx, store, file, false, getenv)
	if err != nil {
		return err
	}
	if plan.Empty() {
		logger.Info("site file applied: nothing to change", "file", file)
		return nil
	}
	n, err := plan.Apply(ctx, store)
	if err != nil {
		return fmt.Errorf("apply %s: %d of %d changes made, then: %s", file, n, len(plan.Changes), errorText(err))
	}
	logger.Info("site file applied", "file", file, "changes", n)
	return nil
}

func runApply(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var (
		file          string
		dryRun, prune bool
	)
	cfg, err := parseFlags("apply", args, getenv, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&file, "f", "", "the site `file` to apply (YAML; see provision/FORMAT.md)")
		fs.BoolVar(&dryRun, "dry-run", false, "print the changes without making them")
		fs.BoolVar(&prune, "prune", false, "also delete what the file does not list (printed first)")
	})
	if err != nil {
		return err
	}
	if file == "" {
		fmt.Fprintln(stderr, "wardwatch apply: -f FILE is required")
		return errUsage
	}
	logger := newLogger(cfg.Log, stderr)
	store, err := openStore(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer store.Close()
	plan, err := planSite(ctx, store, file, prune, getenv)
	if err != nil {
		return err
	}
	if err := plan.Write(stdout); err != nil {
		return err
	}
	if dryRun || plan.Empty() {
		if dryRun {
			fmt.Fprintln(stdout, "Dry run: nothing was changed.")
		}
		return nil
	}
	n, err := plan.Apply(ctx, store)
	if err != nil {
		return fmt.Errorf("apply: %d of %d changes made, then: %s", n, len(plan.Changes), errorText(err))
	}
	fmt.Fprintf(stdout, "Applied %d changes.\n", n)
	return nil
}

// runExport is "wardwatch export [-o FILE]": it writes the configuration
// as a site file, secrets as references only. With -o, floor plan images
// are written beside the file (plans/<floor>.svg); on standard output a
// comment says they were left out.
func runExport(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var out string
	cfg, err := parseFlags("export", args, getenv, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&out, "o", "", "write to `file` instead of standard output")
	})
	if err != nil {
		return err
	}
	logger := newLogger(cfg.Log, stderr)
	store, err := openStore(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer store.Close()
	var (
		buf  bytes.Buffer
		opts provision.ExportOptions
	)
	if out != "" {
		dir := filepath.Dir(out)
		opts.WritePlan = func(path string, data []byte) error {
			full := filepath.Join(dir, filepath.FromSlash(path))
			if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
				return err
			}
			tmp := full + ".tmp"
			if err := os.WriteFile(tmp, data, 0o644); err != nil {
				return err
			}
			if err := os.Rename(tmp, full); err != nil {
				os.Remove(tmp)
				return err
			}
			return nil
		}
	}
	if err := provision.ExportWith(ctx, store, &buf, opts); err != nil {
		return fmt.Errorf("export: %s", errorText(err))
	}
	if out == "" {
		_, err = stdout.Write(buf.Bytes())
		return err
	}
	tmp := out + ".tmp"
	if err := os.WriteFile(tmp, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	if err := os.Rename(tmp, out); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("export: %w", err)
	}
	return nil
}

// errorText is an error as the command line shows it: the user-facing
// message of a *wardwatch.Error, the error itself otherwise.
func errorText(err error) string {
	if wardwatch.ErrorCode(err) != wardwatch.EINTERNAL {
		return wardwatch.ErrorMessage(err)
	}
	return err.Error()
}
