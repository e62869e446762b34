/* checkpoint.c - write and read .cfm model files (format in checkpoint.h).
 *
 * Tested by tests/test_checkpoint.c: a round trip gives identical outputs,
 * and truncated, corrupted or foreign files fail with the file and offset.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include <cjson/cJSON.h>

#include "cellforge/checkpoint.h"
#include "../spec/json_read.h"

static const char k_magic[8] = {'C', 'F', 'M', 'O', 'D', 'E', 'L', '1'};

/* One tensor of the file: where its floats live in the model. */
typedef struct slot {
    const float *src;   /* save */
    float *dst;         /* load */
    int64_t shape[4];
    char name[96];
} slot;

/* The tensors in file order; returns the count (slots may be NULL to count). */
static int list_slots(const cf_model *m, slot *slots) {
    const cf_net *net = m->net;
    int n = 0;
    for (int i = 0; i < net->n; i++) {
        const cf_net_layer *l = &net->layers[i];
        for (int k = 0; k < l->n_w; k++, n++) {
            if (!slots) continue;
            slots[n].src = slots[n].dst = cf_model_weight(m, i, k);
            memcpy(slots[n].shape, l->w_shape[k], sizeof slots[n].shape);
            snprintf(slots[n].name, sizeof slots[n].name, "%s.%s", l->name,
                     l->kind == CF_OP_BATCHNORM ? (k ? "beta" : "gamma") : (k ? "bias" : "weight"));
        }
    }
    for (int i = 0; i < net->n; i++) {
        const cf_net_layer *l = &net->layers[i];
        if (l->kind != CF_OP_BATCHNORM) continue;
        for (int k = 0; k < 2; k++, n++) {
            if (!slots) continue;
            slots[n].src = slots[n].dst = cf_model_bn_stat(m, i, k);
            int64_t shape[4] = {l->c, 1, 1, 1};
            memcpy(slots[n].shape, shape, sizeof shape);
            snprintf(slots[n].name, sizeof slots[n].name, "%s.%s", l->name, k ? "running_var" : "running_mean");
        }
    }
    return n;
}

static int64_t numel(const int64_t *s) { return s[0] * s[1] * s[2] * s[3]; }

static cJSON *float_array(const float *v, int n) {
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber(v[i]));
    return a;
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
    for (int k = 0; k < s->n_options; k++) cJSON_AddNumberToObject(opts, s->options[k].name, s->options[k].value);
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
        cJSON_AddNumberToObject(t, "lr", cfg->lr);
        cJSON_AddNumberToObject(t, "lr_min", cfg->lr_min);
        cJSON_AddNumberToObject(t, "warmup_epochs", cfg->warmup_epochs);
        cJSON_AddNumberToObject(t, "momentum", cfg->momentum);
        cJSON_AddBoolToObject(t, "nesterov", cfg->nesterov);
        cJSON_AddNumberToObject(t, "weight_decay", cfg->weight_decay);
        cJSON_AddNumberToObject(t, "label_smoothing", cfg->label_smoothing);
        cJSON_AddNumberToObject(t, "grad_clip", cfg->grad_clip);
        cJSON_AddNumberToObject(t, "drop_path", cfg->drop_path);
        cJSON_AddNumberToObject(t, "aux_weight", cfg->aux_weight);
        cJSON_AddNumberToObject(t, "crop_pad", cfg->augment.crop_pad);
        cJSON_AddBoolToObject(t, "flip", cfg->augment.flip);
        cJSON_AddNumberToObject(t, "cutout", cfg->augment.cutout);
        cJSON_AddNumberToObject(t, "seed", (double)cfg->seed);
    }
    if (res) {
        cJSON *curve = cJSON_AddArrayToObject(h, "curve");
        for (int e = 0; e < res->epochs_done; e++) {
            const cf_epoch_record *r = &res->curve[e];
            cJSON *o = cJSON_CreateObject();
            cJSON_AddNumberToObject(o, "epoch", r->epoch);
            cJSON_AddNumberToObject(o, "train_loss", r->train_loss);
            cJSON_AddNumberToObject(o, "train_acc", r->train_acc);
            cJSON_AddNumberToObject(o, "val_acc", r->val_acc);
            cJSON_AddNumberToObject(o, "lr", r->lr);
            cJSON_AddNumberToObject(o, "seconds", r->seconds);
            cJSON_AddItemToArray(curve, o);
        }
        cJSON_AddStringToObject(h, "status", cf_train_status_name(res->status));
        cJSON_AddStringToObject(h, "reason", res->reason);
        cJSON_AddNumberToObject(h, "val_acc", res->val_acc);
        cJSON_AddNumberToObject(h, "seconds", res->seconds);
        cJSON_AddNumberToObject(h, "images_per_s", res->images_per_s);
    }
    cJSON_AddNumberToObject(h, "test_acc", test_acc);
    cJSON *tensors = cJSON_AddArrayToObject(h, "tensors");
    size_t offset = 0;
    for (int k = 0; k < n_slots; k++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", slots[k].name);
        int shape[4] = {(int)slots[k].shape[0], (int)slots[k].shape[1], (int)slots[k].shape[2],
                        (int)slots[k].shape[3]};
        cJSON_AddItemToObject(o, "shape", cJSON_CreateIntArray(shape, 4));
        cJSON_AddNumberToObject(o, "offset", (double)offset);
        offset += (size_t)numel(slots[k].shape) * sizeof(float);
        cJSON_AddItemToArray(tensors, o);
    }
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

