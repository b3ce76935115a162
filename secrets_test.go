package storage_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/orga-server/storage"
	"github.com/orga-server/storage/internal/reliability"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The secrets tests complement TestS3SecretNeverPrinted (fmt and slog of
// S3Config and *S3) and TestS3WrongCredentials (errors of refused calls).
//
// The library has no logging hook: S3Config has no logger, HTTP client or
// SDK log mode, and NewS3 builds its aws.Config without a Logger or
// ClientLogMode, so the SDK logs nothing. What SDK request logging could
// show at most (ClientLogMode LogRequestWithBody|LogResponseWithBody) is
// what crosses the wire, so the wire is what these tests record and search.

// reportSection is the root package's part of RELIABILITY.md.
const reportSection = "storage"

// leaks reports which of the forms of secret appear in text: as is, in
// base64, in hex and URL-escaped, so that an encoded copy counts too.
func leaks(text, secret string) bool {
	forms := []string{
		secret,
		base64.StdEncoding.EncodeToString([]byte(secret)),
		base64.URLEncoding.EncodeToString([]byte(secret)),
		hex.EncodeToString([]byte(secret)),
		url.QueryEscape(secret),
	}
	for _, f := range forms {
		if strings.Contains(text, f) {
			return true
		}
	}
	return false
}

// printedForms returns v, a configuration holding a secret, and ptr, a
// pointer to it, as every usual way of showing them prints them: fmt's
// verbs on the value, the pointer, a struct and a slice holding it;
// log/slog's JSON and text handlers; and encoding/json.
func printedForms(t *testing.T, v, ptr any) []string {
	t.Helper()
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("config", "c", v, "ptr", ptr)
	slog.New(slog.NewTextHandler(&logged, nil)).Info("config", "c", v, "ptr", ptr)
	outputs := []string{logged.String()}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T"} {
		outputs = append(outputs, fmt.Sprintf(verb, v), fmt.Sprintf(verb, ptr),
			fmt.Sprintf(verb, struct{ C any }{v}), fmt.Sprintf(verb, []any{v}))
	}
	for _, x := range []any{v, ptr, struct{ C any }{v}, []any{v}} {
		encoded, err := json.Marshal(x)
		require.NoError(t, err)
		outputs = append(outputs, string(encoded))
	}
	return outputs
}

// TestLocalSigningKeyNeverPrinted checks LocalOptions as
// TestS3SecretNeverPrinted checks S3Config.
func TestLocalSigningKeyNeverPrinted(t *testing.T) {
	const key = "0123456789abcdef-signing-key-0123456789"
	opts := storage.LocalOptions{BaseURL: "/media/", SigningKey: storage.NewSecret(key)}
	outputs := printedForms(t, opts, &opts)
	for _, out := range outputs {
		assert.False(t, leaks(out, key), out)
		assert.NotContains(t, out, fmt.Sprint([]byte(key)[:8]), "the key as numbers: %s", out)
	}
	joined := strings.Join(outputs, "\n")
	assert.Contains(t, joined, `"SigningKey":"[redacted]"`)
	assert.Contains(t, joined, "BaseURL:/media/")
	assert.Contains(t, fmt.Sprintf("%+v", storage.LocalOptions{}), "SigningKey: ", "an unset key shows as empty")

	// The *Local that FromEnv returns is as likely to be logged at startup.
	l, err := storage.NewLocal(t.TempDir(), &opts)
	require.NoError(t, err)
	defer l.Close()
	outputs = printedForms(t, l, &l)
	for _, out := range outputs {
		assert.False(t, leaks(out, key), out)
		assert.NotContains(t, out, fmt.Sprint([]byte(key)[:8]), "the key as numbers: %s", out)
	}
	joined = strings.Join(outputs, "\n")
	assert.Contains(t, joined, `"SigningKey":"[redacted]"`)
	assert.Contains(t, joined, "Dir:"+l.Dir())
}

