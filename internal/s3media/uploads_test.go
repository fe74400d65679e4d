package s3media_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"maps"
	"mime/multipart"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mountainhighway/marketplace/internal/fault"
	"github.com/mountainhighway/marketplace/internal/s3media"
	"github.com/mountainhighway/marketplace/internal/s3media/s3mediatest"
)

// maxUpload is the size bound the listing images route uses: 10 MiB.
const maxUpload = 10 << 20

// post sends form as a browser or curl would: a multipart/form-data POST
// of every field and then the file, last, as S3 requires. It returns the
// status and the body of S3's answer.
func post(t *testing.T, form s3media.UploadForm, file []byte) (int, string) {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for _, k := range slices.Sorted(maps.Keys(form.Fields)) {
		require.NoError(t, mw.WriteField(k, form.Fields[k]))
	}
	fw, err := mw.CreateFormFile("file", "photo.png")
	require.NoError(t, err)
	_, err = fw.Write(file)
	require.NoError(t, err)
	require.NoError(t, mw.Close())
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, form.URL, &body)
	require.NoError(t, err)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	answer, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	return resp.StatusCode, string(answer)
}

// exists reports whether key is in bucket, and its content type.
func exists(t *testing.T, client *s3.Client, bucket, key string) (bool, string) {
	t.Helper()
	out, err := client.HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		assert.Equal(t, fault.NotFound, fault.KindOf(s3media.ClassifyForTest("head", err)), "HeadObject: %v", err)
		return false, ""
	}
	return true, aws.ToString(out.ContentType)
}

// TestMinIOPresignedPostPolicy is the "MinIO policy tests": real
// multipart POSTs of the form PresignImageUpload returns, to MinIO, which
// enforces the signed policy as S3 does. Each case gets a fresh bucket.
func TestMinIOPresignedPostPolicy(t *testing.T) {
	png := append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{7}, 92)...)
	tests := []struct {
		name string
		// change alters the form or the file after presigning, as a
		// client trying its luck would.
		change     func(t *testing.T, f *s3media.UploadForm, file []byte) []byte
		wantStatus int
		wantCode   string
		stored     bool
	}{
		{"valid upload is stored", nil, http.StatusNoContent, "", true},
		{"a file of exactly the limit is stored", func(*testing.T, *s3media.UploadForm, []byte) []byte {
			return bytes.Repeat([]byte{1}, maxUpload)
		}, http.StatusNoContent, "", true},
		{"11 MiB file is refused", func(*testing.T, *s3media.UploadForm, []byte) []byte {
			return bytes.Repeat([]byte{1}, 11<<20)
		}, http.StatusBadRequest, "EntityTooLarge", false},
		{"a file one byte over the limit is refused", func(*testing.T, *s3media.UploadForm, []byte) []byte {
			return bytes.Repeat([]byte{1}, maxUpload+1)
		}, http.StatusBadRequest, "EntityTooLarge", false},
		{"empty file is refused", func(*testing.T, *s3media.UploadForm, []byte) []byte {
			return nil
		}, http.StatusBadRequest, "EntityTooSmall", false},
		{"wrong Content-Type is refused", func(_ *testing.T, f *s3media.UploadForm, file []byte) []byte {
			f.Fields["Content-Type"] = "text/html"
			return file
		}, http.StatusForbidden, "AccessDenied", false},
		{"another image type than signed is refused", func(_ *testing.T, f *s3media.UploadForm, file []byte) []byte {
			f.Fields["Content-Type"] = "image/jpeg"
			return file
		}, http.StatusForbidden, "AccessDenied", false},
		{"key changed to another prefix is refused", func(_ *testing.T, f *s3media.UploadForm, file []byte) []byte {
			f.Fields["key"] = "listings/L1/I1/1280.jpg"
			return file
		}, http.StatusForbidden, "AccessDenied", false},
		{"key changed to another image of the same listing is refused", func(_ *testing.T, f *s3media.UploadForm, file []byte) []byte {
			f.Fields["key"] = "uploads/L1/I2"
			return file
		}, http.StatusForbidden, "AccessDenied", false},
		{"policy widened by the client is refused", func(t *testing.T, f *s3media.UploadForm, _ []byte) []byte {
			raw, err := base64.StdEncoding.DecodeString(f.Fields["policy"])
			require.NoError(t, err)
			f.Fields["policy"] = base64.StdEncoding.EncodeToString(bytes.Replace(raw, []byte("10485760"), []byte("99999999"), 1))
			return bytes.Repeat([]byte{1}, 11<<20)
		}, http.StatusForbidden, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client, bucket := s3mediatest.NewBucket(t)
			const key = "uploads/L1/I1"
			form, err := s3media.NewUploads(client, bucket).PresignImageUpload(t.Context(), key, maxUpload, "image/png", 5*time.Minute)
			require.NoError(t, err)
			file := png
			if tt.change != nil {
				file = tt.change(t, &form, file)
			}
			status, body := post(t, form, file)
			assert.Equal(t, tt.wantStatus, status, "answer: %s", body)
			assert.Contains(t, body, tt.wantCode)
			for _, k := range []string{key, "uploads/L1/I2", "listings/L1/I1/1280.jpg"} {
				stored, contentType := exists(t, client, bucket, k)
				if k == key && tt.stored {
					assert.True(t, stored, "%s stored", k)
					assert.Equal(t, "image/png", contentType, "the object keeps the signed content type")
					continue
				}
				assert.False(t, stored, "%s stored", k)
			}
		})
	}
}

