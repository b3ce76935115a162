package storage

import (
	"bufio"
	"bytes"
	"cmp"
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
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

// attrMode is where a Local keeps the attributes of the objects it writes.
// Reads accept both places whatever the mode, so that a directory written
// in one mode, or copied from one file system to another, stays readable.
type attrMode uint8

const (
	// inXattr keeps them in the extended attribute attrName of the file.
	inXattr attrMode = iota
	// inHeader keeps them in a header at the start of the file, before the
	// object's bytes, for file systems without user extended attributes.
	inHeader
)

// String names the mode as Local.String and orga-storage check show it.
func (m attrMode) String() string {
	if m == inHeader {
		return "file headers"
	}
	return "extended attributes"
}

// modeFile, in the directory's top folder, records that the directory
// keeps attributes in file headers: once a Put wrote one, every later
// Local on the directory must too, also where a copy of it lands on a file
// system with extended attributes. It holds nameMark, as temporary files do,
// so no key can name it, List never shows it and the Handler never serves it.
const modeFile = ".orga-storage" + nameMark + "mode"

// modeFileText is modeFile's content; its first line names the mode.
const modeFileText = "attributes: file headers\n" +
	"This directory is a storage.Local (github.com/orga-server/storage) that keeps each object's\n" +
	"content type and metadata in a header at the start of its file. Keep this file with the objects.\n"

// chooseAttrMode sets l.mode: file headers where modeFile says so,
// extended attributes where the file system keeps them, and file headers
// elsewhere. It fails early, at startup, on a directory that would make
// every Put fail for another reason.
func (l *Local) chooseAttrMode() error {
	switch mode, err := l.recordedMode(); {
	case err != nil:
		return err
	case mode == inHeader:
		l.mode = inHeader
		return nil
	}
	f, name, err := createTempIn(l.root)
	if errors.Is(err, syscall.EROFS) || errors.Is(err, fs.ErrPermission) {
		// A directory this process may not write to can still be read from
		// (a read-only mount, a backup): ask without writing. Put then fails
		// with the same error.
		return l.chooseAttrModeReadOnly()
	}
	if err != nil {
		return plainErr(err)
	}
	err = setAttr(f, attrName, []byte("{}"))
	f.Close()
	l.root.Remove(name)
	switch {
	case err == nil:
		l.mode = inXattr
		return nil
	case errors.Is(err, errors.ErrUnsupported):
		return l.useHeaders()
	default:
		// Not a file system without attributes, but one failing (a full
		// disk, an I/O error): choosing headers for good would be wrong.
		return fmt.Errorf("keep extended attributes, which hold the objects' content types and metadata: %w", plainErr(err))
	}
}

func (l *Local) chooseAttrModeReadOnly() error {
	d, err := l.root.Open(".")
	if err != nil {
		return plainErr(err)
	}
	defer d.Close()
	switch err := attrsReadable(d); {
	case err == nil:
		l.mode = inXattr
	case errors.Is(err, errors.ErrUnsupported):
		// Nothing can be written here to record it; reads accept both.
		l.mode = inHeader
	default:
		return fmt.Errorf("read extended attributes, which hold the objects' content types and metadata: %w", plainErr(err))
	}
	return nil
}

// recordedMode reads modeFile: inHeader when it is there, inXattr when not.
func (l *Local) recordedMode() (attrMode, error) {
	st, err := l.root.Lstat(modeFile)
	if errors.Is(err, fs.ErrNotExist) {
		return inXattr, nil
	}
	if err == nil && !st.Mode().IsRegular() {
		// Opening a FIFO would block; no Local made anything else.
		err = fmt.Errorf("%w: not a regular file", fs.ErrInvalid)
	}
	var f *os.File
	if err == nil {
		f, err = l.root.OpenFile(modeFile, os.O_RDONLY|openNonblock, 0)
	}
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", modeFile, plainErr(err))
	}
	defer f.Close()
	first, err := bufio.NewReader(io.LimitReader(f, 256)).ReadString('\n')
	if err != nil || first != modeFileText[:strings.IndexByte(modeFileText, '\n')+1] {
		// A later build's mode, or a damaged file: reading on could serve
		// headers as the objects' bytes.
		return 0, fmt.Errorf("%s names an attribute mode this build does not know: %q", modeFile, strings.TrimSpace(first))
	}
	return inHeader, nil
}

