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
	Ctx   context.Context
	t     *testing.T
	shots string

	mu       sync.Mutex
	problems []string
}

// New opens a tab of a new headless Chromium whose requests must all go to origin (or be
// data: URLs); the test's end closes it. A bound of two minutes stops a stuck browser.
func New(t *testing.T, origin string) *Tab {
	t.Helper()
	parent, cancelParent := context.WithTimeout(context.Background(), 2*time.Minute)
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
	tab := &Tab{Ctx: ctx, t: t, shots: os.Getenv(EnvScreenshots)}
	require.NoError(t, chromedp.Listen(ctx, func(ev any) {
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
				tab.note("console error: %v", ev.Args)
			}
		case *runtime.EventExceptionThrown:
			tab.note("exception: %s", ev.ExceptionDetails.Text)
		case *log.EventEntryAdded:
			if ev.Entry.Level == log.EntryLevelError {
				tab.note("log error: %s %s", ev.Entry.Text, ev.Entry.URL)
			}
		case *network.EventLoadingFailed:
			tab.note("failed request %s: %s", ev.RequestID, ev.ErrorText)
		case *network.EventResponseReceived:
			if ev.Response.Status >= 400 {
				tab.note("HTTP %d for %s", ev.Response.Status, ev.Response.URL)
			}
		case *network.EventRequestWillBeSent:
			if !strings.HasPrefix(ev.Request.URL, origin) && !strings.HasPrefix(ev.Request.URL, "data:") {
				tab.note("request off the console: %s", ev.Request.URL)
			}
		}
	}))
	return tab
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
}