func TestMinIOPresignedPostExpires(t *testing.T) {
	client, bucket := s3mediatest.NewBucket(t)
	up := s3media.NewUploads(client, bucket)
	form, err := up.PresignImageUpload(t.Context(), "uploads/L1/I1", maxUpload, "image/webp", time.Second)
	require.NoError(t, err)
	// The policy's expiration is whole seconds; MinIO compares it with its
	// own clock, which is this machine's.
	time.Sleep(time.Until(form.ExpiresAt) + 1100*time.Millisecond)
	status, body := post(t, form, []byte("RIFF\x00\x00\x00\x00WEBPVP8 "))
	assert.Equal(t, http.StatusForbidden, status, "answer: %s", body)
	assert.Contains(t, body, "expired")
	stored, _ := exists(t, client, bucket, "uploads/L1/I1")
	assert.False(t, stored)

	// The same request with a fresh form goes through, so the refusal was
	// the expiry and nothing else.
	form, err = up.PresignImageUpload(t.Context(), "uploads/L1/I1", maxUpload, "image/webp", time.Minute)
	require.NoError(t, err)
	status, body = post(t, form, []byte("RIFF\x00\x00\x00\x00WEBPVP8 "))
	assert.Equal(t, http.StatusNoContent, status, "answer: %s", body)
}

// offlineUploads returns Uploads whose client points at an address where
// nothing listens: presigning is computed locally and sends nothing.
func offlineUploads(t *testing.T) *s3media.Uploads {
	t.Helper()
	client, err := s3media.NewClient(t.Context(), "eu-west-1", "http://127.0.0.1:1", "AKID", "SECRET")
	require.NoError(t, err)
	return s3media.NewUploads(client, "uploads-bucket")
}

func TestPresignImageUploadForm(t *testing.T) {
	before := time.Now().Truncate(time.Second)
	form, err := offlineUploads(t).PresignImageUpload(t.Context(), "uploads/L1/I1", maxUpload, "image/jpeg", 15*time.Minute)
	require.NoError(t, err)
	assert.Equal(t, "http://127.0.0.1:1/uploads-bucket", form.URL, "path-style bucket URL")
	assert.Equal(t, "uploads/L1/I1", form.Fields["key"])
	assert.Equal(t, "image/jpeg", form.Fields["Content-Type"])
	for _, f := range []string{"policy", "X-Amz-Signature", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Algorithm"} {
		assert.NotEmpty(t, form.Fields[f], f)
	}
	assert.WithinDuration(t, before.Add(15*time.Minute), form.ExpiresAt, 2*time.Second)

	raw, err := base64.StdEncoding.DecodeString(form.Fields["policy"])
	require.NoError(t, err)
	var policy struct {
		Expiration time.Time `json:"expiration"`
		Conditions []any     `json:"conditions"`
	}
	require.NoError(t, json.Unmarshal(raw, &policy))
	assert.Equal(t, form.ExpiresAt, policy.Expiration)
	assert.Contains(t, policy.Conditions, []any{"content-length-range", 1.0, float64(maxUpload)})
	assert.Contains(t, policy.Conditions, map[string]any{"Content-Type": "image/jpeg"})
	assert.Contains(t, policy.Conditions, map[string]any{"key": "uploads/L1/I1"})
	assert.Contains(t, policy.Conditions, map[string]any{"bucket": "uploads-bucket"})

	encoded, err := json.Marshal(form)
	require.NoError(t, err)
	assert.Contains(t, string(encoded), `"url":"http://127.0.0.1:1/uploads-bucket"`)
	assert.Contains(t, string(encoded), `"expiresAt":"`)
}

