package node

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// runAs runs the binary as uid:gid (root ignores file permissions, so an
// unreadable directory can only be shown to an unprivileged process).
func runAs(t *testing.T, uid, gid uint32, bin string, limit time.Duration, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: gid}}
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		return -1, string(out) + "\n(killed: still running after " + limit.String() + ")"
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), string(out)
	}
	if err != nil {
		t.Fatalf("run as %d: %v", uid, err)
	}
	return 0, string(out)
}

// checkPermissionReport: exit 2, the path named, the cause said, and no
// advice to delete or re-sync healthy data.
func checkPermissionReport(t *testing.T, code int, out, path, cause string) {
	t.Helper()
	if code != ExitUsage || !strings.Contains(out, path) || !strings.Contains(out, cause) {
		t.Errorf("exit %d (want %d); output should name %s and say %q:\n%s", code, ExitUsage, path, cause, tail(out, 10))
	}
	low := strings.ToLower(out)
	for _, bad := range []string{"corrupt", "remove it", "re-sync", "restore"} {
		if strings.Contains(low, bad) {
			t.Errorf("a permission problem is reported with %q:\n%s", bad, tail(out, 10))
		}
	}
	if strings.Contains(out, "panic") || strings.Contains(out, "goroutine ") {
		t.Errorf("output has a panic or stack trace:\n%s", tail(out, 30))
	}
}

// TestReadOnlyDataDir: a data directory on a read-only mount is reported
// as read-only (EROFS), not as a corrupt directory to delete.
func TestReadOnlyDataDir(t *testing.T) {
	bin := dureBinary(t)
	home := stoppedHome(t, bin, "ro-1")
	data := filepath.Join(home, "data")
	if err := syscall.Mount(data, data, "", syscall.MS_BIND, ""); err != nil {
		t.Skipf("bind mount not permitted here (%v): cannot make a read-only data directory", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(data, 0); err != nil {
			t.Errorf("unmount %s: %v", data, err)
		}
	})
	if err := syscall.Mount("", data, "", syscall.MS_REMOUNT|syscall.MS_BIND|syscall.MS_RDONLY, ""); err != nil {
		t.Skipf("read-only remount not permitted here: %v", err)
	}
	if f, err := os.Create(filepath.Join(data, "probe")); err == nil {
		f.Close()
		t.Fatal("the read-only bind mount is writable")
	}
	code, out := runBinary(t, bin, 20*time.Second, "start", "--home", home)
	checkPermissionReport(t, code, out, data, "read-only")
	t.Logf("exit %d: %s", code, strings.TrimSpace(tail(out, 2)))
}

// TestUnreadableDataDir: a data directory (or a file in it) the node's
// user may not read is reported as a permission problem (EACCES), naming
// the path. The node runs as nobody: root ignores permissions.
func TestUnreadableDataDir(t *testing.T) {
	bin := dureBinary(t)
	const nobody = 65534
	if err := os.Chmod(filepath.Dir(bin), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		lock func(data string) string // returns the path the node may not read
	}{
		{"data dir", func(data string) string { must(t, os.Chown(data, 0, 0), os.Chmod(data, 0o700)); return data }},
		{"MANIFEST", func(data string) string {
			p := filepath.Join(data, "MANIFEST")
			must(t, os.Chown(p, 0, 0), os.Chmod(p, 0o600))
			return p
		}},
		{"last-signed record", func(data string) string {
			p := filepath.Join(data, "cs.wal", "last_signed")
			must(t, os.Chown(p, 0, 0), os.Chmod(p, 0o600))
			return p
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			home := stoppedHome(t, bin, "perm-1")
			// Everything belongs to nobody, then one path goes back to root.
			for d := filepath.Dir(home); d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
				must(t, os.Chmod(d, 0o755))
			}
			err := filepath.Walk(home, func(p string, _ os.FileInfo, err error) error {
				if err != nil {
					return err
				}
				return os.Lchown(p, nobody, nobody)
			})
			must(t, err)
			path := c.lock(filepath.Join(home, "data"))
			code, out := runAs(t, nobody, nobody, bin, 20*time.Second, "start", "--home", home)
			checkPermissionReport(t, code, out, path, "permission denied")
			t.Logf("exit %d: %s", code, strings.TrimSpace(tail(out, 2)))
		})
	}
}
