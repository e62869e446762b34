/* npz.c - a user's own images: a NumPy .npz file as a dataset.
 *
 * `--dataset npz:FILE` reads the arrays of numpy.savez (stored) or
 * numpy.savez_compressed (deflate):
 *   x        uint8, [N, H, W] (one channel) or [N, H, W, C] with C in 1..4
 *   y        integers (any signed or unsigned width up to 8 bytes), [N],
 *            each in [0, classes)
 *   x_test, y_test   the same for split "test" (optional: without them
 *            the test split is refused with a message)
 *   class_names  strings, one per class (optional; reports and `eval` name
 *            the classes with them)
 * The class count is the largest label of x's and x_test's sets plus one. The
 * zip container is read whole (local headers, the central directory, ZIP64
 * sizes as numpy writes them); the .npy headers are parsed for dtype, order
 * and shape. Every failure names the file, the array and what was wrong:
 *
 *   data.npz: array 'y': 59999 labels for 60000 images in 'x'
 *   data.npz: array 'x': dtype '<f4', expected uint8 ('|u1') pixels
 *
 * Tested by tests/test_npz.c with files written by numpy.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "cellforge/data.h"
#include "cellforge/file.h"

#define NPZ_MAX_BYTES ((size_t)16 << 30)
/* member() and load_split() return this, with no message, for an absent array */
#define NPZ_ABSENT CF_ERR_UNKNOWN_NAME

static uint32_t u16(const unsigned char *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8; }
static uint32_t u32(const unsigned char *p) { return u16(p) | u16(p + 2) << 16; }
static uint64_t u64(const unsigned char *p) { return (uint64_t)u32(p) | (uint64_t)u32(p + 4) << 32; }

typedef struct npz_entry {
    char name[64];
    int method;              /* 0 stored, 8 deflate */
    uint64_t csize, usize, local;
} npz_entry;

typedef struct npz {
    const char *path;
    unsigned char *data;
    size_t size;
    npz_entry e[16];
    int n;
} npz;

/* ZIP64 sizes and offset in an extra field replace the 0xFFFFFFFF ones, in order. */
static void zip64_extra(const unsigned char *x, size_t len, npz_entry *e, int has_usize, int has_csize, int has_off) {
    for (size_t at = 0; at + 4 <= len;) {
        uint32_t id = u16(x + at), sz = u16(x + at + 2);
        if (at + 4 + sz > len) return;
        if (id == 1) {
            const unsigned char *p = x + at + 4, *end = p + sz;
            if (has_usize && p + 8 <= end) { e->usize = u64(p); p += 8; }
            if (has_csize && p + 8 <= end) { e->csize = u64(p); p += 8; }
            if (has_off && p + 8 <= end) e->local = u64(p);
            return;
        }
        at += 4 + sz;
    }
}

static cf_status read_directory(npz *z) {
    if (z->size < 22) CF_FAIL(CF_ERR_PARSE, "%s: %zu bytes, too short for a .npz (zip) file", z->path, z->size);
    size_t eocd = 0;
    int found = 0;
    for (size_t at = z->size - 22 + 1; at-- > 0 && z->size - at <= 22 + 65535;)
        if (u32(z->data + at) == 0x06054b50) {
            eocd = at;
            found = 1;
            break;
        }
    if (!found) CF_FAIL(CF_ERR_PARSE, "%s: not a .npz file (no zip directory at its end)", z->path);
    uint64_t count = u16(z->data + eocd + 10), dir = u32(z->data + eocd + 16);
    /* ZIP64: the locator just before points at the ZIP64 end record */
    if ((dir == 0xFFFFFFFFu || count == 0xFFFF) && eocd >= 20 && u32(z->data + eocd - 20) == 0x07064b50) {
        uint64_t rec = u64(z->data + eocd - 20 + 8);
        if (rec > z->size || z->size - rec < 56 || u32(z->data + rec) != 0x06064b50)
            CF_FAIL(CF_ERR_PARSE, "%s: a damaged ZIP64 directory record", z->path);
        count = u64(z->data + rec + 32);
        dir = u64(z->data + rec + 48);
    }
    uint64_t at = dir;
    for (uint64_t i = 0; i < count; i++) {
        if (at > z->size || z->size - at < 46 || u32(z->data + at) != 0x02014b50)
            CF_FAIL(CF_ERR_PARSE, "%s: zip directory entry %llu is damaged (byte %llu)", z->path,
                    (unsigned long long)i, (unsigned long long)at);
        const unsigned char *h = z->data + at;
        size_t name_len = u16(h + 28), extra_len = u16(h + 30), comment_len = u16(h + 32);
        if (z->size - at - 46 < name_len + extra_len + comment_len)
            CF_FAIL(CF_ERR_PARSE, "%s: zip directory entry %llu runs past the end", z->path, (unsigned long long)i);
        if (z->n == (int)(sizeof z->e / sizeof z->e[0]))
            CF_FAIL(CF_ERR_PARSE, "%s: more than %d arrays; a dataset needs x, y, x_test, y_test", z->path, z->n);
        npz_entry *e = &z->e[z->n++];
        snprintf(e->name, sizeof e->name, "%.*s", (int)(name_len < 63 ? name_len : 63), (const char *)h + 46);
        e->method = (int)u16(h + 10);
        e->csize = u32(h + 20);
        e->usize = u32(h + 24);
        e->local = u32(h + 42);
        zip64_extra(h + 46 + name_len, extra_len, e, e->usize == 0xFFFFFFFFu, e->csize == 0xFFFFFFFFu,
                    e->local == 0xFFFFFFFFu);
        at += 46 + name_len + extra_len + comment_len;
    }
    return CF_OK;
}

