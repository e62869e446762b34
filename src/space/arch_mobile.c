/* arch_mobile.c - the mobile family: stages of MBConv blocks.
 *
 * An arch is, per stage, a depth and per block a kernel size and an expand
 * ratio, stored as indices into space->kernels and space->expands. The text
 * form names the values: `k3e4-k5e6|k3e3|...` (stages split by '|', blocks by
 * '-'). There is no graph to relabel, so the canonical form is the arch
 * itself with every unused slot zeroed.
 *
 * Stages and blocks are numbered from 0 in messages, as in the layer names
 * ("stages.2.block1.dw").
 *
 * Tested by tests/test_arch_nb101_mobile.c.
 */
#include <stdio.h>
#include <string.h>

#include "family.h"
#include "scan.h"

/* "3, 5, 7" */
static const char *choices_text(const int *v, int n, char *buf, size_t cap) {
    size_t len = 0;
    buf[0] = 0;
    for (int i = 0; i < n && len < cap; i++)
        len += (size_t)snprintf(buf + len, cap - len, i ? ", %d" : "%d", v[i]);
    return buf;
}

static int index_of(const int *v, int n, int value) {
    for (int i = 0; i < n; i++)
        if (v[i] == value) return i;
    return -1;
}

static int stage_most(const cf_space *s, int st) {
    int d = s->stages[st].max_depth;
    return d < CF_MOBILE_MAX_DEPTH ? d : CF_MOBILE_MAX_DEPTH;
}

/* Zero every slot past the depth of each stage and past the stage count. */
static void zero_unused(const cf_space *s, cf_arch *a) {
    for (int st = 0; st < CF_MOBILE_MAX_STAGES; st++) {
        int d = st < a->n_stages ? a->depth[st] : 0;
        if (st >= a->n_stages) a->depth[st] = 0;
        for (int b = d < 0 ? 0 : d; b < CF_MOBILE_MAX_DEPTH; b++) {
            a->kernel[st][b] = 0;
            a->expand[st][b] = 0;
        }
    }
}

/* ---- validation ---------------------------------------------------------- */

static cf_status mobile_validate(const cf_space *s, const cf_arch *a) {
    if (a->n_stages != s->n_stages)
        CF_FAIL(CF_ERR_INVALID_ARG, "mobile: %d stages; space %s has %d", a->n_stages, s->name,
                s->n_stages);
    for (int st = 0; st < s->n_stages; st++) {
        int d = a->depth[st];
        if (d < s->stages[st].min_depth || d > stage_most(s, st))
            CF_FAIL(CF_ERR_INVALID_ARG, "mobile: stage %d has %d blocks; space %s allows %d to %d",
                    st, d, s->name, s->stages[st].min_depth, stage_most(s, st));
        for (int b = 0; b < d; b++) {
            if (a->kernel[st][b] < 0 || a->kernel[st][b] >= s->n_kernels)
                CF_FAIL(CF_ERR_INVALID_ARG, "mobile: stage %d block %d: kernel choice %d out of "
                        "range (space %s has %d)", st, b, a->kernel[st][b], s->name, s->n_kernels);
            if (a->expand[st][b] < 0 || a->expand[st][b] >= s->n_expands)
                CF_FAIL(CF_ERR_INVALID_ARG, "mobile: stage %d block %d: expand choice %d out of "
                        "range (space %s has %d)", st, b, a->expand[st][b], s->name, s->n_expands);
        }
    }
    return CF_OK;
}

/* ---- text ---------------------------------------------------------------- */

