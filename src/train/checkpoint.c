/* checkpoint.c - write and read .cfm model files and training states (formats
 * in checkpoint.h).
 *
 * Both kinds share the layout and the code: a JSON header, f32 tensors, a
 * CRC, written to a temporary file and renamed (cellforge/file.h). Tested by tests/test_train.c (a model
 * round trip gives identical outputs; truncated, corrupted or foreign files
 * fail with the file and offset) and tests/test_train_resume.c (a run resumed
 * from a state ends bit for bit as one that never stopped; states of another
 * network or run are refused with what did not match; a state loads as a
 * model and converts to a model file with the same tensors).
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include <cjson/cJSON.h>

#include "cellforge/checkpoint.h"
#include "cellforge/file.h"
#include "cellforge/text.h"
#include "core/json_read.h"

/* What a file of each kind starts with, and what to say when it does not. */
typedef struct file_kind {
    char magic[9];
    const char *noun, *origin;
} file_kind;

static const file_kind k_model = {"CFMODEL1", "model", "made by `cellforge train --out`"};
static const file_kind k_state = {"CFSTATE1", "training state",
                                  "written after each epoch of a trial with a checkpoint path"};

/* The float blocks a tensor of the file can live in. */
enum { BLOCK_PARAM = 0, BLOCK_STATE, BLOCK_MOMENTUM, BLOCK_COUNT };

/* One tensor of the file: where its floats live. */
typedef struct slot {
    int block;          /* BLOCK_* */
    size_t at;          /* offset into the block, in floats */
    int64_t shape[4];
    char name[96];
} slot;

/* Weight k of layer i as a slot of `block`, named after it (+ suffix). */
static void weight_slot(slot *sl, int block, const cf_model *m, int i, int k, const char *suffix) {
    const cf_net_layer *l = &m->net->layers[i];
    sl->block = block;
    sl->at = m->layers[i].w_offset[k];
    memcpy(sl->shape, l->w_shape[k], sizeof sl->shape);
    snprintf(sl->name, sizeof sl->name, "%s.%s%s", l->name,
             l->kind == CF_OP_BATCHNORM ? (k ? "beta" : "gamma") : (k ? "bias" : "weight"), suffix);
}

/* The tensors in file order: every layer's weights, then every BN layer's
 * running statistics, then (with_momentum) the momentum of every weight, at
 * the weight's offset. Returns the count (slots may be NULL to count). */
static int list_slots(const cf_model *m, int with_momentum, slot *slots) {
    const cf_net *net = m->net;
    int n = 0;
    for (int i = 0; i < net->n; i++)
        for (int k = 0; k < net->layers[i].n_w; k++, n++)
            if (slots) weight_slot(&slots[n], BLOCK_PARAM, m, i, k, "");
    for (int i = 0; i < net->n; i++) {
        const cf_net_layer *l = &net->layers[i];
        if (l->kind != CF_OP_BATCHNORM) continue;
        for (int k = 0; k < 2; k++, n++) {
            if (!slots) continue;
            slots[n].block = BLOCK_STATE;
            slots[n].at = (size_t)((const float *)cf_model_bn_stat(m, i, k) - (const float *)m->state);
            int64_t shape[4] = {l->c, 1, 1, 1};
            memcpy(slots[n].shape, shape, sizeof shape);
            snprintf(slots[n].name, sizeof slots[n].name, "%s.%s", l->name, k ? "running_var" : "running_mean");
        }
    }
    for (int i = 0; with_momentum && i < net->n; i++)
        for (int k = 0; k < net->layers[i].n_w; k++, n++)
            if (slots) weight_slot(&slots[n], BLOCK_MOMENTUM, m, i, k, ".momentum");
    return n;
}

/* The slots of a model (and its momentum): malloc'd, the caller frees. */
static cf_status make_slots(const char *path, const cf_model *m, int with_momentum, slot **out, int *n) {
    *n = list_slots(m, with_momentum, NULL);
    *out = calloc((size_t)(*n ? *n : 1), sizeof **out);
    if (!*out) CF_FAIL(CF_ERR_OUT_OF_MEMORY, "%s: no memory", path);
    list_slots(m, with_momentum, *out);
    return CF_OK;
}

static int64_t numel(const int64_t *s) { return s[0] * s[1] * s[2] * s[3]; }

/* A number that reads back as the same double (cf_text_exact): cJSON's own
 * 15 digits lose the last bits, and a resumed run continues the saved values. */
static cJSON *exact_number(double v) {
    char text[40];
    return isfinite(v) ? cJSON_CreateRaw(cf_text_exact(v, text, sizeof text)) : cJSON_CreateNull();
}

static void add_exact(cJSON *obj, const char *key, double v) { cJSON_AddItemToObject(obj, key, exact_number(v)); }

static cJSON *float_array(const float *v, int n) {
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; i < n; i++) cJSON_AddItemToArray(a, exact_number(v[i]));
    return a;
}

/* The header's list of the tensors in the data, in order. */
static cJSON *tensors_json(const slot *slots, int n) {
    cJSON *tensors = cJSON_CreateArray();
    size_t offset = 0;
    for (int k = 0; tensors && k < n; k++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", slots[k].name);
        int shape[4] = {(int)slots[k].shape[0], (int)slots[k].shape[1], (int)slots[k].shape[2],
                        (int)slots[k].shape[3]};
        cJSON_AddItemToObject(o, "shape", cJSON_CreateIntArray(shape, 4));
        cJSON_AddNumberToObject(o, "offset", (double)offset);
        offset += (size_t)numel(slots[k].shape) * sizeof(float);
        cJSON_AddItemToArray(tensors, o);
    }
    return tensors;
}