/* The bytes of member NAME.npy, inflated when needed (*owned: free them). */
static cf_status member(const npz *z, const char *name, unsigned char **out, size_t *len, int *owned) {
    *out = NULL;
    *owned = 0;
    char want[72];
    snprintf(want, sizeof want, "%s.npy", name);
    const npz_entry *e = NULL;
    for (int i = 0; i < z->n; i++)
        if (strcmp(z->e[i].name, want) == 0) e = &z->e[i];
    if (!e) return NPZ_ABSENT;
    if (e->local > z->size || z->size - e->local < 30 || u32(z->data + e->local) != 0x04034b50)
        CF_FAIL(CF_ERR_PARSE, "%s: array '%s': its zip header is damaged", z->path, name);
    const unsigned char *h = z->data + e->local;
    uint64_t start = e->local + 30 + u16(h + 26) + u16(h + 28);
    if (start > z->size || e->csize > z->size - start)
        CF_FAIL(CF_ERR_PARSE, "%s: array '%s': %llu bytes past the end of the file (truncated?)", z->path, name,
                (unsigned long long)e->csize);
    if (e->method == 0) {
        *out = z->data + start;
        *len = (size_t)e->csize;
        return CF_OK;
    }
    if (e->method != 8)
        CF_FAIL(CF_ERR_PARSE, "%s: array '%s': zip method %d (numpy writes stored or deflated arrays)", z->path, name,
                e->method);
    if (e->usize > NPZ_MAX_BYTES)
        CF_FAIL(CF_ERR_PARSE, "%s: array '%s': %llu bytes, more than the %zu this reader takes", z->path, name,
                (unsigned long long)e->usize, NPZ_MAX_BYTES);
    /* deflate expands at most 1032 to 1: a larger size is a damaged header, not
     * an allocation to make */
    if (e->usize > e->csize * 1032 + 64)
        CF_FAIL(CF_ERR_PARSE, "%s: array '%s': %llu bytes from %llu compressed ones: a damaged zip header", z->path,
                name, (unsigned long long)e->usize, (unsigned long long)e->csize);
    unsigned char *buf = malloc(e->usize ? (size_t)e->usize : 1);
    if (!buf) CF_FAIL(CF_ERR_OUT_OF_MEMORY, "%s: array '%s': no memory for %llu bytes", z->path, name,
                      (unsigned long long)e->usize);
    z_stream s;
    memset(&s, 0, sizeof s);
    int ok = inflateInit2(&s, -15) == Z_OK;
    size_t done = 0;
    const unsigned char *src = z->data + start;
    uint64_t src_left = e->csize;
    while (ok) {
        uInt in = src_left > (1u << 30) ? (1u << 30) : (uInt)src_left;
        uInt room = e->usize - done > (1u << 30) ? (1u << 30) : (uInt)(e->usize - done);
        s.next_in = (Bytef *)src;
        s.avail_in = in;
        s.next_out = buf + done;
        s.avail_out = room;
        int rc = inflate(&s, Z_NO_FLUSH);
        src += in - s.avail_in;
        src_left -= in - s.avail_in;
        done += room - s.avail_out;
        if (rc == Z_STREAM_END) break;
        if (rc != Z_OK || (in == s.avail_in && room == s.avail_out)) ok = 0;
    }
    inflateEnd(&s);
    if (!ok || done != e->usize) {
        free(buf);
        CF_FAIL(CF_ERR_PARSE, "%s: array '%s': the compressed data is damaged", z->path, name);
    }
    *out = buf;
    *len = done;
    *owned = 1;
    return CF_OK;
}

