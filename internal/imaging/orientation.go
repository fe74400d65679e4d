package imaging

import (
	"bytes"
	"encoding/binary"
	"image"
)

// orientation is the value of the EXIF Orientation tag (TIFF tag 0x0112):
// how the stored pixels must be transformed to be shown the right way up.
// 1 means as stored; values outside 1–8 are treated as 1.
type orientation int

// swapsAxes reports whether o turns the image by a quarter turn, so that
// its displayed width is its stored height.
func (o orientation) swapsAxes() bool { return o >= 5 && o <= 8 }

// apply returns src transformed as o says. src is one of the small
// variants, so a plain pixel loop is fast enough.
func (o orientation) apply(src *image.RGBA) *image.RGBA {
	if o < 2 || o > 8 {
		return src
	}
	w, h := src.Bounds().Dx(), src.Bounds().Dy()
	dw, dh := w, h
	if o.swapsAxes() {
		dw, dh = h, w
	}
	dst := image.NewRGBA(image.Rect(0, 0, dw, dh))
	for y := range dh {
		for x := range dw {
			var sx, sy int
			switch o {
			case 2: // mirrored horizontally
				sx, sy = w-1-x, y
			case 3: // turned by half a turn
				sx, sy = w-1-x, h-1-y
			case 4: // mirrored vertically
				sx, sy = x, h-1-y
			case 5: // mirrored along the top-left diagonal
				sx, sy = y, x
			case 6: // needs a quarter turn clockwise
				sx, sy = y, h-1-x
			case 7: // mirrored along the top-right diagonal
				sx, sy = w-1-y, h-1-x
			default: // 8: needs a quarter turn anticlockwise
				sx, sy = w-1-y, x
			}
			si, di := src.PixOffset(sx, sy), dst.PixOffset(x, y)
			copy(dst.Pix[di:di+4], src.Pix[si:si+4])
		}
	}
	return dst
}

// exifHeader starts the payload of a JPEG APP1 segment that holds EXIF.
var exifHeader = []byte("Exif\x00\x00")

// jpegOrientation returns the orientation in the EXIF APP1 segment of a
// JPEG file, or 1 if there is none. It walks the marker segments up to the
// start of the scan, where metadata ends.
func jpegOrientation(data []byte) orientation {
	if len(data) < 2 || data[0] != 0xFF || data[1] != 0xD8 {
		return 1
	}
	for i := 2; i+4 <= len(data); {
		if data[i] != 0xFF {
			return 1
		}
		marker := data[i+1]
		if marker == 0xFF { // fill byte before a marker
			i++
			continue
		}
		if marker == 0xDA || marker == 0xD9 { // start of scan, end of image
			return 1
		}
		n := int(binary.BigEndian.Uint16(data[i+2 : i+4]))
		if n < 2 || i+2+n > len(data) {
			return 1
		}
		payload := data[i+4 : i+2+n]
		if marker == 0xE1 && bytes.HasPrefix(payload, exifHeader) {
			return tiffOrientation(payload[len(exifHeader):])
		}
		i += 2 + n
	}
	return 1
}

// webpOrientation returns the orientation in the EXIF chunk of an extended
// WebP file, or 1 if there is none.
func webpOrientation(data []byte) orientation {
	if len(data) < 12 || string(data[0:4]) != "RIFF" || string(data[8:12]) != "WEBP" {
		return 1
	}
	for i := 12; i+8 <= len(data); {
		id := string(data[i : i+4])
		n := int(binary.LittleEndian.Uint32(data[i+4 : i+8]))
		if n < 0 || n > len(data)-i-8 {
			return 1
		}
		if id == "EXIF" {
			// The specification says the chunk holds TIFF data, but some
			// writers put the JPEG "Exif\0\0" header first.
			return tiffOrientation(bytes.TrimPrefix(data[i+8:i+8+n], exifHeader))
		}
		i += 8 + n + n%2 // chunks are padded to an even length
	}
	return 1
}

// tiffOrientation returns the Orientation tag of the first image file
// directory of the TIFF structure b (the body of an EXIF block), or 1.
func tiffOrientation(b []byte) orientation {
	if len(b) < 8 {
		return 1
	}
	var order binary.ByteOrder
	switch string(b[0:2]) {
	case "II":
		order = binary.LittleEndian
	case "MM":
		order = binary.BigEndian
	default:
		return 1
	}
	if order.Uint16(b[2:4]) != 42 {
		return 1
	}
	ifd := int64(order.Uint32(b[4:8]))
	if ifd < 8 || ifd+2 > int64(len(b)) {
		return 1
	}
	count := int(order.Uint16(b[ifd : ifd+2]))
	const orientationTag, typeShort = 0x0112, 3
	for k := range count {
		e := ifd + 2 + int64(k)*12
		if e+12 > int64(len(b)) {
			return 1
		}
		if order.Uint16(b[e:e+2]) != orientationTag {
			continue
		}
		if order.Uint16(b[e+2:e+4]) != typeShort || order.Uint32(b[e+4:e+8]) != 1 {
			return 1
		}
		if v := orientation(order.Uint16(b[e+8 : e+10])); v >= 1 && v <= 8 {
			return v
		}
		return 1
	}
	return 1
}