static cJSON *make_header(const cf_space *s, const char *arch_text, const cf_model *m,
                          const cf_train_config *cfg, const cf_train_result *res, double test_acc,
                          const slot *slots, int n_slots) {
    cJSON *h = cJSON_CreateObject();
    cJSON_AddNumberToObject(h, "format", 1);
    cJSON *sp = cJSON_AddObjectToObject(h, "space");
    cJSON_AddStringToObject(sp, "name", s->name);
    cJSON_AddStringToObject(sp, "file", s->path);
    cJSON *opts = cJSON_AddObjectToObject(sp, "options");
    for (int k = 0; k < s->n_options; k++) add_exact(opts, s->options[k].name, s->options[k].value);
    cJSON_AddStringToObject(h, "arch", arch_text);
    const cf_net_input *in = &m->net->input;
    int geom[3] = {in->c, in->h, in->w};
    cJSON_AddItemToObject(h, "input", cJSON_CreateIntArray(geom, 3));
    cJSON_AddNumberToObject(h, "classes", in->classes);
    if (res) {
        cJSON *norm = cJSON_AddObjectToObject(h, "normalize");
        cJSON_AddItemToObject(norm, "mean", float_array(res->mean, in->c));
        cJSON_AddItemToObject(norm, "std", float_array(res->std, in->c));
    }
    if (cfg) {
        cJSON *t = cJSON_AddObjectToObject(h, "train");
        cJSON_AddNumberToObject(t, "epochs", cfg->epochs);
        cJSON_AddNumberToObject(t, "batch", cfg->batch);
        add_exact(t, "lr", cfg->lr);
        add_exact(t, "lr_min", cfg->lr_min);
        cJSON_AddNumberToObject(t, "warmup_epochs", cfg->warmup_epochs);
        add_exact(t, "momentum", cfg->momentum);
        cJSON_AddBoolToObject(t, "nesterov", cfg->nesterov);
        add_exact(t, "weight_decay", cfg->weight_decay);
        add_exact(t, "label_smoothing", cfg->label_smoothing);
        add_exact(t, "grad_clip", cfg->grad_clip);
        add_exact(t, "drop_path", cfg->drop_path);
        add_exact(t, "aux_weight", cfg->aux_weight);
        cJSON_AddNumberToObject(t, "crop_pad", cfg->augment.crop_pad);
        cJSON_AddBoolToObject(t, "flip", cfg->augment.flip);
        cJSON_AddNumberToObject(t, "cutout", cfg->augment.cutout);
        if (cfg->augment.erase > 0) add_exact(t, "erase", cfg->augment.erase);
        if (cfg->precision != CF_DTYPE_F32) /* mixed precision; the weights are f32 either way */ cJSON_AddStringToObject(t, "precision", cf_dtype_name(cfg->precision));
        cJSON_AddNumberToObject(t, "seed", (double)cfg->seed);
    }
    if (res) {
        cJSON *curve = cJSON_AddArrayToObject(h, "curve");
        for (int e = 0; e < res->epochs_done; e++) {
            const cf_epoch_record *r = &res->curve[e];
            cJSON *o = cJSON_CreateObject();
            cJSON_AddNumberToObject(o, "epoch", r->epoch);
            add_exact(o, "train_loss", r->train_loss);
            add_exact(o, "train_acc", r->train_acc);
            add_exact(o, "val_acc", r->val_acc);
            add_exact(o, "lr", r->lr);
            add_exact(o, "seconds", r->seconds);
            cJSON_AddItemToArray(curve, o);
        }
        cJSON_AddStringToObject(h, "status", cf_train_status_name(res->status));
        cJSON_AddStringToObject(h, "reason", res->reason);
        add_exact(h, "val_acc", res->val_acc);
        add_exact(h, "seconds", res->seconds);
        add_exact(h, "images_per_s", res->images_per_s);
    }
    add_exact(h, "test_acc", test_acc);
    cJSON_AddItemToObject(h, "tensors", tensors_json(slots, n_slots));
    return h;
}

/* Write bytes and fold them into the CRC. */
static int put(FILE *f, const void *p, size_t n, uLong *crc) {
    *crc = crc32(*crc, p, (uInt)n);
    return fwrite(p, 1, n, f) == n;
}

static void le64(unsigned char *b, uint64_t v) {
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(v >> (8 * i));
}

/* The file as one atomic step (cf_file_writer: a temporary file flushed to
 * the disk and renamed), so a crash leaves either the previous file or this
 * one. base holds the blocks the slots point into. */
static cf_status write_file(const char *path, const file_kind *kind, const cJSON *h,
                            const float *const *base, const slot *slots, int n) {
    char *text = cJSON_PrintUnformatted(h);
    if (!text) CF_FAIL(CF_ERR_OUT_OF_MEMORY, "%s: no memory for the header", path);
    cf_file_writer w;
    cf_status st = cf_file_writer_open(&w, path);
    if (st != CF_OK) {
        free(text);
        return st;
    }
    uLong crc = crc32(0L, Z_NULL, 0);
    unsigned char len[8];
    size_t hl = strlen(text);
    le64(len, hl);
    int ok = put(w.f, kind->magic, 8, &crc) && put(w.f, len, 8, &crc) && put(w.f, text, hl, &crc);
    for (int k = 0; k < n && ok; k++)
        ok = put(w.f, base[slots[k].block] + slots[k].at, (size_t)numel(slots[k].shape) * sizeof(float), &crc);
    unsigned char c4[4] = {(unsigned char)crc, (unsigned char)(crc >> 8), (unsigned char)(crc >> 16),
                           (unsigned char)(crc >> 24)};
    if (!ok || fwrite(c4, 1, 4, w.f) != 4) w.err = errno ? errno : EIO;
    free(text);
    /* commit reports a failed write and removes the temporary file */
    return cf_file_writer_commit(&w);
}

