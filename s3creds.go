package storage

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// Names of the credential sources, as messages and [S3Credentials] show
// them.
const (
	sourceKeys         = "S3Config.AccessKey and SecretKey"
	sourceKeysToken    = "S3Config.AccessKey, SecretKey and SessionToken"
	sourceProvider     = "S3Config.Credentials"
	sourceEnvKeys      = "AWS_KEY and AWS_SECRET"
	sourceEnvKeysToken = "AWS_KEY, AWS_SECRET and AWS_SESSION_TOKEN"
	sourceDefaultChain = "the default AWS credential chain (STORAGE_S3_CREDENTIALS=default)"
)

// s3Credentials is the provider an S3 signs with: the configured one behind
// the SDK's cache, which fetches credentials on first use and again shortly
// before they expire. [S3.Config] hands it out as S3Config.Credentials, and
// NewS3 given it back keeps its source and cache.
//
// It is used through a pointer, so fmt prints an address wherever it meets
// one, never the credentials the cache holds.
type s3Credentials struct {
	source string // where the credentials come from, as messages name it
	// static is set for keys given in the configuration, whose refusal the
	// error messages blame on the variables AWS_KEY and AWS_SECRET.
	static bool
	cache  *aws.CredentialsCache
}

// Retrieve returns the cached credentials, fetching them when they are
// missing or about to expire. A failure is a *credentialsError naming the
// source.
func (c *s3Credentials) Retrieve(ctx context.Context) (aws.Credentials, error) {
	return c.cache.Retrieve(ctx)
}

// newS3Credentials returns the credentials of cfg, which checkS3Config has
// checked: cfg.Credentials when set, else the keys. source, when not "",
// names them in messages instead of the S3Config fields.
func newS3Credentials(cfg S3Config, source string) *s3Credentials {
	if c, ok := cfg.Credentials.(*s3Credentials); ok {
		return c
	}
	c := &s3Credentials{source: source}
	p := cfg.Credentials
	if p == nil {
		c.static = true
		switch {
		case c.source != "":
		case cfg.SessionToken.IsSet():
			c.source = sourceKeysToken
		default:
			c.source = sourceKeys
		}
		p = credentials.NewStaticCredentialsProvider(cfg.AccessKey, cfg.SecretKey.reveal(), cfg.SessionToken.reveal())
	} else if c.source == "" {
		c.source = sourceProvider
	}
	c.cache = aws.NewCredentialsCache(namedProvider{c.source, p})
	return c
}

// namedProvider makes the errors of a provider name it, and refuses
// credentials without keys, which would make the SDK send unsigned
// requests.
type namedProvider struct {
	source string
	p      aws.CredentialsProvider
}

func (p namedProvider) Retrieve(ctx context.Context) (aws.Credentials, error) {
	creds, err := p.p.Retrieve(ctx)
	if err == nil && !creds.HasKeys() {
		err = errors.New("the provider returned no access key and secret key")
	}
	if err != nil {
		return aws.Credentials{}, &credentialsError{source: p.source, err: err}
	}
	return creds, nil
}

// credentialsError is a failure to get credentials, which the SDK reports
// deep inside an operation error; translate brings it to the top.
type credentialsError struct {
	source string
	err    error
}

func (e *credentialsError) Error() string {
	return "getting credentials from " + e.source + ": " + e.err.Error()
}

func (e *credentialsError) Unwrap() error { return e.err }

// defaultChainCredentials returns the SDK's default credential chain:
// environment (AWS_ACCESS_KEY_ID), shared configuration and SSO
// (AWS_PROFILE, ~/.aws), web identity (AWS_WEB_IDENTITY_TOKEN_FILE, as EKS
// IRSA sets it), container credentials (ECS, EKS Pod Identity) and EC2
// instance roles. It reads the environment and the shared files now and
// fetches credentials only when a request needs them. region signs the STS
// requests of web identity when neither AWS_REGION nor a profile names one.
func defaultChainCredentials(ctx context.Context, region string, client aws.HTTPClient) (aws.CredentialsProvider, error) {
	opts := []func(*config.LoadOptions) error{config.WithDefaultRegion(region)}
	if client != nil {
		opts = append(opts, config.WithHTTPClient(client))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("loading the default AWS credential chain: %w", err)
	}
	if cfg.Credentials == nil {
		return nil, errors.New("the default AWS credential chain found no credential source")
	}
	return cfg.Credentials, nil
}

// S3Credentials describes the credentials an [S3] signs with, without any
// secret, for diagnostics such as `orga-storage check`.
type S3Credentials struct {
	Source    string    // "S3Config.Credentials", "AWS_KEY and AWS_SECRET"…
	Provider  string    // the SDK provider that answered, e.g. "EC2RoleProvider"
	AccessKey string    // the access key ID, which is no secret
	Temporary bool      // with a session token
	Expires   time.Time // when they are fetched anew; zero if never
}

// Credentials fetches s's credentials if they are not cached and describes
// them. Its error names their source and wraps the provider's.
func (s *S3) Credentials(ctx context.Context) (S3Credentials, error) {
	creds, err := s.creds.Retrieve(ctx)
	if err != nil {
		var credsErr *credentialsError
		if errors.As(err, &credsErr) {
			err = credsErr // without the cache's "failed to refresh cached credentials"
		}
		return S3Credentials{Source: s.creds.source}, fmt.Errorf("storage: %w", err)
	}
	info := S3Credentials{
		Source:    s.creds.source,
		Provider:  creds.Source,
		AccessKey: creds.AccessKeyID,
		Temporary: creds.SessionToken != "",
	}
	if creds.CanExpire {
		info.Expires = creds.Expires
	}
	return info, nil
}
