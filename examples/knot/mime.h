/*
 * mime.h - the Content-Type of a file, chosen by its extension.
 */
#ifndef KNOT_MIME_H
#define KNOT_MIME_H

/* The media type for path's extension (case-insensitive), with
 * "; charset=utf-8" for text types; "application/octet-stream" when the
 * extension is unknown or missing.  The string is static. */
const char *mime_type_for_path(const char *path);

#endif