/* One block "k<kernel>e<expand>" into choice indices. */
static cf_status parse_block(const cf_space *s, cf_scan *sc, int st, int b, int8_t *k, int8_t *e) {
    char allowed[64];
    int value, col;
    CF_TRY(cf_scan_expect(sc, 'k'));
    col = cf_scan_column(sc);
    CF_TRY(cf_scan_int(sc, &value));
    int ki = index_of(s->kernels, s->n_kernels, value);
    if (ki < 0)
        return cf_scan_fail(sc, col, "stage %d block %d: kernel %d is not in space %s (allowed: "
                            "%s)", st, b, value, s->name,
                            choices_text(s->kernels, s->n_kernels, allowed, sizeof allowed));
    CF_TRY(cf_scan_expect(sc, 'e'));
    col = cf_scan_column(sc);
    CF_TRY(cf_scan_int(sc, &value));
    int ei = index_of(s->expands, s->n_expands, value);
    if (ei < 0)
        return cf_scan_fail(sc, col, "stage %d block %d: expand ratio %d is not in space %s "
                            "(allowed: %s)", st, b, value, s->name,
                            choices_text(s->expands, s->n_expands, allowed, sizeof allowed));
    *k = (int8_t)ki;
    *e = (int8_t)ei;
    return CF_OK;
}

static cf_status mobile_parse(const cf_space *s, const char *text, cf_arch *out) {
    cf_scan sc = {text, text};
    int st = 0;
    for (;; st++) {
        cf_scan_ws(&sc);
        int stage_col = cf_scan_column(&sc);
        if (st >= s->n_stages || st >= CF_MOBILE_MAX_STAGES)
            return cf_scan_fail(&sc, stage_col, "stage %d is one too many: space %s has %d stages "
                                "(split by '|')", st, s->name, s->n_stages);
        int d = 0;
        if (*sc.p != '|' && *sc.p != 0) {
            for (;; d++) {
                cf_scan_ws(&sc);
                int block_col = cf_scan_column(&sc);
                if (d >= stage_most(s, st))
                    return cf_scan_fail(&sc, block_col, "stage %d has more than %d blocks; space "
                                        "%s allows %d to %d", st, stage_most(s, st), s->name,
                                        s->stages[st].min_depth, stage_most(s, st));
                CF_TRY(parse_block(s, &sc, st, d, &out->kernel[st][d], &out->expand[st][d]));
                if (!cf_scan_accept(&sc, '-')) break;
            }
            d++;
        }
        if (d < s->stages[st].min_depth)
            return cf_scan_fail(&sc, stage_col, "stage %d has %d blocks; space %s allows %d to %d",
                                st, d, s->name, s->stages[st].min_depth, stage_most(s, st));
        out->depth[st] = (int8_t)d;
        if (cf_scan_accept(&sc, '|')) continue;
        cf_scan_ws(&sc);
        if (*sc.p) {
            char got[32];
            return cf_scan_fail(&sc, 0, "expected '-' (next block), '|' (next stage) or the end, "
                                "got %s", cf_scan_describe(&sc, got, sizeof got));
        }
        break;
    }
    if (st + 1 != s->n_stages)
        return cf_scan_fail(&sc, 0, "%d stage%s; space %s has %d (split by '|')", st + 1,
                            st ? "s" : "", s->name, s->n_stages);
    out->n_stages = (int8_t)s->n_stages;
    return CF_OK;
}

/* "-kKeE" per block, "|" per stage, the NUL. */
static size_t mobile_text_max(const cf_space *s) {
    size_t k = 1, e = 1;
    for (int i = 0; i < s->n_kernels; i++)
        if (cf_arch_digits(s->kernels[i]) > k) k = cf_arch_digits(s->kernels[i]);
    for (int i = 0; i < s->n_expands; i++)
        if (cf_arch_digits(s->expands[i]) > e) e = cf_arch_digits(s->expands[i]);
    size_t blocks = 0;
    for (int i = 0; i < s->n_stages; i++) blocks += (size_t)s->stages[i].max_depth;
    return blocks * (3 + k + e) + (size_t)s->n_stages + 1;
}

