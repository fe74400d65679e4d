package emulators

import (
	"bytes"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMinIO(t *testing.T) {
	cache := mustCacheDir(t)
	begin := time.Now()
	bin, err := InstallMinIO(t.Context(), cache)
	require.NoError(t, err)
	t.Logf("install (or find) MinIO: %v", time.Since(begin))
	// A developer's own MinIO settings must not reach the test server.
	t.Setenv("MINIO_ROOT_USER", "host-user")
	t.Setenv("MINIO_ROOT_PASSWORD", "host-password")

	begin = time.Now()
	m, err := StartMinIO(t.Context(), bin)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, m.Stop()) })
	t.Logf("start MinIO: %v", time.Since(begin))
	assert.NotEqual(t, "host-user", m.AccessKey())
	assert.GreaterOrEqual(t, len(m.SecretKey()), 8, "MinIO refuses root passwords shorter than 8 characters")

	client := s3.New(s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(m.Endpoint()),
		Credentials:  credentials.NewStaticCredentialsProvider(m.AccessKey(), m.SecretKey(), ""),
		UsePathStyle: true,
	})
	bucket := "emulators-test-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	_, err = client.CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: aws.String(bucket)})
	require.NoError(t, err)
	_, err = client.PutObject(t.Context(), &s3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String("a/b.txt"), Body: strings.NewReader("hello"),
	})
	require.NoError(t, err)
	got, err := client.GetObject(t.Context(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("a/b.txt")})
	require.NoError(t, err)
	body, err := io.ReadAll(got.Body)
	require.NoError(t, err)
	require.NoError(t, got.Body.Close())
	assert.Equal(t, "hello", string(body))

	// What makes MinIO worth its build time: it checks signatures, so an
	// unsigned request and one signed with the wrong secret are refused.
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPut,
		m.Endpoint()+"/"+bucket+"/unsigned.txt", bytes.NewReader([]byte("x")))
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	assert.Equal(t, http.StatusForbidden, resp.StatusCode, "unsigned PUT")
	wrong := s3.New(s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(m.Endpoint()),
		Credentials:  credentials.NewStaticCredentialsProvider(m.AccessKey(), m.SecretKey()+"x", ""),
		UsePathStyle: true,
	})
	_, err = wrong.GetObject(t.Context(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("a/b.txt")})
	assert.ErrorContains(t, err, "SignatureDoesNotMatch")

	for _, raw := range []string{m.Endpoint(), m.ConsoleURL()} {
		u, err := url.Parse(raw)
		require.NoError(t, err)
		assert.Equal(t, "127.0.0.1", u.Hostname(), "never listen beyond the machine")
	}
	u, err := url.Parse(m.Endpoint())
	require.NoError(t, err)
	port, err := strconv.Atoi(u.Port())
	require.NoError(t, err)
	require.NoError(t, m.Stop())
	assertPortFree(t, port)
	assert.NoDirExists(t, m.dataDir, "Stop removes the objects")
}

func TestWithoutPrefix(t *testing.T) {
	tests := []struct {
		name string
		env  []string
		want []string
	}{
		{"empty", nil, []string{}},
		{"drops only the prefix", []string{"MINIO_ROOT_USER=a", "HOME=/h", "MINIOX=1", "XMINIO_A=1"}, []string{"HOME=/h", "MINIOX=1", "XMINIO_A=1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, withoutPrefix(tt.env, "MINIO_"))
		})
	}
}

func TestRandomHex(t *testing.T) {
	a, err := randomHex("mh", 10)
	require.NoError(t, err)
	b, err := randomHex("mh", 10)
	require.NoError(t, err)
	assert.Len(t, a, 22)
	assert.True(t, strings.HasPrefix(a, "mh"))
	assert.NotEqual(t, a, b)
}
