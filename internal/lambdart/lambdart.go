// Package lambdart runs a real Lambda bootstrap binary locally: it emulates
// the Lambda Runtime API (2018-06-01) on 127.0.0.1, starts the binary with
// AWS_LAMBDA_RUNTIME_API pointing at it, and hands it events. The demo and
// the tests use it so that what runs is the binary that ships, not an
// in-process handler.
package lambdart

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

const prefix = "/2018-06-01/runtime/"

// Result is what the function answered for one invocation.
type Result struct {
	// Payload is the response body, when the invocation succeeded.
	Payload []byte
	// Error is set when the function reported an error.
	Error *FunctionError
}

// FunctionError is the body a runtime posts to /invocation/{id}/error.
type FunctionError struct {
	Message string `json:"errorMessage"`
	Type    string `json:"errorType"`
}

func (e *FunctionError) Error() string { return e.Type + ": " + e.Message }

type invocation struct {
	id      string
	payload []byte
	result  chan Result
}

// Function is one bootstrap process and its Runtime API.
type Function struct {
	Name string

	ln      net.Listener
	srv     *http.Server
	cmd     *exec.Cmd
	queue   chan *invocation
	mu      sync.Mutex
	pending map[string]*invocation
	seq     atomic.Int64
	exited  chan struct{}
	stderr  bytes.Buffer
	stderrM sync.Mutex
	initErr atomic.Pointer[FunctionError]
	// firstNext is when the binary first asked for an event.
	firstNext chan time.Time
	started   time.Time
}

// Start launches bootstrap as function name with the extra environment, and
// serves its Runtime API on a free port of 127.0.0.1.
//
// The process gets the environment Lambda gives a provided.al2023 function,
// not this machine's: a host variable would change what is measured or run
// (AWS_CA_BUNDLE, for one, makes the SDK parse a whole certificate bundle at
// cold start, about 3.5 ms here, which no Lambda pays).
func Start(bootstrap, name string, env []string) (*Function, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	f := &Function{Name: name, ln: ln, queue: make(chan *invocation), pending: map[string]*invocation{}, exited: make(chan struct{}), firstNext: make(chan time.Time, 1)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+prefix+"invocation/next", f.next)
	mux.HandleFunc("POST "+prefix+"invocation/{id}/response", f.respond)
	mux.HandleFunc("POST "+prefix+"invocation/{id}/error", f.fail)
	mux.HandleFunc("POST "+prefix+"init/error", f.initError)
	f.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = f.srv.Serve(ln) }()

	f.cmd = exec.Command(bootstrap)
	f.cmd.Env = append([]string{
		"PATH=/usr/local/bin:/usr/bin/:/bin:/opt/bin",
		"LANG=en_US.UTF-8",
		"TZ=:UTC",
		"AWS_EXECUTION_ENV=AWS_Lambda_provided.al2023",
		"AWS_LAMBDA_RUNTIME_API=" + ln.Addr().String(),
		"AWS_LAMBDA_FUNCTION_NAME=" + name,
		"AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=256",
		"AWS_LAMBDA_LOG_FORMAT=JSON",
		"AWS_LAMBDA_LOG_LEVEL=INFO",
	}, env...)
	f.cmd.Stdout = &lockedWriter{w: &f.stderr, mu: &f.stderrM}
	f.cmd.Stderr = f.cmd.Stdout
	f.started = time.Now()
	if err := f.cmd.Start(); err != nil {
		_ = f.srv.Close()
		return nil, fmt.Errorf("start %s: %w", bootstrap, err)
	}
	go func() { _ = f.cmd.Wait(); close(f.exited) }()
	return f, nil
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// PID is the bootstrap's process id.
func (f *Function) PID() int { return f.cmd.Process.Pid }

// Output is what the binary wrote to stdout and stderr so far (its logs).
func (f *Function) Output() string {
	f.stderrM.Lock()
	defer f.stderrM.Unlock()
	return f.stderr.String()
}

