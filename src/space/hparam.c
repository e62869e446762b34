/* hparam.c - hyperparameters searched with the architecture: the keys a space
 * may search (training knobs and its own options), their SPEC text
 * ("log:0.01..0.5", "0..1e-3", "int:8..32", "choice:64,128"), and what an
 * arch's values mean (the network's options, the trainer's knobs).
 *
 * The values themselves (text, sampling, steps, encoding) are in
 * arch_hparam.c. Tests: tests/test_hparam.c
 *   ctest --test-dir build -R test_hparam --output-on-failure
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cellforge/text.h"
#include "hparam.h"

/* The training knobs a search may tune, with the ranges `cellforge train`
 * accepts. `words`: the knob's values are words (augment), never numbers. */
typedef struct hp_knob {
    const char *name;
    const char *alias;
    int integer;
    int words;
    double lo, hi;
} hp_knob;

static const hp_knob k_knobs[] = {
    {"lr", NULL, 0, 0, 0, 100},
    {"wd", "weight_decay", 0, 0, 0, 1},
    {"momentum", NULL, 0, 0, 0, 1},
    {"batch", NULL, 1, 0, 1, 65536},
    {"epochs", NULL, 1, 0, 1, 1024},
    {"augment", NULL, 0, 1, 0, 0},
    {"cutout", NULL, 1, 0, 0, 4096},
    {"erase", NULL, 0, 0, 0, 1},
    {"label_smoothing", NULL, 0, 0, 0, 0.99},
};
#define N_KNOBS (int)(sizeof k_knobs / sizeof k_knobs[0])

/* The knob `name` stands for ('-' read as '_'), or NULL. */
static const hp_knob *find_knob(const char *name) {
    char norm[32];
    snprintf(norm, sizeof norm, "%s", name);
    for (char *c = norm; *c; c++)
        if (*c == '-') *c = '_';
    for (int i = 0; i < N_KNOBS; i++)
        if (strcmp(k_knobs[i].name, norm) == 0 || (k_knobs[i].alias && strcmp(k_knobs[i].alias, norm) == 0))
            return &k_knobs[i];
    return NULL;
}

static int find_option(const cf_space *s, const char *name) {
    for (int i = 0; i < s->n_options; i++)
        if (strcmp(s->options[i].name, name) == 0) return i;
    return -1;
}

int cf_space_hparam_index(const cf_space *s, const char *name) {
    if (!s || !name) return -1;
    const hp_knob *k = find_knob(name);
    const char *canon = k ? k->name : name;
    for (int i = 0; i < s->n_hparams; i++)
        if (strcmp(s->hparams[i].name, canon) == 0) return i;
    return -1;
}

/* A key that is neither a knob nor an option: name the closest. */
static cf_status unknown_key(const cf_space *s, const char *key) {
    const char *names[N_KNOBS + CF_SPACE_MAX_OPTIONS];
    char known[512] = "";
    size_t n = 0, len = 0;
    for (int i = 0; i < N_KNOBS; i++) names[n++] = k_knobs[i].name;
    for (int i = 0; i < s->n_options; i++) names[n++] = s->options[i].name;
    for (size_t i = 0; i < n && len < sizeof known; i++)
        len += (size_t)snprintf(known + len, sizeof known - len, "%s%s", i ? ", " : "", names[i]);
    const char *near = cf_text_closest(key, names, n);
    if (near)
        CF_FAIL(CF_ERR_UNKNOWN_NAME, "unknown hyperparameter '%s' (did you mean '%s'?); space %s searches: %s", key,
                near, s->name, known);
    CF_FAIL(CF_ERR_UNKNOWN_NAME, "unknown hyperparameter '%s'; space %s searches: %s", key, s->name, known);
}

/* A whole decimal number of text[0..n) into *out; 0 when it is not one. */
static int parse_number(const char *text, size_t n, double *out) {
    char buf[64];
    if (n == 0 || n >= sizeof buf) return 0;
    memcpy(buf, text, n);
    buf[n] = 0;
    errno = 0;
    char *end = NULL;
    double v = strtod(buf, &end);
    if (end == buf || *end || errno == ERANGE || !isfinite(v)) return 0;
    *out = v;
    return 1;
}

