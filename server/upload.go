package server

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"io"
	"mime"
	"net/http"
	"net/url"

	"github.com/atelier-ml/atelier/imageio"
)

// Bounds of the non-file multipart fields (an id, a name, a number...).
const (
	maxFieldBytes = 64 << 10
	maxFields     = 100
)

// upload is an image sent by a client, with the parameters that came with it: the form fields
// of a multipart request, or the query string of a raw image body.
type upload struct {
	data   []byte
	name   string
	fields url.Values
}

// isRawImageType reports whether a request with this media type carries the image itself as
// its body. An absent type and the form type counts too: curl --data-binary labels any file
// application/x-www-form-urlencoded.
func isRawImageType(mt string) bool {
	switch mt {
	case "", "application/octet-stream", "application/x-www-form-urlencoded", "image/jpeg", "image/png", "image/webp":
		return true
	}
	return false
}

// mediaType returns the request's media type without parameters, or a 415 error if the header
// cannot be parsed.
func mediaType(r *http.Request) (string, map[string]string, error) {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return "", nil, nil
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return "", nil, errorf(http.StatusUnsupportedMediaType, "unsupported_content_type", "cannot parse Content-Type %q: %v", ct, err)
	}
	return mt, params, nil
}

// readUpload reads the image of a request: the raw body (JPEG, PNG or WebP) or the multipart
// field "image". The body is already bounded by the size limit middleware.
func readUpload(r *http.Request) (*upload, error) {
	mt, _, err := mediaType(r)
	if err != nil {
		return nil, err
	}
	var up *upload
	switch {
	case mt == "multipart/form-data":
		up, err = readMultipart(r)
	case isRawImageType(mt):
		var data []byte
		data, err = io.ReadAll(r.Body)
		up = &upload{data: data, fields: r.URL.Query()}
	default:
		return nil, errorf(http.StatusUnsupportedMediaType, "unsupported_content_type",
			"Content-Type %q is not accepted here; send a JPEG, PNG or WebP body or multipart/form-data with an \"image\" field", mt)
	}
	if err != nil {
		return nil, bodyError(err)
	}
	if len(up.data) == 0 {
		return nil, errorf(http.StatusBadRequest, "empty_body", "the request carries no image")
	}
	return up, nil
}

// readMultipart reads a multipart/form-data body: the part named "image" and the other fields.
func readMultipart(r *http.Request) (*upload, error) {
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, errorf(http.StatusBadRequest, "bad_multipart", "reading the multipart body: %v", err)
	}
	up := &upload{fields: url.Values{}}
	found, fields := false, 0
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		name := p.FormName()
		if name == "image" {
			if found {
				return nil, errorf(http.StatusBadRequest, "bad_multipart", "more than one \"image\" field")
			}
			found = true
			up.name = p.FileName()
			if up.data, err = io.ReadAll(p); err != nil {
				return nil, err
			}
			continue
		}
		if fields++; fields > maxFields {
			return nil, errorf(http.StatusBadRequest, "bad_multipart", "more than %d fields", maxFields)
		}
		v, err := io.ReadAll(io.LimitReader(p, maxFieldBytes+1))
		if err != nil {
			return nil, err
		}
		if len(v) > maxFieldBytes {
			return nil, errorf(http.StatusBadRequest, "bad_multipart", "field %q is longer than %d bytes", name, maxFieldBytes)
		}
		up.fields.Add(name, string(v))
	}
	if !found {
		return nil, errorf(http.StatusBadRequest, "missing_image", "the multipart body has no \"image\" field")
	}
	return up, nil
}

// bodyError turns an error from reading a request body into a client error.
func bodyError(err error) error {
	var ae *apiError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &ae):
		return err
	case errors.As(err, &mbe):
		return errorf(http.StatusRequestEntityTooLarge, "body_too_large", "the request body is larger than the %d-byte limit", mbe.Limit)
	}
	return errorf(http.StatusBadRequest, "bad_body", "reading the request body: %v", err)
}

// decodeImage decodes a JPEG, PNG or WebP image after checking, from its header alone, that it
// has at most maxPixels pixels, and maps each way it can fail to a client error.
func decodeImage(data []byte, maxPixels int64) (image.Image, error) {
	img, _, err := imageio.Decode(bytes.NewReader(data), imageio.Limits{MaxBytes: int64(len(data)), MaxPixels: maxPixels})
	var status int
	code := "bad_image"
	switch {
	case err == nil:
		return img, nil
	case errors.Is(err, imageio.ErrEmpty):
		status, code = http.StatusBadRequest, "empty_body"
	case errors.Is(err, imageio.ErrTooManyPixels):
		status, code = http.StatusRequestEntityTooLarge, "too_many_pixels"
	case errors.Is(err, imageio.ErrFormat):
		status, code = http.StatusUnsupportedMediaType, "unsupported_format"
	case errors.Is(err, imageio.ErrTruncated):
		status, code = http.StatusUnprocessableEntity, "truncated_image"
	case errors.Is(err, imageio.ErrCorrupt):
		status = http.StatusUnprocessableEntity
	default:
		return nil, fmt.Errorf("decoding the image: %w", err)
	}
	return nil, errorf(status, code, "%v", err)
}

// pictureFormat returns "jpeg", "png" or "webp" from a file's first bytes, or "" for anything
// else.
func pictureFormat(head []byte) string {
	switch ct := http.DetectContentType(head); ct {
	case "image/jpeg", "image/png", "image/webp":
		return ct[len("image/"):]
	}
	return ""
}
