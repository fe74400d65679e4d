package lambdahttp

import (
	"bytes"
	"compress/gzip"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// minGzip is the smallest body worth compressing: below it, gzip's header
// and the client's work cost more than the bytes saved.
const minGzip = 1024

// gzipWriter buffers a response and, when the client accepts gzip and the
// body is JSON of at least minGzip bytes, sends it compressed. Lambda
// responses are buffered whole anyway, so buffering costs nothing extra
// there; API Gateway HTTP APIs do not compress, so the function must.
type gzipWriter struct {
	w      http.ResponseWriter
	header http.Header
	code   int
	buf    bytes.Buffer
	pool   *sync.Pool // of *gzip.Writer at BestSpeed
}

// newGzipPool returns a pool of compressors. BestSpeed: on a page of
// listings it gives most of the size reduction of the default level for a
// fraction of the CPU, which in Lambda is billed time.
func newGzipPool() *sync.Pool {
	return &sync.Pool{New: func() any {
		zw, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed) // a valid level never fails
		return zw
	}}
}

func newGzipWriter(w http.ResponseWriter, pool *sync.Pool) *gzipWriter {
	return &gzipWriter{w: w, header: w.Header(), pool: pool}
}

func (g *gzipWriter) Header() http.Header { return g.header }

func (g *gzipWriter) WriteHeader(code int) {
	if g.code == 0 {
		g.code = code
	}
}

func (g *gzipWriter) Write(b []byte) (int, error) {
	if g.code == 0 {
		g.code = http.StatusOK
	}
	return g.buf.Write(b)
}

// finish sends the buffered response, compressed when worthwhile.
func (g *gzipWriter) finish() {
	if g.code == 0 {
		g.code = http.StatusOK
	}
	body := g.buf.Bytes()
	ct := g.header.Get("Content-Type")
	if len(body) >= minGzip && g.header.Get("Content-Encoding") == "" &&
		(strings.HasPrefix(ct, "application/json") || strings.HasPrefix(ct, "application/problem+json")) {
		var zbuf bytes.Buffer
		zw := g.pool.Get().(*gzip.Writer)
		zw.Reset(&zbuf)
		if _, err := zw.Write(body); err == nil && zw.Close() == nil {
			body = zbuf.Bytes()
			g.header.Set("Content-Encoding", "gzip")
		}
		g.pool.Put(zw)
	}
	g.header.Add("Vary", "Accept-Encoding")
	if len(body) > 0 {
		g.header.Set("Content-Length", strconv.Itoa(len(body)))
	}
	g.w.WriteHeader(g.code)
	_, _ = g.w.Write(body) // the status is sent; a failed write means the client left
}

// acceptsGzip reports whether the request's Accept-Encoding allows gzip.
func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(name), "gzip") || strings.TrimSpace(name) == "*" {
			return strings.ReplaceAll(strings.TrimSpace(params), " ", "") != "q=0"
		}
	}
	return false
}
