package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// dispatching is the first line a campaign process logs once its workers run (its first
// progress report).
const dispatching = "msg=progress"

// logPhrases are log messages of the runners counted across all of them, for the progress
// report: how often the recovery paths were taken.
var logPhrases = []string{
	"result recorded from GET /call",
	"call creation ambiguous",
	"adopted a call",
	"no call was created",
}

// logSink receives a process's stderr: it writes it to a file, keeps its tail for evidence,
// notices the dispatching line, and counts logPhrases.
type logSink struct {
	mu      sync.Mutex
	f       *os.File
	tail    []byte
	partial []byte // the last line, not yet ended
	started chan struct{}
	seen    bool
	// reports counts the progress reports (dispatching lines): a runner whose campaign loop
	// runs writes one every few seconds.
	reports int
	counts  map[string]int
}

// tailBytes is how much of a process's output is kept in memory.
const tailBytes = 8 << 10

func newLogSink(path string) (*logSink, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	return &logSink{f: f, started: make(chan struct{}), counts: map[string]int{}}, nil
}

// Write implements io.Writer.
func (s *logSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, _ = s.f.Write(p) // the log file is evidence only; the tail is kept either way
	s.tail = append(s.tail, p...)
	if len(s.tail) > tailBytes {
		s.tail = s.tail[len(s.tail)-tailBytes:]
	}
	s.partial = append(s.partial, p...)
	for {
		i := bytes.IndexByte(s.partial, '\n')
		if i < 0 {
			break
		}
		line := string(s.partial[:i])
		s.partial = s.partial[i+1:]
		if strings.Contains(line, dispatching) {
			s.reports++
			if !s.seen {
				s.seen = true
				close(s.started)
			}
		}
		for _, ph := range logPhrases {
			if strings.Contains(line, ph) {
				s.counts[ph]++
			}
		}
	}
	return len(p), nil
}

// lastLines returns up to n last lines of the output.
func (s *logSink) lastLines(n int) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	lines := strings.Split(strings.TrimRight(string(s.tail), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// progressReports returns how many progress reports the process has written.
func (s *logSink) progressReports() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reports
}

// count returns how often phrase was logged.
func (s *logSink) count(phrase string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[phrase]
}

// proc is one `campaign` process.
type proc struct {
	name   string
	cmd    *exec.Cmd
	log    *logSink
	logPth string
	done   chan struct{}
	err    error // set before done is closed
}

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// runners starts `campaign` processes and remembers them all.
type runners struct {
	bin, dir string
	env      []string
	all      []*proc
}

// start starts a campaign process; its output goes to DIR/NAME.log.
func (r *runners) start(name string, args ...string) (*proc, error) {
	path := filepath.Join(r.dir, name+".log")
	sink, err := newLogSink(path)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(r.bin, args...)
	cmd.Dir = r.dir
	cmd.Env = r.env
	cmd.Stdout, cmd.Stderr = sink, sink
	if err := cmd.Start(); err != nil {
		sink.f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, log: sink, logPth: path, done: make(chan struct{})}
	r.all = append(r.all, p)
	go func() {
		p.err = cmd.Wait()
		sink.mu.Lock()
		sink.f.Close()
		sink.mu.Unlock()
		close(p.done)
	}()
	return p, nil
}

// launch starts a campaign process and waits until it dispatches. It returns the process also
// when it ended before (the caller looks at p.err).
func (r *runners) launch(ctx context.Context, name string, args ...string) (*proc, error) {
	p, err := r.start(name, args...)
	if err != nil {
		return nil, err
	}
	select {
	case <-p.log.started:
	case <-p.done:
	case <-time.After(2 * time.Minute):
		return p, fmt.Errorf("%s did not start dispatching within 2 minutes; its log: %s", name, p.logPth)
	case <-ctx.Done():
		return p, ctx.Err()
	}
	return p, nil
}

// kill ends the process with SIGKILL and waits until it is gone (and its webhook listener with
// it).
func (p *proc) kill() error {
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("kill %s: %w", p.name, err)
	}
	<-p.done
	return nil
}

// killedBySignal reports whether the process, which has ended, was ended by SIGKILL (rather
// than on its own just before the signal).
func (p *proc) killedBySignal() bool {
	ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
}

// killAll kills the processes still running (at the end, or when the driver gives up).
func (r *runners) killAll() {
	for _, p := range r.all {
		if !p.exited() {
			_ = p.kill()
		}
	}
}

// count sums the count of phrase over every process.
func (r *runners) count(phrase string) int {
	n := 0
	for _, p := range r.all {
		n += p.log.count(phrase)
	}
	return n
}
