// Package server is atelier's HTTP service: the v1 API, the embedded web page, Prometheus
// metrics and health checks. It is hardened for a network: bodies, pixels and formats are
// limited and refused with JSON errors, inference runs behind a bounded queue that answers 503
// when full, catalog writes need a bearer token, and shutdown drains the requests in flight.
//
// # API
//
//	POST   /v1/analyze          image (raw JPEG/PNG/WebP body, or multipart field "image")
//	                            -> analyze.Result: garments with box, type, category and top-5,
//	                               attributes, landmarks, embedding; timings_ms per stage
//	POST   /v1/search           a photo (raw or multipart; k and category_type as query or form
//	                            fields) -> one result per garment, matches among items of the
//	                            garment's type; or JSON {"item_id"|"embedding", "k",
//	                            "category_type"} -> one result
//	GET    /v1/items            ?offset=&limit=&type=&category= -> a page of items, has_more,
//	                            total (unfiltered listings)
//	POST   /v1/items            photo (multipart "image", or a raw body with the fields in the
//	                            query) and fields id, name, category, type, meta.KEY; the server
//	                            embeds its most confident garment (meta.embedding_model names
//	                            its network) -> 201 once the index made the item durable
//	GET    /v1/items/{id}       the item
//	DELETE /v1/items/{id}       204
//	GET    /v1/items/{id}/image its picture
//	GET    /                    the web page; GET /metrics, /healthz, /readyz
//
// Errors are JSON {"error": message, "code": stable code, "request_id": id} with a 4xx status
// for the client's mistakes (400 malformed, 401/403 writes not allowed, 404 unknown item or
// route, 405, 413 body or pixels over the limit, 415 not JPEG/PNG/WebP or an unknown content
// type, 422 an image that does not decode or holds no garment), 503 with Retry-After when the
// server is loading, draining or its queue is full, 504 past the request timeout, and 500 with
// no detail for internal failures (the log has them, under the request id).
package server
