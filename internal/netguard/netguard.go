// Package netguard keeps outgoing requests to user-supplied URLs (job
// callbacks) away from the machine itself, its private networks and the cloud
// metadata service (SSRF).
//
// Two checks, because one is not enough:
//
//   - CheckURL resolves the host up front so a bad webhook_url is refused with
//     a clear 4xx at submission time;
//   - the Dialer re-checks the address the socket actually connects to, so a
//     host that resolved to a public address at submission and to 127.0.0.1
//     at delivery (DNS rebinding) is still refused.
//
// Clients built here never follow redirects (a 302 to http://169.254.169.254/
// would otherwise bypass both checks) and ignore HTTP(S)_PROXY (a proxy would
// make the socket check see the proxy's address, not the target's).
package netguard

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"syscall"
	"time"
)

// ErrBlocked is matched (errors.Is) by every refusal of a destination address.
var ErrBlocked = errors.New("destination address not allowed")

// BlockedError says which host and address were refused and why.
type BlockedError struct {
	Host   string     // host as written in the URL, or the dialled address at connect time
	Addr   netip.Addr // the refused address
	Reason string     // e.g. "loopback", "private (RFC 1918)", "cloud metadata service"
}

func (e *BlockedError) Error() string {
	if e.Host == "" || e.Host == e.Addr.String() {
		return fmt.Sprintf("netguard: %s is a %s address: %v", e.Addr, e.Reason, ErrBlocked)
	}
	return fmt.Sprintf("netguard: host %q resolves to %s, a %s address: %v", e.Host, e.Addr, e.Reason, ErrBlocked)
}

// Is makes errors.Is(err, ErrBlocked) true.
func (e *BlockedError) Is(target error) bool { return target == ErrBlocked }

// Resolver looks host names up; *net.Resolver (net.DefaultResolver) is one.
type Resolver interface {
	LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error)
}

type rangeRule struct {
	prefix netip.Prefix
	reason string
	// private ranges are allowed when the caller passes allowPrivate (tests,
	// on-premises receivers); the others never are.
	private bool
}

// Order matters: the first matching rule names the reason, so the metadata
// addresses come before the link-local and private ranges that contain them.
var rules = []rangeRule{
	{netip.MustParsePrefix("169.254.169.254/32"), "cloud metadata service", false},
	{netip.MustParsePrefix("fd00:ec2::254/128"), "cloud metadata service", false},
	{netip.MustParsePrefix("0.0.0.0/8"), "unspecified (\"this network\")", true},
	{netip.MustParsePrefix("::/128"), "unspecified", true},
	{netip.MustParsePrefix("127.0.0.0/8"), "loopback", true},
	{netip.MustParsePrefix("::1/128"), "loopback", true},
	{netip.MustParsePrefix("10.0.0.0/8"), "private (RFC 1918)", true},
	{netip.MustParsePrefix("172.16.0.0/12"), "private (RFC 1918)", true},
	{netip.MustParsePrefix("192.168.0.0/16"), "private (RFC 1918)", true},
	{netip.MustParsePrefix("fc00::/7"), "private (unique local, RFC 4193)", true},
	{netip.MustParsePrefix("169.254.0.0/16"), "link-local", true},
	{netip.MustParsePrefix("fe80::/10"), "link-local", true},
	{netip.MustParsePrefix("100.64.0.0/10"), "carrier-grade NAT (RFC 6598)", true},
	{netip.MustParsePrefix("224.0.0.0/4"), "multicast", false},
	{netip.MustParsePrefix("ff00::/8"), "multicast", false},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved (incl. broadcast)", false},
}

// nat64 is the well-known NAT64 prefix: 64:ff9b::a.b.c.d reaches IPv4 a.b.c.d,
// so the embedded address is judged instead.
var nat64 = netip.MustParsePrefix("64:ff9b::/96")

