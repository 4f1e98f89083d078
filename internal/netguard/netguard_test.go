package netguard_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/hookflow/hookflow/internal/netguard"
)

// fakeResolver answers from a fixed table and fails for unknown hosts.
type fakeResolver map[string][]string

func (f fakeResolver) LookupIPAddr(_ context.Context, host string) ([]net.IPAddr, error) {
	ips, ok := f[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	out := make([]net.IPAddr, 0, len(ips))
	for _, s := range ips {
		out = append(out, net.IPAddr{IP: net.ParseIP(s)})
	}
	return out, nil
}

var resolver = fakeResolver{
	"public.example":    {"93.184.216.34"},
	"loop.example":      {"127.0.0.1"},
	"ten.example":       {"10.1.2.3"},
	"meta.example":      {"169.254.169.254"},
	"v6loop.example":    {"::1"},
	"mixed.example":     {"93.184.216.34", "192.168.1.10"}, // one bad address is enough to refuse
	"ec2v6.example":     {"fd00:ec2::254"},
	"mapped.example":    {"::ffff:127.0.0.1"},
	"nat64.example":     {"64:ff9b::a00:1"}, // 10.0.0.1 via NAT64
	"cgnat.example":     {"100.64.0.1"},
	"public6.example":   {"2606:2800:220:1:248:1893:25c8:1946"},
	"empty.example":     {},
	"multicast.example": {"224.0.0.1"},
}

func TestCheckURL(t *testing.T) {
	tests := []struct {
		url          string
		allowPrivate bool
		wantBlocked  bool   // errors.Is(err, ErrBlocked)
		wantErr      string // substring of the error; "" means no error
	}{
		{"https://public.example/hook", false, false, ""},
		{"http://public6.example:8080/hook", false, false, ""},
		{"https://93.184.216.34/x", false, false, ""},

		{"http://127.0.0.1/hook", false, true, `127.0.0.1 is a loopback address`},
		{"http://127.8.9.10:9000/", false, true, "loopback"},
		{"http://10.0.0.1/", false, true, "private (RFC 1918)"},
		{"http://10.255.255.255/", false, true, "private (RFC 1918)"},
		{"http://172.16.0.1/", false, true, "private (RFC 1918)"},
		{"http://192.168.0.1/", false, true, "private (RFC 1918)"},
		{"http://169.254.169.254/latest/meta-data/", false, true, "cloud metadata service"},
		{"http://169.254.1.1/", false, true, "link-local"},
		{"http://[::1]:8080/", false, true, "::1 is a loopback address"},
		{"http://[fe80::1]/", false, true, "link-local"},
		{"http://[fc00::1]/", false, true, "unique local"},
		{"http://[fd00:ec2::254]/", false, true, "cloud metadata service"},
		{"http://[::ffff:127.0.0.1]/", false, true, "loopback"},
		{"http://0.0.0.0/", false, true, "unspecified"},
		{"http://[::]/", false, true, "unspecified"},
		{"http://100.64.0.1/", false, true, "carrier-grade NAT"},
		{"http://224.0.0.1/", false, true, "multicast"},
		{"http://255.255.255.255/", false, true, "reserved"},

		{"http://loop.example/hook", false, true, `host "loop.example" resolves to 127.0.0.1, a loopback address`},
		{"http://ten.example/hook", false, true, `host "ten.example" resolves to 10.1.2.3, a private (RFC 1918) address`},
		{"http://meta.example/", false, true, `host "meta.example" resolves to 169.254.169.254, a cloud metadata service address`},
		{"http://v6loop.example/", false, true, `host "v6loop.example" resolves to ::1, a loopback address`},
		{"http://mixed.example/", false, true, `host "mixed.example" resolves to 192.168.1.10`},
		{"http://ec2v6.example/", false, true, "cloud metadata service"},
		{"http://mapped.example/", false, true, "resolves to 127.0.0.1, a loopback"},
		{"http://nat64.example/", false, true, "private (RFC 1918)"},
		{"http://cgnat.example/", false, true, "carrier-grade NAT"},
		{"http://multicast.example/", false, true, "multicast"},

		// allowPrivate opens private ranges but never the metadata service.
		{"http://127.0.0.1:8080/", true, false, ""},
		{"http://loop.example/", true, false, ""},
		{"http://ten.example/", true, false, ""},
		{"http://[::1]/", true, false, ""},
		{"http://169.254.169.254/", true, true, "cloud metadata service"},
		{"http://meta.example/", true, true, "cloud metadata service"},
		{"http://[fd00:ec2::254]/", true, true, "cloud metadata service"},
		{"http://224.0.0.1/", true, true, "multicast"},

		{"ftp://public.example/", false, false, `scheme "ftp" not allowed`},
		{"file:///etc/passwd", false, false, `scheme "file" not allowed`},
		{"gopher://127.0.0.1/", true, false, `scheme "gopher" not allowed`},
		{"public.example/hook", false, false, `scheme "" not allowed`},
		{"http:///path-only", false, false, "URL has no host"},
		{"http://%zz/", false, false, "invalid URL"},
		{"http://nowhere.example/", false, false, `resolve host "nowhere.example"`},
		{"http://empty.example/", false, false, `host "empty.example" has no addresses`},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			err := netguard.CheckURL(context.Background(), tt.url, tt.allowPrivate, resolver)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("CheckURL(%q, allowPrivate=%v) = %v, want nil", tt.url, tt.allowPrivate, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("CheckURL(%q, allowPrivate=%v) = nil, want error containing %q", tt.url, tt.allowPrivate, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q does not contain %q", err, tt.wantErr)
			}
			if got := errors.Is(err, netguard.ErrBlocked); got != tt.wantBlocked {
				t.Errorf("errors.Is(err, ErrBlocked) = %v, want %v (err: %v)", got, tt.wantBlocked, err)
			}
		})
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		ip           string
		allowPrivate bool
		want         string
	}{
		{"8.8.8.8", false, ""},
		{"172.15.255.255", false, ""}, // just below 172.16/12
		{"172.32.0.0", false, ""},     // just above
		{"100.63.255.255", false, ""}, // just below CGNAT
		{"100.128.0.0", false, ""},    // just above
		{"172.31.255.255", false, "private (RFC 1918)"},
		{"fe80::1%eth0", false, "link-local"},
		{"fe80::1%eth0", true, ""},
		{"169.254.169.254", true, "cloud metadata service"},
		{"::ffff:169.254.169.254", true, "cloud metadata service"},
		{"64:ff9b::a9fe:a9fe", true, "cloud metadata service"}, // 169.254.169.254 via NAT64
		{"64:ff9b::808:808", false, ""},                        // 8.8.8.8 via NAT64
	}
	for _, tt := range tests {
		if got := netguard.Classify(netip.MustParseAddr(tt.ip), tt.allowPrivate); got != tt.want {
			t.Errorf("Classify(%s, allowPrivate=%v) = %q, want %q", tt.ip, tt.allowPrivate, got, tt.want)
		}
	}
	if got := netguard.Classify(netip.Addr{}, true); got != "invalid" {
		t.Errorf("Classify(zero Addr) = %q, want \"invalid\"", got)
	}
}

