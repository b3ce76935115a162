package storage

import "context"

var _ syncBackend = (*Local)(nil)

func (l *Local) syncName() string { return "local:" + l.dir }

func (l *Local) syncMD5ETags() bool { return true }

func (l *Local) syncLocal() bool { return true }

// syncPrivate reads the Private flag that Put stored with the object.
func (l *Local) syncPrivate(ctx context.Context, key string) (private, known bool, err error) {
	if err := checkLocalKey(key); err != nil {
		return false, false, wrapErr("stat", key, err)
	}
	if err := ctx.Err(); err != nil {
		return false, false, wrapErr("stat", key, err)
	}
	attrs, _, err := l.files.describe(l.mode, key)
	if err != nil {
		return false, false, wrapErr("stat", key, openErr(err))
	}
	return attrs.Private, true, nil
}

func (l *Local) syncStatsPrivate() bool { return true }
