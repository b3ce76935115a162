package main

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const testOrigin = "https://events.example.com"

// corsRuleText is the rule check prints for testOrigin.
var corsRuleText = `      {
          "CORSRules": [
              {
                  "AllowedOrigins": ["https://events.example.com"],
                  "AllowedMethods": ["GET", "PUT", "POST"],
                  "AllowedHeaders": ["*"],
                  "ExposeHeaders": ["ETag"],
                  "MaxAgeSeconds": 3000
              }
          ]
      }
`

func TestCheckOriginInvalid(t *testing.T) {
	for _, origin := range []string{
		"events.example.com", "https://events.example.com/", "https://events.example.com/uploads",
		"ftp://events.example.com", "https://", "https://user@events.example.com",
		"https://events.example.com?x=1", "https://Events.example.com",
	} {
		line := failsWith(t, 2, localEnv(t), "check", "--origin", origin)
		assert.Regexp(t, `^orga-storage check: --origin ".*": (want the site's origin as the browser sends it, scheme://host\[:port\] with no path|write it in lower case)`, line, origin)
	}
}

func TestCheckOriginLocal(t *testing.T) {
	r := run(t, localEnv(t), "", "check", "--origin", testOrigin)
	require.Equal(t, 0, r.code, r.stdout)
	assert.Contains(t, r.stdout, "INFO  CORS: nothing needed: pages on "+testOrigin+" upload to the Handler at /static/media/KEY, the same origin")

	r = run(t, localEnv(t, "STORAGE_URL=https://media.example.com/files/"), "", "check", "--origin", testOrigin)
	require.Equal(t, 0, r.code, r.stdout)
	assert.Contains(t, r.stdout, "INFO  CORS: objects are served from https://media.example.com, another origin than "+testOrigin)

	r = run(t, localEnv(t, "STORAGE_URL="+testOrigin+"/media/"), "", "check", "--origin", testOrigin)
	require.Equal(t, 0, r.code, r.stdout)
	assert.Contains(t, r.stdout, "INFO  CORS: nothing needed")
}

