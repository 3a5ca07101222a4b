package main

import (
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestHealthcheck asks a real serve process for its health and readiness, as the image's
// HEALTHCHECK does, and sees an unhealthy or absent server fail.
func TestHealthcheck(t *testing.T) {
	b := setup(t)
	b.realClock = true
	p := startServeInProcess(t, b, nil, map[string]string{}, "127.0.0.1:0")

	require.Equal(t, exitOK, b.run(t, "healthcheck", "--listen", p.addr), "stderr: %s", b.stderr)
	require.Equal(t, exitOK, b.run(t, "healthcheck", "--listen", p.addr, "--ready"), "stderr: %s", b.stderr)
	b.env[envListen] = p.addr // the variable serve reads too
	require.Equal(t, exitOK, b.run(t, "healthcheck", "--ready"), "stderr: %s", b.stderr)
	delete(b.env, envListen)
	_, port, err := net.SplitHostPort(p.addr)
	require.NoError(t, err)
	require.Equal(t, exitOK, b.run(t, "healthcheck", "--listen", "0.0.0.0:"+port), "serve's all-interfaces address is asked on loopback")

	// Not ready: 503.
	notReady := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/readyz" {
			http.Error(w, "shutting down", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	}))
	t.Cleanup(notReady.Close)
	addr := notReady.Listener.Addr().String()
	require.Equal(t, exitOK, b.run(t, "healthcheck", "--listen", addr))
	require.Equal(t, exitError, b.run(t, "healthcheck", "--listen", addr, "--ready"))
	require.Contains(t, b.stderr.String(), "http://"+addr+"/readyz: 503 Service Unavailable: shutting down")

	// Nothing listening.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closed := ln.Addr().String()
	require.NoError(t, ln.Close())
	require.Equal(t, exitError, b.run(t, "healthcheck", "--listen", closed))
	require.Contains(t, b.stderr.String(), "http://"+closed+"/healthz")
}
