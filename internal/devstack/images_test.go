package devstack_test

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mountainhighway/marketplace/internal/devstack"
	"github.com/mountainhighway/marketplace/internal/dynamo/dynamotest"
)

type client struct {
	t     *testing.T
	base  string
	token string
}

func (c client) call(method, path string, body any, out any) int {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(c.t, err)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	require.NoError(c.t, err)
	req.Header.Set("Content-Type", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(c.t, err)
	defer resp.Body.Close()
	if out != nil {
		require.NoError(c.t, json.NewDecoder(resp.Body).Decode(out))
	}
	return resp.StatusCode
}

// upload posts a file with a presigned form, as a browser or curl would.
func upload(t *testing.T, form map[string]any, file []byte) int {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range form["fields"].(map[string]any) {
		require.NoError(t, mw.WriteField(k, v.(string)))
	}
	fw, err := mw.CreateFormFile("file", "photo")
	require.NoError(t, err)
	_, err = fw.Write(file)
	require.NoError(t, err)
	require.NoError(t, mw.Close())
	resp, err := http.Post(form["url"].(string), mw.FormDataContentType(), &buf)
	require.NoError(t, err)
	defer resp.Body.Close()
	return resp.StatusCode
}

func pngBytes(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for x := 0; x < w; x++ {
		for y := 0; y < h; y++ {
			img.Set(x, y, color.NRGBA{uint8(x), uint8(y), 90, 255})
		}
	}
	var buf bytes.Buffer
	require.NoError(t, png.Encode(&buf, img))
	return buf.Bytes()
}

// TestImageUploadEndToEnd walks docs/listings.md's image steps on the
// embedded stack: presigned POST, the stand-in S3 notification, the image
// worker behind the in-process queue, and thumbnails served from S3.
func TestImageUploadEndToEnd(t *testing.T) {
	actions := dynamotest.NewActions()
	s, err := devstack.Start(context.Background(), devstack.Options{Addr: "127.0.0.1:0", Seed: 3, Out: io.Discard,
		DynamoOptions: []func(*dynamodb.Options){actions.Option}})
	require.NoError(t, err)
	t.Cleanup(func() {
		assert.NoError(t, s.Close())
		assert.Empty(t, actions.Violations(), "every route and the image worker stay within their IAM grants")
		assert.GreaterOrEqual(t, actions.Functions(), 6, "the routes and the worker were recorded")
	})

	var tok map[string]any
	anon := client{t: t, base: s.URL}
	require.Equal(t, http.StatusOK, anon.call("POST", "/v1/auth/login", map[string]string{"email": "seller@example.com", "password": devstack.DemoPassword}, &tok))
	seller := client{t: t, base: s.URL, token: tok["accessToken"].(string)}

	var l map[string]any
	require.Equal(t, http.StatusCreated, seller.call("POST", "/v1/listings", map[string]any{
		"title": "Painted chest", "category": "home", "price": map[string]any{"amount": 9900, "currency": "EUR"},
	}, &l))
	id := l["id"].(string)
	require.Equal(t, http.StatusOK, seller.call("POST", "/v1/listings/"+id+"/publish", nil, nil))

	var form map[string]any
	require.Equal(t, http.StatusCreated, seller.call("POST", "/v1/listings/"+id+"/images", map[string]string{"contentType": "image/png"}, &form))
	// S3 and MinIO answer 204; gofakes3 answers 200.
	require.Equal(t, 2, upload(t, form, pngBytes(t, 900, 600))/100)

	var bad map[string]any
	require.Equal(t, http.StatusCreated, seller.call("POST", "/v1/listings/"+id+"/images", map[string]string{"contentType": "image/png"}, &bad))
	require.Equal(t, 2, upload(t, bad, []byte("<html>not an image</html>"))/100)

	var got map[string]any
	require.Eventually(t, func() bool {
		got = nil
		anon.call("GET", "/v1/listings/"+id, nil, &got)
		imgs, _ := got["images"].([]any)
		return len(imgs) == 1
	}, 10*time.Second, 50*time.Millisecond, "the worker processes the upload")
	img := got["images"].([]any)[0].(map[string]any)
	assert.Equal(t, form["imageId"], img["id"])
	assert.Equal(t, "ready", img["status"])
	assert.Equal(t, 900.0, img["width"])
	urls := img["urls"].(map[string]any)
	assert.Len(t, urls, 3, "320, 640 and the original 900 (never upscaled)")
	resp, err := http.Get(urls["320"].(string))
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	thumb, _, err := image.DecodeConfig(resp.Body)
	require.NoError(t, err)
	assert.Equal(t, 320, thumb.Width)

	// The rejected upload is recorded but never shown to the public.
	assert.Len(t, got["images"], 1)

	// The first ready image is the cover lists show, in browse and search.
	cover := got["cover"].(map[string]any)
	assert.Equal(t, img["id"], cover["imageId"])
	assert.Equal(t, urls, cover["urls"])
	var page struct {
		Items []map[string]any `json:"items"`
	}
	anon.call("GET", "/v1/listings?q=painted+chest", nil, &page)
	require.Len(t, page.Items, 1)
	assert.Equal(t, urls, page.Items[0]["cover"].(map[string]any)["urls"])

	require.Equal(t, http.StatusNoContent, seller.call("DELETE", "/v1/listings/"+id+"/images/"+img["id"].(string), nil, nil))
	got = nil
	anon.call("GET", "/v1/listings/"+id, nil, &got)
	assert.Empty(t, got["images"])
	assert.Nil(t, got["cover"], "deleting the only image removes the cover")
	resp2, err := http.Get(urls["320"].(string))
	require.NoError(t, err)
	resp2.Body.Close()
	assert.Equal(t, http.StatusNotFound, resp2.StatusCode, "thumbnails are deleted with the image")

	assert.Equal(t, http.StatusBadRequest, seller.call("POST", "/v1/listings/"+id+"/images", map[string]string{"contentType": "image/gif"}, nil))
}
