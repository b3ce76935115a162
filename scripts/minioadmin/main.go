// Command minioadmin prepares a MinIO server for the storage package's tests:
// it creates buckets, IAM-style policies, users and bucket policies, the jobs
// the mc client would do, without needing mc.
//
// The server and its root credentials come from the environment, never from
// the command line, where other users could read them:
//
//	MINIO_ADMIN_ENDPOINT  host:port of the server (plain HTTP on loopback)
//	MINIO_ROOT_USER       root access key
//	MINIO_ROOT_PASSWORD   root secret key
//
// Usage:
//
//	minioadmin bucket NAME                  create a bucket unless it exists
//	minioadmin policy NAME FILE             add or replace a policy from a JSON file
//	minioadmin user ACCESS SECRET POLICY    add a user and attach a policy to it
//	minioadmin public-read BUCKET           let anyone GET the bucket's objects
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/minio/madmin-go/v3"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "minioadmin:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	endpoint, user, password := os.Getenv("MINIO_ADMIN_ENDPOINT"), os.Getenv("MINIO_ROOT_USER"), os.Getenv("MINIO_ROOT_PASSWORD")
	if endpoint == "" || user == "" || password == "" {
		return fmt.Errorf("MINIO_ADMIN_ENDPOINT, MINIO_ROOT_USER and MINIO_ROOT_PASSWORD must be set")
	}
	if len(args) == 0 {
		return fmt.Errorf("no command; see the package documentation")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	s3, err := minio.New(endpoint, &minio.Options{Creds: credentials.NewStaticV4(user, password, "")})
	if err != nil {
		return err
	}
	admin, err := madmin.New(endpoint, user, password, false)
	if err != nil {
		return err
	}

	switch cmd, args := args[0], args[1:]; {
	case cmd == "bucket" && len(args) == 1:
		exists, err := s3.BucketExists(ctx, args[0])
		if err != nil || exists {
			return err
		}
		return s3.MakeBucket(ctx, args[0], minio.MakeBucketOptions{})
	case cmd == "policy" && len(args) == 2:
		doc, err := os.ReadFile(args[1])
		if err != nil {
			return err
		}
		return admin.AddCannedPolicy(ctx, args[0], doc)
	case cmd == "user" && len(args) == 3:
		if err := admin.AddUser(ctx, args[0], args[1]); err != nil {
			return err
		}
		_, err := admin.AttachPolicy(ctx, madmin.PolicyAssociationReq{Policies: []string{args[2]}, User: args[0]})
		return err
	case cmd == "public-read" && len(args) == 1:
		return s3.SetBucketPolicy(ctx, args[0], fmt.Sprintf(`{
  "Version": "2012-10-17",
  "Statement": [{
    "Effect": "Allow",
    "Principal": {"AWS": ["*"]},
    "Action": ["s3:GetObject"],
    "Resource": ["arn:aws:s3:::%s/*"]
  }]
}`, args[0]))
	}
	return fmt.Errorf("bad command %q; see the package documentation", args)
}
