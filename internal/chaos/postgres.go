package main

import (
	"context"
	"fmt"
	"time"

	"github.com/campaign-run/campaign/internal/localpg"
)

// privatePG is a Postgres of this run's own: the managed local Postgres in a scratch data
// directory, reached over its Unix socket, so restarting it disturbs no other Postgres on the
// machine.
type privatePG struct {
	opts localpg.Options
	url  string
}

// startPG initialises and starts a server in dataDir (as root, it runs as user postgres and
// the missing parents of dataDir are created for that user).
func startPG(ctx context.Context, dataDir string) (*privatePG, error) {
	opts := localpg.Options{DataDir: dataDir}
	srv, err := localpg.Ensure(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("private postgres: %w", err)
	}
	prog.Progress("private postgres %s in %s", srv.Version, srv.DataDir)
	return &privatePG{opts: opts, url: srv.URL}, nil
}

// restart stops the server with pg_ctl stop -m fast (every connection is cut), leaves it down
// for down, and starts it again.
func (pg *privatePG) restart(ctx context.Context, down time.Duration) error {
	if err := localpg.Stop(ctx, pg.opts); err != nil {
		return fmt.Errorf("restart postgres: %w", err)
	}
	prog.Progress("postgres stopped (pg_ctl stop -m fast); down for %s", down)
	select {
	case <-time.After(down):
	case <-ctx.Done():
		return ctx.Err()
	}
	if _, err := localpg.Ensure(ctx, pg.opts); err != nil {
		return fmt.Errorf("restart postgres: %w", err)
	}
	prog.Progress("postgres started again")
	return nil
}

// stop stops the server, with a fresh context so that it runs after an interrupt too.
func (pg *privatePG) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := localpg.Stop(ctx, pg.opts); err != nil {
		prog.Progress("warning: could not stop the private postgres: %v", err)
	}
}
