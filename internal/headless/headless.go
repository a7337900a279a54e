// Package headless opens a page in a real browser for the tests: Debian's
// Chromium, headless, driven over the Chrome DevTools Protocol on a pipe
// (--remote-debugging-pipe: Chromium reads NUL-terminated JSON commands on
// its fd 3 and writes answers and events on its fd 4), so no port is
// opened. It reports what the page said was wrong (console errors,
// uncaught exceptions, error log entries, dialogs), evaluates expressions
// and takes a screenshot. The test that starts Chromium stops it.
package headless

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// NoBrowserEnv, set to 1, skips the browser tests where Chromium cannot be
// installed; without it a missing Chromium fails them.
const NoBrowserEnv = "KMSGUARD_NO_BROWSER"

// ArtifactsEnv names the directory the tests write their artifacts to
// (screenshots); default test-artifacts/ at the repository's root.
const ArtifactsEnv = "KMSGUARD_ARTIFACTS"

// Binary is the Chromium the tests run (Debian's package names it so).
const Binary = "chromium"

// Require returns Chromium's path. Without it the test fails, saying how
// to install it, unless KMSGUARD_NO_BROWSER=1 skips it.
func Require(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath(Binary)
	if err == nil {
		return p
	}
	if os.Getenv(NoBrowserEnv) == "1" {
		t.Skipf("%s=1: the browser check is skipped (%s is not installed)", NoBrowserEnv, Binary)
	}
	t.Fatalf("%s is not installed: `make tools` (or `make browser`) installs Debian's package; set %s=1 to skip this check where it cannot be installed", Binary, NoBrowserEnv)
	return ""
}

