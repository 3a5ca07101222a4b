package benchkit

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os/exec"
	"sync/atomic"
	"syscall"
	"time"
)

// Timing of a fleet of serve processes.
const (
	serveReadyTimeout = time.Minute      // for a serve process to answer /readyz
	serveStopTimeout  = 30 * time.Second // for a serve process to exit after SIGTERM
	serveGrace        = "5s"             // serve --grace: every call has reported by then
)

// Fleet is a set of `campaign serve` processes on one database, calling the simulator, behind
// a round-robin proxy that spreads the webhooks over them as a load balancer would.
type Fleet struct {
	// ProxyURL is the proxy's base URL: the campaigns' public URL.
	ProxyURL string

	prog       Program
	procs      []*serveProc
	closeProxy func()
}

// serveProc is one `campaign serve` process.
type serveProc struct {
	label  string
	addr   string
	cmd    *exec.Cmd
	done   chan struct{} // closed when the process has exited
	err    error         // its exit status, once done is closed
	waited func()        // waits for its stderr to be copied
}

// StartFleet starts n `bin serve` processes on dbURL, calling sim, each with env added to its
// environment, waits until each answers /readyz and starts the proxy in front of them. On an
// error it stops what it started. Stop the fleet with Stop (an interrupt of ctx does not: the
// processes must stop before the scratch database is dropped).
func (p Program) StartFleet(ctx context.Context, n int, bin, dbURL string, sim *Simulator, env ...string) (*Fleet, error) {
	f := &Fleet{prog: p}
	for i := range n {
		addr, err := FreeAddr()
		if err != nil {
			f.Stop()
			return nil, err
		}
		sp := &serveProc{label: fmt.Sprintf("serve %d", i+1), addr: addr, done: make(chan struct{})}
		procEnv := append(append(sim.Env(), "CAMPAIGN_LOG_LEVEL=warn"), env...)
		// Not CommandContext: an interrupt stops the processes with SIGTERM, in Stop.
		sp.cmd, sp.waited = p.Command(context.WithoutCancel(ctx), sp.label, bin, dbURL, procEnv,
			"serve", "--listen", addr, "--vapi-base-url", sim.URL, "--grace", serveGrace)
		if err := sp.cmd.Start(); err != nil {
			f.Stop()
			return nil, fmt.Errorf("start %s: %w", sp.label, err)
		}
		go func() {
			sp.err = sp.cmd.Wait()
			sp.waited()
			close(sp.done)
		}()
		f.procs = append(f.procs, sp)
	}
	p.Progress("started %d campaign serve processes; waiting until they are ready …", len(f.procs))
	for _, sp := range f.procs {
		if err := sp.waitReady(ctx); err != nil {
			f.Stop()
			return nil, err
		}
	}
	if err := f.startProxy(); err != nil {
		f.Stop()
		return nil, err
	}
	return f, nil
}

// DetachArgs are the arguments of `campaign run FILE --detach` that hand the fleet a campaign
// named name on sim: no rate limit (the cap and the account are the only limits), a live-call
// cap of maxConcurrent, one attempt a contact, the window "always", the proxy as its public URL.
func (f *Fleet) DetachArgs(file, name string, maxConcurrent int, sim *Simulator) []string {
	return append([]string{"run", file, "--detach", "--name", name, "--rate", "0",
		"--max-concurrent", fmt.Sprint(maxConcurrent), "--window", "always", "--retry", "none", "--max-attempts", "1",
		"--public-url", f.ProxyURL}, sim.RunFlags()...)
}

// waitReady polls the process's /readyz until it answers 200.
func (sp *serveProc) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(serveReadyTimeout)
	for {
		resp, err := http.Get("http://" + sp.addr + "/readyz")
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-sp.done:
			return fmt.Errorf("%s exited before it was ready: %v (its messages are above)", sp.label, sp.err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s was not ready within %s", sp.label, serveReadyTimeout)
		}
	}
}

// Stop closes the proxy, sends SIGTERM to every serve process still running and waits for them
// to exit, killing those that outlast serveStopTimeout. It may be called more than once.
func (f *Fleet) Stop() {
	if f.closeProxy != nil {
		f.closeProxy()
		f.closeProxy = nil
	}
	for _, sp := range f.procs {
		select {
		case <-sp.done:
		default:
			_ = sp.cmd.Process.Signal(syscall.SIGTERM)
		}
	}
	for _, sp := range f.procs {
		select {
		case <-sp.done:
		case <-time.After(serveStopTimeout):
			f.prog.Progress("warning: %s did not stop within %s; killing it", sp.label, serveStopTimeout)
			_ = sp.cmd.Process.Kill()
			<-sp.done
		}
	}
}

// startProxy serves, on a loopback port, a reverse proxy that sends each request to the next
// serve process in turn.
func (f *Fleet) startProxy() error {
	targets := make([]*url.URL, len(f.procs))
	for i, sp := range f.procs {
		targets[i] = &url.URL{Scheme: "http", Host: sp.addr}
	}
	var next atomic.Uint64
	transport := &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 64, IdleConnTimeout: time.Minute}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(targets[(next.Add(1)-1)%uint64(len(targets))])
		},
		Transport: transport,
	}
	proxyURL, closeFn, err := Serve(proxy)
	if err != nil {
		return fmt.Errorf("start the proxy: %w", err)
	}
	f.ProxyURL = proxyURL
	f.closeProxy = func() { closeFn(); transport.CloseIdleConnections() }
	return nil
}
