// Package browsertest drives the console in headless Chromium for tests: a tab that notes every
// console error, exception, failed or refused request and request off the site, and checks
// that a page fits a phone's and a desktop's width (saving screenshots when asked).
package browsertest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// EnvScreenshots names the directory the browser tests write the console's screenshots to
// (make console-screenshots); unset, they write none.
const EnvScreenshots = "CONSOLE_SCREENSHOTS"

// Chromium finds Chromium: $CHROMIUM, else the usual names on PATH. Without one the test fails
// and says how to install it (it never skips).
func Chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("no Chromium found: install it (Debian/Ubuntu: sudo apt-get install -y chromium), or set CHROMIUM")
	return ""
}

// Tab is a headless Chromium tab on one site.
type Tab struct {
	// Ctx is the tab's context, for chromedp's actions.
	Ctx    context.Context
	t      *testing.T
	shots  string
	origin string

	mu       sync.Mutex
	problems []string
	// expected are the refusals the test provokes (Expect): URL → status, each taken once.
	expected map[string]int
	// requests are the URLs of the requests sent, by id.
	requests map[network.RequestID]string
}

// New opens a tab of a new headless Chromium whose requests must all go to origin (or be
// data: URLs); the test's end closes it. A bound of four minutes (a whole
// flow on a loaded machine) stops a stuck browser.
func New(t *testing.T, origin string) *Tab {
	t.Helper()
	parent, cancelParent := context.WithTimeout(context.Background(), 4*time.Minute)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(parent,
		chromedp.ExecPath(Chromium(t)), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-default-browser-check", true), chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("hide-scrollbars", true), chromedp.UserDataDir(t.TempDir()))
	ctx, cancelTab := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc()
		cancelParent()
	})
	return watch(t, ctx, origin)
}

// Fresh opens another tab of the same browser in a browser context of its own: no cookie of
// this tab's (a visitor who never logged in). The test's end closes it.
func (tab *Tab) Fresh() *Tab {
	tab.t.Helper()
	ctx, cancel := chromedp.NewContext(tab.Ctx, chromedp.WithNewBrowserContext())
	tab.t.Cleanup(cancel)
	return watch(tab.t, ctx, tab.origin)
}

// watch notes what goes wrong in tab context ctx: console errors, exceptions, failed requests
// (but a page's fetch cancelled as the page was left), HTTP errors (but those Expect announced)
// and requests off origin.
func watch(t *testing.T, ctx context.Context, origin string) *Tab {
	t.Helper()
	tab := &Tab{Ctx: ctx, t: t, shots: os.Getenv(EnvScreenshots), origin: origin, expected: map[string]int{},
		requests: map[network.RequestID]string{}}
	require.NoError(t, chromedp.Listen(ctx, func(ev any) {
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
				tab.note("console error: %v", ev.Args)
			}
		case *runtime.EventExceptionThrown:
			tab.note("exception: %s", ev.ExceptionDetails.Text)
		case *log.EventEntryAdded:
			// Chromium logs every HTTP error as "Failed to load resource"; those expected are not
			// problems.
			if ev.Entry.Level == log.EntryLevelError && !tab.isExpected(ev.Entry.URL) {
				tab.note("log error: %s %s", ev.Entry.Text, ev.Entry.URL)
			}
		case *network.EventLoadingFailed:
			if ev.Canceled && ev.Type == network.ResourceTypeFetch {
				break // a page's background fetch, dropped as the page was left
			}
			tab.note("failed request %s (%s, %s, canceled %v): %s", ev.RequestID, tab.urlOf(ev.RequestID), ev.Type, ev.Canceled, ev.ErrorText)
		case *network.EventResponseReceived:
			if ev.Response.Status >= 400 && !tab.take(ev.Response.URL, int(ev.Response.Status)) {
				tab.note("HTTP %d for %s", ev.Response.Status, ev.Response.URL)
			}
		case *network.EventRequestWillBeSent:
			tab.mu.Lock()
			tab.requests[ev.RequestID] = ev.Request.URL
			tab.mu.Unlock()
			if !strings.HasPrefix(ev.Request.URL, origin) && !strings.HasPrefix(ev.Request.URL, "data:") {
				tab.note("request off the console: %s", ev.Request.URL)
			}
		}
	}))
	return tab
}

// Expect announces that the next response of path (on the tab's origin) is a refusal with
// status, which the test provokes: it is not a problem. Fits fails if it never came.
func (tab *Tab) Expect(status int, path string) {
	tab.mu.Lock()
	defer tab.mu.Unlock()
	tab.expected[tab.origin+path] = status
}

