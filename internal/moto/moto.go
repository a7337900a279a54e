// Package moto starts and drives a local moto server, the AWS emulator that
// kmsguard's integration tests and `kmsguard demo` run against. The server
// binds 127.0.0.1 on a free port and is stopped by whoever started it.
package moto

import (
	"bytes"
	"context"
	_ "embed"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// Version is the moto release kmsguard's tests are written against.
const Version = "5.2.1"

// DefaultAccount is the account moto acts in for plain credentials.
const DefaultAccount = "123456789012"

// Server is a running moto server process.
type Server struct {
	URL  string
	cmd  *exec.Cmd
	done chan struct{}
	log  *bytes.Buffer
	dir  string
}

// PID is the moto server's process id, for benchmarks that read its CPU time.
func (s *Server) PID() int { return s.cmd.Process.Pid }

// launcher starts moto's server with the operations kmsguard needs that
// moto 5.2.1 lacks (see the file's docstring and docs/testing.md).
//
//go:embed launcher.py
var launcher []byte

// Python is the interpreter that runs moto: $KMSGUARD_PYTHON, else python3.
func Python() string {
	if b := os.Getenv("KMSGUARD_PYTHON"); b != "" {
		return b
	}
	return "python3"
}

// Start launches moto on 127.0.0.1 and waits until it answers.
func Start(ctx context.Context) (*Server, error) {
	bin, err := exec.LookPath(Python())
	if err != nil {
		return nil, fmt.Errorf("python not found (%s): moto %s runs on it: %w", Python(), Version, err)
	}
	dir, err := os.MkdirTemp("", "kmsguard-moto-")
	if err != nil {
		return nil, err
	}
	script := filepath.Join(dir, "launcher.py")
	if err := os.WriteFile(script, launcher, 0o600); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		s := &Server{URL: fmt.Sprintf("http://127.0.0.1:%d", port), done: make(chan struct{}), log: &bytes.Buffer{}, dir: dir}
		s.cmd = exec.Command(bin, script, "-H", "127.0.0.1", "-p", fmt.Sprint(port))
		s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
		// The emulator must never reach the real AWS or a real account.
		s.cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID=testing", "AWS_SECRET_ACCESS_KEY=testing", "MOTO_ALLOW_NONEXISTENT_REGION=false")
		setProcAttrs(s.cmd)
		if err := s.cmd.Start(); err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("start %s: %w", bin, err)
		}
		go func() { _ = s.cmd.Wait(); close(s.done) }()
		if err := s.waitReady(ctx, 30*time.Second); err != nil {
			stopProcess(s.cmd)
			<-s.done
			lastErr = err
			continue
		}
		return s, nil
	}
	os.RemoveAll(dir)
	return nil, lastErr
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (s *Server) waitReady(ctx context.Context, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			return fmt.Errorf("moto server exited: %s", strings.TrimSpace(s.log.String()))
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		resp, err := http.Get(s.URL + "/moto-api/data.json")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
	}
	return fmt.Errorf("moto server at %s not ready after %s", s.URL, limit)
}

// Stop ends the server and waits for it to exit.
func (s *Server) Stop() {
	if s == nil || s.cmd == nil || s.cmd.Process == nil {
		return
	}
	stopProcess(s.cmd)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
	}
	os.RemoveAll(s.dir)
}

// Reset wipes every account and Region of the emulator.
func (s *Server) Reset() error {
	resp, err := http.Post(s.URL+"/moto-api/reset", "application/json", nil)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("moto reset: HTTP %d", resp.StatusCode)
	}
	return nil
}

// Config returns an SDK config that talks to this server in the default
// account, with fake static credentials and three attempts: enough to ride
// out the kept-alive connection moto sometimes drops under load, few enough
// that an operation moto lacks (HTTP 500) fails fast.
func (s *Server) Config(ctx context.Context, region string) (aws.Config, error) {
	return config.LoadDefaultConfig(ctx,
		config.WithRegion(region),
		config.WithBaseEndpoint(s.URL),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("testing", "testing", "")),
		config.WithRetryMaxAttempts(3),
	)
}

// AccountConfig returns a config acting in another account, through
// sts:AssumeRole on arn:aws:iam::<account>:role/<role> as moto models it.
func (s *Server) AccountConfig(ctx context.Context, account, region string) (aws.Config, error) {
	cfg, err := s.Config(ctx, region)
	if err != nil || account == "" || account == DefaultAccount {
		return cfg, err
	}
	role := fmt.Sprintf("arn:aws:iam::%s:role/kmsguard-test-setup", account)
	cfg.Credentials = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(sts.NewFromConfig(cfg), role))
	return cfg, nil
}

// Env is the environment a child process needs to use this server.
func (s *Server) Env() []string {
	return []string{
		"AWS_ENDPOINT_URL=" + s.URL,
		"AWS_ACCESS_KEY_ID=testing",
		"AWS_SECRET_ACCESS_KEY=testing",
		"AWS_MAX_ATTEMPTS=1",
	}
}

// RunTests starts a server for a test package, runs its tests, stops the
// server and exits: call it from TestMain. A package whose tests need moto
// fails (not skips) when moto cannot start.
func RunTests(m interface{ Run() int }, srv **Server) {
	s, err := Start(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, "these tests need the moto server:", err)
		os.Exit(1)
	}
	*srv = s
	code := m.Run()
	s.Stop()
	os.Exit(code)
}
