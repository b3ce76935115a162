package storage

import (
	"errors"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestWindowsNames pins which key segments Local refuses on Windows, and
// why. It runs on every system: the rule is plain code, applied on Windows.
func TestWindowsNames(t *testing.T) {
	refused := map[string]string{
		"a<b": `holds '<'`, "a>b": `holds '>'`, "a:b": `holds ':'`, `a"b`: `holds '"'`,
		"a|b": `holds '|'`, "a?b": `holds '?'`, "a*b": `holds '*'`,
		"CON": "device name", "con": "device name", "Nul.txt": "device name", "PRN.tar.gz": "device name",
		"AUX .txt": "device name", "COM1": "device name", "com9.log": "device name", "LPT1": "device name",
		"LPT5.png": "device name", "COM¹": "device name", "CONIN$": "device name", "conout$.txt": "device name",
		"photo.": "ends with a dot", "photo ": "ends with a space", "...": "ends with a dot",
		"a" + windowsMark + "b": "U+F05C",
	}
	for seg, why := range refused {
		assert.Contains(t, windowsNameProblem(seg), why, "%q", seg)
	}
	for _, seg := range []string{"photo.png", "CONSOLE", "CON_x", "COM10", "COM", "LPTX", "NULL.txt", ".hidden", "a b", "é ü", "a.b.c", "1.0.0-rc1", "+%#&"} {
		assert.Empty(t, windowsNameProblem(seg), "%q", seg)
	}
}

// TestLocalRefusesWindowsNames: on Windows a key that Windows cannot keep
// as a file name fails, before any I/O, with an error wrapping ErrInvalidKey
// that says why; elsewhere Local takes it, as S3 does.
func TestLocalRefusesWindowsNames(t *testing.T) {
	for _, key := range []string{"a/b:c.png", "events/CON/x", "events/nul.txt", "photo.", "a /b"} {
		err := checkLocalKey(key)
		if runtime.GOOS != "windows" {
			assert.NoError(t, err, "%q", key)
			continue
		}
		assert.ErrorIs(t, err, ErrInvalidKey, "%q", key)
		assert.True(t, errors.Is(err, ErrInvalidKey) && strings.Contains(err.Error(), "Windows"), "%q: %v", key, err)
	}
}

// TestLocalPutOfAWindowsName: on Windows Put refuses the key and writes
// nothing; elsewhere the object is stored and listed under its own key.
func TestLocalPutOfAWindowsName(t *testing.T) {
	l, err := NewLocal(t.TempDir(), nil)
	if !assert.NoError(t, err) {
		return
	}
	defer l.Close()
	ctx := t.Context()
	_, err = l.Put(ctx, "exports/12:00.csv", strings.NewReader("x"), nil)
	var keys []string
	for info, err := range l.List(ctx, "", nil) {
		assert.NoError(t, err)
		keys = append(keys, info.Key)
	}
	if runtime.GOOS == "windows" {
		assert.ErrorIs(t, err, ErrInvalidKey)
		assert.Contains(t, err.Error(), `storage: put "exports/12:00.csv": invalid key: segment "12:00.csv" holds ':'`)
		assert.Empty(t, keys, "nothing written, and no temporary file listed")
		return
	}
	assert.NoError(t, err)
	assert.Equal(t, []string{"exports/12:00.csv"}, keys)
}
