/* protobuf.c - the protocol buffers wire format: varints, fixed-width values,
 * length-delimited fields and nested messages (see protobuf.h).
 *
 * Tested by tests/test_export_onnx.c, which decodes every ONNX file the
 * exporter writes, and by tests/export_onnx.py, where onnx and onnxruntime
 * read them.
 */
#include <stdlib.h>
#include <string.h>

#include "protobuf.h"

void cf_pb_free(cf_pb *b) { cf_buf_free(b); }

/* Seven bits a byte, low first; the high bit says another byte follows. */
static size_t varint_encode(uint64_t v, unsigned char out[10]) {
    size_t k = 0;
    while (v >= 0x80) {
        out[k++] = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    out[k++] = (unsigned char)v;
    return k;
}

static void put_varint(cf_pb *b, uint64_t v) {
    unsigned char tmp[10];
    size_t k = varint_encode(v, tmp);
    cf_buf_append(b, tmp, k);
}

static void put_key(cf_pb *b, int field, int wire) { put_varint(b, (uint64_t)field << 3 | (uint64_t)wire); }

void cf_pb_raw(cf_pb *b, const void *p, size_t n) { cf_buf_append(b, p, n); }

void cf_pb_int(cf_pb *b, int field, int64_t v) {
    put_key(b, field, CF_PB_VARINT);
    put_varint(b, (uint64_t)v); /* two's complement: a negative value takes 10 bytes */
}

void cf_pb_float(cf_pb *b, int field, float v) {
    uint32_t bits;
    memcpy(&bits, &v, sizeof bits);
    unsigned char le[4] = {(unsigned char)bits, (unsigned char)(bits >> 8), (unsigned char)(bits >> 16),
                           (unsigned char)(bits >> 24)};
    put_key(b, field, CF_PB_FIXED32);
    cf_pb_raw(b, le, 4);
}

void cf_pb_bytes(cf_pb *b, int field, const void *p, size_t n) {
    put_key(b, field, CF_PB_BYTES);
    put_varint(b, n);
    cf_pb_raw(b, p, n);
}

void cf_pb_string(cf_pb *b, int field, const char *s) { cf_pb_bytes(b, field, s, strlen(s)); }

size_t cf_pb_begin(cf_pb *b, int field) {
    put_key(b, field, CF_PB_BYTES);
    return b->n;
}

/* The body's length is known only now: move the body up by the length's
 * varint size and write the length in the gap. */
void cf_pb_end(cf_pb *b, size_t mark) {
    if (b->failed) return;
    size_t len = b->n - mark;
    unsigned char tmp[10];
    size_t k = varint_encode(len, tmp);
    if (!cf_buf_reserve(b, k)) return;
    memmove(b->p + mark + k, b->p + mark, len + 1); /* the NUL after the body too */
    memcpy(b->p + mark, tmp, k);
    b->n += k;
}

/* ---- reading ------------------------------------------------------------- */

static int get_varint(cf_pb_reader *r, uint64_t *v) {
    uint64_t x = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (r->p >= r->end) return 0;
        unsigned char c = *r->p++;
        x |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            *v = x;
            return 1;
        }
    }
    return 0;
}

int cf_pb_next(cf_pb_reader *r, cf_pb_field *f) {
    memset(f, 0, sizeof *f);
    if (r->p >= r->end) return 0;
    const unsigned char *at = r->p;
    uint64_t key;
    int ok = get_varint(r, &key) && (key >> 3) > 0 && (key >> 3) < (1u << 29);
    if (ok) {
        f->number = (int)(key >> 3);
        f->wire = (int)(key & 7);
        size_t left;
        switch (f->wire) {
        case CF_PB_VARINT:
            ok = get_varint(r, &f->value);
            break;
        case CF_PB_FIXED64:
        case CF_PB_FIXED32: {
            size_t k = f->wire == CF_PB_FIXED64 ? 8 : 4;
            ok = (size_t)(r->end - r->p) >= k;
            for (size_t i = 0; ok && i < k; i++) f->value |= (uint64_t)r->p[i] << (8 * i);
            if (ok) r->p += k;
            break;
        }
        case CF_PB_BYTES:
            ok = get_varint(r, &f->value);
            left = (size_t)(r->end - r->p);
            ok = ok && f->value <= left;
            if (ok) {
                f->data = r->p;
                f->len = (size_t)f->value;
                r->p += f->len;
            }
            break;
        default:
            ok = 0; /* groups (3, 4) are not used by ONNX */
        }
    }
    if (!ok) {
        f->value = (uint64_t)(at - r->start);
        r->p = r->end;
        return -1;
    }
    return 1;
}

float cf_pb_as_float(const cf_pb_field *f) {
    uint32_t bits = (uint32_t)f->value;
    float v;
    memcpy(&v, &bits, sizeof v);
    return v;
}