/* A space that searches hyperparameters records the arch's plain network
 * (cf_arch_network): *own (the caller frees it, failure or not) and net_text
 * replace s and arch_text; else both stay as they are. */
static cf_status plain_network(const cf_space **s, const char **arch_text, cf_space **own, char *net_text) {
    *own = NULL;
    if ((*s)->n_hparams == 0) return CF_OK;
    if (!(*own = malloc(sizeof **own))) CF_FAIL(CF_ERR_OUT_OF_MEMORY, "checkpoint: no memory for the space");
    CF_TRY(cf_arch_network(*s, *arch_text, *own, net_text, CF_ARCH_TEXT_MAX));
    *s = *own;
    *arch_text = net_text;
    return CF_OK;
}

cf_status cf_checkpoint_save(const char *path, const cf_space *s, const char *arch_text,
                             const cf_model *m, const cf_train_config *cfg,
                             const cf_train_result *res, double test_acc) {
    if (m->pelem != sizeof(float)) CF_FAIL(CF_ERR_UNSUPPORTED, "%s: only f32 weights are saved", path);
    CF_TRY(cf_model_to_host(m)); /* a model trained on a GPU */
    slot *slots;
    int n;
    CF_TRY(make_slots(path, m, 0, &slots, &n));
    cf_space *own = NULL;
    char net_text[CF_ARCH_TEXT_MAX];
    cf_status pst = plain_network(&s, &arch_text, &own, net_text);
    cJSON *h = pst == CF_OK ? make_header(s, arch_text, m, cfg, res, test_acc, slots, n) : NULL;
    free(own);
    if (pst != CF_OK) {
        free(slots);
        return pst;
    }
    const float *base[BLOCK_COUNT] = {m->param, m->state, NULL};
    cf_status st = h ? write_file(path, &k_model, h, base, slots, n)
                     : cf_error_set(CF_ERR_OUT_OF_MEMORY, __FILE__, __LINE__, "%s: no memory for the header", path);
    cJSON_Delete(h);
    free(slots);
    return st;
}

/* The limit stops a file that is not a checkpoint at all from being read
 * whole; a FIFO or a device is refused before reading (cf_file_read). */
#define CHECKPOINT_MAX_BYTES CF_CHECKPOINT_MAX_BYTES

static cf_status read_all(const char *path, int flags, unsigned char **out, size_t *size) {
    char *buf = NULL;
    CF_TRY(cf_file_read(path, CHECKPOINT_MAX_BYTES, flags, &buf, size));
    *out = (unsigned char *)buf;
    return CF_OK;
}

/* A file of kind `kind`, or with `other` not NULL of either kind, in memory,
 * its magic, header length and CRC checked and its header parsed. *is_other
 * (may be NULL) says which kind it was. The caller frees *buf and *header;
 * the tensor data starts at byte 16 + *header_len and ends 4 bytes before
 * *size. */
static cf_status read_file(const char *path, int flags, const file_kind *kind, const file_kind *other, int *is_other,
                           unsigned char **buf, size_t *size, cJSON **header, size_t *header_len) {
    *buf = NULL;
    *header = NULL;
    unsigned char *b = NULL;
    size_t n = 0;
    CF_TRY(read_all(path, flags, &b, &n));
    cf_status st = CF_OK;
    char *text = NULL;
    int second = other && n >= 20 && memcmp(b, other->magic, 8) == 0;
    if (is_other) *is_other = second;
    if (!second && (n < 20 || memcmp(b, kind->magic, 8) != 0)) {
        if (other)
            st = cf_error_set(CF_ERR_PARSE, __FILE__, __LINE__,
                              "%s: byte 0: not a cellforge %s or %s (expected \"%s\", %s, or \"%s\", %s)", path,
                              kind->noun, other->noun, kind->magic, kind->origin, other->magic, other->origin);
        else
            st = cf_error_set(CF_ERR_PARSE, __FILE__, __LINE__, "%s: byte 0: not a cellforge %s (expected \"%s\"; %s)",
                              path, kind->noun, kind->magic, kind->origin);
        goto exit;
    }
    uint64_t hl = 0;
    for (int i = 0; i < 8; i++) hl |= (uint64_t)b[8 + i] << (8 * i);
    if (hl > n - 20) {
        st = cf_error_set(CF_ERR_PARSE, __FILE__, __LINE__,
                          "%s: byte 8: header of %llu bytes in a file of %zu: truncated", path,
                          (unsigned long long)hl, n);
        goto exit;
    }
    uLong crc = crc32(crc32(0L, Z_NULL, 0), b, (uInt)(n - 4));
    uLong want = (uLong)b[n - 4] | (uLong)b[n - 3] << 8 | (uLong)b[n - 2] << 16 | (uLong)b[n - 1] << 24;
    if (crc != want) {
        st = cf_error_set(CF_ERR_PARSE, __FILE__, __LINE__,
                          "%s: byte %zu: CRC-32 %08lx does not match the contents (%08lx): the file "
                          "is damaged or truncated", path, n - 4, want, crc);
        goto exit;
    }
    text = malloc(hl + 1);
    if (!text) {
        st = cf_error_set(CF_ERR_OUT_OF_MEMORY, __FILE__, __LINE__, "%s: no memory", path);
        goto exit;
    }
    memcpy(text, b + 16, hl);
    text[hl] = 0;
    CF_TRY_GOTO(st, cf_json_parse(text, path, header), exit);
    *header_len = (size_t)hl;
exit:
    free(text);
    if (st != CF_OK) {
        free(b);
        b = NULL;
        n = 0;
    }
    *buf = b;
    *size = n;
    return st;
}