// TimeToFirstRequest waits for the binary's first /invocation/next and
// returns how long after exec it came.
func (f *Function) TimeToFirstRequest(ctx context.Context) (time.Duration, error) {
	select {
	case t := <-f.firstNext:
		f.firstNext <- t
		return t.Sub(f.started), nil
	case <-f.exited:
		return 0, f.exitError()
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

func (f *Function) exitError() error {
	if e := f.initErr.Load(); e != nil {
		return fmt.Errorf("%s failed to start: %w\n%s", f.Name, e, f.Output())
	}
	return fmt.Errorf("%s exited: %v\n%s", f.Name, f.cmd.ProcessState, f.Output())
}

// Invoke sends one event and waits for the function's answer.
func (f *Function) Invoke(ctx context.Context, payload []byte) (Result, error) {
	inv := &invocation{id: fmt.Sprintf("%s-%06d", f.Name, f.seq.Add(1)), payload: payload, result: make(chan Result, 1)}
	select {
	case f.queue <- inv:
	case <-f.exited:
		return Result{}, f.exitError()
	case <-ctx.Done():
		return Result{}, ctx.Err()
	}
	select {
	case r := <-inv.result:
		return r, nil
	case <-f.exited:
		return Result{}, f.exitError()
	case <-ctx.Done():
		return Result{}, ctx.Err()
	}
}

// Stop ends the process and the server.
func (f *Function) Stop() {
	if f.cmd.Process != nil {
		_ = f.cmd.Process.Kill()
		<-f.exited
	}
	_ = f.srv.Close()
}

func (f *Function) next(w http.ResponseWriter, r *http.Request) {
	select {
	case f.firstNext <- time.Now():
	default:
	}
	select {
	case inv := <-f.queue:
		f.mu.Lock()
		f.pending[inv.id] = inv
		f.mu.Unlock()
		h := w.Header()
		h.Set("Lambda-Runtime-Aws-Request-Id", inv.id)
		h.Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(time.Now().Add(60*time.Second).UnixMilli(), 10))
		h.Set("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:eu-west-1:123456789012:function:"+f.Name)
		h.Set("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000;Sampled=0")
		h.Set("Content-Type", "application/json")
		_, _ = w.Write(inv.payload)
	case <-r.Context().Done():
	}
}

func (f *Function) take(id string) *invocation {
	f.mu.Lock()
	defer f.mu.Unlock()
	inv := f.pending[id]
	delete(f.pending, id)
	return inv
}

func (f *Function) respond(w http.ResponseWriter, r *http.Request) {
	inv := f.take(r.PathValue("id"))
	if inv == nil {
		http.Error(w, "unknown request id", http.StatusBadRequest)
		return
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, 6<<20))
	inv.result <- Result{Payload: body}
	w.WriteHeader(http.StatusAccepted)
}

func (f *Function) fail(w http.ResponseWriter, r *http.Request) {
	inv := f.take(r.PathValue("id"))
	if inv == nil {
		http.Error(w, "unknown request id", http.StatusBadRequest)
		return
	}
	var fe FunctionError
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err := json.Unmarshal(body, &fe); err != nil {
		fe = FunctionError{Message: strings.TrimSpace(string(body)), Type: "Unknown"}
	}
	inv.result <- Result{Error: &fe}
	w.WriteHeader(http.StatusAccepted)
}

func (f *Function) initError(w http.ResponseWriter, r *http.Request) {
	var fe FunctionError
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err := json.Unmarshal(body, &fe); err != nil {
		fe = FunctionError{Message: string(body), Type: "InitError"}
	}
	f.initErr.Store(&fe)
	w.WriteHeader(http.StatusAccepted)
}

// ErrNoBinary is returned by Build when the go tool is missing.
var ErrNoBinary = errors.New("go toolchain not found")

// Build compiles the Lambda main packages (./functions/cmd/<name>) for this
// machine into dir/<name>/bootstrap with the flags the shipped arm64 build
// uses, and returns dir. moduleRoot is the repository root.
func Build(ctx context.Context, moduleRoot, dir string, names []string) error {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return ErrNoBinary
	}
	for _, n := range names {
		out := dir + "/" + n + "/bootstrap"
		cmd := exec.CommandContext(ctx, goBin, "build", "-tags", "lambda.norpc", "-trimpath", "-ldflags", "-s -w", "-o", out, "./functions/cmd/"+n)
		cmd.Dir = moduleRoot
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if b, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("build %s: %v\n%s", n, err, b)
		}
	}
	return nil
}
