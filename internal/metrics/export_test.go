package metrics

import "time"

// SetClock makes m read the time from now (the age of the totals it holds).
func SetClock(m *Metrics, now func() time.Time) {
	m.live.now = now
}