// useHeaders makes l keep attributes in file headers, and records so in
// modeFile, durably, before any Put writes a header.
func (l *Local) useHeaders() error {
	f, tmp, err := createTempIn(l.root)
	if err != nil {
		return plainErr(err)
	}
	_, err = io.WriteString(f, modeFileText)
	if err == nil {
		err = f.Sync()
	}
	if err == nil {
		err = l.root.Rename(tmp, modeFile)
	}
	f.Close()
	if err != nil {
		l.root.Remove(tmp)
		return fmt.Errorf("record the attribute mode in %s: %w", modeFile, plainErr(err))
	}
	if err := l.syncFolder(l.root, ".", "."); err != nil {
		return fmt.Errorf("record the attribute mode in %s: %w", modeFile, plainErr(err))
	}
	l.mode = inHeader
	return nil
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

	// dataStart is where the object's bytes start in its file: past the
	// header, or 0.
	dataStart int64
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
		*a = localAttrs{
			ContentType:        old.ContentType,
			ContentDisposition: old.ContentDisposition,
			CacheControl:       old.CacheControl,
			Metadata:           old.Metadata,
			ETag:               old.ETag,
			Private:            old.Private,
		}
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

// headerMagic starts every file header. It is not text, and no common file
// format starts with it, so that a file copied in by hand is not taken for
// one with a header; its CR LF and ^Z, as PNG's, show a copy that mangled
// line ends.
const headerMagic = "\x89orga\r\n\x1a"

// headerFixed is the header's size before the attributes: the magic, and
// the length and CRC-32 of the attributes, big-endian.
const headerFixed = len(headerMagic) + 8

// maxHeaderAttrs bounds the attributes a header may claim to hold, well
// above what Put's limits let it write, so that a damaged length is not
// believed.
const maxHeaderAttrs = 64 << 10

// header returns the file header holding encoded attributes.
func header(encoded []byte) []byte {
	h := make([]byte, headerFixed, headerFixed+len(encoded))
	copy(h, headerMagic)
	binary.BigEndian.PutUint32(h[len(headerMagic):], uint32(len(encoded)))
	binary.BigEndian.PutUint32(h[len(headerMagic)+4:], crc32.ChecksumIEEE(encoded))
	return append(h, encoded...)
}

// headerRead is how much of a file the first read for its header takes:
// enough for the header of a Put with the usual options.
const headerRead = 512

// readHeader returns the attributes in the header of r, a file of size
// bytes stored under key; ok is false when it has no header.
func readHeader(r io.ReaderAt, size int64, key string) (attrs localAttrs, ok bool, err error) {
	if size < int64(headerFixed) {
		return attrs, false, nil
	}
	buf := make([]byte, min(size, headerRead))
	if _, err := r.ReadAt(buf, 0); err != nil {
		return attrs, false, fmt.Errorf("read attributes: %w", plainErr(err))
	}
	if string(buf[:len(headerMagic)]) != headerMagic {
		return attrs, false, nil
	}
	n := int64(binary.BigEndian.Uint32(buf[len(headerMagic):]))
	end := int64(headerFixed) + n
	if n > maxHeaderAttrs || end > size {
		return attrs, false, errDamagedHeader
	}
	if end > int64(len(buf)) {
		more := make([]byte, end)
		copy(more, buf)
		if _, err := r.ReadAt(more[len(buf):], int64(len(buf))); err != nil {
			return attrs, false, fmt.Errorf("read attributes: %w", plainErr(err))
		}
		buf = more
	}
	raw := buf[headerFixed:end]
	if crc32.ChecksumIEEE(raw) != binary.BigEndian.Uint32(buf[len(headerMagic)+4:]) {
		return attrs, false, errDamagedHeader
	}
	if err := attrs.decode(raw, key); err != nil {
		return attrs, false, fmt.Errorf("read attributes: %w", err)
	}
	attrs.dataStart = end
	return attrs, true, nil
}

// errDamagedHeader reports a header that no Put wrote: Put renames a file
// into place only once its header is whole and synced.
var errDamagedHeader = errors.New("read attributes: the file's attribute header is damaged")

// readAttrs returns the attributes of the open file f stored under key.
func readAttrs(mode attrMode, f *os.File, key string) (localAttrs, fs.FileInfo, error) {
	fi, err := f.Stat()
	if err != nil {
		return localAttrs{}, nil, plainErr(err)
	}
	attrs, err := attrsOf(mode, int(f.Fd()), f, key, fi)
	return attrs, fi, err
}

// describeInRoot is describe through the os.Root, for where openat2 cannot.
func describeInRoot(mode attrMode, root *os.Root, key string) (localAttrs, fs.FileInfo, error) {
	f, err := openInRoot(root, key)
	if err != nil {
		return localAttrs{}, nil, err
	}
	defer f.Close()
	return readAttrs(mode, f, key)
}

// attrsOf returns the attributes stored under key in the open file that fd
// and r read and fi describes. Where the mode keeps them is looked at
// first, and the other place next, so that files of either mode read.
func attrsOf(mode attrMode, fd int, r io.ReaderAt, key string, fi fs.FileInfo) (localAttrs, error) {
	var attrs localAttrs
	if !fi.Mode().IsRegular() {
		return attrs, errNoObject // a folder is not an object
	}
	if mode == inHeader {
		if attrs, ok, err := readHeader(r, fi.Size(), key); ok || err != nil {
			return attrs, err
		}
	}
	raw, err := getAttr(fd, attrName)
	switch {
	case err == nil:
		if err := attrs.decode(raw, key); err != nil {
			return attrs, fmt.Errorf("read attributes: %w", err)
		}
		return attrs, nil
	case errors.Is(err, errNoAttr) || errors.Is(err, errors.ErrUnsupported):
	default:
		return attrs, fmt.Errorf("read attributes: %w", plainErr(err))
	}
	if mode == inXattr {
		if attrs, ok, err := readHeader(r, fi.Size(), key); ok || err != nil {
			return attrs, err
		}
	}
	// A file copied in by hand: derive what can be derived.
	attrs.ContentType = cmp.Or(typeByExtension(key), "application/octet-stream")
	attrs.ETag = fmt.Sprintf(`"%x-%x"`, fi.ModTime().UnixNano(), fi.Size())
	return attrs, nil
}

func (a localAttrs) info(key string, fi fs.FileInfo) Info {
	return Info{
		Key:                key,
		Size:               fi.Size() - a.dataStart,
		ContentType:        a.ContentType,
		ContentDisposition: a.ContentDisposition,
		CacheControl:       a.CacheControl,
		ETag:               a.ETag,
		ModTime:            fi.ModTime().UTC().Truncate(time.Second), // as S3 keeps it
		Metadata:           a.Metadata,
		Private:            a.Private,
	}
}