func TestPresignImageUploadRejects(t *testing.T) {
	up := offlineUploads(t)
	tests := []struct {
		name        string
		key         string
		maxBytes    int64
		contentType string
		expires     time.Duration
		kind        fault.Kind
	}{
		// What the client chose: a validation error on its field.
		{"html", "uploads/L1/I1", maxUpload, "text/html", time.Minute, fault.Invalid},
		{"gif", "uploads/L1/I1", maxUpload, "image/gif", time.Minute, fault.Invalid},
		{"type with parameters", "uploads/L1/I1", maxUpload, "image/png; charset=x", time.Minute, fault.Invalid},
		{"no type", "uploads/L1/I1", maxUpload, "", time.Minute, fault.Invalid},
		// What the program chose: a bug, not the client's business.
		{"no size", "uploads/L1/I1", 0, "image/png", time.Minute, fault.Internal},
		{"expired already", "uploads/L1/I1", maxUpload, "image/png", 0, fault.Internal},
		{"too long", "uploads/L1/I1", maxUpload, "image/png", 8 * 24 * time.Hour, fault.Internal},
		{"media key", "listings/L1/I1/320.jpg", maxUpload, "image/png", time.Minute, fault.Internal},
		{"prefix only", "uploads/", maxUpload, "image/png", time.Minute, fault.Internal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := up.PresignImageUpload(t.Context(), tt.key, tt.maxBytes, tt.contentType, tt.expires)
			fe, ok := fault.As(err)
			require.True(t, ok, "error %v", err)
			assert.Equal(t, tt.kind, fe.Kind, "error %v", err)
			if tt.kind == fault.Invalid {
				require.Len(t, fe.Fields, 1)
				assert.Equal(t, "contentType", fe.Fields[0].Field)
				assert.Equal(t, "must be one of image/jpeg, image/png, image/webp", fe.Fields[0].Message)
			}
		})
	}
}

func TestPresignImageUploadWithoutCredentials(t *testing.T) {
	client, err := s3media.NewClient(t.Context(), "eu-west-1", "", "", "", func(o *s3.Options) {
		o.Credentials = aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{}, io.ErrUnexpectedEOF
		})
	})
	require.NoError(t, err)
	_, err = s3media.NewUploads(client, "b").PresignImageUpload(t.Context(), "uploads/L1/I1", 1, "image/png", time.Minute)
	assert.Equal(t, fault.Internal, fault.KindOf(err), "error %v", err)
	assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
}

func TestPolicyExpiration(t *testing.T) {
	enc := base64.StdEncoding.EncodeToString
	tests := []struct {
		name, policy, wantErr string
	}{
		{"not base64", "%%%", "decode the policy"},
		{"not json", enc([]byte("nope")), "decode the policy"},
		{"no expiration", enc([]byte(`{"conditions":[]}`)), "no expiration"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s3media.PolicyExpirationForTest(tt.policy)
			assert.ErrorContains(t, err, tt.wantErr)
		})
	}
	got, err := s3media.PolicyExpirationForTest(enc([]byte(`{"expiration":"2026-12-03T10:00:00Z"}`)))
	require.NoError(t, err)
	assert.Equal(t, time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC), got)
}