typedef struct npy {
    char descr[16];
    int ndim;
    uint64_t shape[4];
    const unsigned char *data;
    size_t bytes;
} npy;

/* The value of 'key': in a .npy header dict, or NULL. */
static const char *dict_value(const char *hdr, const char *key) {
    char k[32];
    snprintf(k, sizeof k, "'%s':", key);
    const char *p = strstr(hdr, k);
    if (!p) return NULL;
    p += strlen(k);
    while (*p == ' ') p++;
    return p;
}

static cf_status parse_npy(const char *path, const char *name, const unsigned char *b, size_t len, npy *a) {
    memset(a, 0, sizeof *a);
    if (len < 10 || memcmp(b, "\x93NUMPY", 6) != 0)
        CF_FAIL(CF_ERR_PARSE, "%s: array '%s' is not a .npy array (no \\x93NUMPY magic)", path, name);
    size_t hlen = b[6] == 1 ? u16(b + 8) : (len >= 12 ? u32(b + 8) : (size_t)-1), off = b[6] == 1 ? 10 : 12;
    if (hlen > 65536 || off + hlen > len) CF_FAIL(CF_ERR_PARSE, "%s: array '%s': a damaged .npy header", path, name);
    char hdr[65537];
    memcpy(hdr, b + off, hlen);
    hdr[hlen] = 0;
    const char *d = dict_value(hdr, "descr"), *f = dict_value(hdr, "fortran_order"), *s = dict_value(hdr, "shape");
    if (!d || *d != '\'' || !f || !s || *s != '(')
        CF_FAIL(CF_ERR_PARSE, "%s: array '%s': the .npy header lacks descr, fortran_order or shape: %.100s", path,
                name, hdr);
    snprintf(a->descr, sizeof a->descr, "%.*s", (int)strcspn(d + 1, "'"), d + 1);
    if (strncmp(f, "True", 4) == 0)
        CF_FAIL(CF_ERR_PARSE, "%s: array '%s' is in Fortran order; save it with numpy.ascontiguousarray", path, name);
    for (const char *p = s + 1; *p && *p != ')';) {
        while (*p == ' ' || *p == ',') p++;
        if (*p == ')') break;
        char *end;
        unsigned long long v = strtoull(p, &end, 10);
        if (end == p || a->ndim == 4)
            CF_FAIL(CF_ERR_PARSE, "%s: array '%s': shape %.40s is not 1 to 4 sizes", path, name, s);
        a->shape[a->ndim++] = v;
        p = end;
    }
    a->data = b + off + hlen;
    a->bytes = len - off - hlen;
    return CF_OK;
}

/* Label i of a 1-D integer array; 0 and *bad set on a type it cannot read. */
static int64_t label_at(const npy *a, size_t i, int *bad) {
    const char *t = a->descr;
    int size = atoi(t + 2);
    if ((t[0] != '<' && t[0] != '|' && t[0] != '=') || (t[1] != 'i' && t[1] != 'u') ||
        (size != 1 && size != 2 && size != 4 && size != 8)) {
        *bad = 1;
        return 0;
    }
    const unsigned char *p = a->data + i * (size_t)size;
    uint64_t v = size == 1 ? p[0] : size == 2 ? u16(p) : size == 4 ? u32(p) : u64(p);
    if (t[1] == 'i' && size < 8 && (v >> (8 * size - 1)) & 1) v |= ~0ull << (8 * size); /* sign-extend */
    return (int64_t)v;
}

typedef struct npz_split {
    npy x, y;
    unsigned char *own_x, *own_y;
    int c, h, w;
    size_t n;
} npz_split;

