package benchkit

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/campaign-run/campaign/campaign"
)

// Serve runs h on a loopback port until the returned function is called.
func Serve(h http.Handler) (baseURL string, closeFn func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), func() { _ = srv.Close() }, nil
}

// FreeAddr returns a loopback address with a port that was free a moment ago, for a child
// process to listen on (another process could take it in between, which the child then reports).
func FreeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := ln.Addr().String()
	return addr, ln.Close()
}

// areaCodes are real US area codes; with every valid exchange of each they give millions of
// distinct numbers.
var areaCodes = []string{"201", "212", "213", "305", "312", "404", "415", "503", "512", "602"}

// ContactsCSV returns a CSV of n contacts (columns phone and first_name) with distinct, valid US
// numbers in E.164, each checked with campaign.ParsePhone (the import's own normalisation), so
// that the import accepts every row. It avoids the 555 exchange, which holds the simulator's
// magic numbers, so every outcome comes from the simulator's mix. The same n gives the same file.
func ContactsCSV(n int) ([]byte, error) {
	var nxx []int // central-office codes 200-999 but the N11 service codes and 555
	for x := 200; x <= 999; x++ {
		if x%100 != 11 && x != 555 {
			nxx = append(nxx, x)
		}
	}
	space := len(areaCodes) * len(nxx) * 10_000
	var b bytes.Buffer
	b.WriteString("phone,first_name\n")
	written := 0
	for i := 0; written < n; i++ {
		if i >= space {
			return nil, fmt.Errorf("cannot generate %d distinct valid numbers (found %d)", n, written)
		}
		k := i / len(areaCodes)
		line := (1_000 + k/len(nxx)) % 10_000
		phone := fmt.Sprintf("+1%s%03d%04d", areaCodes[i%len(areaCodes)], nxx[k%len(nxx)], line)
		if _, _, reason, err := campaign.ParsePhone(phone, "US"); reason != "" || err != nil {
			continue
		}
		fmt.Fprintf(&b, "%s,Person %d\n", phone, written+1)
		written++
	}
	return b.Bytes(), nil
}

// Command returns the command `bin args…` with DATABASE_URL set to dbURL (in the environment,
// not a flag: a password would show in ps) plus env, its stdout discarded and its stderr copied
// to this process's stderr with every line prefixed by the program's name and label. The
// returned function waits for the copying to finish; call it after cmd.Wait.
func (p Program) Command(ctx context.Context, label, bin, dbURL string, env []string, args ...string) (*exec.Cmd, func()) {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(append(os.Environ(), "DATABASE_URL="+dbURL), env...)
	cmd.Stdout = io.Discard
	pr, pw := io.Pipe()
	cmd.Stderr = pw
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			fmt.Fprintf(os.Stderr, "%s: [%s] %s\n", p, label, strings.TrimRight(sc.Text(), "\r"))
		}
		_, _ = io.Copy(io.Discard, pr) // a line over the limit: drop the rest rather than block the child
	}()
	return cmd, func() {
		_ = pw.Close()
		wg.Wait()
	}
}