static cf_status mobile_format(const cf_space *s, const cf_arch *a, char *buf, size_t cap) {
    /* At most 8 stages of 8 blocks of "-k7e6"-sized text: far below tmp's size. */
    char tmp[1024];
    size_t len = 0;
    for (int st = 0; st < a->n_stages && st < CF_MOBILE_MAX_STAGES; st++) {
        for (int b = 0; b < a->depth[st] && b < CF_MOBILE_MAX_DEPTH; b++) {
            int k = a->kernel[st][b], e = a->expand[st][b];
            int kv = k >= 0 && k < s->n_kernels ? s->kernels[k] : 0;
            int ev = e >= 0 && e < s->n_expands ? s->expands[e] : 0;
            len += (size_t)snprintf(tmp + len, sizeof tmp - len, "%sk%de%d", b ? "-" : "", kv, ev);
        }
        if (st + 1 < a->n_stages) len += (size_t)snprintf(tmp + len, sizeof tmp - len, "|");
    }
    if (len + 1 > cap)
        CF_FAIL(CF_ERR_INVALID_ARG, "mobile: a buffer of %zu bytes is too small for the arch "
                "text (%zu needed)", cap, len + 1);
    memcpy(buf, tmp, len + 1);
    return CF_OK;
}

/* ---- canonical, sampling, neighborhoods ------------------------------------ */

static void mobile_canonical(const cf_space *s, const cf_arch *a, cf_arch *out) {
    cf_arch c;
    memset(&c, 0, sizeof c);
    c.n_stages = a->n_stages;
    memcpy(c.depth, a->depth, sizeof c.depth);
    memcpy(c.kernel, a->kernel, sizeof c.kernel);
    memcpy(c.expand, a->expand, sizeof c.expand);
    zero_unused(s, &c);
    *out = c;
}

static void mobile_sample(const cf_space *s, cf_rng *rng, cf_arch *out) {
    memset(out, 0, sizeof *out);
    out->n_stages = (int8_t)s->n_stages;
    for (int st = 0; st < s->n_stages; st++) {
        int lo = s->stages[st].min_depth, hi = stage_most(s, st);
        int d = lo + (int)cf_rng_below(rng, (uint32_t)(hi - lo + 1));
        out->depth[st] = (int8_t)d;
        for (int b = 0; b < d; b++) {
            out->kernel[st][b] = (int8_t)cf_rng_below(rng, (uint32_t)s->n_kernels);
            out->expand[st][b] = (int8_t)cf_rng_below(rng, (uint32_t)s->n_expands);
        }
    }
}

static size_t emit(const cf_arch *c, cf_arch *out, size_t cap, size_t count) {
    if (count < cap) out[count] = *c;
    return count + 1;
}

static size_t mobile_neighbors(const cf_space *s, const cf_arch *a, cf_arch *out, size_t cap) {
    cf_arch base;
    mobile_canonical(s, a, &base);
    size_t count = 0;
    for (int st = 0; st < base.n_stages; st++) {
        int d = base.depth[st];
        for (int b = 0; b < d; b++) {
            for (int k = 0; k < s->n_kernels; k++) {
                if (k == base.kernel[st][b]) continue;
                cf_arch c = base;
                c.kernel[st][b] = (int8_t)k;
                count = emit(&c, out, cap, count);
            }
            for (int e = 0; e < s->n_expands; e++) {
                if (e == base.expand[st][b]) continue;
                cf_arch c = base;
                c.expand[st][b] = (int8_t)e;
                count = emit(&c, out, cap, count);
            }
        }
        if (d > s->stages[st].min_depth) {
            cf_arch c = base;
            c.depth[st] = (int8_t)(d - 1);
            c.kernel[st][d - 1] = c.expand[st][d - 1] = 0;
            count = emit(&c, out, cap, count);
        }
        if (d < stage_most(s, st)) {
            /* The new block copies the last one (choice 0 in an empty stage). */
            cf_arch c = base;
            c.depth[st] = (int8_t)(d + 1);
            c.kernel[st][d] = d ? base.kernel[st][d - 1] : 0;
            c.expand[st][d] = d ? base.expand[st][d - 1] : 0;
            count = emit(&c, out, cap, count);
        }
    }
    return count;
}

