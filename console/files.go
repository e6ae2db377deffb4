package console

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"

	"github.com/privagg/privagg/release"
)

// noFollow makes open fail on a symlink (ELOOP).
const noFollow = syscall.O_NOFOLLOW

func isLoop(err error) bool { return errors.Is(err, syscall.ELOOP) }

// checkSHA256 checks that the open data file f has the sha256 recorded in
// the manifest at manifestPath, and rewinds f.
func checkSHA256(f *os.File, manifestPath string) error {
	mf, err := openFile(manifestPath)
	if err != nil {
		return fmt.Errorf("manifest: %w", err)
	}
	defer mf.Close()
	m, err := release.ReadManifest(mf)
	if err != nil {
		return fmt.Errorf("manifest %s: %w", manifestPath, err)
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return fmt.Errorf("%s: %w", f.Name(), err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != m.SHA256 {
		return fmt.Errorf("%s: sha256 %s differs from the manifest's %s: the file was changed after the release", f.Name(), got, m.SHA256)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("%s: %w", f.Name(), err)
	}
	return nil
}
