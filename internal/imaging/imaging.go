// Package imaging checks that an upload is an image and makes the
// thumbnails.
//
// Process trusts nothing about an upload but its bytes: the type is sniffed
// from the content (a file named photo.jpg that holds HTML is refused), the
// declared dimensions are checked before anything is decoded (a small file
// that claims to be 100 000 × 100 000 pixels is refused without allocating
// its pixels), and the image is then fully decoded, so a truncated or
// corrupt file is refused too. What is served is never the uploaded file:
// every variant is encoded afresh from the decoded pixels, which drops every
// metadata block the upload carried (EXIF with its GPS position, XMP, ICC
// profiles, PNG text chunks, comments).
//
// Output format: JPEG at quality 82 when the image is fully opaque, which is
// what a photo is and what JPEG compresses best; PNG when any pixel is
// transparent, because JPEG has no alpha channel and flattening a product
// cut-out onto a colour would show a box wherever the client's background
// differs. WebP would be smaller, but there is no pure-Go WebP encoder, and
// the package must build without cgo for Lambda.
//
// Orientation: phones store photos sideways and say so in the EXIF
// Orientation tag. Since the tag is dropped with the rest of EXIF, Process
// applies it to the pixels first (for JPEG and WebP), so thumbnails show
// the right way up everywhere.
//
// Cost, measured on one core of a developer machine (BenchmarkProcess):
// a 12-megapixel JPEG takes 0.5 s and allocates 173 MB; the largest image
// accepted, 40 megapixels, 0.8 s and 245 MB; the worst shape accepted (as
// tall as MaxTallness allows) about 1.1 s and 470 MB. The worst input of
// all, a 16-bit PNG of 40 megapixels as tall as allowed, peaked at 670 MB
// of heap in use; an image worker with 1536 MB of memory (or 1024 MB with
// GOMEMLIMIT set below it) handles any accepted upload.
package imaging

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"net/http"

	"golang.org/x/image/draw"
	"golang.org/x/image/webp"

	"github.com/mountainhighway/marketplace/internal/fault"
)

// MaxPixels is the largest image Process accepts, in pixels (width ×
// height): 40 megapixels is well above what phones save by default (12 to
// 24), and it bounds the decoded image at 160 MB for 8-bit and 320 MB for
// 16-bit colour, which fixes how much memory the image worker needs. The
// 48- to 200-megapixel modes of some phones are refused with a message
// that says the limit.
const MaxPixels = 40_000_000

// MaxTallness is how many times its width an image may be high. A variant
// keeps the image's aspect ratio at a fixed width, so the height bounds the
// variant's size and the scaler's buffer (the variant's width times the
// source's height, 32 bytes each): a 1000 × 40000 strip, within MaxPixels,
// would need 1.3 GB. Three times covers portrait photos (4:3, 16:9) and
// phone screenshots (about 2.2); wide panoramas cost little and are
// accepted at any ratio.
const MaxTallness = 3

// JPEGQuality is the quality of the JPEG variants, the usual compromise
// for images on the web: artefacts are hard to see at these sizes, and
// files are markedly smaller than at 90 and above.
const JPEGQuality = 82

// The formats Process accepts, as Result.Format reports them.
const (
	FormatJPEG = "jpeg"
	FormatPNG  = "png"
	FormatWebP = "webp"
)

// The content types of the variants.
const (
	ContentTypeJPEG = "image/jpeg"
	ContentTypePNG  = "image/png"
)

// widths are the widths of the variants, in pixels: a list thumbnail, a
// detail view on a phone, and a detail view on a large screen.
var widths = [...]int{320, 640, 1280}

// Result describes an accepted image and its variants.
type Result struct {
	// Format is the format sniffed from the upload's bytes: FormatJPEG,
	// FormatPNG or FormatWebP.
	Format string
	// Width and Height are the image's dimensions as displayed, that is
	// after its EXIF orientation is applied.
	Width, Height int
	// Variants are the re-encoded images, narrowest first.
	Variants []Variant
}

