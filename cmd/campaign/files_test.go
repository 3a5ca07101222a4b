package main

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/campaign-run/campaign/internal/testdb"
)

// TestOutputFilesHonourUmask writes every kind of output file (rejects, export -o, report -o,
// run -o) under umask 022 and 027: each gets 0666 less the umask, as any other tool's output.
func TestOutputFilesHonourUmask(t *testing.T) {
	for _, tc := range []struct {
		umask int
		want  os.FileMode
	}{
		{0o022, 0o644},
		{0o027, 0o640},
	} {
		t.Run(fmt.Sprintf("umask=%03o", tc.umask), func(t *testing.T) {
			old := syscall.Umask(tc.umask)
			t.Cleanup(func() { syscall.Umask(old) })
			b := setup(t)
			b.realClock = true
			dir := t.TempDir()
			file := copyFile(t, "../../examples/customers.csv", dir)
			results := filepath.Join(dir, "results.csv")

			code := b.run(t, "run", file, "--simulate", "--sim-time-scale", "1200", "--rate", "0",
				"--name", "umask", "--allow-missing-variables", "-o", results)
			require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
			code = b.run(t, "export", "umask", "-o", filepath.Join(dir, "export.csv"))
			require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
			code = b.run(t, "report", "umask", "-o", filepath.Join(dir, "report.html"))
			require.Equal(t, exitOK, code, "stderr: %s", b.stderr)

			for _, name := range []string{"customers.rejects.csv", "results.csv", "export.csv", "report.html"} {
				fi, err := os.Stat(filepath.Join(dir, name))
				require.NoError(t, err)
				require.Equal(t, tc.want, fi.Mode().Perm(), "%s under umask %03o", name, tc.umask)
			}
			leftovers, err := filepath.Glob(filepath.Join(dir, ".*.tmp"))
			require.NoError(t, err)
			require.Empty(t, leftovers, "no temporary file is left behind")
		})
	}
}

// buildBinary builds the campaign binary into dir.
func buildBinary(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "campaign")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	return bin
}

// binaryCmd is the real binary run in dir as user (the current one when ""), with stdin.
func binaryCmd(t *testing.T, bin, dir, user string, env []string, stdin []byte, args ...string) *exec.Cmd {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	cmd.Env = env
	cmd.Stdin = bytes.NewReader(stdin)
	if user != "" {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: credential(t, user)}
	}
	return cmd
}

// binaryRun runs binaryCmd and returns its stdout, stderr and error.
func binaryRun(t *testing.T, bin, dir, user string, env []string, stdin []byte, args ...string) (string, string, error) {
	t.Helper()
	cmd := binaryCmd(t, bin, dir, user, env, stdin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}

// TestRejectsFallbackWhenInputDirUnwritable imports a file whose directory cannot take the
// rejects file: the rejects go to the user's state directory, and the run says where. Root
// ignores permissions, so as root the read-only directory is tried by the binary running as
// nobody; a file given as /dev/fd/N (what `<(…)` in a shell gives) fails for anyone.
func TestRejectsFallbackWhenInputDirUnwritable(t *testing.T) {
	data, err := os.ReadFile("../../examples/customers.csv")
	require.NoError(t, err)
	for _, tc := range []string{"read-only directory", "process substitution"} {
		t.Run(tc, func(t *testing.T) {
			user := ""
			if os.Geteuid() == 0 && tc == "read-only directory" {
				user = "nobody"
			}
			dir := sharedTempDir(t, user)
			bin := buildBinary(t, dir)
			home := filepath.Join(dir, "home")
			require.NoError(t, os.Mkdir(home, 0o755))
			chownTree(t, home, user)
			env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "XDG_STATE_HOME=" + filepath.Join(home, "state")}
			cmd := binaryCmd(t, bin, home, user, env, nil,
				"run", "", "--dry-run", "--format", "json", "--database-url", reachableDBURL(t, testdb.SchemaURL(t)))

			var inputDir string
			switch tc {
			case "read-only directory":
				inputDir = filepath.Join(dir, "input")
				require.NoError(t, os.Mkdir(inputDir, 0o755)) // as root: nobody cannot write it
				cmd.Args[2] = writeFile(t, inputDir, "customers.csv", string(data))
				if user == "" {
					require.NoError(t, os.Chmod(inputDir, 0o555))
					t.Cleanup(func() { os.Chmod(inputDir, 0o755) })
				}
			case "process substitution":
				r, w, err := os.Pipe()
				require.NoError(t, err)
				go func() { w.Write(data); w.Close() }()
				t.Cleanup(func() { r.Close() })
				cmd.ExtraFiles = []*os.File{r} // fd 3
				inputDir, cmd.Args[2] = "/dev/fd", "/dev/fd/3"
			}
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			require.NoError(t, cmd.Run(), "stderr: %s", &stderr)

			r := decodeReport(t, stdout.Bytes())
			require.Equal(t, 3, r.Rejected)
			require.True(t, strings.HasPrefix(r.RejectsFile, filepath.Join(home, "state", "campaign", "rejects")+string(filepath.Separator)),
				"rejects file %s", r.RejectsFile)
			require.Contains(t, stderr.String(), "cannot write to "+inputDir)
			require.Contains(t, stderr.String(), r.RejectsFile)
			require.Len(t, readCSV(t, r.RejectsFile), 4)
			matches, err := filepath.Glob(filepath.Join(inputDir, "*rejects*"))
			require.NoError(t, err)
			require.Empty(t, matches)
		})
	}
}

