// Package auth holds WardWatch's credential primitives: password hashing
// (bcrypt), session and device tokens, and generated passwords. It wraps
// golang.org/x/crypto and crypto/rand so the rest of WardWatch never picks
// costs, lengths or alphabets itself.
package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"

	"github.com/wardwatch/wardwatch"
)

// Password rules and costs.
const (
	// BcryptCost is the bcrypt work factor of new password hashes.
	BcryptCost = 12
	// MinPasswordLength is the fewest characters (runes) a password may have.
	MinPasswordLength = 12
	// MaxPasswordBytes is the most bytes a password may have: bcrypt reads
	// only the first 72 bytes, so longer passwords would be silently cut.
	MaxPasswordBytes = 72
	// TokenBytes is the number of random bytes in a token.
	TokenBytes = 32
)

// HashPassword returns the bcrypt hash (cost 12) of password. It rejects
// passwords shorter than 12 characters or longer than 72 bytes with a
// *wardwatch.Error of code EINVALID.
func HashPassword(password string) (string, error) {
	if utf8.RuneCountInString(password) < MinPasswordLength {
		return "", wardwatch.Errorf(wardwatch.EINVALID, "Passwords must have at least %d characters.", MinPasswordLength)
	}
	if len(password) > MaxPasswordBytes {
		return "", wardwatch.Errorf(wardwatch.EINVALID, "Passwords must be at most %d bytes long.", MaxPasswordBytes)
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), BcryptCost)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return string(h), nil
}

// CheckPassword reports whether password matches hash. A malformed hash
// never matches.
func CheckPassword(hash, password string) bool {
	if len(password) > MaxPasswordBytes {
		return false
	}
	return bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) == nil
}

// NewToken returns a new random token: 32 bytes from crypto/rand, encoded as
// base64url without padding (43 characters). Store only HashToken of it.
func NewToken() (string, error) {
	b := make([]byte, TokenBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("new token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// HashToken returns the SHA-256 of token, the form in which tokens are
// stored and looked up.
func HashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// passwordAlphabet has lower-case letters and digits without the ones that
// are easily confused when read aloud or off a screen (0/o, 1/l/i).
const passwordAlphabet = "abcdefghjkmnpqrstuvwxyz23456789"

// Generated password shape: four groups of four characters joined by
// hyphens, e.g. "k7mq-x2pe-9dwt-h4bz" (19 characters, about 79 bits).
const (
	passwordGroups    = 4
	passwordGroupSize = 4
)

// GeneratePassword returns a random password that people can type: four
// groups of four lower-case letters and digits, without look-alike
// characters, joined by hyphens (19 characters, about 79 bits of entropy).
// It is meant for generated demo and admin accounts.
func GeneratePassword() (string, error) {
	n := passwordGroups * passwordGroupSize
	chars, err := randomChars(passwordAlphabet, n)
	if err != nil {
		return "", fmt.Errorf("generate password: %w", err)
	}
	var b strings.Builder
	for i, c := range chars {
		if i > 0 && i%passwordGroupSize == 0 {
			b.WriteByte('-')
		}
		b.WriteByte(c)
	}
	return b.String(), nil
}

// randomChars returns n characters drawn uniformly from alphabet (at most
// 256 single-byte characters) using rejection sampling, so no character is
// more likely than another.
func randomChars(alphabet string, n int) ([]byte, error) {
	if len(alphabet) == 0 || len(alphabet) > 256 {
		return nil, errors.New("alphabet must have 1 to 256 characters")
	}
	limit := 256 - 256%len(alphabet) // largest multiple of len(alphabet) ≤ 256
	out := make([]byte, 0, n)
	buf := make([]byte, 2*n)
	for len(out) < n {
		if _, err := rand.Read(buf); err != nil {
			return nil, err
		}
		for _, v := range buf {
			if int(v) >= limit {
				continue
			}
			out = append(out, alphabet[int(v)%len(alphabet)])
			if len(out) == n {
				break
			}
		}
	}
	return out, nil
}
