package main

import (
	"context"
	"io"
)

// interruptible returns r as a reader that gives up when ctx ends: a read blocked on an input
// that stays open without writing (stdin from a pipe or a terminal, a named pipe) returns ctx's
// error at once instead of waiting for the writer or EOF, so Ctrl-C stops an import promptly.
// Neither stdin nor a pipe can be unblocked (os.Stdin has no deadline and closing it does not
// wake a read), so each read runs in a goroutine of its own; one blocked when ctx ends is left
// to finish when its input does (the process is exiting by then) and its data is dropped.
func interruptible(ctx context.Context, r io.Reader) io.Reader {
	return &ctxReader{ctx: ctx, r: r, done: make(chan readResult, 1)}
}

// ctxReader is the reader of interruptible.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
	// buf is what the read in flight fills; it is copied out only when that read returns, so a
	// read abandoned when ctx ended never writes into a caller's slice.
	buf  []byte
	done chan readResult
}

// readResult is what one read of the underlying reader returned.
type readResult struct {
	n   int
	err error
}

// Read reads the underlying reader into p, or returns ctx's error as soon as ctx ends.
func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	if len(p) == 0 {
		return 0, nil
	}
	if cap(c.buf) < len(p) {
		c.buf = make([]byte, len(p))
	}
	buf := c.buf[:len(p)]
	go func() {
		n, err := c.r.Read(buf)
		c.done <- readResult{n: n, err: err}
	}()
	select {
	case res := <-c.done:
		return copy(p, buf[:res.n]), res.err
	case <-c.ctx.Done():
		return 0, c.ctx.Err()
	}
}
