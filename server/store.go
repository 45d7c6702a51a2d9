package server

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
)

// saveImage stores an uploaded picture under dir, named by its content so that the same
// picture is stored once, and returns its path relative to dir. The file and its directory are
// synced before it returns, so that an item acknowledged by the index never points at a picture
// lost in a crash.
func saveImage(dir string, data []byte) (string, error) {
	sum := sha256.Sum256(data)
	name := hex.EncodeToString(sum[:16]) + "." + pictureFormat(data)
	rel := filepath.Join(name[:2], name)
	path := filepath.Join(dir, rel)
	if _, err := os.Stat(path); err == nil {
		return rel, nil
	}
	sub := filepath.Dir(path)
	if err := os.MkdirAll(sub, 0o755); err != nil {
		return "", fmt.Errorf("storing the picture: %w", err)
	}
	tmp, err := os.CreateTemp(sub, name+".tmp*")
	if err != nil {
		return "", fmt.Errorf("storing the picture: %w", err)
	}
	defer os.Remove(tmp.Name()) // fails harmlessly once renamed
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return "", fmt.Errorf("writing %s: %w", tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return "", fmt.Errorf("syncing %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("closing %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return "", fmt.Errorf("storing the picture: %w", err)
	}
	d, err := os.Open(sub)
	if err != nil {
		return "", fmt.Errorf("syncing %s: %w", sub, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return "", fmt.Errorf("syncing %s: %w", sub, err)
	}
	return rel, nil
}
