package api

import (
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// MintShopperToken signs an HS256 shopper token for user, valid for ttl from now.
//
// The token carries sub, iat and exp, plus iss and aud when issuer and
// audience are non-empty; it is what the API's authenticator accepts for a
// server configured with the same secret, issuer and audience. user must be
// a valid shopper id (engine.ValidateUser), ttl must be positive and
// secret at least 32 bytes. exp is truncated to whole seconds, as JWT
// NumericDate requires, so the token never lives longer than ttl.
func MintShopperToken(secret []byte, user string, ttl time.Duration, now time.Time, issuer, audience string) (string, error) {
	// Messages name the rule, never the inputs: the secret must not reach a
	// log, and the user may be arbitrary bytes.
	if len(secret) < authMinSecretLen {
		return "", fmt.Errorf("api: token secret must be at least %d bytes", authMinSecretLen)
	}
	if !isValidShopperID(user) {
		return "", fmt.Errorf("api: token user must be a valid shopper id: 1-%d bytes of UTF-8 without control, format or separator characters or surrounding spaces", maxShopperIDLen)
	}
	if ttl <= 0 {
		return "", errors.New("api: token ttl must be positive")
	}
	claims := jwt.RegisteredClaims{
		Subject:   user,
		Issuer:    issuer,
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
	}
	if audience != "" {
		claims.Audience = jwt.ClaimStrings{audience}
	}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(secret)
	if err != nil {
		// jwt's signing errors do not contain the key; wrap for the cause.
		return "", fmt.Errorf("api: signing token: %w", err)
	}
	return tok, nil
}
