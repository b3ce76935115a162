package storage

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// postSignVersion starts every signed form policy, so that a form's MAC can
// never be taken for a URL's made with the same key, nor a URL's for a form's.
const postSignVersion = "orga-storage/local-post/v1"

// The fields of a Local form, besides "key", "Content-Type" and the file.
const (
	fieldPolicy    = "policy"
	fieldSignature = "x-signature"
	fieldStatus    = "success_action_status"
)

// localPolicy is what a Local form signs. It travels in the form as
// unpadded base64url of its JSON, and the MAC covers those exact bytes.
type localPolicy struct {
	Expires    int64  `json:"exp"` // Unix seconds
	Key        string `json:"key"`
	KeyPrefix  bool   `json:"prefix,omitempty"`
	MinSize    int64  `json:"min,omitempty"`
	MaxSize    int64  `json:"max"`
	Type       string `json:"type,omitempty"`
	TypePrefix bool   `json:"typePrefix,omitempty"`
	Private    bool   `json:"private,omitempty"`
}

// SignedPost returns a form for [Local.Handler], whose policy (readable by
// anyone, signed with LocalOptions.SigningKey) holds opts and the expiry. The
// Handler refuses a post outside the policy (403), a file over opts.MaxSize
// (413, reading at most one byte more) or under opts.MinSize (400). It fails with
// errors.ErrUnsupported when l has no signing key, and does no I/O.
func (l *Local) SignedPost(ctx context.Context, key string, opts *PostOptions) (PostForm, error) {
	form, err := l.signedPost(key, opts, time.Now())
	return form, wrapErr("sign", key, err)
}

func (l *Local) signedPost(key string, opts *PostOptions, now time.Time) (PostForm, error) {
	spec, err := preparePost(key, opts, checkLocalKey)
	if err != nil {
		return PostForm{}, err
	}
	if !l.signingKey.IsSet() {
		return PostForm{}, l.errNoSigningKey()
	}
	doc, err := json.Marshal(localPolicy{
		Expires: expiry(now, spec.expires), Key: key, KeyPrefix: spec.keyPrefix, MinSize: spec.minSize, MaxSize: spec.maxSize,
		Type: spec.contentType, TypePrefix: spec.typePrefix, Private: spec.private,
	})
	if err != nil {
		return PostForm{}, err
	}
	policy := base64.RawURLEncoding.EncodeToString(doc)
	fields := spec.formFields(key)
	fields[fieldPolicy] = policy
	fields[fieldSignature] = base64.RawURLEncoding.EncodeToString(l.postMAC(policy))
	return PostForm{URL: joinURL(l.baseURL, ""), Fields: fields}, nil
}

func (l *Local) postMAC(policy string) []byte {
	h := hmac.New(sha256.New, []byte(l.signingKey.reveal()))
	h.Write([]byte(postSignVersion + "\n" + policy))
	return h.Sum(nil)
}

// checkPostPolicy verifies the policy and signature fields at now and
// returns the policy. The error is errBadSignature or errExpired.
func (l *Local) checkPostPolicy(policy, signature string, now time.Time) (localPolicy, error) {
	if !l.signingKey.IsSet() {
		return localPolicy{}, errBadSignature
	}
	sig, err := base64.RawURLEncoding.DecodeString(signature)
	if err != nil || len(sig) != sha256.Size || !hmac.Equal(sig, l.postMAC(policy)) {
		return localPolicy{}, errBadSignature
	}
	doc, err := base64.RawURLEncoding.DecodeString(policy)
	var p localPolicy
	if err != nil || json.Unmarshal(doc, &p) != nil || p.MaxSize <= 0 {
		return localPolicy{}, errBadSignature
	}
	if now.Unix() >= p.Expires {
		return localPolicy{}, errExpired
	}
	return p, nil
}

// Bounds on the fields before the file, which are read into memory.
const (
	maxPostFields    = 16
	maxPostFieldSize = 4 << 10
)

// post takes a form made by SignedPost: its fields, then the file, which is
// streamed into Put and never read past the policy's MaxSize and one byte.
func (h *localHandler) post(w http.ResponseWriter, r *http.Request) {
	mr, err := r.MultipartReader()
	if err != nil {
		httpError(w, http.StatusBadRequest, "a post must be multipart/form-data")
		return
	}
	fields := map[string]string{}
	var file io.Reader
	for file == nil {
		part, err := mr.NextPart()
		if err == io.EOF {
			httpError(w, http.StatusBadRequest, `the form has no "file" field`)
			return
		}
		if err != nil {
			httpError(w, http.StatusBadRequest, "malformed form")
			return
		}
		name := strings.ToLower(part.FormName())
		if name == "file" {
			file = part
			break
		}
		value, err := io.ReadAll(io.LimitReader(part, maxPostFieldSize+1))
		switch {
		case err != nil:
			httpError(w, http.StatusBadRequest, "malformed form")
			return
		case len(value) > maxPostFieldSize || len(fields) == maxPostFields:
			httpError(w, http.StatusBadRequest, "the form's fields are too large")
			return
		}
		switch name {
		case "key", "content-type", fieldPolicy, fieldSignature, fieldStatus:
		default:
			httpError(w, http.StatusBadRequest, fmt.Sprintf("unknown form field %q", name))
			return
		}
		if _, dup := fields[name]; dup {
			httpError(w, http.StatusBadRequest, fmt.Sprintf("form field %q appears twice", name))
			return
		}
		fields[name] = string(value)
	}
	policy, err := h.l.checkPostPolicy(fields[fieldPolicy], fields[fieldSignature], time.Now())
	if err != nil {
		h.fail(w, r, err, false)
		return
	}
	key, contentType := fields["key"], fields["content-type"]
	spec := postSpec{contentType: policy.Type, typePrefix: policy.TypePrefix}
	switch {
	case fields[fieldStatus] != "" && fields[fieldStatus] != postSuccessStatus:
		httpError(w, http.StatusBadRequest, "success_action_status must be "+postSuccessStatus)
		return
	case policy.KeyPrefix && !strings.HasPrefix(key, policy.Key), !policy.KeyPrefix && key != policy.Key:
		httpError(w, http.StatusForbidden, "the key is not the one the form allows")
		return
	case checkLocalKey(key) != nil:
		httpError(w, http.StatusBadRequest, "invalid key")
		return
	case !spec.allowsType(contentType):
		httpError(w, http.StatusForbidden, "the Content-Type is not one the form allows")
		return
	}
	if contentType == "" {
		contentType = defaultUploadType
	}
	body := &boundedReader{r: file, min: policy.MinSize, max: policy.MaxSize,
		short: fmt.Sprintf("the file is smaller than the form's minimum of %d bytes", policy.MinSize)}
	if _, err := h.l.Put(r.Context(), key, body, &PutOptions{ContentType: contentType, Private: policy.Private}); err != nil {
		h.fail(w, r, err, false)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
