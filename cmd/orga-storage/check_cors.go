package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/orga-server/storage"
)

// parseOrigin validates --origin: a browser's Origin header, scheme://host
// with an optional port and nothing else.
func parseOrigin(origin string) error {
	u, err := url.Parse(origin)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
		u.Path != "" || u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(origin, "?") || strings.HasSuffix(origin, "#") {
		return usagef("--origin %q: want the site's origin as the browser sends it, scheme://host[:port] with no path, such as https://events.example.com", origin)
	}
	if origin != strings.ToLower(origin) {
		return usagef("--origin %q: write it in lower case, as the browser sends it", origin)
	}
	return nil
}

// checkLocalCORS says what a page on origin needs to upload to the Handler:
// nothing when it is mounted in the application, whose origin it shares.
func checkLocalCORS(r *report, l *storage.Local, origin string) {
	u, _ := l.URL("KEY")
	pu, err := url.Parse(u)
	if err == nil && pu.IsAbs() && pu.Scheme+"://"+pu.Host != origin {
		r.info("CORS", fmt.Sprintf("objects are served from %s, another origin than %s (STORAGE_URL): pages there upload across origins, so the server at %s must answer the browser's CORS preflight for PUT and POST; storage.Handler sends no CORS headers",
			pu.Scheme+"://"+pu.Host, origin, pu.Scheme+"://"+pu.Host))
		return
	}
	r.info("CORS", "nothing needed: pages on "+origin+" upload to the Handler at "+u+", the same origin when the Handler is mounted in the application")
}

// checkS3CORS sends the preflights a browser on origin sends before a PUT
// through a signed URL and before a form post, to the URLs the library signs,
// and tells whether the bucket's CORS rules let them through. It needs no
// permission: the seed policy grants no s3:GetBucketCORS, and the preflight
// is what the browser sees anyway.
func checkS3CORS(ctx context.Context, r *report, s *storage.S3, origin string) {
	key := probeKey("")
	put, err := s.SignedURL(ctx, key, &storage.SignOptions{
		Method: http.MethodPut, Expires: time.Minute,
		ContentType: "application/octet-stream", ContentMD5: "1B2M2Y8AsgTpgAmY7PhCfg==",
	})
	if err != nil {
		r.fail("CORS", "cannot sign a probe upload: "+message(err), "")
		return
	}
	form, err := s.SignedPost(ctx, key, &storage.PostOptions{Expires: time.Minute, MaxSize: 1})
	if err != nil {
		r.fail("CORS", "cannot sign a probe form: "+message(err), "")
		return
	}
	putURL, headers := preflightTarget(put)
	checks := []struct {
		method, url string
		headers     []string
		problem     string
	}{
		{method: http.MethodPut, url: putURL, headers: headers},
		{method: http.MethodPost, url: form.URL},
	}
	lastFailed := -1
	for i := range checks {
		c := &checks[i]
		if c.problem = preflight(ctx, c.url, origin, c.method, c.headers); c.problem != "" {
			lastFailed = i
		}
	}
	for i, c := range checks {
		step := "CORS " + c.method
		if c.problem == "" {
			detail := fmt.Sprintf("a page on %s may %s to %s", origin, c.method, c.url)
			if len(c.headers) > 0 {
				detail += " with the headers " + strings.Join(c.headers, ", ")
			}
			r.pass(step, detail)
			continue
		}
		r.fail(step, fmt.Sprintf("a page on %s cannot %s to %s: %s", origin, c.method, c.url, c.problem), "")
		if i == lastFailed {
			// One rule fixes both methods: print it once, after the last failure.
			bucket := s.Config().Bucket
			r.more(fmt.Sprintf("fix: add this CORS rule to the bucket: save it as cors.json and run\n"+
				"  aws s3api put-bucket-cors --bucket %s --cors-configuration file://cors.json\n"+
				"(that replaces the bucket's CORS rules: first add any that `aws s3api get-bucket-cors --bucket %s` shows; it takes s3:PutBucketCORS, which the operator needs, not the application):", bucket, bucket))
			r.more(corsRule(origin))
		}
	}
}

