package lab

import (
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"payhub/internal/secrets"
)

// binaries are the programs the lab starts: payhub, as shipped, for serve and sim, and the
// lab itself for what is never shipped (the bare pass-through, serve under the profiler).
type binaries struct {
	payhub, lab string
}

// findBinaries locates payhub: the --payhub flag, else the payhub built next to this
// payhub-lab (go build -o DIR/ ./cmd/payhub ./cmd/payhub-lab).
func findBinaries(payhubFlag string) (binaries, error) {
	lab, err := os.Executable()
	if err != nil {
		return binaries{}, err
	}
	payhub := payhubFlag
	if payhub == "" {
		payhub = filepath.Join(filepath.Dir(lab), "payhub")
	}
	if fi, err := os.Stat(payhub); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
		return binaries{}, fmt.Errorf("no payhub binary at %s: build both with 'go build -o DIR/ ./cmd/payhub ./cmd/payhub-lab', or name it with --payhub", payhub)
	}
	return binaries{payhub: payhub, lab: lab}, nil
}

// secretKeyEnv gives a run's serve processes one fresh sealing key (serve refuses to start
// without one; every process of the run must share it to open what the others sealed).
func secretKeyEnv() string {
	return "PAYHUB_SECRET_KEYS=" + base64.StdEncoding.EncodeToString(secrets.NewKey())
}

// auditKeyEnv gives a run's serve processes one fresh audit key (serve refuses to start
// without one; docs/security.md §9).
func auditKeyEnv() string {
	return "PAYHUB_AUDIT_KEY=" + base64.StdEncoding.EncodeToString(secrets.NewKey())
}

// childEnv is the environment of a child: the caller's without any PAYHUB_* variable (a
// half-configured partner exported in the caller's shell would stop serve), plus exactly
// what the child needs.
func childEnv(needs []string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PAYHUB_") {
			env = append(env, kv)
		}
	}
	return append(env, needs...)
}

// freeLoopbackAddr picks a free loopback port.
func freeLoopbackAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// childProcess is a program the lab runs as another process (payhub serve or sim, or the
// lab's own pass-through), logging to a file.
type childProcess struct {
	name, logPath string
	// bin is the program: binaries.payhub or binaries.lab.
	bin       string
	args, env []string
	cmd       *exec.Cmd
	exited    chan struct{}
}

func (c *childProcess) start() error {
	logFile, err := os.OpenFile(c.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	cmd := exec.Command(c.bin, c.args...)
	cmd.Env = childEnv(c.env)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return fmt.Errorf("start %s: %w", c.name, err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		logFile.Close()
		close(exited)
	}()
	c.cmd, c.exited = cmd, exited
	return nil
}

func (c *childProcess) running() bool {
	if c.exited == nil {
		return false
	}
	select {
	case <-c.exited:
		return false
	default:
		return true
	}
}

// kill sends SIGKILL and waits for the process to die: the crash.
func (c *childProcess) kill() {
	if !c.running() {
		return
	}
	_ = c.cmd.Process.Kill()
	<-c.exited
}

// stop asks the process to drain and exit, and kills it if it does not.
func (c *childProcess) stop() {
	if !c.running() {
		return
	}
	_ = c.cmd.Process.Signal(os.Interrupt)
	select {
	case <-c.exited:
	case <-time.After(10 * time.Second):
		c.kill()
	}
}

// logTail is the end of the process's log, for an error message.
func (c *childProcess) logTail() string {
	b, _ := os.ReadFile(c.logPath)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// waitReady polls url until it answers 200, the process dies or the wait runs out.
func waitReady(ctx context.Context, c *childProcess, url string) error {
	deadline := time.Now().Add(crashReadyTimeout)
	for time.Now().Before(deadline) {
		if !c.running() {
			return fmt.Errorf("%s exited: %s", c.name, c.logTail())
		}
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if err := sleepCtx(ctx, 50*time.Millisecond); err != nil {
			return err
		}
	}
	return fmt.Errorf("%s not ready after %s: %s", c.name, crashReadyTimeout, c.logTail())
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