/* Check that the header's tensors are the slots (names, shapes, offsets) and
 * fill the data exactly, so that copy_tensors cannot go wrong. */
static cf_status check_tensors(const char *path, const cJSON *h, size_t size, size_t header_len, const slot *slots,
                               int n) {
    cf_json_reader r;
    cf_json_reader_init(&r, path);
    const cJSON *tensors;
    CF_TRY(cf_json_get_array(&r, h, "tensors", CF_JSON_REQUIRED, n, n, &tensors));
    const size_t data = 16 + header_len, avail = size - 4 - data;
    size_t offset = 0;
    for (int k = 0; k < n; k++) {
        const cJSON *t = cJSON_GetArrayItem(tensors, k), *name = cf_json_has(t, "name");
        const cJSON *shape = cf_json_has(t, "shape"), *at = cf_json_has(t, "offset");
        const int64_t *want = slots[k].shape;
        const size_t bytes = (size_t)numel(want) * sizeof(float);
        if (!name || !cJSON_IsString(name) || strcmp(name->valuestring, slots[k].name) != 0)
            CF_FAIL(CF_ERR_PARSE, "%s: $.tensors[%d]: expected tensor \"%s\" of this network, found \"%s\"", path,
                    k, slots[k].name, name && cJSON_IsString(name) ? name->valuestring : "?");
        int same = cJSON_IsArray(shape) && cJSON_GetArraySize(shape) == 4;
        for (int d = 0; d < 4 && same; d++) {
            const cJSON *v = cJSON_GetArrayItem(shape, d);
            same = cJSON_IsNumber(v) && v->valuedouble == (double)want[d];
        }
        if (!same)
            CF_FAIL(CF_ERR_PARSE,
                    "%s: $.tensors[%d].shape: tensor %s is not [%lld, %lld, %lld, %lld] as in this network", path,
                    k, slots[k].name, (long long)want[0], (long long)want[1], (long long)want[2],
                    (long long)want[3]);
        if (!cJSON_IsNumber(at) || at->valuedouble != (double)offset)
            CF_FAIL(CF_ERR_PARSE, "%s: $.tensors[%d].offset: tensor %s should start at data byte %zu", path, k,
                    slots[k].name, offset);
        if (offset + bytes > avail)
            CF_FAIL(CF_ERR_PARSE, "%s: byte %zu: tensor %s runs past the data", path, data + offset,
                    slots[k].name);
        offset += bytes;
    }
    if (offset != avail)
        CF_FAIL(CF_ERR_PARSE, "%s: byte %zu: %zu bytes left after the last tensor", path, data + offset,
                avail - offset);
    return CF_OK;
}

/* The tensors of a checked file into the blocks of base. */
static void copy_tensors(const unsigned char *buf, size_t header_len, float *const *base, const slot *slots,
                         int n) {
    const unsigned char *p = buf + 16 + header_len;
    for (int k = 0; k < n; k++) {
        const size_t bytes = (size_t)numel(slots[k].shape) * sizeof(float);
        memcpy(base[slots[k].block] + slots[k].at, p, bytes);
        p += bytes;
    }
}

static cf_status load_space(const cJSON *h, const char *path, cf_space **out) {
    cf_json_reader r;
    cf_json_reader_init(&r, path);
    const cJSON *sp;
    char name[32], file[512] = "";
    CF_TRY(cf_json_get_object(&r, h, "space", CF_JSON_REQUIRED, &sp));
    size_t mark = cf_json_enter_key(&r, "space");
    CF_TRY(cf_json_get_string(&r, sp, "name", CF_JSON_REQUIRED, 1, name, sizeof name));
    CF_TRY(cf_json_get_string(&r, sp, "file", CF_JSON_OPTIONAL, 0, file, sizeof file));
    /* everything read from the header before the space is loaded: no failure
     * after it but the options' own */
    const cJSON *opts;
    CF_TRY(cf_json_get_object(&r, sp, "options", CF_JSON_REQUIRED, &opts));
    cf_space *s = NULL;
    if (cf_space_load(name, &s) != CF_OK) {
        if (!file[0] || cf_space_load(file, &s) != CF_OK)
            return cf_error_set(CF_ERR_IO, __FILE__, __LINE__,
                                "%s: space \"%s\" of this model is not in %s (nor at %s)", path, name,
                                cf_space_dir(), file[0] ? file : "a recorded path");
    }
    for (const cJSON *o = opts->child; o; o = o->next) {
        char value[64];
        snprintf(value, sizeof value, "%.17g", o->valuedouble);
        if (cf_space_set(s, o->string, value) != CF_OK) {
            cf_space_destroy(s);
            return cf_error_set(CF_ERR_PARSE, __FILE__, __LINE__, "%s: $.space.options.%s: %s", path,
                                o->string, cf_error_message());
        }
    }
    cf_json_leave(&r, mark);
    *out = s;
    return CF_OK;
}

