package provision

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/floorplan"
)

// PlanRef names a floor's plan image: a PNG, JPEG or SVG file, its path
// relative to the site file.
type PlanRef struct {
	File string `yaml:"file"`
}

// MarshalYAML writes the reference on one line.
func (r PlanRef) MarshalYAML() (any, error) {
	return &yaml.Node{Kind: yaml.MappingNode, Style: yaml.FlowStyle, Content: []*yaml.Node{str("file"), str(r.File)}}, nil
}

// planImage is a plan image read for a floor of the file.
type planImage struct {
	file   string
	plan   wardwatch.FloorPlan
	aspect float64 // height / width
}

// planInfo is what the audit log and plan show of an image: never its
// bytes.
type planInfo struct {
	File        string `json:"file,omitempty"`
	ContentType string `json:"content_type"`
	Bytes       int    `json:"bytes"`
	SHA256      string `json:"sha256"`
}

func infoOf(file string, p wardwatch.FloorPlan) planInfo {
	sum := sha256.Sum256(p.Data)
	return planInfo{File: file, ContentType: p.ContentType, Bytes: len(p.Data), SHA256: hex.EncodeToString(sum[:])}
}

// readPlans reads and checks the plan images of the file's floors, and
// sets each such floor's height from its plan's aspect ratio, as the
// upload page does. A height given in the file must agree within 1%.
func (p *planner) readPlans() {
	p.plans = make(map[string]planImage)
	for i := range p.want.Floors {
		f := &p.want.Floors[i]
		if f.Plan == nil {
			continue
		}
		if p.opts.ReadFile == nil {
			p.errs.add("floors", i, "floor %q: plan files cannot be read here", f.Name)
			continue
		}
		path := f.Plan.File
		if !filepath.IsAbs(path) {
			path = filepath.Join(p.opts.Dir, path)
		}
		data, err := p.opts.ReadFile(path)
		if err != nil {
			p.errs.add("floors", i, "floor %q: cannot read plan %s", f.Name, f.Plan.File)
			continue
		}
		ct, aspect, err := floorplan.CheckPlan(data)
		if err != nil {
			p.errs.add("floors", i, "floor %q: plan %s: %s", f.Name, f.Plan.File, wardwatch.ErrorMessage(err))
			continue
		}
		h := f.Width * aspect
		if h <= 0 || h > 5000 || math.IsNaN(h) {
			p.errs.add("floors", i, "floor %q: plan %s makes the floor %.1f m deep: want at most 5000 m", f.Name, f.Plan.File, h)
			continue
		}
		if f.Height != 0 && math.Abs(f.Height-h) > 0.01*h {
			p.errs.add("floors", i, "floor %q: height %g m does not match plan %s, which makes it %.2f m deep at %g m wide (leave height out)",
				f.Name, f.Height, f.Plan.File, h, f.Width)
			continue
		}
		f.Height = h
		p.plans[f.Name] = planImage{file: f.Plan.File, plan: wardwatch.FloorPlan{ContentType: ct, Data: data}, aspect: aspect}
	}
}

// floorPlans sets the plans that differ from the stored ones. Plans the
// file does not give are left alone: provisioning cannot remove a plan.
func (p *planner) floorPlans() {
	for i, f := range p.want.Floors {
		img, ok := p.plans[f.Name]
		if !ok {
			continue
		}
		old, had := p.cur.plans[f.Name]
		if had && old.ContentType == img.plan.ContentType && bytes.Equal(old.Data, img.plan.Data) {
			continue
		}
		c := Change{Action: "create", Subject: "floor_plan", Key: f.Name, Where: p.want.where("floors", i), new: infoOf(img.file, img.plan),
			Detail: fmt.Sprintf("%s, %d bytes", img.plan.ContentType, len(img.plan.Data)),
			run: func(ctx context.Context) (string, error) {
				fid := p.cur.floorID[f.Name]
				return id(fid), p.st.SetFloorPlan(ctx, fid, img.plan)
			}}
		if had {
			c.Action, c.old = "update", infoOf("", old)
		}
		p.upsert(c)
	}
}

// ExportOptions control what Export writes besides the site file.
type ExportOptions struct {
	// WritePlan writes a floor plan image at path (relative to the site
	// file, "plans/<floor>.svg"); the floors then name their plans. nil:
	// images are not written, floors name no plan, and the file says so
	// in a comment.
	WritePlan func(path string, data []byte) error
}

// ExportWith is Export with floor plan images written through
// opts.WritePlan.
func ExportWith(ctx context.Context, st Store, w io.Writer, opts ExportOptions) error {
	s, err := load(ctx, st)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	var skipped int
	used := make(map[string]bool)
	for i := range s.site.Floors {
		f := &s.site.Floors[i]
		plan, ok := s.plans[f.Name]
		if !ok {
			continue
		}
		if opts.WritePlan == nil {
			skipped++
			continue
		}
		path := planPath(f.Name, plan.ContentType, used)
		if err := opts.WritePlan(path, plan.Data); err != nil {
			return fmt.Errorf("export plan of floor %q: %w", f.Name, err)
		}
		f.Plan = &PlanRef{File: path}
	}
	b, err := Marshal(s.site)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	if skipped > 0 {
		note := fmt.Sprintf("# The plan images of %d floors are not exported here (export with -o DIR/site.yaml to write them\n"+
			"# beside the file); applying this file leaves the stored plans alone.\n", skipped)
		b = append([]byte(note), b...)
	}
	_, err = w.Write(b)
	return err
}

// planPath is the file a floor's plan is exported to: plans/<slug>.<ext>,
// made unique among used.
func planPath(floor, contentType string, used map[string]bool) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(floor) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	slug := strings.TrimSuffix(b.String(), "-")
	if slug == "" {
		slug = "floor"
	}
	ext := map[string]string{"image/svg+xml": ".svg", "image/png": ".png", "image/jpeg": ".jpg"}[contentType]
	if ext == "" {
		ext = ".img"
	}
	path := "plans/" + slug + ext
	for n := 2; used[path]; n++ {
		path = fmt.Sprintf("plans/%s-%d%s", slug, n, ext)
	}
	used[path] = true
	return path
}