/* The limits a key's values must respect, and how to name them. */
typedef struct hp_limits {
    int integer, words;
    double lo, hi;
    char what[48]; /* "option C", "training knob lr" */
} hp_limits;

static int augment_word_ok(const char *w) {
    if (strcmp(w, "none") == 0) return 1;
    char buf[24];
    snprintf(buf, sizeof buf, "%s", w);
    int seen_crop = 0, seen_flip = 0;
    for (char *save = NULL, *t = strtok_r(buf, "+", &save); t; t = strtok_r(NULL, "+", &save)) {
        if (strcmp(t, "crop") == 0 && !seen_crop++) continue;
        if (strcmp(t, "flip") == 0 && !seen_flip++) continue;
        return 0;
    }
    return w[0] && w[strlen(w) - 1] != '+' && w[0] != '+' && !strstr(w, "++");
}

static cf_status check_value(const char *key, const hp_limits *l, double v, const char *text) {
    if (l->integer && floor(v) != v)
        CF_FAIL(CF_ERR_PARSE, "%s: expected a whole number, got %s (%s is an integer)", key, text, l->what);
    if (v < l->lo || v > l->hi)
        CF_FAIL(CF_ERR_INVALID_ARG, "%s: %s is outside the range of %s, %g..%g", key, text, l->what, l->lo, l->hi);
    return CF_OK;
}

static cf_status parse_choices(const char *key, const hp_limits *l, const char *list, cf_space_hparam *h) {
    const char *p = list;
    h->n_choices = 0;
    for (;;) {
        size_t n = strcspn(p, ",");
        if (n == 0) CF_FAIL(CF_ERR_PARSE, "%s: an empty choice in \"choice:%s\"; expected choice:A,B,...", key, list);
        if (h->n_choices >= CF_HPARAM_MAX_CHOICES)
            CF_FAIL(CF_ERR_PARSE, "%s: more than %d choices", key, CF_HPARAM_MAX_CHOICES);
        if (n >= sizeof h->choices[0])
            CF_FAIL(CF_ERR_PARSE, "%s: choice \"%.*s\" is longer than %zu bytes", key, (int)n, p,
                    sizeof h->choices[0] - 1);
        char *c = h->choices[h->n_choices];
        memcpy(c, p, n);
        c[n] = 0;
        for (int j = 0; j < h->n_choices; j++)
            if (strcmp(h->choices[j], c) == 0) CF_FAIL(CF_ERR_PARSE, "%s: choice \"%s\" given twice", key, c);
        double v = NAN;
        if (l->words) {
            if (!augment_word_ok(c))
                CF_FAIL(CF_ERR_PARSE, "%s: choice \"%s\": expected none, or crop, flip or both joined by '+' "
                        "(crop+flip)", key, c);
        } else {
            if (!parse_number(c, n, &v))
                CF_FAIL(CF_ERR_PARSE, "%s: choice \"%s\" is not a number (%s is numeric)", key, c, l->what);
            CF_TRY(check_value(key, l, v, c));
            for (const char *q = c; *q; q++)
                if (*q == ' ' || *q == '{' || *q == '}' || *q == '=')
                    CF_FAIL(CF_ERR_PARSE, "%s: choice \"%s\" holds '%c'", key, c, *q);
        }
        h->choice_value[h->n_choices++] = v;
        if (!p[n]) break;
        p += n + 1;
    }
    if (h->n_choices < 2) CF_FAIL(CF_ERR_PARSE, "%s: \"choice:%s\" lists one value; expected at least two", key, list);
    return CF_OK;
}