/* A model file or a training state read into a new model on be, what
 * cf_checkpoint_load does; the parsed header and the space go to the caller
 * when header / space are not NULL (freed with cJSON_Delete and
 * cf_space_destroy; NULL on failure). A state's momentum is checked like
 * every tensor and left out. */
static cf_status load_any(const char *path, const cf_backend *be, int batch, cf_model **model,
                          cf_checkpoint_info *info, cJSON **header, cf_space **space) {
    *model = NULL;
    if (header) *header = NULL;
    if (space) *space = NULL;
    memset(info, 0, sizeof *info);
    unsigned char *buf = NULL;
    size_t size = 0, hl = 0;
    cJSON *h = NULL;
    CF_TRY(read_file(path, 0, &k_model, &k_state, &info->is_state, &buf, &size, &h, &hl));
    cf_status st = CF_OK;
    cf_space *s = NULL;
    cf_model *m = NULL;
    slot *slots = NULL;
    cf_json_reader r;
    cf_json_reader_init(&r, path);
    CF_TRY_GOTO(st, load_space(h, path, &s), exit);
    CF_TRY_GOTO(st, cf_json_get_string(&r, h, "arch", CF_JSON_REQUIRED, 1, info->arch, sizeof info->arch), exit);
    const cJSON *geom;
    CF_TRY_GOTO(st, cf_json_get_array(&r, h, "input", CF_JSON_REQUIRED, 3, 3, &geom), exit);
    info->input.c = cJSON_GetArrayItem(geom, 0)->valueint;
    info->input.h = cJSON_GetArrayItem(geom, 1)->valueint;
    info->input.w = cJSON_GetArrayItem(geom, 2)->valueint;
    CF_TRY_GOTO(st, cf_json_get_int(&r, h, "classes", CF_JSON_REQUIRED, 2, 1 << 20, &info->input.classes), exit);
    for (int c = 0; c < 4; c++) {
        info->mean[c] = 0.0f;
        info->std[c] = 1.0f;
    }
    const cJSON *norm = cf_json_has(h, "normalize");
    if (norm) {
        const cJSON *mean = cf_json_has(norm, "mean"), *sd = cf_json_has(norm, "std");
        for (int c = 0; c < info->input.c && c < 4; c++) {
            if (mean && cJSON_GetArrayItem(mean, c)) info->mean[c] = (float)cJSON_GetArrayItem(mean, c)->valuedouble;
            if (sd && cJSON_GetArrayItem(sd, c)) info->std[c] = (float)cJSON_GetArrayItem(sd, c)->valuedouble;
        }
    }
    info->val_acc = info->test_acc = -1;
    const cJSON *v;
    if ((v = cf_json_has(h, "val_acc")) && cJSON_IsNumber(v)) info->val_acc = v->valuedouble;
    if ((v = cf_json_has(h, "test_acc")) && cJSON_IsNumber(v)) info->test_acc = v->valuedouble;
    if ((v = cf_json_has(h, "curve")) && cJSON_IsArray(v)) info->epochs_done = cJSON_GetArraySize(v);
    if ((v = cf_json_has(h, "status")) && cJSON_IsString(v))
        snprintf(info->status, sizeof info->status, "%s", v->valuestring);
    snprintf(info->space, sizeof info->space, "%s", s->name);
    cf_space_format_options(s, info->options, sizeof info->options);

    cf_arch a;
    if (cf_arch_parse(s, info->arch, &a) != CF_OK) {
        st = cf_error_set(CF_ERR_PARSE, __FILE__, __LINE__, "%s: $.arch: %s", path, cf_error_message());
        goto exit;
    }
    cf_net *net = NULL;
    CF_TRY_GOTO(st, cf_net_build(s, &a, &info->input, &net), exit);
    CF_TRY_GOTO(st, cf_model_create(net, batch, be, 0, &m), exit);
    int n;
    CF_TRY_GOTO(st, make_slots(path, m, info->is_state, &slots, &n), exit);
    float *base[BLOCK_COUNT] = {m->param, m->state, NULL};
    CF_TRY_GOTO(st, check_tensors(path, h, size, hl, slots, n), exit);
    copy_tensors(buf, hl, base, slots, list_slots(m, 0, NULL));
    cf_model_host_changed(m);
exit:
    if (st != CF_OK) {
        cf_model_destroy(m);
        m = NULL;
    }
    *model = m;
    free(slots);
    if (header && st == CF_OK) *header = h;
    else cJSON_Delete(h);
    if (space && st == CF_OK) *space = s;
    else cf_space_destroy(s);
    free(buf);
    return st;
}

cf_status cf_checkpoint_load(const char *path, const cf_backend *be, int batch, cf_model **model,
                             cf_checkpoint_info *info) {
    return load_any(path, be, batch, model, info, NULL, NULL);
}

cf_status cf_checkpoint_load_full(const char *path, const cf_backend *be, int batch, cf_model **model,
                                  cf_checkpoint_info *info, cf_space **space) {
    return load_any(path, be, batch, model, info, NULL, space);
}