func TestMinIOCheckOrigin(t *testing.T) {
	m := setupMinIO(t)

	t.Run("MinIO", func(t *testing.T) {
		// MinIO answers any origin's preflight.
		r := run(t, m.env(m.endpoint, m.bucket, m.userKey, m.userSecret), "", "check", "--origin", testOrigin)
		require.Equal(t, 0, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
		assert.Regexp(t, `(?m)^PASS  CORS PUT: a page on `+regexp.QuoteMeta(testOrigin)+` may PUT to `+
			regexp.QuoteMeta(m.endpoint+"/"+m.bucket+"/orga-storage-check/")+`\S+\.txt with the headers content-md5, content-type$`, r.stdout)
		assert.Contains(t, r.stdout, "PASS  CORS POST: a page on "+testOrigin+" may POST to "+m.endpoint+"/"+m.bucket+"\n")
		assert.NotContains(t, r.stdout, "X-Amz-Signature")
		assert.NotContains(t, r.stdout, "CORSRules")
	})

	// A server in front of MinIO answers the preflights as a bucket with
	// the wrong CORS rules would, and passes everything else on.
	target, err := url.Parse(m.endpoint)
	require.NoError(t, err)
	proxy := httputil.NewSingleHostReverseProxy(target)
	for _, tc := range []struct {
		name     string
		answer   func(w http.ResponseWriter, r *http.Request)
		put      string // what the PUT step must name
		postPass bool
	}{
		{"no Allow-Origin", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Access-Control-Allow-Methods", "GET, PUT, POST")
			w.Header().Set("Access-Control-Allow-Headers", "*")
		}, "no Access-Control-Allow-Origin: no CORS rule allows the origin " + testOrigin, false},
		{"another origin", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Access-Control-Allow-Origin", "https://www.example.com")
			w.Header().Set("Access-Control-Allow-Methods", "GET, PUT, POST")
			w.Header().Set("Access-Control-Allow-Headers", "*")
		}, "Access-Control-Allow-Origin is https://www.example.com, not " + testOrigin, false},
		{"PUT not allowed", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Access-Control-Allow-Origin", r.Header.Get("Origin"))
			w.Header().Set("Access-Control-Allow-Methods", "GET, POST")
			w.Header().Set("Access-Control-Allow-Headers", r.Header.Get("Access-Control-Request-Headers"))
		}, "the method PUT is not allowed (Access-Control-Allow-Methods: GET, POST)", true},
		{"headers not allowed", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Access-Control-Allow-Origin", "*")
			w.Header().Set("Access-Control-Allow-Methods", "GET, PUT, POST")
			w.Header().Set("Access-Control-Allow-Headers", "Content-Type")
		}, "headers not allowed: content-md5 (Access-Control-Allow-Headers: Content-Type)", true},
		{"403", func(w http.ResponseWriter, r *http.Request) {
			// AWS's answer when no rule matches.
			w.WriteHeader(http.StatusForbidden)
			w.Write([]byte(`<Error><Code>AccessForbidden</Code><Message>CORSResponse: This CORS request is not allowed.</Message></Error>`))
		}, "the preflight (OPTIONS) is answered HTTP 403 Forbidden: no CORS rule of the bucket allows PUT from " + testOrigin, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var preflights []string
			fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method != http.MethodOptions {
					proxy.ServeHTTP(w, r)
					return
				}
				mu.Lock()
				defer mu.Unlock()
				preflights = append(preflights, r.Header.Get("Origin")+" "+r.Header.Get("Access-Control-Request-Method")+" "+
					r.Header.Get("Access-Control-Request-Headers"))
				tc.answer(w, r)
			}))
			defer fake.Close()

			r := run(t, m.env(fake.URL, m.bucket, m.userKey, m.userSecret), "", "check", "--origin", testOrigin)
			out := r.stdout
			require.Equal(t, 1, r.code, out)
			for _, step := range []string{"credentials", "bucket", "s3:PutObject", "s3:GetObject", "s3:DeleteObject"} {
				assert.Regexp(t, `(?m)^PASS  `+regexp.QuoteMeta(step)+`: `, out, "only CORS fails")
			}
			mu.Lock()
			defer mu.Unlock()
			assert.Equal(t, []string{testOrigin + " PUT content-md5,content-type", testOrigin + " POST "}, preflights,
				"the browser's preflights: PUT with its headers, then POST")
			assert.Regexp(t, `(?m)^FAIL  CORS PUT: a page on `+regexp.QuoteMeta(testOrigin)+` cannot PUT to `+
				regexp.QuoteMeta(fake.URL+"/"+m.bucket+"/orga-storage-check/")+`\S+: .*`+regexp.QuoteMeta(tc.put), out)
			if tc.postPass {
				assert.Regexp(t, `(?m)^FAIL  CORS PUT: .*\n      fix: add this CORS rule`, out, "the rule follows the failure")
				assert.Contains(t, out, "PASS  CORS POST: a page on "+testOrigin+" may POST to "+fake.URL+"/"+m.bucket+"\n")
			} else {
				assert.Regexp(t, `(?m)^FAIL  CORS POST: a page on `+regexp.QuoteMeta(testOrigin+" cannot POST to "+fake.URL+"/"+m.bucket+": ")+`.*\n      fix: add this CORS rule`, out)
				assert.Equal(t, 1, strings.Count(out, "CORSRules"), "one rule for both methods")
			}
			assert.Contains(t, out, "      fix: add this CORS rule to the bucket: save it as cors.json and run\n"+
				"        aws s3api put-bucket-cors --bucket "+m.bucket+" --cors-configuration file://cors.json\n")
			assert.Contains(t, out, corsRuleText)
		})
	}
}