static cf_status parse_range(const char *key, const hp_limits *l, const char *range, cf_space_hparam *h) {
    const char *dots = strstr(range, "..");
    double lo = 0, hi = 0;
    if (!dots || !parse_number(range, (size_t)(dots - range), &lo) || !parse_number(dots + 2, strlen(dots + 2), &hi))
        CF_FAIL(CF_ERR_PARSE, "%s: \"%s\": expected a range LO..HI of two numbers (e.g. 0.01..0.5)", key, range);
    if (!(lo < hi)) CF_FAIL(CF_ERR_PARSE, "%s: range %s: expected LO < HI", key, range);
    if (h->kind == CF_HPARAM_LOG && lo <= 0)
        CF_FAIL(CF_ERR_PARSE, "%s: log range %s: expected LO > 0 (a log scale has no zero)", key, range);
    char text[32];
    snprintf(text, sizeof text, "%g", lo);
    CF_TRY(check_value(key, l, lo, text));
    snprintf(text, sizeof text, "%g", hi);
    CF_TRY(check_value(key, l, hi, text));
    h->lo = lo;
    h->hi = hi;
    return CF_OK;
}

static cf_status parse_spec(const char *key, const hp_limits *l, const char *spec, cf_space_hparam *h) {
    static const struct {
        const char *prefix;
        cf_hparam_kind kind;
    } kinds[] = {{"log:", CF_HPARAM_LOG}, {"int:", CF_HPARAM_INT}, {"choice:", CF_HPARAM_CHOICE},
                 {"linear:", CF_HPARAM_LINEAR}};
    const char *body = spec;
    h->kind = CF_HPARAM_LINEAR;
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++)
        if (strncmp(spec, kinds[k].prefix, strlen(kinds[k].prefix)) == 0) {
            h->kind = kinds[k].kind;
            body = spec + strlen(kinds[k].prefix);
        }
    const char *colon = strchr(spec, ':');
    if (body == spec && colon)
        CF_FAIL(CF_ERR_PARSE, "%s: unknown kind \"%.*s:\"; expected log:LO..HI, int:LO..HI, choice:A,B,... or "
                "LO..HI", key, (int)(colon - spec), spec);
    if (l->words && h->kind != CF_HPARAM_CHOICE)
        CF_FAIL(CF_ERR_PARSE, "%s: \"%s\": %s takes words; expected choice:A,B,... (e.g. choice:none,flip,crop+flip)",
                key, spec, l->what);
    if (l->integer && (h->kind == CF_HPARAM_LINEAR || h->kind == CF_HPARAM_LOG))
        CF_FAIL(CF_ERR_PARSE, "%s: \"%s\": %s is an integer; expected int:LO..HI or choice:A,B,...", key, spec,
                l->what);
    if (h->kind == CF_HPARAM_CHOICE) return parse_choices(key, l, body, h);
    return parse_range(key, l, body, h);
}

cf_status cf_space_add_hparam(cf_space *s, const char *key, const char *spec) {
    if (!s || !key || !spec) CF_FAIL(CF_ERR_INVALID_ARG, "cf_space_add_hparam: NULL argument");
    cf_space_hparam h;
    memset(&h, 0, sizeof h);
    hp_limits l;
    memset(&l, 0, sizeof l);
    const hp_knob *k = find_knob(key);
    int opt = k ? -1 : find_option(s, key);
    if (!k && opt < 0) return unknown_key(s, key);
    if (k) {
        l = (hp_limits){k->integer, k->words, k->lo, k->hi, ""};
        snprintf(l.what, sizeof l.what, "training knob %s", k->name);
        snprintf(h.name, sizeof h.name, "%s", k->name);
    } else {
        const cf_space_option *o = &s->options[opt];
        l = (hp_limits){o->integer, 0, o->min, o->max, ""};
        snprintf(l.what, sizeof l.what, "option %s", o->name);
        snprintf(h.name, sizeof h.name, "%s", o->name);
    }
    h.option = opt;
    if (!*spec) CF_FAIL(CF_ERR_PARSE, "%s: no SPEC; expected log:LO..HI, LO..HI, int:LO..HI or choice:A,B,...", key);
    CF_TRY(parse_spec(h.name, &l, spec, &h));
    int at = cf_space_hparam_index(s, h.name);
    const int n_before = s->n_hparams;
    if (at < 0) {
        if (s->n_hparams >= CF_SPACE_MAX_HPARAMS)
            CF_FAIL(CF_ERR_INVALID_ARG, "%s: at most %d hyperparameters", key, CF_SPACE_MAX_HPARAMS);
        at = s->n_hparams++;
    }
    const cf_space_hparam before = s->hparams[at];
    s->hparams[at] = h;
    size_t need = cf_arch_text_max(s);
    if (need > CF_ARCH_TEXT_MAX) {
        s->hparams[at] = before;
        s->n_hparams = n_before;
        CF_FAIL(CF_ERR_INVALID_ARG, "%s: the space's arch texts with its hyperparameters take up to %zu bytes, "
                "more than the %d that runs store", key, need, CF_ARCH_TEXT_MAX);
    }
    return CF_OK;
}