static void mobile_crossover(const cf_space *s, cf_rng *rng, const cf_arch *a, const cf_arch *b,
                             cf_arch *out) {
    cf_arch c;
    mobile_canonical(s, a, &c);
    for (int st = 0; st < c.n_stages && st < CF_MOBILE_MAX_STAGES; st++) {
        if (!(cf_rng_u32(rng) & 1)) continue;
        c.depth[st] = b->depth[st];
        memcpy(c.kernel[st], b->kernel[st], sizeof c.kernel[st]);
        memcpy(c.expand[st], b->expand[st], sizeof c.expand[st]);
    }
    zero_unused(s, &c);
    *out = c;
}

/* ---- encodings, size, enumeration ------------------------------------------ */

/* ONEHOT: per stage, per slot up to max_depth, [present, one-hot kernel,
 * one-hot expand]. A chain of blocks has exactly one input-to-output path, so
 * PATH is the same vector. */
static size_t mobile_encoding_size(const cf_space *s, cf_arch_encoding kind) {
    size_t per_slot = 1 + (size_t)s->n_kernels + (size_t)s->n_expands, total = 0;
    for (int st = 0; st < s->n_stages; st++) total += (size_t)stage_most(s, st) * per_slot;
    return total;
}

static void mobile_encode(const cf_space *s, const cf_arch *a, cf_arch_encoding kind, float *out) {
    size_t per_slot = 1 + (size_t)s->n_kernels + (size_t)s->n_expands, at = 0;
    for (int st = 0; st < s->n_stages; st++) {
        for (int b = 0; b < stage_most(s, st); b++, at += per_slot) {
            if (st >= a->n_stages || b >= a->depth[st]) continue;
            out[at] = 1.0f;
            out[at + 1 + (size_t)a->kernel[st][b]] = 1.0f;
            out[at + 1 + (size_t)s->n_kernels + (size_t)a->expand[st][b]] = 1.0f;
        }
    }
}

/* Product over stages of the sum over depths d of (kernels * expands)^d. */
static double mobile_size(const cf_space *s) {
    double total = 1, per_block = (double)s->n_kernels * s->n_expands;
    for (int st = 0; st < s->n_stages; st++) {
        double stage = 0, t = 1;
        for (int d = 0; d <= stage_most(s, st); d++, t *= per_block)
            if (d >= s->stages[st].min_depth) stage += t;
        total *= stage;
    }
    return total;
}

typedef struct mobile_walk {
    const cf_space *s;
    int (*fn)(const cf_arch *a, void *ctx);
    void *ctx;
    cf_arch a;
} mobile_walk;

/* Visit every choice of blocks b.. of stage st and of the stages after it;
 * returns nonzero when the visitor stopped. Depths ascend, then choices in
 * odometer order with the last block fastest. */
static int walk_blocks(mobile_walk *w, int st, int b);

static int walk_stage(mobile_walk *w, int st) {
    const cf_space *s = w->s;
    if (st == s->n_stages) return w->fn(&w->a, w->ctx);
    for (int d = s->stages[st].min_depth; d <= stage_most(s, st); d++) {
        w->a.depth[st] = (int8_t)d;
        if (walk_blocks(w, st, 0)) return 1;
    }
    w->a.depth[st] = 0;
    return 0;
}

static int walk_blocks(mobile_walk *w, int st, int b) {
    if (b == w->a.depth[st]) return walk_stage(w, st + 1);
    for (int k = 0; k < w->s->n_kernels; k++)
        for (int e = 0; e < w->s->n_expands; e++) {
            w->a.kernel[st][b] = (int8_t)k;
            w->a.expand[st][b] = (int8_t)e;
            if (walk_blocks(w, st, b + 1)) return 1;
        }
    w->a.kernel[st][b] = w->a.expand[st][b] = 0;
    return 0;
}

static cf_status mobile_enumerate(const cf_space *s, int (*fn)(const cf_arch *a, void *ctx),
                                  void *ctx) {
    mobile_walk w;
    memset(&w, 0, sizeof w);
    w.s = s;
    w.fn = fn;
    w.ctx = ctx;
    w.a.n_stages = (int8_t)s->n_stages;
    walk_stage(&w, 0);
    return CF_OK;
}