// reachableDBURL returns dbURL as a URL another user can connect to: a server reached by a
// Unix socket (the tests' managed Postgres, in a directory private to its owner) is relayed
// over TCP on loopback.
func reachableDBURL(t *testing.T, dbURL string) string {
	t.Helper()
	u, err := url.Parse(dbURL)
	require.NoError(t, err)
	q := u.Query()
	socketDir := q.Get("host")
	if !strings.HasPrefix(socketDir, "/") {
		return dbURL
	}
	socket := filepath.Join(socketDir, ".s.PGSQL."+cmp.Or(q.Get("port"), "5432"))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("unix", socket)
			if err != nil {
				in.Close()
				continue
			}
			go func() { io.Copy(out, in); out.Close() }()
			go func() { io.Copy(in, out); in.Close() }()
		}
	}()
	q.Del("host")
	q.Del("port")
	u.Host = ln.Addr().String()
	u.RawQuery = q.Encode()
	return u.String()
}

// TestRunFromStdin imports `campaign run -` from the real binary's standard input: the
// campaign is named after stdin, not "-", and its rejects go to the state directory.
func TestRunFromStdin(t *testing.T) {
	dir := t.TempDir()
	bin := buildBinary(t, dir)
	data, err := os.ReadFile("../../examples/customers.csv")
	require.NoError(t, err)
	state := filepath.Join(dir, "state")
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "XDG_STATE_HOME=" + state}
	dbURL := testdb.SchemaURL(t)

	stdout, stderr, err := binaryRun(t, bin, dir, "", env, data,
		"run", "-", "--dry-run", "--format", "json", "--database-url", dbURL)
	require.NoError(t, err, "stderr: %s", stderr)
	r := decodeReport(t, []byte(stdout))
	require.Equal(t, 9, r.Accepted)
	require.Equal(t, 3, r.Rejected)
	require.Equal(t, "stdin", r.File)
	require.True(t, strings.HasPrefix(r.Campaign.Name, "stdin-"), "campaign name %q", r.Campaign.Name)
	require.True(t, strings.HasPrefix(r.RejectsFile, filepath.Join(state, "campaign", "rejects")), "rejects file %s", r.RejectsFile)
	require.Len(t, readCSV(t, r.RejectsFile), 4)
	_, err = os.Stat(filepath.Join(dir, "-.rejects.csv"))
	require.ErrorIs(t, err, os.ErrNotExist)

	// --rejects still decides, and a real (simulated) run reads stdin the same way.
	rejects := filepath.Join(dir, "mine.rejects.csv")
	_, stderr, err = binaryRun(t, bin, dir, "", env, data,
		"run", "-", "--simulate", "--sim-time-scale", "1200", "--rate", "0", "--name", "piped",
		"--allow-missing-variables", "--rejects", rejects, "--database-url", dbURL)
	require.NoError(t, err, "stderr: %s", stderr)
	require.Contains(t, stderr, "9 of 9 contacts final")
	require.Len(t, readCSV(t, rejects), 4)

}
