package imaging

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"os"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/image/webp"

	"github.com/mountainhighway/marketplace/internal/fault"
)

// photo returns an opaque w × h image with smooth gradients, like a photo.
func photo(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetRGBA(x, y, color.RGBA{uint8(x * 255 / w), uint8(y * 255 / h), uint8((x + y) % 256), 255})
		}
	}
	return img
}

// cutout returns a w × h image of an opaque disc on a transparent
// background, like a product photographed and cut out.
func cutout(w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	cx, cy, r := w/2, h/2, min(w, h)/3
	for y := range h {
		for x := range w {
			if (x-cx)*(x-cx)+(y-cy)*(y-cy) <= r*r {
				img.SetNRGBA(x, y, color.NRGBA{200, 40, 40, 255})
			}
		}
	}
	return img
}

func mustJPEG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}))
	return buf.Bytes()
}

func mustPNG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, png.Encode(&buf, img))
	return buf.Bytes()
}

func mustRead(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	require.NoError(t, err)
	return b
}

// withJPEGSegment returns a JPEG with a marker segment inserted right
// after the start-of-image marker, where cameras put APP1 (EXIF).
func withJPEGSegment(data []byte, marker byte, payload []byte) []byte {
	seg := []byte{0xFF, marker, 0, 0}
	binary.BigEndian.PutUint16(seg[2:], uint16(len(payload)+2))
	out := append([]byte{}, data[:2]...)
	out = append(out, seg...)
	out = append(out, payload...)
	return append(out, data[2:]...)
}

// exif returns an EXIF APP1 payload: the "Exif\0\0" header and a TIFF
// structure in byte order bo whose first directory has an
// ImageDescription (desc) and an Orientation (o) tag.
func exif(bo binary.ByteOrder, o uint16, desc string) []byte {
	b := []byte("Exif\x00\x00")
	tiff := make([]byte, 8+2+2*12+4)
	if bo == binary.LittleEndian {
		copy(tiff, "II")
	} else {
		copy(tiff, "MM")
	}
	bo.PutUint16(tiff[2:], 42)
	bo.PutUint32(tiff[4:], 8)
	bo.PutUint16(tiff[8:], 2)
	e := tiff[10:]
	bo.PutUint16(e[0:], 0x010E) // ImageDescription, ASCII, stored after the directory
	bo.PutUint16(e[2:], 2)
	bo.PutUint32(e[4:], uint32(len(desc)+1))
	bo.PutUint32(e[8:], uint32(len(tiff)))
	bo.PutUint16(e[12:], 0x0112) // Orientation, one SHORT
	bo.PutUint16(e[14:], 3)
	bo.PutUint32(e[16:], 1)
	bo.PutUint16(e[20:], o)
	tiff = append(tiff, desc...)
	tiff = append(tiff, 0)
	return append(b, tiff...)
}

// pngChunk returns one PNG chunk with its length and CRC.
func pngChunk(typ string, data []byte) []byte {
	c := binary.BigEndian.AppendUint32(nil, uint32(len(data)))
	c = append(c, typ...)
	c = append(c, data...)
	return binary.BigEndian.AppendUint32(c, crc32.ChecksumIEEE(c[4:]))
}

// withPNGChunk returns a PNG with a chunk inserted after IHDR (which ends
// at byte 33: the 8-byte signature and IHDR's 25 bytes).
func withPNGChunk(data []byte, typ string, payload []byte) []byte {
	out := append([]byte{}, data[:33]...)
	out = append(out, pngChunk(typ, payload)...)
	return append(out, data[33:]...)
}

// withPNGSize returns a PNG whose IHDR claims w × h, with a valid CRC, so
// that only the size is wrong.
func withPNGSize(data []byte, w, h uint32) []byte {
	out := bytes.Clone(data)
	binary.BigEndian.PutUint32(out[16:], w)
	binary.BigEndian.PutUint32(out[20:], h)
	binary.BigEndian.PutUint32(out[29:], crc32.ChecksumIEEE(out[12:29]))
	return out
}