// Classify says why ip is refused, or "" when it is a public unicast address.
// allowPrivate lets loopback, RFC 1918 / unique local, link-local, CGNAT and
// unspecified addresses through; the cloud metadata addresses, multicast and
// reserved ranges are refused regardless.
func Classify(ip netip.Addr, allowPrivate bool) string {
	if !ip.IsValid() {
		return "invalid"
	}
	ip = ip.Unmap().WithZone("")
	if nat64.Contains(ip) {
		b := ip.As16()
		return Classify(netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]}), allowPrivate)
	}
	for _, r := range rules {
		if r.prefix.Contains(ip) {
			if r.private && allowPrivate {
				return ""
			}
			return r.reason
		}
	}
	return ""
}

// CheckURL refuses rawURL unless it is an absolute http or https URL with a
// host whose every address is allowed. Every resolved address is checked (not
// only the first): the dialer may try any of them.
func CheckURL(ctx context.Context, rawURL string, allowPrivate bool, resolver Resolver) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return fmt.Errorf("netguard: invalid URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("netguard: URL scheme %q not allowed, only http and https", u.Scheme)
	}
	host := u.Hostname()
	if host == "" {
		return errors.New("netguard: URL has no host")
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		if reason := Classify(ip, allowPrivate); reason != "" {
			return &BlockedError{Host: host, Addr: ip.Unmap(), Reason: reason}
		}
		return nil
	}
	if resolver == nil {
		resolver = net.DefaultResolver
	}
	addrs, err := resolver.LookupIPAddr(ctx, host)
	if err != nil {
		return fmt.Errorf("netguard: resolve host %q: %w", host, err)
	}
	if len(addrs) == 0 {
		return fmt.Errorf("netguard: host %q has no addresses", host)
	}
	for _, a := range addrs {
		ip, ok := netip.AddrFromSlice(a.IP)
		if !ok {
			return fmt.Errorf("netguard: host %q resolves to an unparsable address %v", host, a.IP)
		}
		if reason := Classify(ip, allowPrivate); reason != "" {
			return &BlockedError{Host: host, Addr: ip.Unmap(), Reason: reason}
		}
	}
	return nil
}

// Control is a net.Dialer Control function refusing connections to addresses
// Classify rejects. It sees the address after resolution, just before connect.
func Control(allowPrivate bool) func(network, address string, c syscall.RawConn) error {
	return func(network, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return fmt.Errorf("netguard: cannot check dial address %q: %w", address, err)
		}
		if reason := Classify(ap.Addr(), allowPrivate); reason != "" {
			return &BlockedError{Addr: ap.Addr().Unmap(), Reason: reason}
		}
		return nil
	}
}

// Dialer returns a dialer that re-checks every address it connects to.
func Dialer(allowPrivate bool) *net.Dialer {
	return &net.Dialer{
		Timeout:   10 * time.Second,
		KeepAlive: 30 * time.Second,
		Control:   Control(allowPrivate),
	}
}

// Transport returns an http.Transport (DefaultTransport's settings) that
// dials through Dialer and uses no proxy. Wrap it (otelhttp.NewTransport) as
// needed; the check happens at connect time underneath any wrapper.
func Transport(allowPrivate bool) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = nil
	t.DialContext = Dialer(allowPrivate).DialContext
	return t
}

// NoRedirect is an http.Client CheckRedirect that hands the 3xx response back
// to the caller instead of following it.
func NoRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// Client returns an http.Client using Transport(allowPrivate) that never
// follows redirects. It has no overall timeout: callers bound each request
// with their context.
func Client(allowPrivate bool) *http.Client {
	return &http.Client{Transport: Transport(allowPrivate), CheckRedirect: NoRedirect}
}

// WrapClient returns a client with rt as transport (e.g. an otelhttp wrapper
// around Transport) that never follows redirects.
func WrapClient(rt http.RoundTripper) *http.Client {
	return &http.Client{Transport: rt, CheckRedirect: NoRedirect}
}