// urlOf is the URL of request id.
func (tab *Tab) urlOf(id network.RequestID) string {
	tab.mu.Lock()
	defer tab.mu.Unlock()
	return tab.requests[id]
}

// take reports whether a response of url with status was expected, and consumes the
// expectation (its console log line stays expected: it comes after the response).
func (tab *Tab) take(url string, status int) bool {
	tab.mu.Lock()
	defer tab.mu.Unlock()
	if want, ok := tab.expected[url]; ok && want == status {
		tab.expected[url] = -status
		return true
	}
	return false
}

// isExpected reports whether url's refusal was expected and has come.
func (tab *Tab) isExpected(url string) bool {
	tab.mu.Lock()
	defer tab.mu.Unlock()
	return tab.expected[url] < 0
}

func (tab *Tab) note(format string, args ...any) {
	tab.mu.Lock()
	tab.problems = append(tab.problems, fmt.Sprintf(format, args...))
	tab.mu.Unlock()
}

// Run runs steps in the tab.
func (tab *Tab) Run(steps ...chromedp.Action[chromedp.Void]) {
	tab.t.Helper()
	require.NoError(tab.t, chromedp.Do(tab.Ctx, steps...))
}

// Eval evaluates expr, a number, in the tab.
func (tab *Tab) Eval(expr string) int {
	tab.t.Helper()
	v, err := chromedp.Run(tab.Ctx, chromedp.Evaluate[int](expr))
	require.NoError(tab.t, err, expr)
	return v
}

// Fits checks that the page fits widths 390 and 1280 with no horizontal overflow and that
// nothing went wrong so far, and saves a screenshot of each width as name-WIDTH.png when asked.
func (tab *Tab) Fits(name string) {
	tab.t.Helper()
	for _, w := range []int64{390, 1280} {
		tab.Run(chromedp.EmulateViewport(w, 900))
		scroll, inner := tab.Eval(`document.documentElement.scrollWidth`), tab.Eval(`window.innerWidth`)
		require.LessOrEqual(tab.t, scroll, inner, "%s at %d px: no horizontal overflow", name, w)
		if tab.shots != "" {
			png, err := chromedp.Run(tab.Ctx, chromedp.FullScreenshot(100))
			require.NoError(tab.t, err)
			require.NoError(tab.t, os.MkdirAll(tab.shots, 0o755))
			require.NoError(tab.t, os.WriteFile(filepath.Join(tab.shots, fmt.Sprintf("%s-%d.png", name, w)), png, 0o644))
		}
	}
	tab.mu.Lock()
	defer tab.mu.Unlock()
	require.Empty(tab.t, tab.problems, name)
	for url, status := range tab.expected {
		require.Negative(tab.t, status, "%s: the refusal of %s never came", name, url)
	}
}

// Await waits until the JavaScript condition cond holds in the tab (polled every 50 ms).
func (tab *Tab) Await(cond string) {
	tab.t.Helper()
	_, err := chromedp.Run(tab.Ctx, chromedp.Poll[bool](cond, chromedp.WithPollingInterval(50*time.Millisecond)))
	require.NoError(tab.t, err, "waiting for %s", cond)
}

// Promise evaluates expr, a promise of a string (a fetch, say), in the tab and returns what it
// resolves to.
func (tab *Tab) Promise(expr string) string {
	tab.t.Helper()
	v, err := chromedp.Run(tab.Ctx, chromedp.Evaluate[string](expr, chromedp.EvalAwaitPromise))
	require.NoError(tab.t, err, expr)
	return v
}

// Load runs steps that lead to another page (a click on a form's button, say) and waits until
// that page has loaded: the document the steps started on is marked, and polled for until a
// loaded one without the mark answers.
func (tab *Tab) Load(steps ...chromedp.Action[chromedp.Void]) {
	tab.t.Helper()
	require.Equal(tab.t, 1, tab.Eval(`window.__left = 1`))
	tab.Run(steps...)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		// Errors are a document going away under the evaluation: poll again.
		if loaded, err := chromedp.Run(tab.Ctx, chromedp.Evaluate[bool](`!window.__left && document.readyState === 'complete'`)); err == nil && loaded {
			return
		}
		select {
		case <-tab.Ctx.Done():
			require.NoError(tab.t, tab.Ctx.Err(), "waiting for the next page")
		case <-tick.C:
		}
	}
}