cf_status cf_checkpoint_save(const char *path, const cf_space *s, const char *arch_text,
                             const cf_model *m, const cf_train_config *cfg,
                             const cf_train_result *res, double test_acc) {
    if (m->dtype != CF_DTYPE_F32) CF_FAIL(CF_ERR_UNSUPPORTED, "%s: only f32 models are saved", path);
    int n = list_slots(m, NULL);
    slot *slots = calloc((size_t)(n ? n : 1), sizeof *slots);
    if (!slots) CF_FAIL(CF_ERR_OUT_OF_MEMORY, "%s: no memory", path);
    list_slots(m, slots);
    cJSON *h = make_header(s, arch_text, m, cfg, res, test_acc, slots, n);
    char *text = h ? cJSON_PrintUnformatted(h) : NULL;
    cJSON_Delete(h);
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    cf_status st = CF_OK;
    FILE *f = NULL;
    if (!text) {
        st = cf_error_set(CF_ERR_OUT_OF_MEMORY, __FILE__, __LINE__, "%s: no memory for the header", path);
        goto exit;
    }
    f = fopen(tmp, "wb");
    if (!f) {
        st = cf_error_set(CF_ERR_IO, __FILE__, __LINE__, "%s: cannot create: %s", tmp, strerror(errno));
        goto exit;
    }
    uLong crc = crc32(0L, Z_NULL, 0);
    unsigned char len[8];
    size_t hl = strlen(text);
    le64(len, hl);
    int ok = put(f, k_magic, 8, &crc) && put(f, len, 8, &crc) && put(f, text, hl, &crc);
    for (int k = 0; k < n && ok; k++)
        ok = put(f, slots[k].src, (size_t)numel(slots[k].shape) * sizeof(float), &crc);
    unsigned char c4[4] = {(unsigned char)crc, (unsigned char)(crc >> 8), (unsigned char)(crc >> 16),
                           (unsigned char)(crc >> 24)};
    ok = ok && fwrite(c4, 1, 4, f) == 4 && fflush(f) == 0 && fsync(fileno(f)) == 0;
    int err = errno;
    if (fclose(f) != 0 && ok) {
        ok = 0;
        err = errno;
    }
    f = NULL;
    if (!ok) {
        unlink(tmp);
        st = cf_error_set(CF_ERR_IO, __FILE__, __LINE__, "%s: write failed: %s", tmp, strerror(err));
        goto exit;
    }
    if (rename(tmp, path) != 0) {
        st = cf_error_set(CF_ERR_IO, __FILE__, __LINE__, "%s: cannot rename to %s: %s", tmp, path,
                          strerror(errno));
        unlink(tmp);
    }
exit:
    free(text);
    free(slots);
    return st;
}

/* The whole file in memory, with its CRC checked. */
static cf_status read_all(const char *path, unsigned char **out, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) CF_FAIL(CF_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    unsigned char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n == cap) {
            cap = cap ? cap * 2 : 1 << 20;
            unsigned char *b = realloc(buf, cap);
            if (!b) {
                free(buf);
                fclose(f);
                CF_FAIL(CF_ERR_OUT_OF_MEMORY, "%s: no memory to read it", path);
            }
            buf = b;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        CF_FAIL(CF_ERR_IO, "%s: read error", path);
    }
    *out = buf;
    *size = n;
    return CF_OK;
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
    cf_space *s = NULL;
    if (cf_space_load(name, &s) != CF_OK) {
        if (!file[0] || cf_space_load(file, &s) != CF_OK)
            return cf_error_set(CF_ERR_IO, __FILE__, __LINE__,
                                "%s: space \"%s\" of this model is not in %s (nor at %s)", path, name,
                                cf_space_dir(), file[0] ? file : "a recorded path");
    }
    const cJSON *opts;
    CF_TRY(cf_json_get_object(&r, sp, "options", CF_JSON_REQUIRED, &opts));
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