cf_status cf_space_add_hparam_kv(cf_space *s, const char *assignment) {
    if (!s || !assignment) CF_FAIL(CF_ERR_INVALID_ARG, "cf_space_add_hparam_kv: NULL argument");
    const char *eq = strchr(assignment, '=');
    if (!eq || eq == assignment)
        CF_FAIL(CF_ERR_PARSE, "'%s': expected KEY=SPEC (e.g. lr=log:0.01..0.5, C=int:8..32, batch=choice:64,128)",
                assignment);
    char key[64];
    size_t n = (size_t)(eq - assignment);
    if (n >= sizeof key) return unknown_key(s, assignment);
    memcpy(key, assignment, n);
    key[n] = 0;
    return cf_space_add_hparam(s, key, eq + 1);
}

void cf_space_hparam_format(const cf_space *s, int i, char *buf, size_t cap) {
    const cf_space_hparam *h = &s->hparams[i];
    if (h->kind != CF_HPARAM_CHOICE) {
        const char *pre = h->kind == CF_HPARAM_LOG ? "log:" : h->kind == CF_HPARAM_INT ? "int:" : "";
        char lo[32], hi[32];
        cf_hparam_number_text(h->lo, lo, sizeof lo);
        cf_hparam_number_text(h->hi, hi, sizeof hi);
        snprintf(buf, cap, "%s%s..%s", pre, lo, hi);
        return;
    }
    size_t len = (size_t)snprintf(buf, cap, "choice:");
    for (int c = 0; c < h->n_choices && len < cap; c++)
        len += (size_t)snprintf(buf + len, cap - len, "%s%s", c ? "," : "", h->choices[c]);
}

/* ---- what an arch's values mean ---------------------------------------------------- */

void cf_space_for_arch(const cf_space *s, const cf_arch *a, cf_space *out) {
    *out = *s;
    for (int i = 0; i < s->n_hparams; i++) {
        const cf_space_hparam *h = &s->hparams[i];
        if (h->option < 0) continue;
        double v = h->kind == CF_HPARAM_CHOICE ? h->choice_value[(int)a->hp[i]] : a->hp[i];
        out->options[h->option].value = v;
    }
}

double cf_arch_hparam(const cf_space *s, const cf_arch *a, const char *name, double fallback) {
    int i = cf_space_hparam_index(s, name);
    if (i < 0) return fallback;
    const cf_space_hparam *h = &s->hparams[i];
    if (h->kind != CF_HPARAM_CHOICE) return a->hp[i];
    int c = (int)a->hp[i];
    if (c < 0 || c >= h->n_choices || isnan(h->choice_value[c])) return fallback;
    return h->choice_value[c];
}

const char *cf_arch_hparam_choice(const cf_space *s, const cf_arch *a, const char *name) {
    int i = cf_space_hparam_index(s, name);
    if (i < 0 || s->hparams[i].kind != CF_HPARAM_CHOICE) return NULL;
    int c = (int)a->hp[i];
    return c >= 0 && c < s->hparams[i].n_choices ? s->hparams[i].choices[c] : NULL;
}

cf_status cf_arch_network(const cf_space *s, const char *text, cf_space *out, char *net_text, size_t cap) {
    cf_arch a;
    CF_TRY(cf_arch_parse(s, text, &a));
    cf_space_for_arch(s, &a, out);
    out->n_hparams = 0;
    memset(out->hparams, 0, sizeof out->hparams);
    memset(a.hp, 0, sizeof a.hp);
    return cf_arch_format(out, &a, net_text, cap);
}
