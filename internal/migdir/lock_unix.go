//go:build unix

package migdir

import (
	"fmt"
	"os"
	"syscall"
)

// Lock takes an exclusive lock on the directory, creating it if needed, and waits while
// another rlsmigrate process holds it. It returns the function that releases it.
func (d Dir) Lock() (func(), error) {
	if err := os.MkdirAll(d.Path, 0o755); err != nil {
		return nil, fmt.Errorf("creating migrations directory: %w", err)
	}
	f, err := os.Open(d.Path)
	if err != nil {
		return nil, fmt.Errorf("locking %s: %w", d.Path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("locking %s: %w", d.Path, err)
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