// withJPEGSize returns a JPEG whose frame header (SOF0, as Go's encoder
// writes) claims w × h.
func withJPEGSize(t testing.TB, data []byte, w, h uint16) []byte {
	t.Helper()
	out := bytes.Clone(data)
	i := bytes.Index(out, []byte{0xFF, 0xC0})
	require.Positive(t, i, "no SOF0 marker")
	binary.BigEndian.PutUint16(out[i+5:], h)
	binary.BigEndian.PutUint16(out[i+7:], w)
	return out
}

// jpegMarkers returns the markers of a JPEG's segments before the scan.
func jpegMarkers(t testing.TB, data []byte) []byte {
	t.Helper()
	require.True(t, bytes.HasPrefix(data, []byte{0xFF, 0xD8}), "not a JPEG")
	var markers []byte
	for i := 2; i+4 <= len(data); {
		require.Equal(t, byte(0xFF), data[i], "segment at %d", i)
		markers = append(markers, data[i+1])
		if data[i+1] == 0xDA {
			break
		}
		i += 2 + int(binary.BigEndian.Uint16(data[i+2:]))
	}
	return markers
}

// pngChunkTypes returns the types of a PNG's chunks, in order.
func pngChunkTypes(t testing.TB, data []byte) []string {
	t.Helper()
	require.True(t, bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")), "not a PNG")
	var types []string
	for i := 8; i+8 <= len(data); {
		n := int(binary.BigEndian.Uint32(data[i:]))
		types = append(types, string(data[i+4:i+8]))
		i += 12 + n
	}
	return types
}

// decodeVariant decodes a variant with the decoder for its content type.
func decodeVariant(t testing.TB, v Variant) image.Image {
	t.Helper()
	var img image.Image
	var err error
	switch v.ContentType {
	case ContentTypeJPEG:
		img, err = jpeg.Decode(bytes.NewReader(v.Data))
	case ContentTypePNG:
		img, err = png.Decode(bytes.NewReader(v.Data))
	default:
		t.Fatalf("variant content type %q", v.ContentType)
	}
	require.NoError(t, err)
	return img
}

// size is a width and a height.
type size struct{ w, h int }

func TestProcess(t *testing.T) {
	tests := []struct {
		name        string
		data        []byte
		format      string
		w, h        int
		contentType string
		variants    []size
	}{
		{"large jpeg photo", mustJPEG(t, photo(1600, 1200)), FormatJPEG, 1600, 1200, ContentTypeJPEG,
			[]size{{320, 240}, {640, 480}, {1280, 960}}},
		{"portrait jpeg", mustJPEG(t, photo(900, 1600)), FormatJPEG, 900, 1600, ContentTypeJPEG,
			[]size{{320, 569}, {640, 1138}, {900, 1600}}},
		{"exactly 1280 wide", mustJPEG(t, photo(1280, 720)), FormatJPEG, 1280, 720, ContentTypeJPEG,
			[]size{{320, 180}, {640, 360}, {1280, 720}}},
		{"small jpeg is not enlarged", mustJPEG(t, photo(200, 100)), FormatJPEG, 200, 100, ContentTypeJPEG,
			[]size{{200, 100}}},
		{"grey jpeg", mustJPEG(t, image.NewGray(image.Rect(0, 0, 400, 300))), FormatJPEG, 400, 300, ContentTypeJPEG,
			[]size{{320, 240}, {400, 300}}},
		{"opaque png becomes jpeg", mustPNG(t, photo(500, 300)), FormatPNG, 500, 300, ContentTypeJPEG,
			[]size{{320, 192}, {500, 300}}},
		{"transparent png stays png", mustPNG(t, cutout(800, 600)), FormatPNG, 800, 600, ContentTypePNG,
			[]size{{320, 240}, {640, 480}, {800, 600}}},
		{"panorama keeps at least one pixel of height", mustPNG(t, photo(3000, 2)), FormatPNG, 3000, 2, ContentTypeJPEG,
			[]size{{320, 1}, {640, 1}, {1280, 1}}},
		{"one pixel", mustPNG(t, photo(1, 1)), FormatPNG, 1, 1, ContentTypeJPEG, []size{{1, 1}}},
		{"lossy webp", mustRead(t, "blue-purple-pink.lossy.webp"), FormatWebP, 150, 100, ContentTypeJPEG,
			[]size{{150, 100}}},
		{"lossless webp with transparency", mustRead(t, "gopher-doc.with-alpha.lossless.webp"), FormatWebP, 75, 100,
			ContentTypePNG, []size{{75, 100}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Process(tt.data)
			require.NoError(t, err)
			assert.Equal(t, tt.format, res.Format)
			assert.Equal(t, size{tt.w, tt.h}, size{res.Width, res.Height}, "image size")
			var got []size
			for _, v := range res.Variants {
				got = append(got, size{v.Width, v.Height})
				assert.Equal(t, tt.contentType, v.ContentType, "variant %d wide", v.Width)
				img := decodeVariant(t, v)
				assert.Equal(t, size{v.Width, v.Height}, size{img.Bounds().Dx(), img.Bounds().Dy()},
					"decoded size of the variant %d wide", v.Width)
			}
			assert.Equal(t, tt.variants, got, "variant sizes")
		})
	}
}

func TestProcessKeepsTransparency(t *testing.T) {
	res, err := Process(mustPNG(t, cutout(400, 400)))
	require.NoError(t, err)
	img := decodeVariant(t, res.Variants[0])
	_, _, _, cornerAlpha := img.At(0, 0).RGBA()
	_, _, _, centreAlpha := img.At(160, 160).RGBA()
	assert.Zero(t, cornerAlpha, "the background stays transparent")
	assert.Equal(t, uint32(0xffff), centreAlpha, "the disc stays opaque")
}

func TestProcessStripsJPEGMetadata(t *testing.T) {
	const secret = "GPS 48.858370 N 2.294481 E, Alice's flat"
	data := mustJPEG(t, photo(800, 600))
	data = withJPEGSegment(data, 0xFE, []byte("comment: "+secret))        // COM
	data = withJPEGSegment(data, 0xE2, []byte("ICC_PROFILE\x00"+secret))  // APP2
	data = withJPEGSegment(data, 0xE1, exif(binary.BigEndian, 1, secret)) // APP1 EXIF
	require.Equal(t, []byte{0xE1, 0xE2, 0xFE}, jpegMarkers(t, data)[:3], "the fixture carries the metadata")

	res, err := Process(data)
	require.NoError(t, err)
	require.NotEmpty(t, res.Variants)
	for _, v := range res.Variants {
		for _, m := range jpegMarkers(t, v.Data) {
			isMetadata := m >= 0xE0 && m <= 0xEF || m == 0xFE
			assert.False(t, isMetadata, "variant %d wide has a metadata segment FF%02X", v.Width, m)
		}
		assert.NotContains(t, string(v.Data), "GPS", "variant %d wide", v.Width)
		assert.NotContains(t, string(v.Data), "Exif", "variant %d wide", v.Width)
	}
}

func TestProcessStripsPNGText(t *testing.T) {
	const secret = "taken at 12 Rue de la Paix"
	data := mustPNG(t, cutout(400, 300))
	data = withPNGChunk(data, "tEXt", []byte("Comment\x00"+secret))
	data = withPNGChunk(data, "iTXt", []byte("Location\x00\x00\x00\x00\x00"+secret))
	data = withPNGChunk(data, "tIME", []byte{0x07, 0xEA, 12, 3, 10, 0, 0})
	require.Contains(t, pngChunkTypes(t, data), "tEXt", "the fixture carries the text")

	res, err := Process(data)
	require.NoError(t, err)
	require.NotEmpty(t, res.Variants)
	for _, v := range res.Variants {
		require.Equal(t, ContentTypePNG, v.ContentType)
		for _, c := range pngChunkTypes(t, v.Data) {
			assert.Contains(t, []string{"IHDR", "PLTE", "tRNS", "IDAT", "IEND"}, c, "variant %d wide", v.Width)
		}
		assert.NotContains(t, string(v.Data), secret)
	}
}

// orientedFixture returns a 400 × 200 JPEG, red in its top-left quarter
// and blue elsewhere, whose EXIF says orientation o.
func orientedFixture(t testing.TB, o uint16) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 400, 200))
	for y := range 200 {
		for x := range 400 {
			c := color.RGBA{0, 0, 255, 255}
			if x < 200 && y < 100 {
				c = color.RGBA{255, 0, 0, 255}
			}
			img.SetRGBA(x, y, c)
		}
	}
	return withJPEGSegment(mustJPEG(t, img), 0xE1, exif(binary.LittleEndian, o, "camera"))
}

