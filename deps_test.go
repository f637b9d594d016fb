package wardwatch_test

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/wardwatch/wardwatch"

// pure are the packages of the deterministic core: no I/O, no goroutines.
var pure = map[string]bool{
	module:                          true,
	module + "/floorplan":           true,
	module + "/tracker":             true,
	module + "/tracker/calibrate":   true,
	module + "/tracker/fingerprint": true,
	module + "/health":              true,
	module + "/alerts":              true,
}

// allowedAdapterImports are the deliberate exceptions to "adapters import
// only the root and the pure packages".
var allowedAdapterImports = map[string]bool{
	module + "/web -> " + module + "/auth": true, // sign-in checks passwords and issues session tokens
}

// TestDependencyRule enforces DESIGN.md's layering with go list: the root
// imports nothing of ours; the pure core imports only the root and the pure
// core; adapters import only the root and the pure core; only cmd/ wires
// adapters together.
func TestDependencyRule(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, module+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg, imports := fields[0], fields[1:]
		if strings.HasPrefix(pkg, module+"/cmd/") {
			continue
		}
		for _, imp := range imports {
			if imp != module && !strings.HasPrefix(imp, module+"/") {
				continue // standard library and third-party modules
			}
			switch {
			case pkg == module:
				t.Errorf("the root package imports %s; it must import only the standard library", imp)
			case pure[pkg] && !pure[imp]:
				t.Errorf("pure package %s imports %s; the core may import only the root and the core", pkg, imp)
			case !pure[pkg] && !pure[imp] && !allowedAdapterImports[pkg+" -> "+imp]:
				t.Errorf("adapter %s imports adapter %s; only cmd/ wires adapters together", pkg, imp)
			}
		}
	}
}

// TestCoreStaysStandardLibrary checks the root package imports nothing
// outside the standard library, directly or indirectly.
func TestCoreStaysStandardLibrary(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", `{{if not .Standard}}{{.ImportPath}}{{end}}`, module).Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		if dep != module {
			t.Errorf("the root package depends on %s", dep)
		}
	}
}