// TestConnectTimeCheck dials a real listener on 127.0.0.1. The refusal must
// come from the dialer, not from CheckURL: "localhost" is resolved by the
// system resolver at dial time, which is what a rebinding attacker controls.
func TestConnectTimeCheck(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	urls := []string{
		srv.URL, // http://127.0.0.1:port
		"http://localhost:" + strconv.Itoa(port),
	}

	for _, u := range urls {
		t.Run("refused/"+u, func(t *testing.T) {
			// What an attacker's DNS says at submission time: a public address.
			rebinding := fakeResolver{"localhost": {"93.184.216.34"}}
			if strings.Contains(u, "localhost") {
				if err := netguard.CheckURL(context.Background(), u, false, rebinding); err != nil {
					t.Fatalf("precondition: CheckURL with the rebinding resolver = %v, want nil", err)
				}
			}
			before := hits.Load()
			resp, err := netguard.Client(false).Get(u)
			if err == nil {
				resp.Body.Close()
				t.Fatalf("GET %s through Client(false) succeeded with %d, want a refusal", u, resp.StatusCode)
			}
			if !errors.Is(err, netguard.ErrBlocked) {
				t.Fatalf("GET %s error = %v, want errors.Is ErrBlocked", u, err)
			}
			if !strings.Contains(err.Error(), "loopback") {
				t.Errorf("error %q does not name the reason", err)
			}
			if hits.Load() != before {
				t.Errorf("the server saw the request; the dialer must refuse before connecting")
			}
		})
		t.Run("allowed/"+u, func(t *testing.T) {
			resp, err := netguard.Client(true).Get(u)
			if err != nil {
				t.Fatalf("GET %s through Client(true) = %v, want success", u, err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusNoContent {
				t.Errorf("status = %d, want 204", resp.StatusCode)
			}
		})
	}
}

func TestClientDoesNotFollowRedirects(t *testing.T) {
	var followed atomic.Bool
	mux := http.NewServeMux()
	mux.HandleFunc("/hook", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/elsewhere", http.StatusFound)
	})
	mux.HandleFunc("/elsewhere", func(w http.ResponseWriter, r *http.Request) { followed.Store(true) })
	srv := httptest.NewServer(mux)
	defer srv.Close()

	for name, c := range map[string]*http.Client{
		"Client":     netguard.Client(true),
		"WrapClient": netguard.WrapClient(netguard.Transport(true)),
	} {
		resp, err := c.Post(srv.URL+"/hook", "application/json", strings.NewReader("{}"))
		if err != nil {
			t.Fatalf("%s: POST: %v", name, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusFound {
			t.Errorf("%s: status = %d, want the 302 itself", name, resp.StatusCode)
		}
		if got := resp.Header.Get("Location"); got != "/elsewhere" {
			t.Errorf("%s: Location = %q", name, got)
		}
	}
	if followed.Load() {
		t.Error("a redirect was followed")
	}
}

func TestTransportIgnoresProxy(t *testing.T) {
	t.Setenv("HTTP_PROXY", "http://proxy.invalid:3128")
	if netguard.Transport(false).Proxy != nil {
		t.Fatal("Transport has a Proxy func; a proxy would hide the target address from the dial check")
	}
}