func TestProcessAppliesEXIFOrientation(t *testing.T) {
	// Where the stored top-left corner is shown, by the EXIF definitions
	// (for 6, "the 0th row is the visual right-hand side, the 0th column is
	// the visual top").
	type corner struct{ right, bottom bool }
	tests := []struct {
		o    uint16
		w, h int
		red  corner
	}{
		{1, 400, 200, corner{false, false}},
		{2, 400, 200, corner{true, false}},
		{3, 400, 200, corner{true, true}},
		{4, 400, 200, corner{false, true}},
		{5, 200, 400, corner{false, false}},
		{6, 200, 400, corner{true, false}},
		{7, 200, 400, corner{true, true}},
		{8, 200, 400, corner{false, true}},
		{9, 400, 200, corner{false, false}}, // not a valid orientation: ignored
	}
	for _, tt := range tests {
		t.Run(string(rune('0'+tt.o)), func(t *testing.T) {
			res, err := Process(orientedFixture(t, tt.o))
			require.NoError(t, err)
			assert.Equal(t, size{tt.w, tt.h}, size{res.Width, res.Height})
			v := res.Variants[len(res.Variants)-1]
			require.Equal(t, size{tt.w, tt.h}, size{v.Width, v.Height})
			img := decodeVariant(t, v)
			for _, c := range []corner{{false, false}, {true, false}, {false, true}, {true, true}} {
				x, y := 10, 10
				if c.right {
					x = tt.w - 10
				}
				if c.bottom {
					y = tt.h - 10
				}
				r, _, b, _ := img.At(x, y).RGBA()
				assert.Equal(t, c == tt.red, r > b, "corner %+v at (%d,%d) red", c, x, y)
			}
		})
	}
}

