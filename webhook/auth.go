package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"
)

// Why an HMAC signature is refused, for the logs.
var (
	errNoTimestamp    = errors.New("signature without a valid x-timestamp")
	errBadSignature   = errors.New("invalid signature")
	errStaleSignature = errors.New("signature timestamp outside the allowed skew")
)

// signaturePrefix may precede the hex signature.
const signaturePrefix = "sha256="

// secondsCutoff separates Unix seconds from Unix milliseconds in
// x-timestamp: 1e11 ms is in 1973, 1e11 s in the year 5138.
const secondsCutoff = 1e11

// digest is the SHA-256 of a secret. Secrets are compared through their
// digests, which have the same length whatever the secrets' lengths, so that
// the comparison takes the same time whatever was presented.
func digest(s string) []byte {
	sum := sha256.Sum256([]byte(s))
	return sum[:]
}

// secretMatches reports, in constant time, whether got is the secret whose
// digest is want. An empty got never matches.
func secretMatches(got string, want []byte) bool {
	return got != "" && subtle.ConstantTimeCompare(digest(got), want) == 1
}

// verifySignature checks sig = hex(HMAC-SHA256(secret, ts + "." + body)),
// optionally prefixed with "sha256=", and that ts (Unix seconds or
// milliseconds) is within maxSkew of now.
func verifySignature(secret, sig, ts string, body []byte, now time.Time, maxSkew time.Duration) error {
	ts = strings.TrimSpace(ts)
	n, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return errNoTimestamp
	}
	sig = strings.TrimSpace(sig)
	if len(sig) >= len(signaturePrefix) && strings.EqualFold(sig[:len(signaturePrefix)], signaturePrefix) {
		sig = sig[len(signaturePrefix):]
	}
	got, err := hex.DecodeString(sig)
	if err != nil || len(got) != sha256.Size {
		return errBadSignature
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts))
	mac.Write([]byte{'.'})
	mac.Write(body)
	if !hmac.Equal(mac.Sum(nil), got) {
		return errBadSignature
	}
	var at time.Time
	if n > -secondsCutoff && n < secondsCutoff {
		at = time.Unix(n, 0)
	} else {
		at = time.UnixMilli(n)
	}
	// Sub saturates, so no overflow for absurd timestamps.
	if d := now.Sub(at); d > maxSkew || d < -maxSkew {
		return errStaleSignature
	}
	return nil
}
