package source

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/gofrs/flock"
)

// fileLock is an advisory lock on a file (flock(2) on Unix, LockFileEx on Windows).
// A lock belongs to one open file description, so two goroutines of one process
// exclude each other exactly like two processes do: no in-process mutex is needed on
// top.
//
// Lock files may be deleted by the evictor while it holds the exclusive lock. A waiter
// that was blocked on the deleted file would then hold a lock nobody else sees, so
// after locking, acquire checks that the path still names the file it locked, and
// starts over if not.
type fileLock struct {
	fl *flock.Flock
}

// lockRetry is how often a blocked acquire polls; flock's blocking call cannot be
// interrupted by a context.
const lockRetry = 5 * time.Millisecond

// acquire blocks until it holds the lock at path (shared or exclusive), or ctx ends.
func acquire(ctx context.Context, path string, shared bool) (*fileLock, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	for {
		fl := flock.New(path)
		var ok bool
		var err error
		if shared {
			ok, err = fl.TryRLockContext(ctx, lockRetry)
		} else {
			ok, err = fl.TryLockContext(ctx, lockRetry)
		}
		if err != nil {
			_ = fl.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		if !ok {
			_ = fl.Close()
			return nil, fmt.Errorf("lock %s: %w", path, ctx.Err())
		}
		if samePath(fl, path) {
			return &fileLock{fl: fl}, nil
		}
		_ = fl.Close() // the file was removed under us: lock the new one
	}
}

// tryAcquire takes the exclusive lock at path if nobody holds it, without waiting. It
// returns nil and no error when the lock is held elsewhere (or the file is gone).
func tryAcquire(path string) (*fileLock, error) { return tryLock(path, false) }

// tryShared takes the shared lock at path if no one holds it exclusively, without
// waiting. It returns nil and no error when it cannot.
func tryShared(path string) (*fileLock, error) { return tryLock(path, true) }

func tryLock(path string, shared bool) (*fileLock, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	fl := flock.New(path)
	try := fl.TryLock
	if shared {
		try = fl.TryRLock
	}
	ok, err := try()
	if err != nil {
		_ = fl.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if !ok || !samePath(fl, path) {
		_ = fl.Close()
		return nil, nil
	}
	return &fileLock{fl: fl}, nil
}

// samePath reports whether path still names the file fl has open.
func samePath(fl *flock.Flock, path string) bool {
	held, err := fl.Stat()
	if err != nil {
		return false
	}
	now, err := os.Stat(path)
	if err != nil {
		return false
	}
	return os.SameFile(held, now)
}

// release unlocks and closes the lock file.
func (l *fileLock) release() error {
	if l == nil {
		return nil
	}
	return l.fl.Close()
}

// releaseAndRemove deletes the lock file, then unlocks: the order matters, so that no
// one can lock the old file after it is gone and believe they hold the lock.
func (l *fileLock) releaseAndRemove() error {
	err := os.Remove(l.fl.Path())
	if errors.Is(err, fs.ErrNotExist) {
		err = nil
	}
	return errors.Join(err, l.fl.Close())
}