// webpWithEXIF wraps a simple lossy WebP file (RIFF, WEBP, one VP8 chunk)
// into the extended format with an EXIF chunk after the image, as a phone
// writes it, giving orientation o.
func webpWithEXIF(t testing.TB, simple []byte, o uint16, withHeader bool) []byte {
	t.Helper()
	require.Equal(t, "VP8 ", string(simple[12:16]))
	cfg, err := webp.DecodeConfig(bytes.NewReader(simple))
	require.NoError(t, err)
	chunk := func(id string, data []byte) []byte {
		c := append([]byte(id), binary.LittleEndian.AppendUint32(nil, uint32(len(data)))...)
		c = append(c, data...)
		if len(data)%2 == 1 {
			c = append(c, 0)
		}
		return c
	}
	vp8x := make([]byte, 10)
	vp8x[0] = 0x08 // the EXIF flag
	put24 := func(b []byte, v int) { b[0], b[1], b[2] = byte(v), byte(v>>8), byte(v>>16) }
	put24(vp8x[4:], cfg.Width-1)
	put24(vp8x[7:], cfg.Height-1)
	ex := exif(binary.BigEndian, o, "phone")
	if !withHeader {
		ex = ex[len(exifHeader):]
	}
	body := []byte("WEBP")
	body = append(body, chunk("VP8X", vp8x)...)
	body = append(body, simple[12:]...)
	body = append(body, chunk("EXIF", ex)...)
	return append(append([]byte("RIFF"), binary.LittleEndian.AppendUint32(nil, uint32(len(body)))...), body...)
}