static cf_status load_split(const npz *z, const char *xname, const char *yname, npz_split *sp) {
    unsigned char *b;
    size_t len;
    int owned;
    cf_status st = member(z, xname, &b, &len, &owned);
    if (st == NPZ_ABSENT) return st;
    CF_TRY(st);
    if (owned) sp->own_x = b;
    CF_TRY(parse_npy(z->path, xname, b, len, &sp->x));
    st = member(z, yname, &b, &len, &owned);
    if (st == NPZ_ABSENT) CF_FAIL(CF_ERR_PARSE, "%s: array '%s' has no labels: no array '%s'", z->path, xname, yname);
    CF_TRY(st);
    if (owned) sp->own_y = b;
    CF_TRY(parse_npy(z->path, yname, b, len, &sp->y));
    const npy *x = &sp->x;
    if (strcmp(x->descr, "|u1") != 0 && strcmp(x->descr, "<u1") != 0)
        CF_FAIL(CF_ERR_PARSE, "%s: array '%s': dtype '%s', expected uint8 ('|u1') pixels (x.astype(numpy.uint8))",
                z->path, xname, x->descr);
    if (x->ndim != 3 && x->ndim != 4)
        CF_FAIL(CF_ERR_PARSE, "%s: array '%s': %d dimensions, expected [N, H, W] or [N, H, W, C]", z->path, xname,
                x->ndim);
    sp->n = (size_t)x->shape[0];
    sp->h = (int)x->shape[1];
    sp->w = (int)x->shape[2];
    sp->c = x->ndim == 4 ? (int)x->shape[3] : 1;
    if (x->shape[1] < 1 || x->shape[1] > 4096 || x->shape[2] < 1 || x->shape[2] > 4096)
        CF_FAIL(CF_ERR_PARSE, "%s: array '%s': images of %llux%llu, expected sides of 1 to 4096", z->path, xname,
                (unsigned long long)x->shape[1], (unsigned long long)x->shape[2]);
    if (x->ndim == 4 && (x->shape[3] < 1 || x->shape[3] > 4))
        CF_FAIL(CF_ERR_PARSE, "%s: array '%s': %llu channels, expected 1 to 4", z->path, xname,
                (unsigned long long)x->shape[3]);
    if (sp->n == 0) CF_FAIL(CF_ERR_PARSE, "%s: array '%s' holds no images", z->path, xname);
    if (x->shape[0] > x->bytes) /* before any product of the sizes can wrap */
        CF_FAIL(CF_ERR_PARSE, "%s: array '%s': %llu images in %zu bytes: truncated", z->path, xname,
                (unsigned long long)x->shape[0], x->bytes);
    size_t need = sp->n * (size_t)sp->c * (size_t)sp->h * (size_t)sp->w;
    if (x->bytes < need)
        CF_FAIL(CF_ERR_PARSE, "%s: array '%s': %zu bytes of pixels for %zu images of %dx%dx%d (%zu bytes): truncated",
                z->path, xname, x->bytes, sp->n, sp->h, sp->w, sp->c, need);
    const npy *y = &sp->y;
    if (y->ndim != 1 || y->shape[0] != sp->n)
        CF_FAIL(CF_ERR_PARSE, "%s: array '%s': %llu labels for %zu images in '%s'", z->path, yname,
                (unsigned long long)(y->ndim ? y->shape[0] : 0), sp->n, xname);
    int size = atoi(y->descr + 2);
    if (size < 1 || y->bytes < sp->n * (size_t)size)
        CF_FAIL(CF_ERR_PARSE, "%s: array '%s': dtype '%s' or its data is not whole", z->path, yname, y->descr);
    return CF_OK;
}

/* The labels of sp: checked against [0, limit), their largest into *top. */
static cf_status check_labels(const npz *z, const char *yname, const npz_split *sp, int64_t *top) {
    for (size_t i = 0; i < sp->n; i++) {
        int bad = 0;
        int64_t v = label_at(&sp->y, i, &bad);
        if (bad)
            CF_FAIL(CF_ERR_PARSE, "%s: array '%s': dtype '%s', expected integer labels", z->path, yname, sp->y.descr);
        if (v < 0 || v >= 100000)
            CF_FAIL(CF_ERR_PARSE, "%s: array '%s': label %lld at index %zu, expected 0 to 99999", z->path, yname,
                    (long long)v, i);
        if (v > *top) *top = v;
    }
    return CF_OK;
}

/* The optional array class_names (numpy strings, '<U' dtype) into ds, one per
 * class; characters outside ASCII become '?'. */