// TestSecretsInUnexportedFields checks the places where fmt cannot call a
// type's own methods: a configuration or backend held in an unexported
// field of the caller's struct, printed with fmt (every verb) and logged
// with slog's text and JSON handlers, and the Local's Handler, which holds
// the Local, printed with %s as log.Printf would.
func TestSecretsInUnexportedFields(t *testing.T) {
	const key = "0123456789abcdef-unexported-signing-KEY"
	const secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYUNEXPORTED"
	opts := storage.LocalOptions{BaseURL: "/media/", SigningKey: storage.NewSecret(key)}
	l, err := storage.NewLocal(t.TempDir(), &opts)
	require.NoError(t, err)
	defer l.Close()
	cfg := storage.S3Config{Bucket: "b", AccessKey: "AKIAEXAMPLE", SecretKey: storage.NewSecret(secret), Region: "eu-west-1"}
	s, err := storage.NewS3(context.Background(), cfg)
	require.NoError(t, err)
	type app struct {
		opts    storage.LocalOptions
		local   *storage.Local
		handler http.Handler
		cfg     storage.S3Config
		s3      *storage.S3
		key     storage.Secret
	}
	a := app{opts, l, l.Handler(), cfg, s, storage.NewSecret(key)}
	var outputs []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%o", "%b", "%U"} {
		for _, v := range []any{a, &a, l.Handler(), struct{ h http.Handler }{l.Handler()}} {
			outputs = append(outputs, fmt.Sprintf(verb, v))
		}
	}
	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("app", "a", a, "ptr", &a, "handler", l.Handler())
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("app", "a", a, "ptr", &a, "handler", l.Handler())
	outputs = append(outputs, logged.String())
	for _, out := range outputs {
		for _, s := range []string{key, secret} {
			assert.False(t, leaks(out, s), out)
			assert.NotContains(t, out, fmt.Sprint([]byte(s)[:8]), "the secret as numbers: %s", out)
			assert.NotContains(t, out, fmt.Sprintf("%d", []byte(s)[:8]), out)
			assert.NotContains(t, out, fmt.Sprintf("%o", []byte(s)[:8]), out)
		}
	}
	// The unexported fields are no hidden way around the redaction: set
	// secrets still show as set where fmt can call their methods.
	assert.Contains(t, fmt.Sprintf("%+v", struct{ K storage.Secret }{a.key}), "K:[redacted]")
}

// wiretap is a reverse proxy to endpoint that keeps a dump of every request
// and response, bodies included.
type wiretap struct {
	srv *httptest.Server
	mu  sync.Mutex
	log bytes.Buffer
}

func newWiretap(t *testing.T, endpoint string) *wiretap {
	t.Helper()
	target, err := url.Parse(endpoint)
	require.NoError(t, err)
	w := &wiretap{}
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			r.Out.Host = r.In.Host // the request is signed for this host
		},
		ModifyResponse: func(resp *http.Response) error {
			dump, err := httputil.DumpResponse(resp, true)
			w.mu.Lock()
			defer w.mu.Unlock()
			w.log.Write(dump)
			return err
		},
	}
	w.srv = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		dump, err := httputil.DumpRequest(r, true)
		require.NoError(t, err)
		w.mu.Lock()
		w.log.Write(dump)
		w.mu.Unlock()
		rp.ServeHTTP(rw, r)
	}))
	t.Cleanup(w.srv.Close)
	return w
}

func (w *wiretap) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.log.String()
}