func TestProcessWebPOrientation(t *testing.T) {
	simple := mustRead(t, "blue-purple-pink.lossy.webp")
	for _, withHeader := range []bool{false, true} {
		data := webpWithEXIF(t, simple, 6, withHeader)
		res, err := Process(data)
		require.NoError(t, err, "with Exif header: %v", withHeader)
		assert.Equal(t, FormatWebP, res.Format)
		assert.Equal(t, size{100, 150}, size{res.Width, res.Height}, "turned a quarter, with Exif header: %v", withHeader)
	}
}

func TestProcessRejects(t *testing.T) {
	jpg := mustJPEG(t, photo(300, 200))
	pngData := mustPNG(t, photo(300, 200))
	lossy := mustRead(t, "blue-purple-pink.lossy.webp")
	var gifData bytes.Buffer
	require.NoError(t, gif.Encode(&gifData, photo(10, 10), nil))
	hugeWebP := bytes.Clone(lossy)
	// The VP8 frame header's 14-bit width and height, after the 3-byte
	// frame tag and the 3-byte start code: 16383 × 16383 is 268 megapixels.
	binary.LittleEndian.PutUint16(hugeWebP[20+6:], 0x3FFF)
	binary.LittleEndian.PutUint16(hugeWebP[20+8:], 0x3FFF)

	tests := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"HTML named photo.jpg", []byte("<!DOCTYPE html><html><body><script>alert(1)</script></body></html>")},
		{"SVG", []byte(`<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`)},
		{"plain text", []byte("just some words")},
		{"GIF is not accepted", gifData.Bytes()},
		{"PDF", []byte("%PDF-1.7\n1 0 obj\n")},
		{"JPEG magic only", []byte{0xFF, 0xD8, 0xFF}},
		{"truncated JPEG", jpg[:len(jpg)/2]},
		{"truncated PNG", pngData[:len(pngData)/2]},
		{"truncated WebP", lossy[:len(lossy)/2]},
		{"PNG with a broken pixel stream", append(bytes.Clone(pngData[:len(pngData)-40]), pngChunk("IEND", nil)...)},
		{"JPEG bomb: 65000 × 65000", withJPEGSize(t, jpg, 65000, 65000)},
		{"PNG bomb: 100000 × 100000", withPNGSize(pngData, 100000, 100000)},
		{"PNG just over the limit: 8001 × 5000", withPNGSize(pngData, 8001, 5000)},
		{"PNG of zero width", withPNGSize(pngData, 0, 200)},
		{"WebP bomb: 16383 × 16383", hugeWebP},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Process(tt.data)
			require.Error(t, err)
			assert.Equal(t, fault.Invalid, fault.KindOf(err), "error %v", err)
			fe, ok := fault.As(err)
			require.True(t, ok)
			assert.NotEmpty(t, fe.Message)
			assert.NotContains(t, fe.Message, "unexpected EOF", "decoder details stay in the log")
			assert.Empty(t, res.Variants)
		})
	}
}

func TestProcessRefusesBombsWithoutAllocating(t *testing.T) {
	jpg := mustJPEG(t, photo(64, 64))
	pngData := mustPNG(t, photo(64, 64))
	for name, data := range map[string][]byte{
		"jpeg": withJPEGSize(t, jpg, 60000, 60000),
		"png":  withPNGSize(pngData, 60000, 60000),
	} {
		t.Run(name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := Process(data)
			runtime.ReadMemStats(&after)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "megapixels")
			// Decoding would allocate 60000² × 3 bytes = 10 GB or more.
			assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(1<<20), "bytes allocated")
		})
	}
}