cf_status cf_checkpoint_convert(const char *src, const char *dst) {
    cf_model *m = NULL;
    cf_checkpoint_info info;
    cJSON *h = NULL;
    CF_TRY(load_any(src, cf_backend_cpu_ref(), 1, &m, &info, &h, NULL));
    slot *slots = NULL;
    int n = 0;
    cf_status st = make_slots(dst, m, 0, &slots, &n);
    if (st != CF_OK) goto exit;
    /* the header as read, less what belongs to a state */
    cJSON_DeleteItemFromObject(h, "resume");
    if (!cf_json_has(h, "test_acc")) add_exact(h, "test_acc", -1);
    cJSON *tensors = tensors_json(slots, n);
    if (!tensors) {
        st = cf_error_set(CF_ERR_OUT_OF_MEMORY, __FILE__, __LINE__, "%s: no memory for the header", dst);
        goto exit;
    }
    cJSON_DeleteItemFromObject(h, "tensors");
    cJSON_AddItemToObject(h, "tensors", tensors);
    const float *base[BLOCK_COUNT] = {m->param, m->state, NULL};
    st = write_file(dst, &k_model, h, base, slots, n);
exit:
    free(slots);
    cJSON_Delete(h);
    cf_model_destroy(m);
    return st;
}

/* ---- training states -------------------------------------------------------- */

cf_status cf_trainstate_save(const char *path, const cf_space *s, const char *arch_text, const cf_model *m,
                             const float *momentum, const cf_train_config *cfg, const cf_train_result *res) {
    if (m->pelem != sizeof(float)) CF_FAIL(CF_ERR_UNSUPPORTED, "%s: only f32 weights are saved", path);
    CF_TRY(cf_model_to_host(m)); /* a model trained on a GPU */
    slot *slots;
    int n;
    CF_TRY(make_slots(path, m, 1, &slots, &n));
    cf_space *own = NULL;
    char net_text[CF_ARCH_TEXT_MAX];
    cf_status pst = plain_network(&s, &arch_text, &own, net_text);
    cJSON *h = pst == CF_OK ? make_header(s, arch_text, m, cfg, res, -1, slots, n) : NULL;
    free(own);
    if (pst != CF_OK) {
        free(slots);
        return pst;
    }
    cJSON *resume = h ? cJSON_CreateObject() : NULL;
    cf_status st = CF_OK;
    if (!resume) {
        cJSON_Delete(h);
        st = cf_error_set(CF_ERR_OUT_OF_MEMORY, __FILE__, __LINE__, "%s: no memory for the header", path);
        goto exit;
    }
    cJSON_DeleteItemFromObject(h, "test_acc");
    cJSON_AddItemToObject(h, "resume", resume);
    char seed[24];
    snprintf(seed, sizeof seed, "%" PRIu64, cfg->seed);
    cJSON_AddNumberToObject(resume, "epochs_done", res->epochs_done);
    cJSON_AddNumberToObject(resume, "step", (double)m->step);
    cJSON_AddStringToObject(resume, "seed", seed); /* 64 bits do not fit a JSON number */
    add_exact(resume, "max_epoch_fraction", cfg->max_epoch_fraction);
    cJSON_AddNumberToObject(resume, "n_params", (double)m->n_params);
    if (res->loss_scale > 0) add_exact(resume, "loss_scale", res->loss_scale); /* fp16 */
    if (res->loss_scale > 0) cJSON_AddNumberToObject(resume, "scale_good", res->scale_good);
    const float *base[BLOCK_COUNT] = {m->param, m->state, momentum};
    st = write_file(path, &k_state, h, base, slots, n);
    cJSON_Delete(h);
exit:
    free(slots);
    return st;
}

/* A number of the header that must equal this run's. */
static cf_status expect_number(cf_json_reader *r, const cJSON *obj, const char *key, double want,
                               const char *what) {
    double got = 0;
    const cJSON *v = cf_json_has(obj, key);
    if (v && cJSON_IsBool(v)) got = cJSON_IsTrue(v) ? 1 : 0;
    else CF_TRY(cf_json_get_number(r, obj, key, CF_JSON_REQUIRED, -HUGE_VAL, HUGE_VAL, &got));
    if (got != want) {
        size_t mark = cf_json_enter_key(r, key);
        cf_status st = cf_json_fail(r, CF_ERR_INVALID_ARG, "%.15g in the file, %.15g in %s", got, want, what);
        cf_json_leave(r, mark);
        return st;
    }
    return CF_OK;
}

