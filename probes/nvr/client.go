package nvr

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/camwarden/camwarden/probes/internal/devhttp"
)

// Errors a caller can test with errors.Is. None of them, nor anything
// wrapping them here, carries a credential.
var (
	ErrLocked        = errors.New("account locked out by the device")
	ErrRefused       = errors.New("credentials refused")
	ErrNoCredentials = errors.New("device asks for credentials and none are configured for it")
	ErrNotTried      = errors.New("device asks for credentials and every one already failed this sweep")
	ErrTooLarge      = errors.New("answer too large")
	// ErrLastAttempt: the device allows one more failed login before it
	// locks the account; that attempt is left to the installer.
	ErrLastAttempt = errors.New("device would lock the account after one more failed login")
)

// HTTPError is an answer with a status that is neither success nor a login
// question (404 on a recorder of another make, 500, ...).
type HTTPError struct{ Status int }

func (e *HTTPError) Error() string { return fmt.Sprintf("HTTP %d", e.Status) }

// NewHTTPClient is the client a Prober uses by default: devhttp's (no
// proxy, no redirects, capped headers, no certificate checks), keeping two
// idle connections per recorder because the web API and the ONVIF client
// of one probe share it.
func NewHTTPClient() *http.Client {
	return devhttp.NewClient(DefaultTimeout, 2)
}

// session is one probe's conversation with one device: it remembers the
// credential the device took and the challenge to answer, and asks the
// ledger before every login attempt.
type session struct {
	base    string // scheme://host:port, the target's own address
	dev     string // ledger key
	creds   []Credential
	ledger  *Ledger
	hc      *http.Client
	timeout time.Duration
	maxBody int64
	now     func() time.Time
	log     *slog.Logger

	cred    *Credential // accepted
	chal    challenge
	nc      uint32
	auth    string // outcome so far (Auth* constants)
	stopped bool   // locked out, or one failure from it: no more attempts this probe
	// lastChallengeISAPI: the last 401 carried ISAPI's userCheck body.
	lastChallengeISAPI bool
}

// exchange is one HTTP round trip's outcome.
type exchange struct {
	status int
	header http.Header
	body   []byte
}

func (s *session) send(ctx context.Context, path, authz string, maxBody int64) (*exchange, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.base+path, nil)
	if err != nil {
		return nil, err
	}
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	resp, body, over, err := devhttp.Do(s.hc, req, maxBody)
	if err != nil {
		return nil, err
	}
	// An oversized error page is cut, not refused: its first bytes still
	// say whether the recorder locked the account.
	if over && resp.StatusCode/100 == 2 {
		return nil, fmt.Errorf("%w (over %d bytes)", ErrTooLarge, maxBody)
	}
	return &exchange{status: resp.StatusCode, header: resp.Header, body: body}, nil
}

func (s *session) cnonce() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (s *session) withAuth(ctx context.Context, path string, c Credential, ch challenge) (*exchange, error) {
	s.nc++
	authz, err := ch.authorization(c, http.MethodGet, path, s.nc, s.cnonce())
	if err != nil {
		return nil, err
	}
	return s.send(ctx, path, authz, s.maxBody)
}

// get fetches path, logging in when the device asks, within the ledger's
// allowance. The body is at most maxBody bytes of a 2xx answer.
func (s *session) get(ctx context.Context, path string) ([]byte, error) {
	if s.cred != nil {
		x, err := s.withAuth(ctx, path, *s.cred, s.chal)
		if err != nil {
			return nil, err
		}
		if x.status == http.StatusUnauthorized {
			if ch, ok := parseChallenges(x.header.Values("WWW-Authenticate")); ok && ch.Stale {
				s.chal = ch // a new nonce, same password: not a failed login
				if x, err = s.withAuth(ctx, path, *s.cred, s.chal); err != nil {
					return nil, err
				}
			}
		}
		if x.status != http.StatusUnauthorized {
			return s.result(x)
		}
		// Refused after being accepted: the password changed or the
		// session was dropped. Count it as this credential's attempt.
		s.ledger.Refused(s.dev, *s.cred, s.now())
		s.cred = nil
		s.noteRefusal(x)
		return nil, ErrRefused
	}
	x, err := s.send(ctx, path, "", s.maxBody)
	if err != nil {
		return nil, err
	}
	if x.status != http.StatusUnauthorized {
		if x.status/100 == 2 && s.auth == "" {
			s.auth = AuthNone
		}
		return s.result(x)
	}
	return s.login(ctx, path, x)
}