func TestProcessAcceptsTheLimits(t *testing.T) {
	if testing.Short() || raceEnabled {
		// Single-threaded pixel loops gain nothing from the race detector,
		// which makes this test take a minute; TestPreshrink covers the
		// same branches on small images.
		t.Skip("decodes images of up to 40 megapixels")
	}
	tests := []struct {
		name     string
		w, h     int
		variants []size
	}{
		// Exactly MaxPixels: shrunk by 2 before the Catmull-Rom pass.
		{"largest", 8000, 5000, []size{{320, 200}, {640, 400}, {1280, 800}}},
		// Tall enough for the scaler's buffer to exceed its budget: shrunk
		// by 2 although the final pass then reduces by less than half.
		{"tall", 2600, 7000, []size{{320, 862}, {640, 1723}, {1280, 3446}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A grey PNG compresses to almost nothing yet decodes to its
			// full size, which is what makes such files dangerous.
			res, err := Process(mustPNG(t, image.NewGray(image.Rect(0, 0, tt.w, tt.h))))
			require.NoError(t, err)
			assert.Equal(t, size{tt.w, tt.h}, size{res.Width, res.Height})
			var got []size
			for _, v := range res.Variants {
				got = append(got, size{v.Width, v.Height})
			}
			assert.Equal(t, tt.variants, got)
		})
	}
}

func TestPreshrink(t *testing.T) {
	tests := []struct {
		name   string
		sw, sh int
		w, h   int
		swap   bool
		budget int64
		want   size
	}{
		{"less than four times larger", 39, 30, 10, 8, false, 1 << 30, size{39, 30}},
		{"four times larger", 40, 32, 10, 8, false, 1 << 30, size{20, 16}},
		{"nine times larger: still twice the target", 90, 72, 10, 8, false, 1 << 30, size{23, 18}},
		{"limited by the smaller ratio", 90, 40, 10, 8, false, 1 << 30, size{45, 20}},
		{"turned a quarter", 32, 40, 10, 8, true, 1 << 30, size{16, 20}},
		{"over budget: shrunk to at least the target", 30, 24, 10, 8, false, 10*24*32 - 1, size{10, 8}},
		{"within budget", 30, 24, 10, 8, false, 10 * 24 * 32, size{30, 24}},
		{"over budget but under twice the target", 19, 15, 10, 8, false, 0, size{19, 15}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := preshrink(image.NewRGBA(image.Rect(0, 0, tt.sw, tt.sh)), tt.w, tt.h, tt.swap, tt.budget).Bounds()
			assert.Equal(t, tt.want, size{got.Dx(), got.Dy()})
		})
	}
}

func TestProcessRejectsTallImages(t *testing.T) {
	tests := []struct {
		name string
		data []byte
	}{
		{"png", mustPNG(t, photo(100, 301))},
		// Stored wide, but shown tall once its orientation is applied.
		{"jpeg turned by exif", withJPEGSegment(mustJPEG(t, photo(301, 100)), 0xE1, exif(binary.LittleEndian, 6, "x"))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Process(tt.data)
			require.Error(t, err)
			assert.Equal(t, fault.Invalid, fault.KindOf(err))
			assert.Contains(t, err.Error(), "at most 3 times its width")
		})
	}
	_, err := Process(mustJPEG(t, photo(301, 100)))
	assert.NoError(t, err, "as wide is fine")
	res, err := Process(mustPNG(t, photo(100, 300)))
	require.NoError(t, err, "exactly MaxTallness times as high")
	assert.Equal(t, []int{100, 300}, []int{res.Width, res.Height})
}