// exercise runs every operation of s, with both outcomes where it can, and
// returns the errors it got, and slog's JSON and text output of all of them
// and of the configuration.
func exercise(t *testing.T, s *storage.S3) (errs []error, logged string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var logs bytes.Buffer
	jsonLog := slog.New(slog.NewJSONHandler(&logs, nil))
	textLog := slog.New(slog.NewTextHandler(&logs, nil))
	note := func(op string, err error) {
		if err != nil {
			errs = append(errs, err)
		}
		for _, l := range []*slog.Logger{jsonLog, textLog} {
			l.Error(op, "err", err, "storage", s, "config", s.Config())
		}
	}
	_, err := s.Put(ctx, "secrets/a.txt", strings.NewReader("a"), nil)
	note("put", err)
	// 9 MiB: a multipart upload.
	_, err = s.Put(ctx, "secrets/big.bin", io.LimitReader(zeros{}, 9<<20), nil)
	note("put multipart", err)
	_, err = s.Stat(ctx, "secrets/a.txt")
	note("stat", err)
	_, err = s.Stat(ctx, "secrets/missing.txt")
	note("stat missing", err)
	r, err := s.Get(ctx, "secrets/a.txt")
	if err == nil {
		_, err = io.ReadAll(r)
		r.Close()
	}
	note("get", err)
	_, err = s.GetRange(ctx, "secrets/missing.txt", 0, 1)
	note("get missing", err)
	for _, err := range s.List(ctx, "secrets/", nil) {
		note("list", err)
	}
	_, err = s.Copy(ctx, "secrets/b.txt", "secrets/a.txt")
	note("copy", err)
	u, err := s.SignedURL(ctx, "secrets/a.txt", nil)
	note("signed URL", err)
	logs.WriteString(u)
	_, err = storage.DeletePrefix(ctx, s, "secrets/")
	note("delete prefix", err)
	note("delete", s.Delete(ctx, "secrets/a.txt"))
	note("check credentials", s.CheckCredentials(ctx))
	_, err = s.BucketRegion(ctx)
	note("bucket region", err)
	return errs, logs.String()
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// errorTexts renders errs in every way a caller might print or log them.
func errorTexts(errs []error) string {
	var b strings.Builder
	for _, err := range errs {
		fmt.Fprintf(&b, "%v\n%+v\n%#v\n%s\n%q\n", err, err, err, err, err)
	}
	return b.String()
}

// TestSecretNotOnTheWire runs every operation through a wiretap, with the
// right secret and with a wrong one, and searches the requests and
// responses, the errors and slog's output for the secret.
func TestSecretNotOnTheWire(t *testing.T) {
	m := needMinIO(t)
	for _, tt := range []struct {
		name   string
		secret string
	}{
		{"right secret", m.secretKey},
		{"wrong secret", "wrong-" + m.secretKey[:20] + "-AWS_SECRET"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			row := reliability.Record(t, reportSection,
				fmt.Sprintf("every operation (Put, multipart Put, Stat, Get, List, Copy, SignedURL, DeletePrefix, Delete, CheckCredentials, BucketRegion) with the %s, recorded on the wire", tt.name),
				"the secret (raw, base64, hex, URL-escaped) is in no request or response, no error (%v %+v %#v %s %q), no slog JSON or text output")
			tap := newWiretap(t, m.endpoint)
			cfg := m.config()
			cfg.SecretKey = storage.NewSecret(tt.secret)
			cfg.Endpoint = tap.srv.URL
			s := newS3(t, cfg)
			if tt.name == "right secret" {
				empty(t, s)
			}
			errs, logged := exercise(t, s)
			wire := tap.String()
			require.NotEmpty(t, wire)
			assert.Contains(t, wire, "AWS4-HMAC-SHA256", "the requests are signed")
			assert.False(t, leaks(wire, tt.secret), "the secret crossed the wire")
			assert.False(t, leaks(errorTexts(errs), tt.secret), "an error shows the secret")
			assert.False(t, leaks(logged, tt.secret), "slog output shows the secret")
			if tt.name == "wrong secret" {
				require.NotEmpty(t, errs)
				assert.Contains(t, errs[0].Error(), "check SecretKey", "the error names the setting, not the value")
			}
			row.Observe("%d KiB of requests and responses recorded, %d errors, %d KiB of slog output: the secret in none; requests carry only the SigV4 signature",
				len(wire)>>10, len(errs), len(logged)>>10)
		})
	}
}

