package campaign

import (
	"context"
	"crypto/rand"
	"fmt"
)

// consoleKeyLen is the length of the console's signing key in bytes.
const consoleKeyLen = 32

// ConsoleKey returns the signing key of serve's console, shared by every process on the
// database: made at random by the first call (a concurrent first call finds the same one).
func (s *Store) ConsoleKey(ctx context.Context) ([]byte, error) {
	fresh := make([]byte, consoleKeyLen)
	if _, err := rand.Read(fresh); err != nil {
		return nil, fmt.Errorf("console key: %w", err)
	}
	// Two statements: the read's snapshot is taken after the insert, which waits for a
	// concurrent first insert to commit, so it sees whichever key won.
	if _, err := s.pool.Exec(ctx, `INSERT INTO console_key (key) VALUES ($1) ON CONFLICT (id) DO NOTHING`, fresh); err != nil {
		return nil, fmt.Errorf("console key: %w", err)
	}
	var key []byte
	if err := s.pool.QueryRow(ctx, `SELECT key FROM console_key`).Scan(&key); err != nil {
		return nil, fmt.Errorf("console key: %w", err)
	}
	return key, nil
}