func TestShrink(t *testing.T) {
	// 3 × 3 by 2: full, partial-column, partial-row and corner blocks.
	src := image.NewRGBA(image.Rect(0, 0, 3, 3))
	vals := [3][3]uint8{{10, 20, 30}, {40, 50, 60}, {70, 80, 90}}
	for y := range 3 {
		for x := range 3 {
			v := vals[y][x]
			src.SetRGBA(x, y, color.RGBA{v, v, v, 255})
		}
	}
	// Half transparent: premultiplied, it weighs half.
	src.SetRGBA(0, 0, color.RGBA{5, 5, 5, 128})
	got := shrink(src, 2)
	require.Equal(t, image.Rect(0, 0, 2, 2), got.Bounds())
	assert.Equal(t, color.RGBA{29, 29, 29, 223}, got.RGBAAt(0, 0), "(5+20+40+50)/4, (128+255·3)/4")
	assert.Equal(t, color.RGBA{45, 45, 45, 255}, got.RGBAAt(1, 0), "(30+60)/2")
	assert.Equal(t, color.RGBA{75, 75, 75, 255}, got.RGBAAt(0, 1), "(70+80)/2")
	assert.Equal(t, color.RGBA{90, 90, 90, 255}, got.RGBAAt(1, 1))
	// A source whose bounds do not start at the origin.
	sub := src.SubImage(image.Rect(1, 1, 3, 3))
	assert.Equal(t, color.RGBA{70, 70, 70, 255}, shrink(sub, 2).RGBAAt(0, 0), "(50+60+80+90)/4")
}

func TestVariantExt(t *testing.T) {
	assert.Equal(t, "jpg", Variant{ContentType: ContentTypeJPEG}.Ext())
	assert.Equal(t, "png", Variant{ContentType: ContentTypePNG}.Ext())
}

func TestTIFFOrientation(t *testing.T) {
	valid := exif(binary.LittleEndian, 6, "x")[len(exifHeader):]
	tests := []struct {
		name string
		tiff []byte
		want orientation
	}{
		{"little-endian", valid, 6},
		{"big-endian", exif(binary.BigEndian, 8, "x")[len(exifHeader):], 8},
		{"too short", valid[:6], 1},
		{"unknown byte order", append([]byte("XX"), valid[2:]...), 1},
		{"not TIFF", append([]byte("II\x2b\x00"), valid[4:]...), 1},
		{"directory outside", append(append([]byte{}, valid[:4]...), 0xff, 0xff, 0, 0), 1},
		{"directory cut short", valid[:20], 1},
		{"out of range", exif(binary.LittleEndian, 0, "x")[len(exifHeader):], 1},
		{"wrong type", func() []byte {
			b := bytes.Clone(valid)
			binary.LittleEndian.PutUint16(b[10+12+2:], 4) // LONG instead of SHORT
			return b
		}(), 1},
		{"no orientation tag", func() []byte {
			b := bytes.Clone(valid)
			binary.LittleEndian.PutUint16(b[8:], 1) // only ImageDescription
			return b
		}(), 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tiffOrientation(tt.tiff))
		})
	}
}

func TestJPEGOrientation(t *testing.T) {
	jpg := mustJPEG(t, photo(8, 8))
	withExif := withJPEGSegment(jpg, 0xE1, exif(binary.LittleEndian, 3, "x"))
	xmpFirst := withJPEGSegment(withExif, 0xE1, []byte("http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta/>"))
	filled := append([]byte{0xFF, 0xD8, 0xFF}, withExif[2:]...)
	badLength := bytes.Clone(withExif)
	binary.BigEndian.PutUint16(badLength[4:], 1)
	tests := []struct {
		name string
		data []byte
		want orientation
	}{
		{"no exif", jpg, 1},
		{"exif", withExif, 3},
		{"xmp before exif", xmpFirst, 3},
		{"fill byte", filled, 3},
		{"not a jpeg", []byte("hello"), 1},
		{"bad segment length", badLength, 1},
		{"segment past the end", withExif[:10], 1},
		{"garbage between segments", append([]byte{0xFF, 0xD8, 0x00, 0x00, 0x00, 0x00}, withExif[2:]...), 1},
		{"exif after the scan is ignored", append(bytes.Clone(jpg[:len(jpg)-2]), withJPEGSegment([]byte{0xFF, 0xD8}, 0xE1, exif(binary.LittleEndian, 3, "x"))[2:]...), 1},
		{"end of image", []byte{0xFF, 0xD8, 0xFF, 0xD9, 0, 0}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, jpegOrientation(tt.data))
		})
	}
}

