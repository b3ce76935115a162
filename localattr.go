package storage

import (
	"bytes"
	"cmp"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"syscall"
	"time"
)

// attrName is the extended attribute that holds an object's attributes.
const attrName = "user.orga-storage"

// attrMD5 starts an attribute holding an MD5 ETag in binary (see encode).
// JSON cannot start with it.
const attrMD5 = 0x01

// probeAttrs fails early, at startup, on a filesystem that would make every
// Put fail.
func (l *Local) probeAttrs() error {
	f, name, err := createTempIn(l.root)
	if errors.Is(err, syscall.EROFS) || errors.Is(err, fs.ErrPermission) {
		// A directory this process may not write to can still be read from
		// (a read-only mount, a backup): ask without writing. Put then fails
		// with the same error.
		return l.probeAttrsReadOnly()
	}
	if err != nil {
		return plainErr(err)
	}
	defer l.root.Remove(name)
	defer f.Close()
	if err := setAttr(f, attrName, []byte("{}")); err != nil {
		return errNoAttrs(err)
	}
	return nil
}

func (l *Local) probeAttrsReadOnly() error {
	d, err := l.root.Open(".")
	if err != nil {
		return plainErr(err)
	}
	defer d.Close()
	if err := attrsReadable(d); err != nil {
		return errNoAttrs(err)
	}
	return nil
}

func errNoAttrs(err error) error {
	return fmt.Errorf("its filesystem does not keep extended attributes, which hold the objects' content types and metadata: %w", err)
}

// localAttrs is what the extended attribute holds.
type localAttrs struct {
	// One-letter names keep the common case, a type and an ETag, within the
	// inode; see encode.
	ContentType        string            `json:"t,omitempty"`
	ContentDisposition string            `json:"d,omitempty"`
	CacheControl       string            `json:"c,omitempty"`
	Metadata           map[string]string `json:"m,omitempty"`
	ETag               string            `json:"e,omitempty"`
	Private            bool              `json:"p,omitempty"`
}

// legacyAttrs is the format that builds before the one-letter names wrote,
// always with the content type first.
type legacyAttrs struct {
	ContentType        string            `json:"type,omitempty"`
	ContentDisposition string            `json:"disposition,omitempty"`
	CacheControl       string            `json:"cache,omitempty"`
	Metadata           map[string]string `json:"meta,omitempty"`
	ETag               string            `json:"etag,omitempty"`
	Private            bool              `json:"private,omitempty"`
}

// encode returns the attributes as stored for key. The xattr stays small
// enough for ext4 to keep it inside the inode (about 60 bytes), which spares
// every Put the write of a separate metadata block: the content type is left
// out when key's extension implies it, and the ETag is kept without quotes.
//
// An ETag that is an MD5, as every Put makes, is kept as its 16 bytes after
// a leading attrMD5 byte, ahead of the JSON: as 32 hex digits inside it, it
// would push a sniffed type such as "text/plain; charset=utf-8" out of the
// inode.
func (a localAttrs) encode(key string) []byte {
	if a.ContentType == impliedType(key) {
		a.ContentType = ""
	}
	a.ETag = strings.Trim(a.ETag, `"`)
	var b bytes.Buffer
	if sum, err := hex.DecodeString(a.ETag); err == nil && len(sum) == md5.Size {
		b.WriteByte(attrMD5)
		b.Write(sum)
		a.ETag = ""
	}
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // "<" as \u003c would take six bytes of the block
	enc.Encode(a)            // strings, a bool and a map of strings cannot fail
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// decode reverses encode, and reads the format of earlier builds too.
func (a *localAttrs) decode(raw []byte, key string) error {
	var sum []byte
	if len(raw) > md5.Size && raw[0] == attrMD5 {
		sum, raw = raw[1:1+md5.Size], raw[1+md5.Size:]
	}
	if bytes.HasPrefix(raw, []byte(`{"type":`)) {
		var old legacyAttrs
		if err := json.Unmarshal(raw, &old); err != nil {
			return err
		}
		*a = localAttrs(old)
	} else if err := json.Unmarshal(raw, a); err != nil {
		return err
	}
	a.ContentType = cmp.Or(a.ContentType, impliedType(key))
	if sum != nil {
		a.ETag = hex.EncodeToString(sum)
	}
	if a.ETag != "" {
		a.ETag = `"` + strings.Trim(a.ETag, `"`) + `"`
	}
	return nil
}

// readAttrs returns the attributes of the open file f stored under key.
func readAttrs(f *os.File, key string) (localAttrs, fs.FileInfo, error) {
	fi, err := f.Stat()
	if err != nil {
		return localAttrs{}, nil, plainErr(err)
	}
	attrs, err := attrsOf(int(f.Fd()), key, fi)
	return attrs, fi, err
}

// describeInRoot is describe through the os.Root, for where openat2 cannot.
func describeInRoot(root *os.Root, key string) (localAttrs, fs.FileInfo, error) {
	f, err := root.Open(key)
	if err != nil {
		return localAttrs{}, nil, err
	}
	defer f.Close()
	return readAttrs(f, key)
}

// attrsOf returns the attributes stored under key in fd, the open file that
// fi describes.
func attrsOf(fd int, key string, fi fs.FileInfo) (localAttrs, error) {
	var attrs localAttrs
	if !fi.Mode().IsRegular() {
		return attrs, errNoObject // a folder is not an object
	}
	raw, err := getAttr(fd, attrName)
	switch {
	case err == nil:
		if err := attrs.decode(raw, key); err != nil {
			return attrs, fmt.Errorf("read attributes: %w", err)
		}
	case errors.Is(err, errNoAttr):
		// A file copied in by hand: derive what can be derived.
		attrs.ContentType = cmp.Or(typeByExtension(key), "application/octet-stream")
		attrs.ETag = fmt.Sprintf(`"%x-%x"`, fi.ModTime().UnixNano(), fi.Size())
	default:
		return attrs, fmt.Errorf("read attributes: %w", plainErr(err))
	}
	return attrs, nil
}

func (a localAttrs) info(key string, fi fs.FileInfo) Info {
	return Info{
		Key:                key,
		Size:               fi.Size(),
		ContentType:        a.ContentType,
		ContentDisposition: a.ContentDisposition,
		CacheControl:       a.CacheControl,
		ETag:               a.ETag,
		ModTime:            fi.ModTime().UTC().Truncate(time.Second), // as S3 keeps it
		Metadata:           a.Metadata,
	}
}
