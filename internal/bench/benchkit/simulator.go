package benchkit

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/campaign-run/campaign/vapi/vapitest"
)

// SimPhoneNumberID is the phone number id the benchmarks' campaigns call from (the simulator
// accepts any).
const SimPhoneNumberID = "bench-phone-number"

// Simulator is the Vapi simulator (vapitest) on a loopback HTTP server, for campaign processes
// started by a benchmark to call.
type Simulator struct {
	*vapitest.Server
	// URL is the simulated API's base URL.
	URL string

	transport *http.Transport
	closeHTTP func()
}

// StartSimulator serves a vapitest.Server for cfg on a loopback port. Its webhooks are posted
// over a keep-alive client with up to webhookConns idle connections, as a fleet of senders
// would, so that connection churn on the loopback is not what is measured.
func StartSimulator(cfg vapitest.Config, webhookConns int) (*Simulator, error) {
	t := &http.Transport{MaxIdleConns: webhookConns, MaxIdleConnsPerHost: webhookConns, IdleConnTimeout: time.Minute}
	cfg.HTTPClient = &http.Client{Transport: t}
	srv := vapitest.New(cfg)
	url, closeHTTP, err := Serve(srv)
	if err != nil {
		srv.Close()
		return nil, fmt.Errorf("start the simulator: %w", err)
	}
	return &Simulator{Server: srv, URL: url, transport: t, closeHTTP: closeHTTP}, nil
}

// Close stops the simulator's calls and webhooks and its HTTP server.
func (s *Simulator) Close() {
	s.Server.Close()
	s.closeHTTP()
	s.transport.CloseIdleConnections()
}

// Env is the environment a campaign process needs to use the simulator: its API key.
func (s *Simulator) Env() []string {
	return []string{"VAPI_API_KEY=" + s.Config().APIKey}
}

// RunFlags are the `campaign run` flags that place a campaign's calls on the simulator: its
// URL, an assistant it knows and a phone number id.
func (s *Simulator) RunFlags() []string {
	return []string{"--vapi-base-url", s.URL, "--assistant-id", s.Config().Assistants[0].ID,
		"--phone-number-id", SimPhoneNumberID}
}

// WriteContacts writes ContactsCSV(n) to dir/name and returns its path.
func WriteContacts(dir, name string, n int) (string, error) {
	csv, err := ContactsCSV(n)
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, csv, 0o644); err != nil {
		return "", fmt.Errorf("write contacts: %w", err)
	}
	return path, nil
}