// Variant is one re-encoded size of an image.
//
// The variants are 320, 640 and 1280 pixels wide, but an image is never
// made larger: the first width that is not smaller than the image's own
// width gives a variant at the image's own width, and no wider variant is
// made. An image 800 pixels wide thus has variants 320, 640 and 800 wide,
// and one 200 pixels wide has a single variant 200 wide. Heights keep the
// aspect ratio.
type Variant struct {
	Width, Height int
	// ContentType is ContentTypeJPEG or ContentTypePNG.
	ContentType string
	// Data is the encoded image.
	Data []byte
}

// Ext returns the file name extension for the variant's content type,
// without the dot: "jpg" or "png".
func (v Variant) Ext() string {
	if v.ContentType == ContentTypePNG {
		return "png"
	}
	return "jpg"
}

// format is one accepted input format with its decoders, called directly
// rather than through image.Decode so that the format decoded is the one
// sniffed, whatever other decoders are registered in the program.
type format struct {
	name         string
	decodeConfig func([]byte) (image.Config, error)
	decode       func([]byte) (image.Image, error)
	// orientation returns the EXIF orientation recorded in the file.
	orientation func([]byte) orientation
}

// formats maps the content type that http.DetectContentType reports to
// the format.
var formats = map[string]format{
	"image/jpeg": {
		name:         FormatJPEG,
		decodeConfig: func(b []byte) (image.Config, error) { return jpeg.DecodeConfig(bytes.NewReader(b)) },
		decode:       func(b []byte) (image.Image, error) { return jpeg.Decode(bytes.NewReader(b)) },
		orientation:  jpegOrientation,
	},
	"image/png": {
		name:         FormatPNG,
		decodeConfig: func(b []byte) (image.Config, error) { return png.DecodeConfig(bytes.NewReader(b)) },
		decode:       func(b []byte) (image.Image, error) { return png.Decode(bytes.NewReader(b)) },
		// PNG's eXIf chunk is rare and browsers disagree on honouring it.
		orientation: func([]byte) orientation { return 1 },
	},
	"image/webp": {
		name:         FormatWebP,
		decodeConfig: func(b []byte) (image.Config, error) { return webp.DecodeConfig(bytes.NewReader(b)) },
		decode:       func(b []byte) (image.Image, error) { return webp.Decode(bytes.NewReader(b)) },
		orientation:  webpOrientation,
	},
}

