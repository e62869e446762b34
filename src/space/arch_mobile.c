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

const cf_family_ops cf_family_mobile = {
    .parse = mobile_parse,
    .format = mobile_format,
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
