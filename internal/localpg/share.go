package localpg

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// Share is Ensure for processes that share one server and want it stopped once the last of them
// is done, as the test binaries of `go test ./...` do. It registers this process as a user of the
// server, by a file of its own under DataDir+".users" on which it holds a lock for as long as it
// lives, and ensures the server runs. release unregisters it and stops the server when no live
// process is registered any more. A process that dies without release (SIGKILL) holds no lock,
// and the next release removes its file; if it was the last user, its server keeps running
// until another user comes and goes. The data directory's parent must exist.
func Share(ctx context.Context, opts Options) (srv *Server, release func(context.Context) error, err error) {
	c, err := newConfig(opts)
	if err != nil {
		return nil, nil, err
	}
	users := c.dataDir + ".users"
	unlock, err := lockFile(ctx, c.dataDir+".share.lock", c.log)
	if err != nil {
		return nil, nil, err
	}
	defer unlock()
	if err := os.MkdirAll(users, 0o700); err != nil {
		return nil, nil, fmt.Errorf("register as a user of %s: %w", c.dataDir, err)
	}
	f, err := os.CreateTemp(users, strconv.Itoa(os.Getpid())+"-*")
	if err != nil {
		return nil, nil, fmt.Errorf("register as a user of %s: %w", c.dataDir, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close()
		_ = os.Remove(f.Name())
		return nil, nil, fmt.Errorf("register as a user of %s: flock %s: %w", c.dataDir, f.Name(), err)
	}
	// unregister removes this process's file; the caller holds the share lock.
	unregister := func() {
		_ = os.Remove(f.Name())
		_ = f.Close() // releases the flock
	}
	if srv, err = Ensure(ctx, opts); err != nil {
		unregister()
		return nil, nil, err
	}
	release = func(ctx context.Context) error {
		unlock, err := lockFile(ctx, c.dataDir+".share.lock", c.log)
		if err != nil {
			return err
		}
		defer unlock()
		unregister()
		live, err := liveUsers(users)
		if err != nil || live > 0 {
			return err
		}
		c.log.Debug("last user of the shared server gone; stopping it", "data_dir", c.dataDir)
		return Stop(ctx, opts)
	}
	return srv, release, nil
}

// liveUsers counts the files in the users directory whose process still holds its lock, and
// removes the others (left by processes that died).
func liveUsers(dir string) (int, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, fmt.Errorf("list the users of the shared server: %w", err)
	}
	live := 0
	for _, e := range entries {
		path := filepath.Join(dir, e.Name())
		f, err := os.Open(path)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("list the users of the shared server: %w", err)
		}
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		switch {
		case err == nil:
			_ = os.Remove(path) // its process is gone
		case errors.Is(err, syscall.EWOULDBLOCK):
			live++
		default:
			_ = f.Close()
			return 0, fmt.Errorf("list the users of the shared server: flock %s: %w", path, err)
		}
		_ = f.Close()
	}
	return live, nil
}