// Process checks that data is a JPEG, PNG or WebP image of at most
// MaxPixels, at most MaxTallness times as high as wide, and returns its
// variants (see Variant), encoded without any of the upload's metadata.
//
// It returns a fault.Invalid error, with a message that can be shown to
// the seller, when data is not one of those formats, is corrupt or
// truncated, or is too large or too tall; and a fault.Internal error if
// encoding fails.
func Process(data []byte) (Result, error) {
	const op = "imaging.Process"
	f, ok := formats[http.DetectContentType(data)]
	if !ok {
		return Result{}, fault.E(op, fault.Invalid, "the file is not a JPEG, PNG or WebP image")
	}
	// The header is checked before decoding, because decoding allocates the
	// whole image at the size the header claims.
	cfg, err := f.decodeConfig(data)
	if err != nil {
		return Result{}, invalid(op, f, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return Result{}, fault.E(op, fault.Invalid, "the image has no pixels")
	}
	if int64(cfg.Width)*int64(cfg.Height) > MaxPixels {
		return Result{}, fault.E(op, fault.Invalid,
			fmt.Sprintf("the image is %d × %d pixels; at most %d megapixels are accepted", cfg.Width, cfg.Height, MaxPixels/1_000_000))
	}
	img, err := f.decode(data)
	if err != nil {
		return Result{}, invalid(op, f, err)
	}
	b := img.Bounds()
	// The decoders refuse a frame that differs from the header checked
	// above; this is a second line of defence should one ever not.
	if b.Dx() <= 0 || b.Dy() <= 0 || int64(b.Dx())*int64(b.Dy()) > MaxPixels {
		return Result{}, fault.E(op, fault.Invalid, "the image's size is invalid")
	}
	o := f.orientation(data)
	res := Result{Format: f.name, Width: b.Dx(), Height: b.Dy()}
	if o.swapsAxes() {
		res.Width, res.Height = res.Height, res.Width
	}
	// Checked on the displayed size, after decoding (the orientation is
	// only known then), which MaxPixels already bounds.
	if int64(res.Height) > MaxTallness*int64(res.Width) {
		return Result{}, fault.E(op, fault.Invalid,
			fmt.Sprintf("the image is %d × %d pixels; its height may be at most %d times its width", res.Width, res.Height, MaxTallness))
	}
	encode, contentType := encodeJPEG, ContentTypeJPEG
	if !opaque(img) {
		encode, contentType = encodePNG, ContentTypePNG
	}
	for _, w := range widths {
		w = min(w, res.Width)
		// Rounded, and at least one pixel for a panorama a thousand times
		// wider than high.
		h := max(1, int((int64(res.Height)*int64(w)+int64(res.Width)/2)/int64(res.Width)))
		res.Variants = append(res.Variants, Variant{Width: w, Height: h, ContentType: contentType})
		if w == res.Width {
			break
		}
	}
	// Widest first, each variant scaled from the next wider one rather than
	// from the source: every step is then a reduction of at most about
	// half, which Catmull-Rom does well, and only the first step pays for
	// the full-size source (the scaler's buffer is the destination's width
	// times the source's height). For a 12-megapixel photo this halves the
	// time (1.0 s to 0.5 s on one core) and saves a quarter of the memory
	// (240 MB to 173 MB allocated) compared with scaling each from the
	// source.
	var src image.Image = img
	for i := len(res.Variants) - 1; i >= 0; i-- {
		v := &res.Variants[i]
		if i == len(res.Variants)-1 {
			src = preshrink(img, v.Width, v.Height, o.swapsAxes(), scalerBudget)
		}
		scaled := scale(src, v.Width, v.Height, o.swapsAxes())
		var buf bytes.Buffer
		if err := encode(&buf, o.apply(scaled)); err != nil {
			return Result{}, fault.Wrap(op, fmt.Errorf("encode %d × %d %s: %w", v.Width, v.Height, contentType, err))
		}
		v.Data = buf.Bytes()
		src = scaled
	}
	return res, nil
}

// invalid reports a file of format f that its decoder refused. The
// decoder's message goes to the log only; the seller is told the file is
// damaged.
func invalid(op string, f format, err error) error {
	return &fault.Error{Op: op, Kind: fault.Invalid,
		Message: "the " + f.name + " file is damaged or incomplete", Err: err}
}

// opaque reports whether every pixel of img is fully opaque. The concrete
// types the decoders return all have an Opaque method; an image without
// one is treated as transparent, which costs only a larger file.
func opaque(img image.Image) bool {
	o, ok := img.(interface{ Opaque() bool })
	return ok && o.Opaque()
}

// scale returns img resized to w × h as displayed. If swap is set, img is
// stored rotated by a quarter turn, so it is resized to h × w, and the
// orientation is applied to the small result rather than to the large
// source, which would need a second full-size copy.
func scale(img image.Image, w, h int, swap bool) *image.RGBA {
	if swap {
		w, h = h, w
	}
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	// Catmull-Rom is a sharp cubic filter that x/image/draw scales with a
	// support proportional to the reduction, so a large reduction averages
	// every source pixel instead of skipping most of them and aliasing.
	draw.CatmullRom.Scale(dst, dst.Bounds(), img, img.Bounds(), draw.Src, nil)
	return dst
}

// preshrink returns img, or img reduced by an integer factor if it is at
// least four times as large as w × h in both directions, keeping it at
// least twice as large as w × h (h × w if swap is set) so that the
// Catmull-Rom pass that follows still has the pixels it filters; or, if
// the scaler's buffer would exceed scalerBudget, at least as large.
//
// This is the shrink-then-reduce of libvips: averaging k × k blocks is a
// sound low-pass filter for an integer reduction and needs only one row of
// the source at a time, whereas the scaler's buffer is the destination's
// width times the source's height in float64 RGBA, 205 MB for the
// 1280-pixel variant of an 8000 × 5000 photo, and scaling time grows with
// the source's size.
func preshrink(img image.Image, w, h int, swap bool, budget int64) image.Image {
	if swap {
		w, h = h, w
	}
	b := img.Bounds()
	k := min(b.Dx()/(2*w), b.Dy()/(2*h))
	if k < 2 && int64(w)*int64(b.Dy())*32 > budget {
		// A tall image: trade a little sharpness for memory by shrinking
		// as far as the variant's own size.
		k = min(b.Dx()/w, b.Dy()/h)
	}
	if k < 2 {
		return img
	}
	return shrink(img, k)
}

// scalerBudget is the size of scaler buffer above which Process reduces
// an image even though the Catmull-Rom pass will then reduce it by less
// than half. Ordinary photos up to MaxPixels stay below it (123 MB for a
// 12-megapixel one); only images taller than about 4:3 and wider than
// twice the largest variant exceed it.
const scalerBudget = 160 << 20

// shrink returns img reduced k times in each direction, each destination
// pixel the average of a k × k block (smaller at the right and bottom
// edges). The source is read one row at a time through image/draw, which
// has fast conversions from the decoders' types to RGBA. Averaging
// premultiplied RGBA, as image.RGBA stores it, weighs colours by their
// opacity, which is what keeps fully transparent pixels' arbitrary colours
// from bleeding into the edges of a cut-out.
func shrink(img image.Image, k int) *image.RGBA {
	b := img.Bounds()
	sw, sh := b.Dx(), b.Dy()
	dw, dh := (sw+k-1)/k, (sh+k-1)/k
	dst := image.NewRGBA(image.Rect(0, 0, dw, dh))
	row := image.NewRGBA(image.Rect(0, 0, sw, 1))
	sums := make([]uint32, 4*dw)
	for dy := range dh {
		clear(sums)
		y0, y1 := b.Min.Y+dy*k, b.Min.Y+min((dy+1)*k, sh)
		for y := y0; y < y1; y++ {
			draw.Draw(row, row.Bounds(), img, image.Pt(b.Min.X, y), draw.Src)
			for x := 0; x < sw; x++ {
				s, p := sums[4*(x/k):4*(x/k)+4], row.Pix[4*x:4*x+4]
				s[0] += uint32(p[0])
				s[1] += uint32(p[1])
				s[2] += uint32(p[2])
				s[3] += uint32(p[3])
			}
		}
		out := dst.Pix[dst.PixOffset(0, dy):]
		for dx := range dw {
			n := uint32((min((dx+1)*k, sw) - dx*k) * (y1 - y0))
			for c := range 4 {
				out[4*dx+c] = uint8((sums[4*dx+c] + n/2) / n)
			}
		}
	}
	return dst
}

// encodeJPEG writes img as a baseline JPEG. Go's encoder writes no APP or
// COM segments at all, so nothing of the upload's metadata can survive.
func encodeJPEG(buf *bytes.Buffer, img image.Image) error {
	return jpeg.Encode(buf, img, &jpeg.Options{Quality: JPEGQuality})
}

// encodePNG writes img as a PNG. Go's encoder writes only the chunks that
// describe pixels (IHDR, PLTE, tRNS, IDAT, IEND), never text, time or
// colour-profile chunks.
func encodePNG(buf *bytes.Buffer, img image.Image) error {
	return png.Encode(buf, img)
}