static cf_status read_class_names(const npz *z, cf_dataset *ds) {
    unsigned char *b;
    size_t len;
    int owned;
    cf_status st = member(z, "class_names", &b, &len, &owned);
    if (st == NPZ_ABSENT) return CF_OK;
    CF_TRY(st);
    npy a;
    st = parse_npy(z->path, "class_names", b, len, &a);
    int width = a.descr[0] == '<' && a.descr[1] == 'U' ? atoi(a.descr + 2) : 0;
    if (st == CF_OK && (width < 1 || width > 200 || a.ndim != 1))
        st = cf_error_set(CF_ERR_PARSE, __FILE__, __LINE__, "%s: array 'class_names': dtype '%s' shape of %d "
                          "dimensions, expected a list of strings (numpy.array([\"cat\", ...]))", z->path, a.descr, a.ndim);
    if (st == CF_OK && (a.shape[0] != (uint64_t)ds->classes || a.bytes < (size_t)ds->classes * (size_t)width * 4))
        st = cf_error_set(CF_ERR_PARSE, __FILE__, __LINE__, "%s: array 'class_names': %llu names for %d classes",
                          z->path, (unsigned long long)a.shape[0], ds->classes);
    char **names = st == CF_OK ? calloc((size_t)ds->classes, sizeof *names) : NULL;
    for (int k = 0; names && k < ds->classes; k++) {
        char *n = names[k] = calloc((size_t)width + 1, 1);
        if (!n) break;
        for (int i = 0; i < width; i++) {
            uint32_t cp = u32(a.data + ((size_t)k * (size_t)width + (size_t)i) * 4);
            if (!cp) break;
            n[i] = cp < 128 && cp >= 32 ? (char)cp : '?';
        }
    }
    if (st == CF_OK) st = names ? cf_dataset_set_class_names(ds, (const char *const *)names)
                                : cf_error_set(CF_ERR_OUT_OF_MEMORY, __FILE__, __LINE__, "%s: no memory", z->path);
    for (int k = 0; names && k < ds->classes; k++) free(names[k]);
    free(names);
    if (owned) free(b);
    return st;
}

static void split_free(npz_split *sp) {
    free(sp->own_x);
    free(sp->own_y);
}

cf_status cf_data_npz_load(const char *path, int train, const char *ds_name, cf_dataset **out) {
    *out = NULL;
    npz z = {.path = path};
    char *text = NULL;
    CF_TRY(cf_file_read(path, NPZ_MAX_BYTES, 0, &text, &z.size));
    z.data = (unsigned char *)text;
    npz_split tr = {0}, te = {0};
    cf_status st = read_directory(&z);
    if (st == CF_OK) {
        st = load_split(&z, "x", "y", &tr);
        if (st == NPZ_ABSENT) st = cf_error_set(CF_ERR_PARSE, __FILE__, __LINE__,
                                                      "%s: no array 'x' (the training images)", path);
    }
    cf_status st_test = st == CF_OK ? load_split(&z, "x_test", "y_test", &te) : CF_OK;
    int have_test = st == CF_OK && st_test == CF_OK;
    if (st == CF_OK && st_test != CF_OK && st_test != NPZ_ABSENT) st = st_test;
    if (st == CF_OK && !train && !have_test)
        st = cf_error_set(CF_ERR_PARSE, __FILE__, __LINE__,
                          "%s: no arrays 'x_test' and 'y_test', so no test split (save them beside x and y)", path);
    if (st == CF_OK && have_test && (te.c != tr.c || te.h != tr.h || te.w != tr.w))
        st = cf_error_set(CF_ERR_PARSE, __FILE__, __LINE__,
                          "%s: array 'x_test': images of %dx%dx%d, but 'x' holds %dx%dx%d", path, te.h, te.w, te.c,
                          tr.h, tr.w, tr.c);
    /* the class count covers both splits, so the two agree */
    int64_t top = -1;
    if (st == CF_OK) st = check_labels(&z, "y", &tr, &top);
    if (st == CF_OK && have_test) st = check_labels(&z, "y_test", &te, &top);
    const npz_split *sp = train ? &tr : &te;
    if (st == CF_OK && top < 1)
        st = cf_error_set(CF_ERR_PARSE, __FILE__, __LINE__, "%s: every label is %lld: a dataset needs 2 classes at least",
                          path, (long long)top);
    if (st == CF_OK) st = cf_dataset_create(ds_name, sp->n, sp->c, sp->h, sp->w, (int)top + 1, out);
    if (st == CF_OK) {
        cf_dataset *ds = *out;
        const size_t hw = (size_t)sp->h * (size_t)sp->w;
        for (size_t i = 0; i < sp->n; i++) {
            const unsigned char *src = sp->x.data + i * hw * (size_t)sp->c;
            uint8_t *dst = ds->images + i * hw * (size_t)sp->c;
            for (size_t p = 0; p < hw; p++) /* HWC to CHW */
                for (int k = 0; k < sp->c; k++) dst[(size_t)k * hw + p] = src[p * (size_t)sp->c + (size_t)k];
            int bad = 0;
            ds->labels[i] = (int32_t)label_at(&sp->y, i, &bad);
        }
    }
    if (st == CF_OK) st = read_class_names(&z, *out);
    if (st != CF_OK) {
        cf_dataset_destroy(*out);
        *out = NULL;
    }
    split_free(&tr);
    split_free(&te);
    free(text);
    return st;
}
