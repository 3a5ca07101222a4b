//go:build unix

package benchkit

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// ProcessCPU is the user + system CPU time this process has used so far.
func ProcessCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// LoadAverage is the 1, 5 and 15 minute load averages, or "" where /proc/loadavg cannot be
// read: what else the machine was doing while a benchmark ran.
func LoadAverage() string {
	raw, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	if f := strings.Fields(string(raw)); len(f) >= 3 {
		return strings.Join(f[:3], " ")
	}
	return ""
}

// clockTick is the unit of the CPU times in /proc/PID/stat (USER_HZ, 100 on Linux).
const clockTick = 10 * time.Millisecond

// Querier runs a query: a pgxpool.Pool, a pgx.Conn or a pgx.Tx.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// BackendCPU is a reading of the CPU time used so far by each server process connected to a
// database: Postgres's side of a benchmark.
type BackendCPU map[int]time.Duration

// ReadBackendCPU reads the CPU time so far of each server process connected to db's current
// database, from /proc: none when the server is not on this machine or its entries cannot be
// read (the figures are then 0, never a guess).
func ReadBackendCPU(ctx context.Context, db Querier) (BackendCPU, error) {
	rows, err := db.Query(ctx, `SELECT pid FROM pg_stat_activity WHERE datname = current_database()`)
	if err != nil {
		return nil, fmt.Errorf("list the server processes: %w", err)
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return nil, fmt.Errorf("list the server processes: %w", err)
	}
	cpu := BackendCPU{}
	for _, pid := range pids {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		// The fields after the command name (which may hold spaces), from field 3 (state) on:
		// utime and stime are fields 14 and 15.
		fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(fields) < 13 {
			continue
		}
		utime, err1 := strconv.ParseInt(fields[11], 10, 64)
		stime, err2 := strconv.ParseInt(fields[12], 10, 64)
		if err1 == nil && err2 == nil {
			cpu[int(pid)] = time.Duration(utime+stime) * clockTick
		}
	}
	return cpu, nil
}

// Since is the CPU time the server processes of a later reading used after the earlier one,
// before: a process connected meanwhile counts from 0; one that ended meanwhile is not counted
// (its time is lost, so the figure is a lower bound when connections come and go).
func (later BackendCPU) Since(before BackendCPU) time.Duration {
	var d time.Duration
	for pid, cpu := range later {
		d += cpu - before[pid]
	}
	return d
}
