package main

// dispatchProfile is where a call lifecycle of dispatchbench spends Postgres's time, by kind of
// statement: measured apart from the suite (it needs pg_stat_statements, which a server loads only
// at its start), on the date and commit it gives.
const dispatchProfile = `### Where a lifecycle's time goes (profile, measured apart)

Measured 2026-12-07 at commit ad3bee8 with ` + "`dispatchbench -contacts 3000`" + ` (cap 500) on a private
PostgreSQL 15 cluster with ` + "`pg_stat_statements`" + ` (the settings of the managed one: fsync and
synchronous_commit on, autovacuum off), while other test suites loaded the machine (load 9–14).
Per call lifecycle: the statements, their execution time in Postgres (which counts waits for row
locks and for a core, not only CPU) and the write-ahead log they wrote.

| kind | statements | Postgres ms | WAL bytes |
|---|---|---|---|
| dial: BeginAttempt's lock of the campaign row (nearly all waiting for it) | 1.76 | 81.5 | 143 |
| dial: BeginAttempt's other statements (contact, suppression, live count, numbers, account, the grant) | 11.5 | 4.9 | 2,265 |
| … of which the count of the campaign's live attempts, under the lock (2.0 ms a dial at cap 500) | 1.76 | 3.6 | 53 |
| dial: flushJournal | 1.00 | 0.04 | 54 |
| dial job: campaign and contact reads | 3.4 | 0.19 | 56 |
| call created, and the account's limit learned from the answer | 3.0 | 1.2 | 1,235 |
| webhook: the campaign's secret | 3.66 | 0.33 | 1 |
| webhook: events stored raw, the batch's locks, events marked | 11.1 | 0.88 | 16,818 |
| webhook: each event finds and locks its attempt; status-updates applied | 6.3 | 3.6 | 3,115 |
| webhook: report applied, contact settled (retry decision) | 6.1 | 2.4 | 3,790 |
| foreign-key checks | 5.0 | 0.10 | 13 |
| River: dial and hopper jobs fetched, completed, inserted | 0.39 | 0.57 | 5,713 |
| hopper: QueueDue | 0.04 | 0.35 | 633 |
| begin and commit of explicit transactions | 4.0 | 0.00 | 0 |
| the benchmark's progress reads, DialRoom | 0.27 | 0.59 | 17 |
| in all | 57.9 | 96.7 (15.2 without the campaign row's lock) | 33,961 |

About 13 transactions a lifecycle (26,565 commits for 2,000 contacts in a run of its own), 2 of
them explicit: most statements are single reads. Postgres's backends used 9.4–9.7 ms of CPU a
lifecycle in the same runs, the runner, receiver and simulator 5.8–6.0 ms (Go's CPU profile, of
a run before the cuts: the webhook handler a third, JSON decoding of the events a fifth, the dial
worker a quarter, socket reads and writes a quarter): about 15.5 ms of CPU a lifecycle, so 2 cores carry at most about
130 lifecycles/s, which dispatchbench now prints as its ceiling. Before this profile's cuts,
BeginAttempt also counted the account's live attempts under the lock (2.3 ms a dial) and each
answer to ` + "`POST /call`" + ` counted them all again (4.2 ms a lifecycle).

Issue 15's 2,000 lifecycles/s would need at most 1 ms of CPU a lifecycle on 2 cores, everything
included. The webhook part alone (3.7 events stored raw, 16.8 KB of WAL, and applied: the rows
above) costs about 7 ms of Postgres time, and this process's share alone is 5–6 ms: the target is
out of reach on this machine by an order of magnitude, whatever the locking. The campaign row's
lock bounds one campaign further: a dial holds it for its statements (about 3 ms at cap 500, most
of it the live count, which grows with the cap), so a campaign's dials pass one at a time at a
few hundred a second at most on any machine, and on 2 busy cores the holder also waits for a core.
`