// preflightTarget splits a signed PUT URL into the URL the browser's
// preflight goes to, without the signature, and the headers the upload
// must send: those signed besides Host and Content-Length, which the
// browser sets itself.
func preflightTarget(signed string) (string, []string) {
	u, err := url.Parse(signed)
	if err != nil {
		return signed, nil
	}
	var headers []string
	for _, h := range strings.Split(u.Query().Get("X-Amz-SignedHeaders"), ";") {
		if h != "" && h != "host" && h != "content-length" {
			headers = append(headers, h)
		}
	}
	slices.Sort(headers) // as browsers list them
	u.RawQuery = ""
	return u.String(), headers
}

// preflight sends the CORS preflight of a request with method and headers
// from origin to target, and returns what in the answer would make the
// browser refuse the request, or "".
func preflight(ctx context.Context, target, origin, method string, headers []string) string {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodOptions, target, nil)
	if err != nil {
		return err.Error()
	}
	req.Header.Set("Origin", origin)
	req.Header.Set("Access-Control-Request-Method", method)
	if len(headers) > 0 {
		req.Header.Set("Access-Control-Request-Headers", strings.Join(headers, ","))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "the preflight (OPTIONS) failed: " + err.Error()
	}
	resp.Body.Close()

	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		// S3's answer when no rule matches the origin, method and headers.
		return fmt.Sprintf("the preflight (OPTIONS) is answered HTTP %s: no CORS rule of the bucket allows %s from %s", resp.Status, method, origin)
	}
	switch allowed := resp.Header.Get("Access-Control-Allow-Origin"); allowed {
	case origin, "*":
	case "":
		return "no Access-Control-Allow-Origin: no CORS rule allows the origin " + origin
	default:
		return fmt.Sprintf("Access-Control-Allow-Origin is %s, not %s", allowed, origin)
	}
	var problems []string
	methods := resp.Header.Get("Access-Control-Allow-Methods")
	if !slices.Contains(splitList(methods), method) && !slices.Contains(splitList(methods), "*") {
		problems = append(problems, fmt.Sprintf("the method %s is not allowed (Access-Control-Allow-Methods: %s)", method, orNone(methods)))
	}
	allowHeaders := resp.Header.Get("Access-Control-Allow-Headers")
	allowedHeaders := splitList(strings.ToLower(allowHeaders))
	var missing []string
	for _, h := range headers {
		if !slices.Contains(allowedHeaders, h) && !slices.Contains(allowedHeaders, "*") {
			missing = append(missing, h)
		}
	}
	if len(missing) > 0 {
		problems = append(problems, fmt.Sprintf("headers not allowed: %s (Access-Control-Allow-Headers: %s)",
			strings.Join(missing, ", "), orNone(allowHeaders)))
	}
	return strings.Join(problems, "; ")
}

// splitList splits a comma-separated header value.
func splitList(v string) []string {
	var list []string
	for _, item := range strings.Split(v, ",") {
		if item = strings.TrimSpace(item); item != "" {
			list = append(list, item)
		}
	}
	return list
}

func orNone(v string) string {
	if v == "" {
		return "none"
	}
	return v
}

// corsRule returns the CORS configuration that lets pages on origin
// download, PUT through signed URLs and post forms, as put-bucket-cors
// takes it. ETag is exposed for pages that check what they uploaded.
func corsRule(origin string) string {
	return fmt.Sprintf(`{
    "CORSRules": [
        {
            "AllowedOrigins": [%q],
            "AllowedMethods": ["GET", "PUT", "POST"],
            "AllowedHeaders": ["*"],
            "ExposeHeaders": ["ETag"],
            "MaxAgeSeconds": 3000
        }
    ]
}`, origin)
}