// TestSecretUnreachableEndpoint checks the errors of calls that never reach
// a server: connection refused, and a deadline.
func TestSecretUnreachableEndpoint(t *testing.T) {
	const secret = "unreachable-SECRET-0123456789abcdef"
	row := reliability.Record(t, reportSection, "every operation against an endpoint that refuses connections (region set, and region to detect)",
		"the secret is in no error (%v %+v %#v %s %q) and no slog output; every call fails")
	for _, region := range []string{"us-east-1", ""} {
		s, err := storage.NewS3(context.Background(), storage.S3Config{
			Bucket: "b", AccessKey: "AKIAEXAMPLE", SecretKey: storage.NewSecret(secret), Region: region, Endpoint: "http://127.0.0.1:1",
		})
		require.NoError(t, err)
		errs, logged := exercise(t, s)
		// SignedURL needs no network once the region is known.
		assert.GreaterOrEqual(t, len(errs), 12, "every operation that talks to the server fails")
		assert.False(t, leaks(errorTexts(errs), secret))
		assert.False(t, leaks(logged, secret))
		row.Observe("every call failed (e.g. %q); the secret in no error and no log line", errs[0].Error())
	}
}

// TestSecretFromEnv checks that FromEnv's errors and Env never show the
// values of AWS_SECRET and STORAGE_SIGNING_KEY.
func TestSecretFromEnv(t *testing.T) {
	const secret, signingKey = "env-SECRET-0123456789abcdef", "short-signing-KEY"
	row := reliability.Record(t, reportSection, "misconfigured environments: AWS_SECRET without the other S3 variables, an invalid endpoint or ACL, a short STORAGE_SIGNING_KEY",
		"FromEnv's errors name variables, never values; Env() shows [redacted] for AWS_SECRET and STORAGE_SIGNING_KEY")
	for _, name := range []string{"BUCKET_NAME", "AWS_KEY", "AWS_SECRET", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL_S3",
		"AWS_ENDPOINT_URL", "STORAGE_URL", "STORAGE_ACL", "STORAGE_DIR", "STORAGE_SIGNING_KEY"} {
		t.Setenv(name, "")
	}
	var texts []string
	check := func(env map[string]string) {
		t.Helper()
		for k, v := range env {
			t.Setenv(k, v)
		}
		_, err := storage.FromEnv()
		require.Error(t, err, "%v", env)
		texts = append(texts, errorTexts([]error{err}))
		for k := range env {
			t.Setenv(k, "")
		}
	}
	check(map[string]string{"AWS_SECRET": secret})
	check(map[string]string{"AWS_SECRET": secret, "AWS_KEY": "AKIAEXAMPLE"})
	check(map[string]string{"AWS_SECRET": secret, "AWS_KEY": "AKIAEXAMPLE", "BUCKET_NAME": "b", "AWS_ENDPOINT_URL": "ftp://x"})
	check(map[string]string{"AWS_SECRET": secret, "AWS_KEY": "AKIAEXAMPLE", "BUCKET_NAME": "b", "STORAGE_ACL": "world-writable"})
	check(map[string]string{"AWS_SECRET": secret, "AWS_KEY": "AKIAEXAMPLE", "BUCKET_NAME": "b", "AWS_REGION": "EU West"})
	check(map[string]string{"STORAGE_SIGNING_KEY": signingKey, "STORAGE_DIR": t.TempDir()})
	check(map[string]string{"AWS_SECRET": secret + "\n", "AWS_KEY": "AKIAEXAMPLE", "BUCKET_NAME": "b"})
	all := strings.Join(texts, "\n")
	assert.False(t, leaks(all, secret))
	assert.False(t, leaks(all, signingKey))
	assert.Contains(t, texts[0], "AWS_SECRET", "the error names the variable")

	t.Setenv("AWS_SECRET", secret)
	t.Setenv("STORAGE_SIGNING_KEY", signingKey)
	var env bytes.Buffer
	for _, v := range storage.Env() {
		fmt.Fprintf(&env, "%v %+v %#v\n", v, v, v)
		if v.Name == "AWS_SECRET" || v.Name == "STORAGE_SIGNING_KEY" {
			assert.Equal(t, "[redacted]", v.Value, v.Name)
		}
	}
	slog.New(slog.NewJSONHandler(&env, nil)).Info("env", "vars", storage.Env())
	assert.False(t, leaks(env.String(), secret))
	assert.False(t, leaks(env.String(), signingKey))
	row.Observe("%d FromEnv errors, none with a value (e.g. %q); Env() redacted both secrets", len(texts), strings.SplitN(texts[0], "\n", 2)[0])
}
