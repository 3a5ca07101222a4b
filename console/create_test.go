package console_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"mime/multipart"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/campaign-run/campaign/campaign"
	"github.com/campaign-run/campaign/console"
)

// recordingCreator is a console.Creator that notes what it is asked and creates nothing: the
// console's side of creating (cmd/campaign's TestConsoleCreate drives the real one).
type recordingCreator struct {
	mu    sync.Mutex
	calls []string
}

func (r *recordingCreator) note(call string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, call)
}

func (r *recordingCreator) asked() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.calls...)
}

func (r *recordingCreator) Import(_ context.Context, n console.NewCampaign) (*campaign.Campaign, error) {
	data, err := io.ReadAll(n.CSV)
	if err != nil {
		return nil, err
	}
	r.note(fmt.Sprintf("import %s %d bytes", n.FileName, len(data)))
	return nil, &console.InputError{Err: fmt.Errorf("refused %s with rate %q", n.FileName, n.Rate)}
}

func (r *recordingCreator) DryRun(_ context.Context, c *campaign.Campaign) (*console.DryRun, error) {
	r.note("dry run " + c.Name)
	return &console.DryRun{}, nil
}

func (r *recordingCreator) Rejects(c *campaign.Campaign) (io.ReadCloser, error) {
	r.note("rejects " + c.Name)
	return nil, fmt.Errorf("no rejects here: %w", fs.ErrNotExist)
}

func (r *recordingCreator) Start(_ context.Context, c *campaign.Campaign) error {
	r.note("start " + c.Name)
	return nil
}

func (r *recordingCreator) Discard(_ context.Context, c *campaign.Campaign) error {
	r.note("discard " + c.Name)
	return nil
}

// upload posts the new-campaign form as multipart: the CSRF token, a rate, and a file of size
// bytes (none when size < 0), its content made as it is sent.
func (c *client) upload(csrf string, size int64) (*http.Response, string) {
	c.t.Helper()
	var head bytes.Buffer
	mw := multipart.NewWriter(&head)
	require.NoError(c.t, mw.WriteField("csrf", csrf))
	require.NoError(c.t, mw.WriteField("rate", "2"))
	var file io.Reader = strings.NewReader("")
	if size >= 0 {
		_, err := mw.CreateFormFile("csv", "big.csv")
		require.NoError(c.t, err)
		file = io.LimitReader(repeatReader('1'), size)
	}
	tail := "\r\n--" + mw.Boundary() + "--\r\n"
	req, err := http.NewRequest(http.MethodPost, c.b.srv.URL+"/console/new", io.MultiReader(&head, file, strings.NewReader(tail)))
	require.NoError(c.t, err)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	for _, ck := range c.cookies {
		req.AddCookie(ck)
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(c.t, err)
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	require.NoError(c.t, err)
	return res, string(body)
}

// repeatReader reads the same byte forever.
type repeatReader byte

func (r repeatReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(r)
	}
	return len(p), nil
}