cf_status cf_checkpoint_load(const char *path, const cf_backend *be, int batch, cf_model **model,
                             cf_checkpoint_info *info) {
    *model = NULL;
    memset(info, 0, sizeof *info);
    unsigned char *buf = NULL;
    size_t size = 0;
    CF_TRY(read_all(path, &buf, &size));
    cf_status st = CF_OK;
    cJSON *h = NULL;
    cf_space *s = NULL;
    cf_model *m = NULL;
    char *text = NULL;
    if (size < 20 || memcmp(buf, k_magic, 8) != 0) {
        st = cf_error_set(CF_ERR_PARSE, __FILE__, __LINE__,
                          "%s: byte 0: not a cellforge model (expected \"CFMODEL1\"; made by `cellforge train --out`)",
                          path);
        goto exit;
    }
    uint64_t hl = 0;
    for (int i = 0; i < 8; i++) hl |= (uint64_t)buf[8 + i] << (8 * i);
    if (hl > size - 20) {
        st = cf_error_set(CF_ERR_PARSE, __FILE__, __LINE__,
                          "%s: byte 8: header of %llu bytes in a file of %zu: truncated", path,
                          (unsigned long long)hl, size);
        goto exit;
    }
    uLong crc = crc32(crc32(0L, Z_NULL, 0), buf, (uInt)(size - 4));
    uLong want = (uLong)buf[size - 4] | (uLong)buf[size - 3] << 8 | (uLong)buf[size - 2] << 16 |
                 (uLong)buf[size - 1] << 24;
    if (crc != want) {
        st = cf_error_set(CF_ERR_PARSE, __FILE__, __LINE__,
                          "%s: byte %zu: CRC-32 %08lx does not match the contents (%08lx): the file "
                          "is damaged or truncated", path, size - 4, want, crc);
        goto exit;
    }
    text = malloc(hl + 1);
    if (!text) {
        st = cf_error_set(CF_ERR_OUT_OF_MEMORY, __FILE__, __LINE__, "%s: no memory", path);
        goto exit;
    }
    memcpy(text, buf + 16, hl);
    text[hl] = 0;
    CF_TRY_GOTO(st, cf_json_parse(text, path, &h), exit);
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
    int n = list_slots(m, NULL);
    slot *slots = calloc((size_t)(n ? n : 1), sizeof *slots);
    if (!slots) {
        st = cf_error_set(CF_ERR_OUT_OF_MEMORY, __FILE__, __LINE__, "%s: no memory", path);
        goto exit;
    }
    list_slots(m, slots);
    const cJSON *tensors;
    size_t data = 16 + hl, avail = size - 4 - data, offset = 0;
    st = cf_json_get_array(&r, h, "tensors", CF_JSON_REQUIRED, n, n, &tensors);
    for (int k = 0; k < n && st == CF_OK; k++) {
        const cJSON *t = cJSON_GetArrayItem(tensors, k), *name = cf_json_has(t, "name");
        size_t bytes = (size_t)numel(slots[k].shape) * sizeof(float);
        if (!name || !cJSON_IsString(name) || strcmp(name->valuestring, slots[k].name) != 0) {
            st = cf_error_set(CF_ERR_PARSE, __FILE__, __LINE__,
                              "%s: $.tensors[%d]: expected tensor \"%s\" of this network, found \"%s\"", path, k,
                              slots[k].name, name && cJSON_IsString(name) ? name->valuestring : "?");
        } else if (offset + bytes > avail) {
            st = cf_error_set(CF_ERR_PARSE, __FILE__, __LINE__, "%s: byte %zu: tensor %s runs past the data",
                              path, data + offset, slots[k].name);
        } else {
            memcpy(slots[k].dst, buf + data + offset, bytes);
            offset += bytes;
        }
    }
    if (st == CF_OK && offset != avail)
        st = cf_error_set(CF_ERR_PARSE, __FILE__, __LINE__, "%s: byte %zu: %zu bytes left after the last tensor",
                          path, data + offset, avail - offset);
    free(slots);
exit:
    if (st != CF_OK) {
        cf_model_destroy(m);
        m = NULL;
    }
    *model = m;
    cJSON_Delete(h);
    cf_space_destroy(s);
    free(text);
    free(buf);
    return st;
}
