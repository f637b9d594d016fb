package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestApplyExportCommands runs apply (dry run, real, again) and export
// through run, as a user types them.
func TestApplyExportCommands(t *testing.T) {
	dir := t.TempDir()
	getenv := testEnv(dir, map[string]string{"PUMPS_COMMUNITY": "not-public-1"})
	site := filepath.Join(dir, "site.yaml")
	const file = `version: 1
floors:
  - {name: Ward 1, level: 1, width: 40, height: 20, plan: {file: plans/ward1.svg}}
zones:
  - {floor: Ward 1, name: "1-01", kind: room, polygon: [[0, 0], [5, 0], [5, 4], [0, 4]]}
assets:
  - {name: Bed 7, kind: bed, tags: ["mac:0123456789ab"]}
device_profiles:
  - {kind: modbus, name: site-th, file: profiles/site-th.yaml}
snmp_targets:
  - {name: Pumps, address: 10.0.0.5, version: v2c, community: {env: PUMPS_COMMUNITY}, profile: wardwatch-example-pump-server,
     interval: 15s, timeout: 2s}
`
	if err := os.WriteFile(site, []byte(file), 0o644); err != nil {
		t.Fatal(err)
	}
	const svg = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 40 20"><rect width="40" height="20" fill="none" stroke="black"/></svg>`
	for name, data := range map[string]string{"plans/ward1.svg": svg,
		"profiles/site-th.yaml": "name: site-th\nfields:\n  - {name: t, metric: temperature, table: input_register, address: 1, type: int16, scale: 0.1}\n"} {
		os.MkdirAll(filepath.Join(dir, filepath.Dir(name)), 0o755)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := func(args ...string) (string, error) {
		var out, errOut bytes.Buffer
		err := run(t.Context(), append([]string{"wardwatch"}, args...), getenv, &out, &errOut)
		return out.String() + errOut.String(), err
	}
	if err := run(t.Context(), []string{"wardwatch", "migrate"}, getenv, &bytes.Buffer{}, &bytes.Buffer{}); err != nil {
		t.Fatalf("migrate: %v", err)
	}

	out, err := cmd("apply", "-f", site, "-dry-run")
	if err != nil || !strings.Contains(out, "+ create floor Ward 1") || !strings.Contains(out, "Dry run: nothing was changed.") {
		t.Fatalf("apply -dry-run: %v\n%s", err, out)
	}
	out, err = cmd("export")
	if err != nil || strings.Contains(out, "Ward 1") {
		t.Fatalf("export after a dry run: %v\n%s", err, out)
	}
	out, err = cmd("apply", "-f", site)
	if err != nil || !strings.Contains(out, "+ create tag mac:0123456789ab") || !strings.Contains(out, "+ create floor plan Ward 1") ||
		!strings.Contains(out, "+ create device profile modbus / site-th") || !strings.Contains(out, "Applied 7 changes.") {
		t.Fatalf("apply: %v\n%s", err, out)
	}
	out, err = cmd("apply", "-f", site)
	if err != nil || !strings.Contains(out, "No changes") {
		t.Fatalf("second apply: %v\n%s", err, out)
	}

	out, err = cmd("export")
	if err != nil || !strings.HasPrefix(out, "# The plan images of 1 floors are not exported here") || strings.Contains(out, "plan:") {
		t.Fatalf("export to stdout: %v\n%s", err, out)
	}
	os.Mkdir(filepath.Join(dir, "out"), 0o755)
	exported := filepath.Join(dir, "out", "exported.yaml")
	if _, err := cmd("export", "-o", exported); err != nil {
		t.Fatalf("export -o: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "out", "plans", "ward-1.svg")); err != nil || string(b) != svg {
		t.Fatalf("exported plan: %v %q", err, b)
	}
	data, err := os.ReadFile(exported)
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	if strings.Contains(text, "not-public-1") || !strings.Contains(text, "community: {env: WARDWATCH_SNMP_PUMPS_COMMUNITY} # secret: the value is not exported") ||
		!strings.Contains(text, "plan: {file: plans/ward-1.svg}") || !strings.Contains(text, "source: |\n      name: site-th\n") {
		t.Fatalf("export:\n%s", text)
	}

	// The export applies back as no change once its variable is set.
	getenv = testEnv(dir, map[string]string{"WARDWATCH_SNMP_PUMPS_COMMUNITY": "not-public-1"})
	out, err = cmd("apply", "-f", exported, "-prune")
	if err != nil || !strings.Contains(out, "No changes") {
		t.Fatalf("apply of the export: %v\n%s", err, out)
	}

	// A bad file names its line and changes nothing.
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("version: 1\nzones:\n  - {floor: Ward 1, name: X, kind: ballroom, polygon: [[0,0],[1,0],[1,1]]}\n"), 0o644)
	if out, err := cmd("apply", "-f", bad); err == nil || !strings.Contains(err.Error(), `bad.yaml:3: zone Ward 1 / X: unknown kind "ballroom"`) {
		t.Fatalf("apply of a bad file: %v\n%s", err, out)
	}
	if _, err := cmd("apply"); err != errUsage {
		t.Fatalf("apply without -f: %v, want errUsage", err)
	}
}

// TestServeAppliesSiteFile: with provision.file set, serve applies the
// site file before it starts, and a bad file stops it with the file's
// line.
func TestServeAppliesSiteFile(t *testing.T) {
	dir := t.TempDir()
	site := filepath.Join(dir, "site.yaml")
	if err := os.WriteFile(site, []byte("version: 1\nfloors:\n  - {name: Ward 9, level: 9, width: 40, height: 20}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	getenv := testEnv(dir, map[string]string{"WARDWATCH_PROVISION_FILE": site})
	ctx, cancel := context.WithCancel(t.Context())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := run(ctx, []string{"wardwatch", "serve"}, getenv, pw, io.Discard)
		pw.CloseWithError(fmt.Errorf("serve returned: %v", err))
		done <- err
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil || !strings.Contains(line, "running at") {
		cancel()
		t.Fatalf("serve: %q, %v", line, err)
	}
	go io.Copy(io.Discard, pr)
	cfg, err := LoadConfig("", getenv)
	if err != nil {
		t.Fatal(err)
	}
	store, err := openStore(ctx, cfg, newLogger(cfg.Log, io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	floors, err := store.Floors(ctx)
	store.Close()
	cancel()
	if serr := <-done; serr != nil {
		t.Errorf("serve: %v", serr)
	}
	if err != nil || len(floors) != 1 || floors[0].Name != "Ward 9" {
		t.Fatalf("floors after start-up: %+v, %v", floors, err)
	}

	if err := os.WriteFile(site, []byte("version: 1\nfloors:\n  - {name: Ward 9, level: nine}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	err = run(t.Context(), []string{"wardwatch", "serve"}, getenv, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "site.yaml:3") {
		t.Errorf("serve with a bad site file: %v", err)
	}
}
