package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestRun runs a small load in both modes against a private Mosquitto.
func TestRun(t *testing.T) {
	if _, err := exec.LookPath("mosquitto_sub"); err != nil {
		need(t, "mosquitto_sub")
	}
	if os.Getenv("WARDWATCH_TEST_MOSQUITTO") == "" {
		if _, err := exec.LookPath("mosquitto"); err != nil {
			if _, err := exec.LookPath("/usr/sbin/mosquitto"); err != nil {
				need(t, "mosquitto")
			}
		}
	}
	for _, args := range [][]string{
		{"-n", "500"},
		{"-n", "500", "-qos", "0"},
		{"-n", "500", "-mode", "drain"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			var out, errOut bytes.Buffer
			if err := run(context.Background(), args, os.Getenv, &out, &errOut); err != nil {
				t.Fatalf("run: %v\nstdout:\n%s\nstderr:\n%s", err, &out, &errOut)
			}
			for _, want := range []string{"publish", "mosquitto_sub", "wardwatch", "ratio wardwatch / mosquitto_sub:"} {
				if !strings.Contains(out.String(), want) {
					t.Errorf("output lacks %q:\n%s", want, &out)
				}
			}
		})
	}
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"-mode", "drain", "-qos", "0"}, os.Getenv, &out, &errOut); err == nil {
		t.Error("drain mode with QoS 0 accepted")
	}
}

func need(t *testing.T, tool string) {
	t.Helper()
	msg := tool + " not found (run scripts/ensure-mosquitto.sh)"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}
