package wardwatch

import "time"

// APIToken lets an integration (a CMMS, an EHR interface, a dashboard)
// call the REST API /api/v1 with the permissions of Role. The token text
// is shown once when it is created; only its SHA-256 (SecretHash) is
// stored, with a short Prefix of the text so admins can tell tokens apart.
// A revoked token (RevokedAt set) stops working at once and stays listed.
type APIToken struct {
	ID         int64
	Name       string // "CMMS integration"
	Role       Role
	Prefix     string // the first characters of the token text, "wwt_ab12cd"
	CreatedBy  string // the admin's username
	CreatedAt  time.Time
	LastUsed   time.Time // zero: never used
	RevokedAt  time.Time // zero: active
	SecretHash []byte
}

// Revoked reports whether the token has been revoked.
func (t APIToken) Revoked() bool { return !t.RevokedAt.IsZero() }
