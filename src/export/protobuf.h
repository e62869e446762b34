/* protobuf.h - the protocol buffers wire format (private to src/export): a
 * writer for the ONNX exporter and a reader for the tests that take its files
 * apart again.
 *
 * A message is a run of fields, each a key varint (field number << 3 | wire
 * type) and a value: a varint (type 0), 8 bytes (type 1), a length varint and
 * that many bytes (type 2: strings, bytes, nested messages) or 4 bytes (type 5),
 * little-endian. Negative int64 values are varints of their two's complement
 * (10 bytes). Repeated scalars are written one field per element, the form
 * proto2 files such as onnx.proto declare (readers take the packed form too).
 *
 *   cf_pb b = {0};
 *   cf_pb_int(&b, 1, 7);                   // ir_version
 *   size_t at = cf_pb_begin(&b, 8);        // opset_import { ... }
 *   cf_pb_string(&b, 1, "");
 *   cf_pb_int(&b, 2, 13);
 *   cf_pb_end(&b, at);
 *   if (b.failed) ...                      // out of memory somewhere above
 *   fwrite(b.p, 1, b.n, f);
 *   cf_pb_free(&b);
 *
 * Tested by tests/test_export_onnx.c (every file it writes is decoded with the
 * reader below) and tests/export_onnx.py (onnx and onnxruntime read them).
 */
#ifndef CF_EXPORT_PROTOBUF_H
#define CF_EXPORT_PROTOBUF_H

#include <stddef.h>
#include <stdint.h>

#include "cellforge/buf.h"

enum { CF_PB_VARINT = 0, CF_PB_FIXED64 = 1, CF_PB_BYTES = 2, CF_PB_FIXED32 = 5 };

/* A growing buffer of encoded fields: a cf_buf (cellforge/buf.h), the bytes
 * in p. Zero-initialize it; free with cf_pb_free. An allocation failure sets
 * `failed` and turns every later call into a no-op, so a writer checks once at
 * the end. */
typedef cf_buf cf_pb;

void cf_pb_free(cf_pb *b);

/* Fields of each wire type. cf_pb_int writes int64/int32/enum/bool values. */
void cf_pb_int(cf_pb *b, int field, int64_t v);
void cf_pb_float(cf_pb *b, int field, float v);
void cf_pb_bytes(cf_pb *b, int field, const void *p, size_t n);
void cf_pb_string(cf_pb *b, int field, const char *s);
/* Already encoded fields (another buffer's contents), appended as they are. */
void cf_pb_raw(cf_pb *b, const void *p, size_t n);

/* A nested message: cf_pb_begin writes the key and returns a mark; the fields
 * written until cf_pb_end(mark) become the message's body, and cf_pb_end puts
 * the body's length in front of it. Begin/end pairs nest. */
size_t cf_pb_begin(cf_pb *b, int field);
void cf_pb_end(cf_pb *b, size_t mark);

/* ---- reading ------------------------------------------------------------- */

typedef struct cf_pb_field {
    int number;
    int wire;                  /* CF_PB_* */
    uint64_t value;            /* varint, or the bits of a fixed32 / fixed64 */
    const unsigned char *data; /* CF_PB_BYTES: the value, borrowed from the buffer */
    size_t len;
} cf_pb_field;

typedef struct cf_pb_reader {
    const unsigned char *p, *end; /* borrowed */
    const unsigned char *start;   /* for offsets in messages */
} cf_pb_reader;

/* Read the message in [p, p + n). */
static inline cf_pb_reader cf_pb_reader_make(const void *p, size_t n) {
    const unsigned char *u = p;
    return (cf_pb_reader){u, u + n, u};
}
/* The next field into *f: 1, or 0 at the end of the message, or -1 when the
 * bytes are not a valid encoding (*f->value then holds the byte offset). */
int cf_pb_next(cf_pb_reader *r, cf_pb_field *f);
/* A fixed32 field's value as a float. */
float cf_pb_as_float(const cf_pb_field *f);

#endif