// Artifacts is the directory for the tests' artifacts, created if needed:
// $KMSGUARD_ARTIFACTS, else test-artifacts/ at the repository's root.
func Artifacts(t testing.TB) string {
	t.Helper()
	dir := os.Getenv(ArtifactsEnv)
	if dir == "" {
		root, err := RepoRoot()
		if err != nil {
			t.Fatal(err)
		}
		dir = filepath.Join(root, "test-artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// RepoRoot is the directory of go.mod above the working directory.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// Options tune a page load.
type Options struct {
	// Width of the viewport in CSS pixels (default 1280).
	Width int
	// MaxHeight bounds the screenshot of the whole page (default 16000).
	MaxHeight int
	// Eval are JavaScript expressions evaluated once the page has loaded;
	// their values (JSON) are in Page.Values, in order.
	Eval []string
}

// Page is what a load found.
type Page struct {
	// Problems are what the page reported: console errors and failed
	// assertions, uncaught exceptions, error log entries (a resource that
	// failed to load, a blocked request) and dialogs.
	Problems []string
	// Values are the results of Options.Eval.
	Values []json.RawMessage
	// Screenshot is a PNG of the whole page.
	Screenshot []byte
}

// Load opens file in a fresh headless Chromium and stops it before
// returning.
func Load(ctx context.Context, chromium, file string, o Options) (*Page, error) {
	if o.Width == 0 {
		o.Width = 1280
	}
	if o.MaxHeight == 0 {
		o.MaxHeight = 16000
	}
	abs, err := filepath.Abs(file)
	if err != nil {
		return nil, err
	}
	profile, err := os.MkdirTemp("", "kmsguard-chromium-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(profile)

	// Chromium reads commands from its fd 3 and writes to its fd 4.
	cmdR, cmdW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	var stderr strings.Builder
	cmd := exec.Command(chromium,
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
		"--remote-debugging-pipe", "--user-data-dir="+profile,
		"--no-first-run", "--no-default-browser-check", "--disable-extensions",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-default-apps", "--disable-breakpad", "--disable-crash-reporter", "--mute-audio", "--hide-scrollbars",
		"about:blank")
	cmd.ExtraFiles = []*os.File{cmdR, outW}
	cmd.Stderr = &limited{w: &stderr, n: 64 << 10}
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", chromium, err)
	}
	cmdR.Close()
	outW.Close()
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()

	c := newConn(cmdW, outR)
	page, err := c.load(ctx, (&url.URL{Scheme: "file", Path: abs}).String(), o)
	// Stop it: politely, then by its process group (the browser and the
	// helpers it started, nothing else).
	closeCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	_, _ = c.call(closeCtx, "", "Browser.close", nil)
	cancel()
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		kill(cmd)
		<-exited
	}
	cmdW.Close()
	outR.Close()
	if err != nil {
		return nil, fmt.Errorf("%w\nchromium's stderr:\n%s", err, stderr.String())
	}
	return page, nil
}

// limited keeps the first n bytes written.
type limited struct {
	w io.Writer
	n int
}

func (l *limited) Write(p []byte) (int, error) {
	if l.n > 0 {
		k := min(len(p), l.n)
		_, _ = l.w.Write(p[:k])
		l.n -= k
	}
	return len(p), nil
}

type message struct {
	ID        int             `json:"id,omitempty"`
	Method    string          `json:"method,omitempty"`
	Params    json.RawMessage `json:"params,omitempty"`
	SessionID string          `json:"sessionId,omitempty"`
	Result    json.RawMessage `json:"result,omitempty"`
	Error     *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error,omitempty"`
}

type conn struct {
	w  io.Writer
	wm sync.Mutex

	mu       sync.Mutex
	next     int
	pending  map[int]chan message
	problems []string
	dead     chan struct{}
	readErr  error
}

func newConn(w io.Writer, r io.Reader) *conn {
	c := &conn{w: w, pending: map[int]chan message{}, dead: make(chan struct{})}
	go c.read(bufio.NewReaderSize(r, 1<<20))
	return c
}

func (c *conn) read(r *bufio.Reader) {
	defer close(c.dead)
	for {
		raw, err := r.ReadBytes(0)
		if err != nil {
			c.mu.Lock()
			c.readErr = err
			c.mu.Unlock()
			return
		}
		var m message
		if err := json.Unmarshal(raw[:len(raw)-1], &m); err != nil {
			continue
		}
		if m.ID != 0 {
			c.mu.Lock()
			ch := c.pending[m.ID]
			delete(c.pending, m.ID)
			c.mu.Unlock()
			if ch != nil {
				ch <- m
			}
			continue
		}
		c.event(m)
	}
}

func (c *conn) problem(format string, args ...any) {
	c.mu.Lock()
	c.problems = append(c.problems, fmt.Sprintf(format, args...))
	c.mu.Unlock()
}

// event records what the page reports as wrong.
func (c *conn) event(m message) {
	switch m.Method {
	case "Runtime.consoleAPICalled":
		var p struct {
			Type string `json:"type"`
			Args []struct {
				Value       any    `json:"value"`
				Description string `json:"description"`
			} `json:"args"`
		}
		_ = json.Unmarshal(m.Params, &p)
		if p.Type == "error" || p.Type == "assert" {
			var parts []string
			for _, a := range p.Args {
				if a.Description != "" {
					parts = append(parts, a.Description)
				} else {
					parts = append(parts, fmt.Sprint(a.Value))
				}
			}
			c.problem("console.%s: %s", p.Type, strings.Join(parts, " "))
		}
	case "Runtime.exceptionThrown":
		var p struct {
			Details struct {
				Text      string `json:"text"`
				Exception struct {
					Description string `json:"description"`
				} `json:"exception"`
			} `json:"exceptionDetails"`
		}
		_ = json.Unmarshal(m.Params, &p)
		c.problem("uncaught exception: %s %s", p.Details.Text, p.Details.Exception.Description)
	case "Log.entryAdded":
		var p struct {
			Entry struct {
				Level, Source, Text, URL string
			} `json:"entry"`
		}
		_ = json.Unmarshal(m.Params, &p)
		if p.Entry.Level == "error" {
			c.problem("log error (%s): %s %s", p.Entry.Source, p.Entry.Text, p.Entry.URL)
		}
	case "Page.javascriptDialogOpening":
		var p struct{ Type, Message string }
		_ = json.Unmarshal(m.Params, &p)
		c.problem("%s dialog opened: %q", p.Type, p.Message)
		go func() { // a dialog blocks the page until it is answered
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, _ = c.call(ctx, m.SessionID, "Page.handleJavaScriptDialog", map[string]any{"accept": false})
		}()
	}
}

func (c *conn) call(ctx context.Context, session, method string, params any) (json.RawMessage, error) {
	c.mu.Lock()
	c.next++
	id := c.next
	ch := make(chan message, 1)
	c.pending[id] = ch
	c.mu.Unlock()
	req := map[string]any{"id": id, "method": method}
	if params != nil {
		req["params"] = params
	}
	if session != "" {
		req["sessionId"] = session
	}
	raw, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	c.wm.Lock()
	_, err = c.w.Write(append(raw, 0))
	c.wm.Unlock()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", method, err)
	}
	select {
	case m := <-ch:
		if m.Error != nil {
			return nil, fmt.Errorf("%s: %s (%d)", method, m.Error.Message, m.Error.Code)
		}
		return m.Result, nil
	case <-c.dead:
		return nil, fmt.Errorf("%s: chromium closed the pipe: %v", method, c.readErr)
	case <-ctx.Done():
		return nil, fmt.Errorf("%s: %w", method, ctx.Err())
	}
}

func (c *conn) load(ctx context.Context, pageURL string, o Options) (*Page, error) {
	var target struct {
		TargetID string `json:"targetId"`
	}
	if err := c.into(ctx, "", "Target.createTarget", map[string]any{"url": "about:blank"}, &target); err != nil {
		return nil, err
	}
	var attached struct {
		SessionID string `json:"sessionId"`
	}
	if err := c.into(ctx, "", "Target.attachToTarget", map[string]any{"targetId": target.TargetID, "flatten": true}, &attached); err != nil {
		return nil, err
	}
	s := attached.SessionID
	for _, m := range []string{"Page.enable", "Runtime.enable", "Log.enable"} {
		if _, err := c.call(ctx, s, m, nil); err != nil {
			return nil, err
		}
	}
	metrics := func(height int) error {
		_, err := c.call(ctx, s, "Emulation.setDeviceMetricsOverride", map[string]any{"width": o.Width, "height": height, "deviceScaleFactor": 1, "mobile": false})
		return err
	}
	if err := metrics(900); err != nil {
		return nil, err
	}
	var nav struct {
		ErrorText string `json:"errorText"`
	}
	if err := c.into(ctx, s, "Page.navigate", map[string]any{"url": pageURL}, &nav); err != nil {
		return nil, err
	}
	if nav.ErrorText != "" {
		return nil, fmt.Errorf("navigate to %s: %s", pageURL, nav.ErrorText)
	}
	// Loaded: the document of url is complete (polled, so a load event of
	// the blank page before it cannot be mistaken for it).
	ready, _ := json.Marshal(pageURL)
	for {
		var r struct {
			Result struct {
				Value bool `json:"value"`
			} `json:"result"`
		}
		expr := "document.readyState === 'complete' && location.href === " + string(ready)
		if err := c.into(ctx, s, "Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true}, &r); err != nil {
			return nil, fmt.Errorf("waiting for %s to load: %w", pageURL, err)
		}
		if r.Result.Value {
			break
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for %s to load: %w", pageURL, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
	p := &Page{}
	for _, expr := range o.Eval {
		var r struct {
			Result struct {
				Value json.RawMessage `json:"value"`
			} `json:"result"`
			ExceptionDetails *struct {
				Text string `json:"text"`
			} `json:"exceptionDetails"`
		}
		if err := c.into(ctx, s, "Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true}, &r); err != nil {
			return nil, err
		}
		if r.ExceptionDetails != nil {
			return nil, fmt.Errorf("evaluate %q: %s", expr, r.ExceptionDetails.Text)
		}
		p.Values = append(p.Values, r.Result.Value)
	}
	var layout struct {
		Content struct {
			Height float64 `json:"height"`
		} `json:"cssContentSize"`
	}
	if err := c.into(ctx, s, "Page.getLayoutMetrics", nil, &layout); err != nil {
		return nil, err
	}
	if err := metrics(min(max(int(layout.Content.Height+0.5), 600), o.MaxHeight)); err != nil {
		return nil, err
	}
	var shot struct {
		Data string `json:"data"`
	}
	if err := c.into(ctx, s, "Page.captureScreenshot", map[string]any{"format": "png"}, &shot); err != nil {
		return nil, err
	}
	png, err := base64.StdEncoding.DecodeString(shot.Data)
	if err != nil {
		return nil, fmt.Errorf("screenshot: %w", err)
	}
	p.Screenshot = png
	// One more round trip, so every event sent before it has been read.
	if _, err := c.call(ctx, s, "Runtime.evaluate", map[string]any{"expression": "1"}); err != nil {
		return nil, err
	}
	c.mu.Lock()
	p.Problems = append([]string(nil), c.problems...)
	c.mu.Unlock()
	return p, nil
}

func (c *conn) into(ctx context.Context, session, method string, params, out any) error {
	raw, err := c.call(ctx, session, method, params)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	return nil
}