// TestCreateForm checks the console's side of creating a campaign: no form without a Creator;
// the form for operators only; an upload past MaxUploadBytes refused (413) before the Creator
// sees it, and one without a file or refused by the Creator shown again, answered 422, with the
// message and the values typed; a campaign that is no draft of the service neither dry-run,
// started nor discarded; a draft's dry-run page run by Check again and kept (a reload asks the
// Creator nothing); a rejects download the Creator has not, 404.
func TestCreateForm(t *testing.T) {
	t.Parallel()
	without := setup(t, setupOpts{})
	ops := without.client(t)
	ops.login("ops", operatorPassword)
	res, page := ops.get("/console/")
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.NotContains(t, page, `href="/console/new"`, "no Creator: no form")
	res, _ = ops.get("/console/new")
	require.Equal(t, http.StatusNotFound, res.StatusCode)

	creator := &recordingCreator{}
	b := setup(t, setupOpts{creator: creator})
	viewer := b.client(t)
	viewer.login("audit", viewerPassword)
	_, page = viewer.get("/console/")
	require.NotContains(t, page, `href="/console/new"`, "a viewer is not offered the form")
	res, _ = viewer.get("/console/new")
	require.Equal(t, http.StatusForbidden, res.StatusCode)
	res, _ = viewer.upload(viewer.csrf(), 10)
	require.Equal(t, http.StatusForbidden, res.StatusCode)

	ops = b.client(t)
	ops.login("ops", operatorPassword)
	_, page = ops.get("/console/")
	require.Contains(t, page, `href="/console/new"`)
	res, page = ops.get("/console/new")
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Contains(t, page, `placeholder="`+campaign.DefaultRetrySpec+`"`)
	csrf := ops.csrf()
	res, _ = ops.upload("wrong", 10)
	require.Equal(t, http.StatusForbidden, res.StatusCode, "the CSRF token is required")
	res, page = ops.upload(csrf, console.MaxUploadBytes+1)
	require.Equal(t, http.StatusRequestEntityTooLarge, res.StatusCode)
	require.Contains(t, page, "larger than 50 MB")
	res, page = ops.upload(csrf, -1)
	require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode)
	require.Contains(t, page, "Choose the CSV file")
	require.Contains(t, page, `value="2"`, "the values typed stay")
	require.Empty(t, creator.asked())
	res, page = ops.upload(csrf, 3<<20)
	require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode)
	require.Contains(t, page, "refused big.csv with rate &#34;2&#34;")
	require.Equal(t, []string{fmt.Sprintf("import big.csv %d bytes", 3<<20)}, creator.asked(), "the whole file, past the memory held")

	running := b.newCampaign(t, "running", 3, campaign.ModeService, campaign.StatusRunning)
	foreground := b.newCampaign(t, "foreground-draft", 3, campaign.ModeForeground, campaign.StatusDraft)
	for _, c := range []*campaign.Campaign{running, foreground} {
		res, _ = ops.get(fmt.Sprintf("/console/new/%d", c.ID))
		require.Equal(t, http.StatusSeeOther, res.StatusCode)
		require.Equal(t, fmt.Sprintf("/console/campaigns/%d", c.ID), res.Header.Get("Location"))
		for _, verb := range []string{"start", "discard"} {
			res, _ = ops.do(http.MethodPost, fmt.Sprintf("/console/new/%d/%s", c.ID, verb), map[string][]string{"csrf": {csrf}})
			require.Equal(t, http.StatusSeeOther, res.StatusCode)
			require.Equal(t, fmt.Sprintf("/console/campaigns/%d", c.ID), res.Header.Get("Location"))
		}
	}
	require.Len(t, creator.asked(), 1, "nothing but the import reached the Creator")
	draft := b.newCampaign(t, "service-draft", 3, campaign.ModeService, campaign.StatusDraft)
	dryRunPage := fmt.Sprintf("/console/new/%d", draft.ID)
	res, page = ops.get(dryRunPage)
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Contains(t, page, `id="no-dry-run"`, "a draft this console has no dry run of offers to run it")
	require.NotContains(t, page, `id="start"`, "and no Start before it ran")
	require.Len(t, creator.asked(), 1, "a GET runs no dry run")
	res, _ = ops.do(http.MethodPost, dryRunPage+"/check", map[string][]string{"csrf": {csrf}})
	require.Equal(t, http.StatusSeeOther, res.StatusCode)
	require.Equal(t, dryRunPage, res.Header.Get("Location"))
	require.Equal(t, "dry run service-draft", creator.asked()[1])
	for range 2 {
		res, page = ops.get(dryRunPage)
		require.Equal(t, http.StatusOK, res.StatusCode)
		require.Contains(t, page, `id="start"`, "the dry run kept: Start offered")
	}
	require.Len(t, creator.asked(), 2, "reloads run no dry run")
	res, _ = ops.get(dryRunPage + "/rejects.csv")
	require.Equal(t, http.StatusNotFound, res.StatusCode)
	require.Equal(t, "rejects service-draft", creator.asked()[2])
	res, _ = ops.do(http.MethodPost, fmt.Sprintf("/console/new/%d/discard", draft.ID), map[string][]string{"csrf": {csrf}})
	require.Equal(t, http.StatusSeeOther, res.StatusCode)
	require.Equal(t, "/console/", res.Header.Get("Location"))
	require.Equal(t, "discard service-draft", creator.asked()[3])
}

// busyCreator is a recordingCreator whose imports are all refused because the server runs as
// many imports as it allows.
type busyCreator struct{ recordingCreator }

func (b *busyCreator) Import(_ context.Context, n console.NewCampaign) (*campaign.Campaign, error) {
	b.note("import " + n.FileName)
	return nil, fmt.Errorf("import: %w (2 at once on a pool of 8 connections)", campaign.ErrImportsBusy)
}

// TestCreateWhenImportsBusy uploads while the server runs as many imports as it allows: the form
// again, answered 503 with a Retry-After, saying nothing was made and to send the file again,
// with the values typed kept.
func TestCreateWhenImportsBusy(t *testing.T) {
	t.Parallel()
	creator := &busyCreator{}
	b := setup(t, setupOpts{creator: creator})
	ops := b.client(t)
	ops.login("ops", operatorPassword)
	ops.get("/console/new")
	res, page := ops.upload(ops.csrf(), 100)
	require.Equal(t, http.StatusServiceUnavailable, res.StatusCode)
	require.Equal(t, "10", res.Header.Get("Retry-After"))
	require.Contains(t, page, `id="form-error"`)
	require.Contains(t, page, "importing as many files as it takes at once; nothing was made")
	require.Contains(t, page, `value="2"`, "the values typed stay")
	require.Equal(t, []string{"import big.csv"}, creator.asked())
}