// login answers the 401 first with each credential the ledger allows.
func (s *session) login(ctx context.Context, path string, first *exchange) ([]byte, error) {
	now := s.now()
	s.lastChallengeISAPI = isISAPIChallenge(first.body)
	if s.noteRefusal(first) {
		return nil, ErrLocked
	}
	if s.stopped {
		if s.auth == "" {
			s.auth = AuthLastTry
		}
		return nil, ErrLastAttempt
	}
	if _, locked := s.ledger.LockedUntil(s.dev, now); locked {
		s.auth, s.stopped = AuthLocked, true
		return nil, ErrLocked
	}
	if len(s.creds) == 0 {
		s.auth = AuthNoCredentials
		return nil, ErrNoCredentials
	}
	ch, ok := parseChallenges(first.header.Values("WWW-Authenticate"))
	if !ok {
		return nil, fmt.Errorf("401 without a challenge we can answer: %w", errNoScheme)
	}
	tried := 0
	for _, c := range s.creds {
		if s.stopped || ctx.Err() != nil {
			break
		}
		if !s.ledger.Try(s.dev, c, s.now()) {
			continue
		}
		tried++
		x, err := s.withAuth(ctx, path, c, ch)
		if err != nil {
			return nil, err
		}
		if x.status == http.StatusUnauthorized {
			if ch2, ok := parseChallenges(x.header.Values("WWW-Authenticate")); ok {
				if ch2.Stale {
					if x, err = s.withAuth(ctx, path, c, ch2); err != nil {
						return nil, err
					}
				}
				ch = ch2 // answer the next try with the fresh nonce
			}
		}
		if x.status != http.StatusUnauthorized {
			s.ledger.Accepted(s.dev, c, s.now())
			cc := c
			s.cred, s.chal, s.auth = &cc, ch, ch.scheme()
			return s.result(x)
		}
		s.ledger.Refused(s.dev, c, s.now())
		s.log.Debug("nvr: credential refused", "target", s.base, "attempt", tried)
		if s.noteRefusal(x) {
			return nil, ErrLocked
		}
	}
	if tried == 0 && s.stopped {
		if s.auth == "" {
			s.auth = AuthLastTry
		}
		return nil, ErrLastAttempt
	}
	if tried == 0 {
		if s.auth == "" {
			s.auth = AuthNotTried
		}
		return nil, ErrNotTried
	}
	s.auth = AuthRefused
	return nil, ErrRefused
}

// noteRefusal reads a refusal's lock hints into the ledger and the session;
// it reports whether the device is now locked out.
func (s *session) noteRefusal(x *exchange) bool {
	h := readLockHint(x.status, x.header, x.body)
	now := s.now()
	switch {
	case h.locked:
		s.ledger.Lock(s.dev, now.Add(h.until), now)
		s.auth, s.stopped = AuthLocked, true
		return true
	case h.lastTry:
		// One more failure would lock the account: leave it to the
		// installer rather than spend the last attempt.
		s.stopped = true
	}
	return false
}

func (s *session) result(x *exchange) ([]byte, error) {
	if x.status/100 != 2 {
		if x.status == http.StatusForbidden || x.status == http.StatusTooManyRequests {
			s.noteRefusal(x)
		}
		return nil, &HTTPError{Status: x.status}
	}
	return x.body, nil
}