/* ---- the family's part of a space file, and its description ----------------------- */

/* An array of distinct integers in lo..hi (odd ones only if odd), 1..CF_MOBILE_MAX_CHOICES long. */
static cf_status parse_choices(cf_json_reader *r, const cJSON *obj, const char *key, int lo, int hi, int odd,
                               int *vals, int *n) {
    const cJSON *arr = NULL;
    CF_TRY(cf_json_get_array(r, obj, key, CF_JSON_REQUIRED, 1, CF_MOBILE_MAX_CHOICES, &arr));
    size_t mark = cf_json_enter_key(r, key);
    cf_status st = CF_OK;
    int i = 0;
    for (const cJSON *v = arr->child; v && st == CF_OK; v = v->next, i++) {
        size_t m = cf_json_enter_index(r, i);
        st = cf_json_as_int(r, v, lo, hi, &vals[i]);
        if (st == CF_OK && odd && vals[i] % 2 == 0)
            st = cf_json_fail(r, CF_ERR_PARSE, "expected an odd kernel size (1, 3, 5 or 7), got %d", vals[i]);
        for (int j = 0; j < i && st == CF_OK; j++)
            if (vals[j] == vals[i]) st = cf_json_fail(r, CF_ERR_PARSE, "duplicate value %d (also [%d])", vals[i], j);
        cf_json_leave(r, m);
    }
    cf_json_leave(r, mark);
    CF_TRY(st);
    *n = i;
    return CF_OK;
}

static cf_status parse_blocks(cf_json_reader *r, const cJSON *blocks, cf_space *s) {
    static const char *const keys[] = {"kernels", "expands"};
    CF_TRY(cf_json_check_keys(r, blocks, keys, sizeof keys / sizeof keys[0]));
    CF_TRY(parse_choices(r, blocks, "kernels", 1, 7, 1, s->kernels, &s->n_kernels));
    CF_TRY(parse_choices(r, blocks, "expands", 1, 8, 0, s->expands, &s->n_expands));
    return CF_OK;
}

static cf_status parse_stage(cf_json_reader *r, const cJSON *v, cf_mobile_stage *st) {
    static const char *const keys[] = {"channels", "stride", "depth"};
    CF_TRY(cf_json_as_object(r, v));
    CF_TRY(cf_json_check_keys(r, v, keys, sizeof keys / sizeof keys[0]));
    CF_TRY(cf_json_get_int(r, v, "channels", CF_JSON_REQUIRED, 1, 4096, &st->channels));
    CF_TRY(cf_json_get_int(r, v, "stride", CF_JSON_REQUIRED, 1, 2, &st->stride));
    const cJSON *d = NULL;
    CF_TRY(cf_json_get_member(r, v, "depth", CF_JSON_REQUIRED, &d));
    size_t mark = cf_json_enter_key(r, "depth");
    cf_status s = CF_OK;
    if (cJSON_IsNumber(d)) { /* a fixed depth */
        s = cf_json_as_int(r, d, 1, CF_MOBILE_MAX_DEPTH, &st->min_depth);
        st->max_depth = st->min_depth;
    } else if (cJSON_IsArray(d)) { /* [min, max] */
        s = cf_json_as_array(r, d, 2, 2);
        for (int i = 0; i < 2 && s == CF_OK; i++) {
            size_t m = cf_json_enter_index(r, i);
            s = cf_json_as_int(r, cJSON_GetArrayItem(d, i), 1, CF_MOBILE_MAX_DEPTH, i ? &st->max_depth : &st->min_depth);
            if (s == CF_OK && i == 1 && st->max_depth < st->min_depth)
                s = cf_json_fail(r, CF_ERR_PARSE, "the largest depth %d is below the smallest %d", st->max_depth,
                                 st->min_depth);
            cf_json_leave(r, m);
        }
    } else {
        char got[64];
        s = cf_json_fail(r, CF_ERR_PARSE, "expected a depth (an integer) or a range [min, max], got %s",
                         cf_json_describe(d, got, sizeof got));
    }
    cf_json_leave(r, mark);
    return s;
}

