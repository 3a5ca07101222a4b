package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// healthcheckOptions are the flags of `campaign healthcheck`.
type healthcheckOptions struct {
	Listen  string
	Ready   bool
	Timeout time.Duration
	// url is the URL validate works out from Listen and Ready.
	url string
}

// healthcheckEnv are the flags of `campaign healthcheck` that default from the environment: the
// same address as serve's.
var healthcheckEnv = map[string]string{"listen": envListen}

// newHealthcheckCmd returns `campaign healthcheck`; runF, when not nil, gets the checked options
// instead of runHealthcheck (tests).
func newHealthcheckCmd(a *app, runF func(*healthcheckOptions) error) *cobra.Command {
	opts := &healthcheckOptions{}
	cmd := &cobra.Command{
		Use:   "healthcheck",
		Short: "Ask a campaign serve process whether it is alive (/healthz) or ready (/readyz): exit 0 if so, else 1",
		Long: "Ask the campaign serve process on --listen (the same flag and variable as serve's) for /healthz, or\n" +
			"with --ready for /readyz (workers running, database answering). It exits 0 on 200, else 1. The\n" +
			"image has no shell or curl, so its HEALTHCHECK runs this; it opens no database.",
		Example: `  campaign healthcheck                          # serve on 127.0.0.1:8080
  campaign healthcheck --listen 10.0.0.5:8080 --ready`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := applyEnv(cmd.Flags(), a.getenv, healthcheckEnv); err != nil {
				return err
			}
			if err := opts.validate(); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return runHealthcheck(cmd.Context(), a, opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Listen, "listen", "127.0.0.1:8080", "address serve listens on (env "+envListen+"); all-interfaces addresses are asked on loopback")
	f.BoolVar(&opts.Ready, "ready", false, "ask /readyz (ready for work) instead of /healthz (alive)")
	f.DurationVar(&opts.Timeout, "timeout", 5*time.Second, "how long to wait for the answer")
	return cmd
}

// validate checks --listen and works out the URL to ask: an all-interfaces address is asked
// on loopback.
func (o *healthcheckOptions) validate() error {
	host, port, err := net.SplitHostPort(o.Listen)
	if err != nil {
		return usageErrorf("--listen %q: want HOST:PORT, e.g. 127.0.0.1:8080", o.Listen)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1" // serve listens on every interface, loopback included
	}
	path := "/healthz"
	if o.Ready {
		path = "/readyz"
	}
	o.url = "http://" + net.JoinHostPort(host, port) + path
	return nil
}

// runHealthcheck asks serve for its health (or readiness) and prints the answer.
func runHealthcheck(ctx context.Context, a *app, opts *healthcheckOptions) error {
	url := opts.url
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("healthcheck %s: %w", url, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err) // a *url.Error: names the method and URL
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck %s: %s: %s", url, resp.Status, strings.TrimSpace(string(body)))
	}
	fmt.Fprintf(a.out, "%s: %s\n", url, strings.TrimSpace(string(body)))
	return nil
}