/* The file was written for this space, architecture, network and training configuration. */
static cf_status check_identity(cf_json_reader *r, const cJSON *h, const cf_space *s, const char *arch_text,
                                const cf_train_config *cfg, const cf_model *m) {
    char name[32], arch[CF_ARCH_TEXT_MAX];
    const cJSON *sp, *opts, *geom, *train, *resume;
    CF_TRY(cf_json_get_object(r, h, "space", CF_JSON_REQUIRED, &sp));
    size_t mark = cf_json_enter_key(r, "space");
    CF_TRY(cf_json_get_string(r, sp, "name", CF_JSON_REQUIRED, 1, name, sizeof name));
    if (strcmp(name, s->name) != 0)
        return cf_json_fail(r, CF_ERR_INVALID_ARG, "space \"%s\" in the file, \"%s\" in this run", name, s->name);
    CF_TRY(cf_json_get_object(r, sp, "options", CF_JSON_REQUIRED, &opts));
    size_t mark_opts = cf_json_enter_key(r, "options");
    for (int k = 0; k < s->n_options; k++)
        CF_TRY(expect_number(r, opts, s->options[k].name, s->options[k].value, "this run"));
    if (cJSON_GetArraySize(opts) != s->n_options)
        return cf_json_fail(r, CF_ERR_INVALID_ARG, "%d options in the file, %d in this run's space",
                            cJSON_GetArraySize(opts), s->n_options);
    cf_json_leave(r, mark_opts);
    cf_json_leave(r, mark);

    CF_TRY(cf_json_get_string(r, h, "arch", CF_JSON_REQUIRED, 1, arch, sizeof arch));
    if (strcmp(arch, arch_text) != 0) {
        cf_json_enter_key(r, "arch");
        return cf_json_fail(r, CF_ERR_INVALID_ARG, "the file holds \"%s\", this trial is \"%s\"", arch, arch_text);
    }
    const cf_net_input *in = &m->net->input;
    CF_TRY(cf_json_get_array(r, h, "input", CF_JSON_REQUIRED, 3, 3, &geom));
    const int dims[3] = {in->c, in->h, in->w};
    for (int d = 0; d < 3; d++) {
        const cJSON *v = cJSON_GetArrayItem(geom, d);
        if (!cJSON_IsNumber(v) || v->valuedouble != dims[d]) {
            cf_json_enter_key(r, "input");
            return cf_json_fail(r, CF_ERR_INVALID_ARG, "not the network's input %dx%dx%d (c, h, w)", in->c, in->h,
                                in->w);
        }
    }
    CF_TRY(expect_number(r, h, "classes", in->classes, "this network"));

    CF_TRY(cf_json_get_object(r, h, "resume", CF_JSON_REQUIRED, &resume));
    mark = cf_json_enter_key(r, "resume");
    CF_TRY(expect_number(r, resume, "n_params", (double)m->n_params, "this network"));
    char seed[24], want_seed[24];
    CF_TRY(cf_json_get_string(r, resume, "seed", CF_JSON_REQUIRED, 1, seed, sizeof seed));
    snprintf(want_seed, sizeof want_seed, "%" PRIu64, cfg->seed);
    if (strcmp(seed, want_seed) != 0) {
        size_t mark_seed = cf_json_enter_key(r, "seed");
        cf_status st = cf_json_fail(r, CF_ERR_INVALID_ARG, "%s in the file, %s in this run", seed, want_seed);
        cf_json_leave(r, mark_seed);
        return st;
    }
    CF_TRY(expect_number(r, resume, "max_epoch_fraction", cfg->max_epoch_fraction, "this run"));
    cf_json_leave(r, mark);

    /* Everything that shapes the run; the time limit, the divergence limit and
     * the callbacks may change between the interrupted run and its resumption. */
    const struct {
        const char *key;
        double value;
    } fields[] = {
        {"epochs", cfg->epochs},
        {"batch", cfg->batch},
        {"lr", cfg->lr},
        {"lr_min", cfg->lr_min},
        {"warmup_epochs", cfg->warmup_epochs},
        {"momentum", cfg->momentum},
        {"nesterov", cfg->nesterov != 0},
        {"weight_decay", cfg->weight_decay},
        {"label_smoothing", cfg->label_smoothing},
        {"grad_clip", cfg->grad_clip},
        {"drop_path", cfg->drop_path},
        {"aux_weight", cfg->aux_weight},
        {"crop_pad", cfg->augment.crop_pad},
        {"flip", cfg->augment.flip != 0},
        {"cutout", cfg->augment.cutout},
    };
    CF_TRY(cf_json_get_object(r, h, "train", CF_JSON_REQUIRED, &train));
    mark = cf_json_enter_key(r, "train");
    for (size_t k = 0; k < sizeof fields / sizeof *fields; k++)
        CF_TRY(expect_number(r, train, fields[k].key, fields[k].value, "this run"));
    /* written only when on: a state from before random erasing had none */
    if (cfg->augment.erase > 0 || cf_json_has(train, "erase"))
        CF_TRY(expect_number(r, train, "erase", cfg->augment.erase, "this run"));
    /* the precision, like the rest, is the run's: absent means f32 */
    char saved[16] = "f32";
    CF_TRY(cf_json_get_string(r, train, "precision", CF_JSON_OPTIONAL, 1, saved, sizeof saved));
    if (strcmp(saved, cf_dtype_name(cfg->precision)) != 0)
        return cf_json_fail(r, CF_ERR_INVALID_ARG, "the state was trained in %s, this run is %s", saved,
                            cf_dtype_name(cfg->precision));
    cf_json_leave(r, mark);
    return CF_OK;
}