func TestWebPOrientation(t *testing.T) {
	simple := mustRead(t, "blue-purple-pink.lossy.webp")
	ext := webpWithEXIF(t, simple, 7, false)
	oversized := bytes.Clone(ext)
	binary.LittleEndian.PutUint32(oversized[16:], 1<<31) // VP8X chunk claims 2 GB
	tests := []struct {
		name string
		data []byte
		want orientation
	}{
		{"simple", simple, 1},
		{"extended with exif", ext, 7},
		{"with Exif header", webpWithEXIF(t, simple, 2, true), 2},
		{"not riff", []byte("RIFX\x00\x00\x00\x00WEBP"), 1},
		{"chunk larger than the file", oversized, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, webpOrientation(tt.data))
		})
	}
}

func TestOpaqueWithoutMethod(t *testing.T) {
	// An image type that cannot say whether it is opaque is treated as
	// transparent, so its variants are PNG: larger, never wrong.
	assert.False(t, opaque(noOpaque{image.NewRGBA(image.Rect(0, 0, 1, 1))}))
}

// noOpaque hides the Opaque method of the image it wraps.
type noOpaque struct{ img *image.RGBA }

func (n noOpaque) ColorModel() color.Model { return n.img.ColorModel() }
func (n noOpaque) Bounds() image.Rectangle { return n.img.Bounds() }
func (n noOpaque) At(x, y int) color.Color { return n.img.At(x, y) }

func FuzzProcess(f *testing.F) {
	f.Add(mustJPEG(f, photo(40, 30)))
	f.Add(withJPEGSegment(mustJPEG(f, photo(20, 10)), 0xE1, exif(binary.BigEndian, 6, "x")))
	f.Add(mustPNG(f, cutout(30, 20)))
	f.Add(withPNGChunk(mustPNG(f, photo(8, 8)), "tEXt", []byte("k\x00v")))
	f.Add(mustRead(f, "blue-purple-pink.lossy.webp"))
	f.Add(mustRead(f, "gopher-doc.with-alpha.lossless.webp"))
	f.Add([]byte("<html></html>"))
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := Process(data)
		if err != nil {
			if k := fault.KindOf(err); k != fault.Invalid {
				t.Fatalf("Process error of kind %v, want invalid: %v", k, err)
			}
			return
		}
		if res.Width <= 0 || res.Height <= 0 || int64(res.Width)*int64(res.Height) > MaxPixels {
			t.Fatalf("accepted an image of %d × %d", res.Width, res.Height)
		}
		if len(res.Variants) == 0 {
			t.Fatal("accepted with no variants")
		}
		for _, v := range res.Variants {
			if v.Width > res.Width || v.Width <= 0 || v.Height <= 0 {
				t.Fatalf("variant %d × %d of an image %d × %d", v.Width, v.Height, res.Width, res.Height)
			}
			img := decodeVariant(t, v)
			if img.Bounds().Dx() != v.Width || img.Bounds().Dy() != v.Height {
				t.Fatalf("variant says %d × %d, decodes to %v", v.Width, v.Height, img.Bounds())
			}
		}
	})
}

// BenchmarkProcess measures a common phone photo (12 MP), the largest
// photo accepted (40 MP) and the tallest image accepted at that size,
// which needs the largest scaler buffer; B/op bounds the worker's memory.
func BenchmarkProcess(b *testing.B) {
	for _, s := range []size{{4000, 3000}, {7300, 5475}, {3650, 10950}, {2559, 7677}} {
		data := mustJPEG(b, photo(s.w, s.h))
		b.Run(fmt.Sprintf("%dx%d", s.w, s.h), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := Process(data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
