package web

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/wardwatch/wardwatch"
)

// importStore is an AdminStore that validates like the real one and
// counts what it is given.
type importStore struct {
	AdminStore
	assets, tags int
}

func (s *importStore) CreateAsset(_ context.Context, a *wardwatch.Asset) error {
	if strings.TrimSpace(a.Name) == "" || !a.Kind.Valid() || (a.Status != "" && !a.Status.Valid()) {
		return wardwatch.Errorf(wardwatch.EINVALID, "invalid asset")
	}
	s.assets++
	a.ID = int64(s.assets)
	return nil
}

func (s *importStore) CreateTag(_ context.Context, t wardwatch.Tag) error {
	if t.ID == "" {
		return wardwatch.Errorf(wardwatch.EINVALID, "empty tag")
	}
	s.tags++
	return nil
}

func TestImportAssets(t *testing.T) {
	st := &importStore{}
	c := &configAdmin{logger: slog.New(slog.DiscardHandler), admin: st, loc: time.UTC}
	rep, err := c.importAssets(context.Background(), strings.NewReader(
		"\ufeffName,KIND,tags\nPump,infusion_pump,a;b; ;\nX,toaster,\n,bed,\nBed,bed\n"))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Created != 2 || st.tags != 2 || len(rep.Errors) != 2 ||
		!strings.HasPrefix(rep.Errors[0], "line 3:") || !strings.HasPrefix(rep.Errors[1], "line 4:") {
		t.Fatalf("report %+v, tags %d", rep, st.tags)
	}
	for _, bad := range []string{"", "kind\nbed\n", "name\nx\n", "name,kind,colour\n"} {
		if _, err := c.importAssets(context.Background(), strings.NewReader(bad)); wardwatch.ErrorCode(err) != wardwatch.EINVALID {
			t.Errorf("import %q: %v, want EINVALID", bad, err)
		}
	}
}

func FuzzImportAssets(f *testing.F) {
	f.Add("name,kind,status,asset_tag,serial,pm_due,tags\nPump,infusion_pump,available,A1,S1,2027-01-01,ibeacon:x:1:1\n")
	f.Add("name,kind,serial,udi,manufacturer,model\nPump,infusion_pump,S1,(01)10614141000019(21)S1,Harbourline,LVP-200\nX,bed,,+A123BJC5D6E71G,,\n")
	f.Add("name,kind\n\"a\nb\",bed\n")
	f.Add("name,kind\n\"unclosed,bed\n")
	f.Add("name,kind,pm_due\nx,bed,2027-13-45\n")
	f.Add("\ufeffname,kind\n,,,,\n")
	f.Fuzz(func(t *testing.T, data string) {
		st := &importStore{}
		c := &configAdmin{logger: slog.New(slog.DiscardHandler), admin: st, loc: time.UTC}
		rep, err := c.importAssets(context.Background(), strings.NewReader(data))
		if err == nil && rep.Created != st.assets {
			t.Fatalf("reported %d created, store got %d", rep.Created, st.assets)
		}
	})
}
