package tracker

import (
	"math"

	"github.com/wardwatch/wardwatch"
)

// Fingerprinter locates a tag from the RSSI it is heard with, by matching
// it against a radio map recorded by a survey (k nearest neighbours in
// signal space, for instance). *fingerprint.Map satisfies it.
//
// Locate is given the floor the engine chose and, for every gateway that
// heard the tag in the window (on any floor), the link's robust RSSI with
// the gateway's RxOffset added, in dBm. It returns a point on that floor
// and a confidence in 0..1; ok is false when it has nothing to say (no
// map for the floor, too few gateways in common). The map passed in is
// reused by the engine after Locate returns: Locate must not keep it.
type Fingerprinter interface {
	Locate(floor int64, rssi map[int64]float64) (p wardwatch.Point, confidence float64, ok bool)
}

// Fingerprint confidence is clamped to [0, maxFingerprintConfidence]
// before it becomes a variance: a confidence of 1 would mean certainty.
const maxFingerprintConfidence = 0.99

// fingerprintRSSI fills e.fpRSSI with the links in the window (all floors),
// for the site's Fingerprinter.
func (e *Engine) fingerprintRSSI(fixes []rangeFix) {
	if e.fpRSSI == nil {
		e.fpRSSI = make(map[int64]float64)
	}
	clear(e.fpRSSI)
	for _, f := range fixes {
		e.fpRSSI[f.gateway.id] = f.rssi
	}
}

// blendFingerprint, when the site has a radio map, blends the ranging fix
// fx with the map's fix by inverse-variance weighting. Each confidence c
// is turned into the variance of an isotropic Gaussian with that much
// mass within confidenceRadius (the inverse of confidenceOf): trace σ² =
// −R² / ln(1 − c). The blend's solver is the ranging solver's name with
// "+fingerprint" appended. The Fingerprinter's input is in e.fpRSSI.
func (e *Engine) blendFingerprint(floorID int64, fx *fix) {
	if e.fp == nil {
		return
	}
	p, c, ok := e.fp.Locate(floorID, e.fpRSSI)
	if !ok || !finite(p.X) || !finite(p.Y) || !(c > 0) {
		return
	}
	c = min(c, maxFingerprintConfidence)
	v := -confidenceRadius * confidenceRadius / math.Log(1-c) / 2 // per axis
	fpCov := cov2{xx: v, yy: v}
	ri, ok1 := fx.cov.inverse()
	fi, ok2 := fpCov.inverse()
	if !ok1 || !ok2 {
		return
	}
	info := ri.add(fi)
	blended, ok := info.inverse()
	if !ok {
		return
	}
	// x = Σ (Σᵢ⁻¹ xᵢ) under the fused covariance.
	ax := ri.xx*fx.at.X + ri.xy*fx.at.Y + fi.xx*p.X + fi.xy*p.Y
	ay := ri.xy*fx.at.X + ri.yy*fx.at.Y + fi.xy*p.X + fi.yy*p.Y
	fx.at = wardwatch.Point{X: blended.xx*ax + blended.xy*ay, Y: blended.xy*ax + blended.yy*ay}
	fx.cov = blended
	switch fx.solver {
	case SolverLM:
		fx.solver = SolverLM + fingerprintSuffix
	case SolverCentroid:
		fx.solver = SolverCentroid + fingerprintSuffix
	case SolverNearest:
		fx.solver = SolverNearest + fingerprintSuffix
	}
}

// fingerprintSuffix marks a fix blended with a fingerprint fix.
const fingerprintSuffix = "+fingerprint"