static cf_status parse_skeleton(cf_json_reader *r, const cJSON *sk, cf_space *s) {
    CF_TRY(cf_json_get_int(r, sk, "stem_channels", CF_JSON_REQUIRED, 1, 4096, &s->stem_channels));
    CF_TRY(cf_json_get_int(r, sk, "first_channels", CF_JSON_OPTIONAL, 0, 4096, &s->first_channels));
    CF_TRY(cf_json_get_int(r, sk, "head_channels", CF_JSON_OPTIONAL, 0, 8192, &s->head_channels));
    const cJSON *stages = NULL;
    CF_TRY(cf_json_get_array(r, sk, "stages", CF_JSON_REQUIRED, 1, CF_MOBILE_MAX_STAGES, &stages));
    size_t mark = cf_json_enter_key(r, "stages");
    cf_status st = CF_OK;
    int i = 0;
    for (const cJSON *v = stages->child; v && st == CF_OK; v = v->next, i++) {
        size_t m = cf_json_enter_index(r, i);
        st = parse_stage(r, v, &s->stages[i]);
        cf_json_leave(r, m);
    }
    cf_json_leave(r, mark);
    CF_TRY(st);
    s->n_stages = i;
    return CF_OK;
}

static const char *const k_block_keys[] = {"kernels", "expands", NULL};
static const char *const k_skeleton_keys[] = {"stem_channels", "first_channels", "head_channels", "stages", NULL};

static const cf_family_option k_options[] = {
    {"width", 0, 0.05, 16, "width multiplier of every stage"},
};

static void describe(const cf_space *s, char *buf, size_t cap) {
    size_t len = (size_t)snprintf(buf, cap, "blocks    kernels");
    for (int k = 0; k < s->n_kernels && len < cap; k++) len += (size_t)snprintf(buf + len, cap - len, " %d", s->kernels[k]);
    if (len < cap) len += (size_t)snprintf(buf + len, cap - len, ", expand ratios");
    for (int k = 0; k < s->n_expands && len < cap; k++) len += (size_t)snprintf(buf + len, cap - len, " %d", s->expands[k]);
    if (len < cap) len += (size_t)snprintf(buf + len, cap - len, "\nstages   ");
    for (int k = 0; k < s->n_stages && len < cap; k++)
        len += (size_t)snprintf(buf + len, cap - len, " %d ch s%d depth %d-%d%s", s->stages[k].channels,
                                s->stages[k].stride, s->stages[k].min_depth, s->stages[k].max_depth,
                                k + 1 < s->n_stages ? ";" : "");
    if (len < cap)
        snprintf(buf + len, cap - len, "\nstem      %d channels, first block %d, head %d\n", s->stem_channels,
                 s->first_channels, s->head_channels);
}

const cf_family_ops cf_family_mobile = {
    .name = "mobile",
    .part = "blocks",
    .part_keys = k_block_keys,
    .skeleton_keys = k_skeleton_keys,
    .options = k_options,
    .n_options = (int)(sizeof k_options / sizeof k_options[0]),
    .parse_part = parse_blocks,
    .parse_skeleton = parse_skeleton,
    .arch_syntax = "k3e4-k5e6|k3e3|...  (stages split by '|', blocks k<kernel>e<expand>)",
    .describe = describe,
    .parse = mobile_parse,
    .format = mobile_format,
    .text_max = mobile_text_max,
    .validate = mobile_validate,
    .canonical = mobile_canonical,
    .sample = mobile_sample,
    .neighbors = mobile_neighbors,
    .crossover = mobile_crossover,
    .encoding_size = mobile_encoding_size,
    .encode = mobile_encode,
    .size = mobile_size,
    .enumerate = mobile_enumerate,
};
