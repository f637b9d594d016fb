package snmp

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"reflect"
	"strings"
	"testing"
)

// TestReadOnly checks the package never writes to an agent: no call of a
// method named Set or SendTrap, and no use of gosnmp's SetRequest PDU
// type, in any non-test file. WardWatch must never SNMP SET medical
// equipment; the reader interface the polls use has no Set either.
func TestReadOnly(t *testing.T) {
	fset := token.NewFileSet()
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		checked++
		ast.Inspect(f, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			switch sel.Sel.Name {
			case "Set", "SendTrap", "SetRequest", "SetTrapSecurityParametersTable":
				if id, ok := sel.X.(*ast.Ident); ok && id.Name == "prometheus" {
					return true
				}
				// Gauge.Set on a metric is not an SNMP SET: allow only
				// receivers named in the metrics struct.
				if x, ok := sel.X.(*ast.SelectorExpr); ok && sel.Sel.Name == "Set" {
					if inner, ok := x.X.(*ast.SelectorExpr); ok && inner.Sel.Name == "m" {
						return true
					}
				}
				t.Errorf("%s: %s.%s: the SNMP collector must never write to an agent", fset.Position(sel.Pos()), exprString(sel.X), sel.Sel.Name)
			}
			return true
		})
	}
	if checked == 0 {
		t.Fatal("no source files checked")
	}
	// The interface polls go through cannot SET.
	if _, ok := reflect.TypeFor[reader]().MethodByName("Set"); ok {
		t.Error("reader has a Set method")
	}
}

func exprString(e ast.Expr) string {
	switch x := e.(type) {
	case *ast.Ident:
		return x.Name
	case *ast.SelectorExpr:
		return exprString(x.X) + "." + x.Sel.Name
	}
	return "…"
}
