// Package faultproxy is a test proxy on 127.0.0.1 between kmsguard and the
// moto emulator that injects faults per AWS operation: throttling, HTTP 500
// and 503, dropped connections, latency, and answers lost after the request
// took effect.
package faultproxy

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
)

// Kind is a fault.
type Kind int

const (
	// Throttle answers 400 ThrottlingException without forwarding.
	Throttle Kind = iota
	// Unavailable answers 503 without forwarding.
	Unavailable
	// InternalError answers 500 without forwarding.
	InternalError
	// Reset drops the connection without an answer, without forwarding.
	Reset
	// Slow forwards after Delay.
	Slow
	// LostAnswer forwards (the call takes effect) and then answers 500, as
	// when a response is lost on the way back.
	LostAnswer
)

// Fault applies to the next Times calls of an operation (0: every call).
type Fault struct {
	Kind  Kind
	Times int
	Delay time.Duration
}

// Proxy is a running fault proxy.
type Proxy struct {
	URL string

	srv   *httptest.Server
	mu    sync.Mutex
	rules map[string]*Fault
	calls map[string]int
	seen  map[string]bool
}

// New starts a proxy to target (a moto URL) on 127.0.0.1.
func New(target string) *Proxy {
	u, _ := url.Parse(target)
	p := &Proxy{rules: map[string]*Fault{}, calls: map[string]int{}, seen: map[string]bool{}}
	rp := httputil.NewSingleHostReverseProxy(u)
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		op := operation(r)
		p.mu.Lock()
		p.calls[op]++
		p.seen[service(r)+":"+op] = true
		f := p.rules[op]
		var fault *Fault
		if f != nil {
			copied := *f
			fault = &copied
			if f.Times > 0 {
				f.Times--
				if f.Times == 0 {
					delete(p.rules, op)
				}
			}
		}
		p.mu.Unlock()
		if fault == nil {
			rp.ServeHTTP(w, r)
			return
		}
		switch fault.Kind {
		case Throttle:
			w.Header().Set("Content-Type", "application/x-amz-json-1.1")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"__type":"ThrottlingException","message":"Rate exceeded"}`)
		case Unavailable:
			w.WriteHeader(http.StatusServiceUnavailable)
		case InternalError:
			w.WriteHeader(http.StatusInternalServerError)
		case Reset:
			if hj, ok := w.(http.Hijacker); ok {
				if c, _, err := hj.Hijack(); err == nil {
					_ = c.Close()
					return
				}
			}
			w.WriteHeader(http.StatusBadGateway)
		case Slow:
			time.Sleep(fault.Delay)
			rp.ServeHTTP(w, r)
		case LostAnswer:
			rec := httptest.NewRecorder()
			rp.ServeHTTP(rec, r)
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	p.URL = p.srv.URL
	return p
}

// Inject sets the fault of an operation ("CancelKeyDeletion").
func (p *Proxy) Inject(op string, f Fault) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fc := f
	p.rules[op] = &fc
}

// Calls is how many times an operation was called, faults included.
func (p *Proxy) Calls(op string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls[op]
}

// Seen lists every call made, as IAM names them: kms:DescribeKey.
func (p *Proxy) Seen() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]string, 0, len(p.seen))
	for op := range p.seen {
		out = append(out, op)
	}
	sort.Strings(out)
	return out
}

// service is the signing name of a request, from its SigV4 credential
// scope (Credential=AKID/date/region/SERVICE/aws4_request): the IAM
// service prefix for the services kmsguard calls.
func service(r *http.Request) string {
	_, scope, _ := strings.Cut(r.Header.Get("Authorization"), "Credential=")
	parts := strings.Split(strings.SplitN(scope, ",", 2)[0], "/")
	if len(parts) >= 4 {
		return parts[3]
	}
	return "unknown"
}

// Config returns base routed through the proxy, retrying as a kmsguard
// Lambda does (the SDK's standard retryer, six attempts) but with backoffs
// capped at 20 ms so tests stay quick.
func (p *Proxy) Config(base aws.Config) aws.Config {
	cfg := base.Copy()
	cfg.BaseEndpoint = aws.String(p.URL)
	// A loaded config keeps its sources, and an endpoint there (moto's)
	// wins over BaseEndpoint: drop them.
	cfg.ConfigSources = nil
	cfg.RetryMaxAttempts = 0
	cfg.Retryer = func() aws.Retryer {
		return retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts = 6
			o.MaxBackoff = 20 * time.Millisecond
		})
	}
	return cfg
}

// Close stops the proxy.
func (p *Proxy) Close() { p.srv.Close() }

// operation names the AWS operation of a request: X-Amz-Target for JSON
// protocols, Action for query protocols.
func operation(r *http.Request) string {
	if t := r.Header.Get("X-Amz-Target"); t != "" {
		if i := strings.LastIndex(t, "."); i >= 0 {
			return t[i+1:]
		}
		return t
	}
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	if v, err := url.ParseQuery(string(body)); err == nil {
		return v.Get("Action")
	}
	return ""
}
