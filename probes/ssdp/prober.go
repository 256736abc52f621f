package ssdp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/camwarden/camwarden/probes"
	"github.com/camwarden/camwarden/probes/internal/udpdisc"
)

// Defaults for the active probes.
const (
	DefaultTimeout      = 3 * time.Second
	DefaultFetchTimeout = 2 * time.Second
	DefaultSends        = 2
	DefaultInterval     = 500 * time.Millisecond
	maxFetches          = 32 // descriptions fetched per run
	maxFetchConc        = 4
	maxDevices          = 1024
)

// ErrNoReply is returned by Prober.Probe when the host did not answer.
var ErrNoReply = errors.New("ssdp: no reply")

// Fetcher fetches a description document. It is given only URLs whose host
// is the answering device's own address.
type Fetcher interface {
	Fetch(ctx context.Context, u *url.URL) ([]byte, error)
}

// HTTPFetcher is the default Fetcher: plain HTTP, no proxy, no redirects,
// no keep-alive, MaxDescription bytes at most.
type HTTPFetcher struct{ Client *http.Client }

// NewHTTPFetcher returns an HTTPFetcher whose client never uses a proxy
// (the environment's would carry camera-VLAN requests elsewhere) and never
// follows redirects (which could point at another host).
func NewHTTPFetcher() *HTTPFetcher {
	return &HTTPFetcher{Client: &http.Client{
		Transport: &http.Transport{
			Proxy:                  nil,
			DisableKeepAlives:      true,
			MaxResponseHeaderBytes: 16 << 10,
			DialContext:            (&net.Dialer{}).DialContext,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// Fetch implements Fetcher.
func (f *HTTPFetcher) Fetch(ctx context.Context, u *url.URL) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	resp, err := f.Client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %s", resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, MaxDescription+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxDescription {
		return nil, fmt.Errorf("description larger than %d bytes", MaxDescription)
	}
	return b, nil
}

// descriptionURL returns LOCATION as a URL when it may be fetched: http, and
// its host is the literal address the answer came from.
func descriptionURL(loc string, from netip.Addr) (*url.URL, error) {
	u, err := url.Parse(loc)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "http" {
		return nil, fmt.Errorf("scheme %q", u.Scheme)
	}
	host, err := netip.ParseAddr(u.Hostname())
	if err != nil || host.Unmap() != from {
		return nil, fmt.Errorf("host %q is not the answering device %s", u.Hostname(), from)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("port %q", p)
		}
	}
	u.User = nil
	return u, nil
}

// Options common to the Discoverer and the Prober.
type Options struct {
	Timeout      time.Duration // listening window; default DefaultTimeout
	FetchTimeout time.Duration // per description fetch; default DefaultFetchTimeout
	Sends        int           // rounds of M-SEARCH (ssdp:all and upnp:rootdevice each); default 2
	Interval     time.Duration // between rounds; default DefaultInterval
	Port         int           // destination port; default 1900
	NoFetch      bool          // do not fetch description documents
	Fetcher      Fetcher       // default NewHTTPFetcher()
	Log          *slog.Logger
}

// Discoverer sends M-SEARCH to the group on a Link and emits one observation
// per answering host, with ssdp.* facts from its answers and upnp.* facts
// from its description. The zero value is ready to use.
type Discoverer struct {
	Options
	Group net.IP // default 239.255.255.250
}

// Name implements probes.Discoverer.
func (*Discoverer) Name() string { return "ssdp" }

// Discover implements probes.Discoverer.
func (d *Discoverer) Discover(ctx context.Context, l probes.Link, emit probes.Sink) error {
	group := d.Group
	if group == nil {
		group = Group
	}
	port := d.Port
	if port == 0 {
		port = Port
	}
	conn, err := udpdisc.ListenSend(l)
	if err != nil {
		return fmt.Errorf("ssdp: %w", err)
	}
	defer conn.Close()
	dst := &net.UDPAddr{IP: group, Port: port}
	host := net.JoinHostPort(group.String(), strconv.Itoa(port))
	msgs := [][]byte{BuildMSearch(host, STAll, true), BuildMSearch(host, STRoot, true)}
	r := newRun(d.Options, udpdisc.InSubnets(l.Subnets))
	serr := r.exchange(ctx, conn, dst, msgs, func() time.Duration { return min(multicastFloor, udpdisc.OrDefault(d.Timeout, DefaultTimeout)) })
	r.emitAll(ctx, emit)
	if serr != nil {
		return fmt.Errorf("ssdp: send M-SEARCH to %s: %w", dst, serr)
	}
	return nil
}

// Prober sends one host a unicast M-SEARCH and fetches its description (also
// from an ssdp.location the target already has, when it is the target's
// own). The zero value is ready to use.
type Prober struct{ Options }

// Name implements probes.Prober.
func (*Prober) Name() string { return "ssdp" }

// Probe implements probes.Prober.
func (p *Prober) Probe(ctx context.Context, t probes.Target, emit probes.Sink) error {
	if !t.IP.Is4() {
		return fmt.Errorf("ssdp: probe %s: IPv4 only", t.IP)
	}
	port := p.Port
	if port == 0 {
		port = Port
	}
	// A host without an SSDP listener answers ICMP port unreachable,
	// which ends the probe at once (ListenAsk).
	conn, err := udpdisc.ListenAsk()
	if err != nil {
		return fmt.Errorf("ssdp: probe %s: %w", t.IP, err)
	}
	defer conn.Close()
	ap := netip.AddrPortFrom(t.IP, uint16(port))
	dst := net.UDPAddrFromAddrPort(ap)
	msgs := [][]byte{BuildMSearch(ap.String(), STAll, false), BuildMSearch(ap.String(), STRoot, false)}
	r := newRun(p.Options, func(a netip.Addr) bool { return a == t.IP })
	if loc, ok := t.Lookup("ssdp.location"); ok {
		r.mu.Lock()
		r.device(t.IP).locations[loc] = true
		r.mu.Unlock()
	}
	serr := r.exchange(ctx, conn, dst, msgs, func() time.Duration { return probes.ReplyWait(ctx, udpdisc.OrDefault(p.Timeout, DefaultTimeout)) })
	// The answer is attributed to the address it came from (only t's is
	// accepted), with no MAC: the pipeline resolves the address, as for
	// every UDP answer, rather than trusting a MAC looked up when the probe
	// was scheduled.
	n := r.emitAll(ctx, emit)
	switch {
	case n > 0:
		return nil
	case r.refused.Load() || errors.Is(serr, syscall.ECONNREFUSED):
		return fmt.Errorf("ssdp: probe %s: %w (port unreachable)", dst, ErrNoReply)
	case serr != nil:
		return fmt.Errorf("ssdp: probe %s: %w", dst, serr)
	case r.lastErr != nil:
		return fmt.Errorf("ssdp: probe %s: %w", dst, r.lastErr)
	}
	return fmt.Errorf("ssdp: probe %s: %w", dst, ErrNoReply)
}

// run is one exchange: answers are gathered per host, descriptions fetched
// as soon as a host names one, and one observation per host emitted at the
// end.
type run struct {
	opt    Options
	log    *slog.Logger
	accept func(netip.Addr) bool

	mu      sync.Mutex
	devs    map[netip.Addr]*device
	order   []netip.Addr
	lastErr error
	refused atomic.Bool // the host refused the port (ICMP): nothing will answer
	fetches int
	wg      sync.WaitGroup
	sem     chan struct{}
}

type device struct {
	facts     []probes.Fact
	seen      map[probes.Fact]bool
	locations map[string]bool
	answered  bool
}

func newRun(opt Options, accept func(netip.Addr) bool) *run {
	log := udpdisc.Logger(opt.Log)
	if opt.Fetcher == nil {
		opt.Fetcher = NewHTTPFetcher()
	}
	return &run{opt: opt, log: log, accept: accept, devs: map[netip.Addr]*device{}, sem: make(chan struct{}, maxFetchConc)}
}

// device returns the record of ip; r.mu must be held.
func (r *run) device(ip netip.Addr) *device {
	d := r.devs[ip]
	if d == nil {
		d = &device{seen: map[probes.Fact]bool{}, locations: map[string]bool{}}
		r.devs[ip] = d
		r.order = append(r.order, ip)
	}
	return d
}

func (d *device) add(fs []probes.Fact) {
	for _, f := range fs {
		if !d.seen[f] && len(d.facts) < probes.MaxFacts {
			d.seen[f] = true
			d.facts = append(d.facts, f)
		}
	}
}

// How long an exchange listens once answers stop. A device answers a
// multicast M-SEARCH after a random delay of up to MX seconds (UDA 1.1
// §1.3.3; we send MX: 1), so a discovery run waits that long after its
// last round, and a little more for the answer to cross the link. A
// unicast search carries no MX and is answered at once; its wait after
// the last round is the scheduler's (probes.ReplyWait), at most Timeout.
// After an answer, settleAfter more: a device answers ssdp:all with one
// datagram per service, a little apart.
const (
	multicastFloor = time.Second + 100*time.Millisecond
	settleAfter    = 250 * time.Millisecond
)

// exchange sends msgs Sends times and reads answers until floor has
// passed after the last round and settleAfter after the last answer, at
// most Timeout.
func (r *run) exchange(ctx context.Context, conn net.PacketConn, dst net.Addr, msgs [][]byte, floor func() time.Duration) error {
	lctx, round := probes.Quiet{Settle: settleAfter, Max: udpdisc.OrDefault(r.opt.Timeout, DefaultTimeout)}.StartSending(ctx)
	defer round.Stop()
	done := make(chan struct{})
	go func() {
		defer close(done)
		// Fetches run under ctx, not the listening window: a description
		// named late in the window may still be read.
		udpdisc.Collect(lctx, []net.PacketConn{conn}, func(src netip.AddrPort, b []byte, oversize bool) {
			if r.handle(ctx, src, b, oversize) {
				round.Heard()
			}
		}, func() {
			r.refused.Store(true)
			round.Stop()
		})
	}()
	ds := make([]udpdisc.Datagram, len(msgs))
	for i, m := range msgs {
		ds[i] = udpdisc.Datagram{To: dst, Msg: m}
	}
	_, serr := udpdisc.SendRounds(lctx, conn, udpdisc.Sends(r.opt.Sends, DefaultSends), udpdisc.OrDefault(r.opt.Interval, DefaultInterval), ds...)
	if errors.Is(serr, syscall.ECONNREFUSED) {
		r.refused.Store(true)
		round.Stop()
	}
	round.SentWithin(floor())
	<-done
	return serr
}

// handle reads one datagram and says whether it was an SSDP answer.
func (r *run) handle(ctx context.Context, src netip.AddrPort, b []byte, oversize bool) bool {
	ip := src.Addr()
	if r.accept != nil && !r.accept(ip) {
		return false
	}
	if oversize {
		r.setErr(fmt.Errorf("answer from %s: %w", src, ErrTooLarge))
		return false
	}
	m, err := Parse(b)
	if err != nil {
		r.setErr(fmt.Errorf("parse answer from %s: %w", src, err))
		r.log.Debug("ssdp: bad answer", "from", src, "err", err)
		return false
	}
	if m.Kind == KindMSearch {
		return false // our own search looped back, or another tool's
	}
	facts := m.Facts()
	if len(facts) == 0 {
		r.setErr(fmt.Errorf("answer from %s: %w: no SSDP headers", src, ErrNotSSDP))
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.devs[ip] == nil && len(r.devs) >= maxDevices {
		return true
	}
	d := r.device(ip)
	d.answered = true
	d.add(facts)
	if m.Location != "" && !d.locations[m.Location] {
		d.locations[m.Location] = true
		r.startFetch(ctx, ip, m.Location)
	}
	return true
}

func (r *run) setErr(err error) {
	r.mu.Lock()
	r.lastErr = err
	r.mu.Unlock()
}

// startFetch fetches loc in the background; r.mu must be held.
func (r *run) startFetch(ctx context.Context, ip netip.Addr, loc string) {
	if r.opt.NoFetch || r.fetches >= maxFetches {
		return
	}
	u, err := descriptionURL(loc, ip)
	if err != nil {
		r.log.Debug("ssdp: not fetching description", "location", loc, "err", err)
		return
	}
	r.fetches++
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		select {
		case r.sem <- struct{}{}:
			defer func() { <-r.sem }()
		case <-ctx.Done():
			return
		}
		fctx, cancel := context.WithTimeout(ctx, udpdisc.OrDefault(r.opt.FetchTimeout, DefaultFetchTimeout))
		defer cancel()
		b, err := r.opt.Fetcher.Fetch(fctx, u)
		if err == nil {
			var desc Description
			if desc, err = ParseDescription(b); err == nil {
				r.mu.Lock()
				r.device(ip).add(desc.Facts())
				r.mu.Unlock()
				return
			}
		}
		r.setErr(fmt.Errorf("fetch description %s: %w", u, err))
		r.log.Debug("ssdp: description", "url", u, "err", err)
	}()
}

// emitAll waits for the fetches and emits one observation per host that
// answered (or whose known location gave a description). It returns how
// many it emitted.
func (r *run) emitAll(ctx context.Context, emit probes.Sink) int {
	// Fetches already started from a known location before any answer
	// are started here, so a silent host with a location still gets one.
	r.mu.Lock()
	for _, ip := range r.order {
		d := r.devs[ip]
		if !d.answered {
			for loc := range d.locations {
				r.startFetch(ctx, ip, loc)
			}
		}
	}
	r.mu.Unlock()
	r.wg.Wait()
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, ip := range r.order {
		d := r.devs[ip]
		if len(d.facts) == 0 {
			continue
		}
		emit(probes.Observation{Time: time.Now(), IP: ip, Probe: "ssdp", Facts: d.facts})
		n++
	}
	return n
}