/* The record of the epochs done: curve, normalization, totals. */
static cf_status read_record(cf_json_reader *r, const cJSON *h, int channels, cf_train_result *res,
                             uint64_t *step) {
    const cJSON *resume, *curve, *norm, *mean, *sd;
    int done;
    double steps;
    CF_TRY(cf_json_get_object(r, h, "resume", CF_JSON_REQUIRED, &resume));
    size_t mark = cf_json_enter_key(r, "resume");
    CF_TRY(cf_json_get_int(r, resume, "epochs_done", CF_JSON_REQUIRED, 0, CF_TRAIN_MAX_EPOCHS, &done));
    CF_TRY(cf_json_get_number(r, resume, "step", CF_JSON_REQUIRED, 0, 9007199254740992.0, &steps));
    double scale = 0;
    CF_TRY(cf_json_get_number(r, resume, "loss_scale", CF_JSON_OPTIONAL, 0, 3.4e38, &scale));
    CF_TRY(cf_json_get_int(r, resume, "scale_good", CF_JSON_OPTIONAL, 0, CF_LOSS_SCALE_GROWTH, &res->scale_good));
    res->loss_scale = (float)scale;
    cf_json_leave(r, mark);
    CF_TRY(cf_json_get_array(r, h, "curve", CF_JSON_REQUIRED, done, done, &curve));
    mark = cf_json_enter_key(r, "curve");
    for (int e = 0; e < done; e++) {
        const cJSON *o = cJSON_GetArrayItem(curve, e);
        cf_epoch_record *rec = &res->curve[e];
        size_t at = cf_json_enter_index(r, e);
        CF_TRY(cf_json_as_object(r, o));
        CF_TRY(cf_json_get_int(r, o, "epoch", CF_JSON_REQUIRED, e, e, &rec->epoch));
        CF_TRY(cf_json_get_number(r, o, "train_loss", CF_JSON_REQUIRED, -HUGE_VAL, HUGE_VAL, &rec->train_loss));
        CF_TRY(cf_json_get_number(r, o, "train_acc", CF_JSON_REQUIRED, 0, 1, &rec->train_acc));
        CF_TRY(cf_json_get_number(r, o, "val_acc", CF_JSON_REQUIRED, -1, 1, &rec->val_acc));
        CF_TRY(cf_json_get_number(r, o, "lr", CF_JSON_REQUIRED, -HUGE_VAL, HUGE_VAL, &rec->lr));
        CF_TRY(cf_json_get_number(r, o, "seconds", CF_JSON_REQUIRED, 0, HUGE_VAL, &rec->seconds));
        cf_json_leave(r, at);
    }
    cf_json_leave(r, mark);
    CF_TRY(cf_json_get_object(r, h, "normalize", CF_JSON_REQUIRED, &norm));
    mark = cf_json_enter_key(r, "normalize");
    CF_TRY(cf_json_get_array(r, norm, "mean", CF_JSON_REQUIRED, channels, channels, &mean));
    CF_TRY(cf_json_get_array(r, norm, "std", CF_JSON_REQUIRED, channels, channels, &sd));
    for (int c = 0; c < channels; c++) {
        size_t at = cf_json_enter_key(r, "mean");
        cf_json_enter_index(r, c);
        double v;
        CF_TRY(cf_json_as_number(r, cJSON_GetArrayItem(mean, c), -HUGE_VAL, HUGE_VAL, &v));
        res->mean[c] = (float)v;
        cf_json_leave(r, at);
        at = cf_json_enter_key(r, "std");
        cf_json_enter_index(r, c);
        CF_TRY(cf_json_as_number(r, cJSON_GetArrayItem(sd, c), 0, HUGE_VAL, &v));
        res->std[c] = (float)v;
        cf_json_leave(r, at);
    }
    cf_json_leave(r, mark);
    CF_TRY(cf_json_get_number(r, h, "val_acc", CF_JSON_REQUIRED, -1, 1, &res->val_acc));
    CF_TRY(cf_json_get_number(r, h, "seconds", CF_JSON_REQUIRED, 0, HUGE_VAL, &res->seconds));
    CF_TRY(cf_json_get_number(r, h, "images_per_s", CF_JSON_REQUIRED, 0, HUGE_VAL, &res->images_per_s));
    res->epochs_done = done;
    res->status = CF_TRAIN_OK;
    res->reason[0] = 0;
    *step = (uint64_t)steps;
    return CF_OK;
}

cf_status cf_trainstate_load(const char *path, const cf_space *s, const char *arch_text,
                             const cf_train_config *cfg, cf_model *m, float *momentum, cf_train_result *res) {
    if (m->pelem != sizeof(float)) CF_FAIL(CF_ERR_UNSUPPORTED, "%s: only f32 weights are restored", path);
    if (m->net->input.c > 4)
        CF_FAIL(CF_ERR_UNSUPPORTED, "%s: %d input channels (at most 4)", path, m->net->input.c);
    unsigned char *buf = NULL;
    size_t size = 0, hl = 0;
    cJSON *h = NULL;
    /* a training state is a file of a run directory: never read through a symlink */
    CF_TRY(read_file(path, CF_FILE_NOFOLLOW, &k_state, NULL, NULL, &buf, &size, &h, &hl));
    cf_status st = CF_OK;
    slot *slots = NULL;
    int n = 0;
    uint64_t step = 0;
    cf_json_reader r;
    cf_json_reader_init(&r, path);
    cf_space *own = NULL;
    char net_text[CF_ARCH_TEXT_MAX];
    st = plain_network(&s, &arch_text, &own, net_text);
    if (st == CF_OK) st = check_identity(&r, h, s, arch_text, cfg, m);
    free(own);
    if (st != CF_OK) goto exit;
    memset(res, 0, sizeof *res);
    CF_TRY_GOTO(st, read_record(&r, h, m->net->input.c, res, &step), exit);
    CF_TRY_GOTO(st, make_slots(path, m, 1, &slots, &n), exit);
    float *base[BLOCK_COUNT] = {m->param, m->state, momentum};
    CF_TRY_GOTO(st, check_tensors(path, h, size, hl, slots, n), exit);
    /* The alignment gaps between tensors are not in the file. Their momentum
     * must be 0 as in a run from the start: the update would carry anything
     * else into the weights' gaps, which no op reads but a comparison of the
     * parameter blocks would see. */
    memset(momentum, 0, m->n_params * sizeof *momentum);
    copy_tensors(buf, hl, base, slots, n);
    cf_model_host_changed(m);
    m->step = step;
exit:
    free(slots);
    cJSON_Delete(h);
    free(buf);
    return st;
}
