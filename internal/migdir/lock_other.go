//go:build !unix

package migdir

import (
	"fmt"
	"os"
)

// Lock creates the directory if needed. On this platform it takes no lock: run one
// generate at a time.
func (d Dir) Lock() (func(), error) {
	if err := os.MkdirAll(d.Path, 0o755); err != nil {
		return nil, fmt.Errorf("creating migrations directory: %w", err)
	}
	return func() {}, nil
}
