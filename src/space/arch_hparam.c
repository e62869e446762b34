/* arch_hparam.c - an arch's hyperparameter values: their text (" {lr=0.0523,
 * C=16,augment=flip}" after the family's text), checks, draws, one-step
 * neighbors, crossover, encoding and grid levels. arch.c calls these beside
 * each family's codec (see hparam.h).
 * Tests: tests/test_hparam.c
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hparam.h"
#include "scan.h"

#define STEPS 8 /* a continuous neighbor is an eighth of the range away */

void cf_hparam_number_text(double v, char *buf, size_t cap) {
    for (int p = 1; p <= 17; p++) {
        snprintf(buf, cap, "%.*g", p, v);
        if (strtod(buf, NULL) == v) return;
    }
}

double cf_hparam_round(double v) {
    char buf[32];
    snprintf(buf, sizeof buf, "%.4g", v);
    return strtod(buf, NULL);
}

/* A drawn or stepped continuous value: 4 digits, inside the range. */
static double keep(const cf_space_hparam *h, double v) {
    v = cf_hparam_round(v);
    return v < h->lo ? h->lo : v > h->hi ? h->hi : v;
}

static void value_text(const cf_space_hparam *h, double v, char *buf, size_t cap) {
    if (h->kind == CF_HPARAM_CHOICE) snprintf(buf, cap, "%s", h->choices[(int)v]);
    else if (h->kind == CF_HPARAM_INT) snprintf(buf, cap, "%.0f", v);
    else cf_hparam_number_text(v, buf, cap);
}

size_t cf_hparam_text_max(const cf_space *s) {
    if (s->n_hparams == 0) return 0;
    size_t n = 3; /* " {" and "}" */
    for (int i = 0; i < s->n_hparams; i++) {
        const cf_space_hparam *h = &s->hparams[i];
        size_t v = 24; /* the longest %.17g of a double */
        if (h->kind == CF_HPARAM_CHOICE) {
            v = 0;
            for (int c = 0; c < h->n_choices; c++) v = strlen(h->choices[c]) > v ? strlen(h->choices[c]) : v;
        }
        n += strlen(h->name) + 2 + v; /* "name=" value "," */
    }
    return n;
}

cf_status cf_hparam_format(const cf_space *s, const cf_arch *a, char *buf, size_t len, size_t cap) {
    if (s->n_hparams == 0) return CF_OK;
    char inner[CF_ARCH_TEXT_MAX];
    cf_arch_format_hparams(s, a, inner, sizeof inner);
    int w = snprintf(buf + len, cap - len, " {%s}", inner);
    if (w < 0 || (size_t)w >= cap - len) {
        buf[len] = 0;
        CF_FAIL(CF_ERR_INVALID_ARG, "arch: %zu bytes are too few for the hyperparameters' text", cap);
    }
    return CF_OK;
}

void cf_arch_format_hparams(const cf_space *s, const cf_arch *a, char *buf, size_t cap) {
    size_t len = 0;
    if (cap) buf[0] = 0;
    for (int i = 0; i < s->n_hparams && len < cap; i++) {
        char v[64];
        value_text(&s->hparams[i], a->hp[i], v, sizeof v);
        len += (size_t)snprintf(buf + len, cap - len, "%s%s=%s", i ? "," : "", s->hparams[i].name, v);
    }
}

/* The names s searches, "lr, C", for messages. */
static void names_of(const cf_space *s, char *buf, size_t cap) {
    size_t len = 0;
    buf[0] = 0;
    for (int i = 0; i < s->n_hparams && len < cap; i++)
        len += (size_t)snprintf(buf + len, cap - len, "%s%s", i ? ", " : "", s->hparams[i].name);
}

cf_status cf_hparam_split(const cf_space *s, const char *text, size_t *family_len) {
    size_t n = strlen(text);
    while (n && (text[n - 1] == ' ' || text[n - 1] == '\n' || text[n - 1] == '\t' || text[n - 1] == '\r')) n--;
    const char *open = NULL;
    for (size_t i = n; i > 0; i--)
        if (text[i - 1] == '{') {
            open = text + i - 1;
            break;
        }
    int ok = n && text[n - 1] == '}' && open && open > text && !memchr(open, '"', (size_t)(text + n - open));
    if (!ok) {
        char names[256];
        names_of(s, names, sizeof names);
        cf_scan sc = {text, text + n};
        return cf_scan_fail(&sc, 0, "expected the hyperparameters after the architecture, as \" {%s}\" with a "
                            "value each (space %s searches %s)", s->hparams[0].name, s->name, names);
    }
    *family_len = (size_t)(open - text);
    return CF_OK;
}

/* One value's text for hparams[i] at column col into *v. */
static cf_status read_value(const cf_space *s, const cf_scan *sc, int col, int i, const char *text, double *v) {
    const cf_space_hparam *h = &s->hparams[i];
    if (h->kind == CF_HPARAM_CHOICE) {
        for (int c = 0; c < h->n_choices; c++)
            if (strcmp(h->choices[c], text) == 0) {
                *v = c;
                return CF_OK;
            }
        char spec[256];
        cf_space_hparam_format(s, i, spec, sizeof spec);
        return cf_scan_fail(sc, col, "%s=%s is not one of %s", h->name, text, spec);
    }
    char *end = NULL;
    double x = strtod(text, &end);
    if (!*text || *end || !isfinite(x)) return cf_scan_fail(sc, col, "%s: expected a number, got \"%s\"", h->name, text);
    char spec[256];
    cf_space_hparam_format(s, i, spec, sizeof spec);
    if (x < h->lo || x > h->hi || (h->kind == CF_HPARAM_INT && floor(x) != x))
        return cf_scan_fail(sc, col, "%s=%s is outside %s", h->name, text, spec);
    *v = x;
    return CF_OK;
}

cf_status cf_hparam_parse(const cf_space *s, const char *text, size_t family_len, cf_arch *out) {
    cf_scan sc = {text, text + family_len};
    int seen[CF_SPACE_MAX_HPARAMS] = {0};
    char names[256];
    names_of(s, names, sizeof names);
    CF_TRY(cf_scan_expect(&sc, '{'));
    for (int k = 0;; k++) {
        cf_scan_ws(&sc);
        int col = cf_scan_column(&sc);
        char name[32];
        CF_TRY(cf_scan_name(&sc, name, sizeof name));
        int i = cf_space_hparam_index(s, name);
        if (i < 0)
            return cf_scan_fail(&sc, col, "\"%s\" is not a hyperparameter of space %s (it searches %s)", name,
                                s->name, names);
        if (seen[i]++) return cf_scan_fail(&sc, col, "%s given twice", s->hparams[i].name);
        CF_TRY(cf_scan_expect(&sc, '='));
        cf_scan_ws(&sc);
        col = cf_scan_column(&sc);
        size_t n = strcspn(sc.p, ",}");
        char value[64];
        if (n >= sizeof value) return cf_scan_fail(&sc, col, "a value of %zu bytes", n);
        memcpy(value, sc.p, n);
        value[n] = 0;
        while (n && value[n - 1] == ' ') value[--n] = 0;
        CF_TRY(read_value(s, &sc, col, i, value, &out->hp[i]));
        sc.p += strcspn(sc.p, ",}");
        if (!cf_scan_accept(&sc, ',')) break;
    }
    CF_TRY(cf_scan_expect(&sc, '}'));
    for (int i = 0; i < s->n_hparams; i++)
        if (!seen[i]) return cf_scan_fail(&sc, 0, "no value for %s (space %s searches %s)", s->hparams[i].name,
                                          s->name, names);
    return cf_scan_end(&sc);
}

cf_status cf_hparam_validate(const cf_space *s, const cf_arch *a) {
    for (int i = 0; i < CF_SPACE_MAX_HPARAMS; i++) {
        double v = a->hp[i];
        if (i >= s->n_hparams) {
            if (v != 0) CF_FAIL(CF_ERR_INVALID_ARG, "arch: hyperparameter value %d set, space %s has %d", i,
                                s->name, s->n_hparams);
            continue;
        }
        const cf_space_hparam *h = &s->hparams[i];
        int bad = !isfinite(v);
        if (!bad && h->kind == CF_HPARAM_CHOICE) bad = floor(v) != v || v < 0 || v >= h->n_choices;
        else if (!bad) bad = v < h->lo || v > h->hi || (h->kind == CF_HPARAM_INT && floor(v) != v);
        if (bad) {
            char spec[256];
            cf_space_hparam_format(s, i, spec, sizeof spec);
            CF_FAIL(CF_ERR_INVALID_ARG, "arch: hyperparameter %s = %g is not in %s", h->name, v, spec);
        }
    }
    return CF_OK;
}

void cf_hparam_sample(const cf_space *s, cf_rng *rng, cf_arch *out) {
    for (int i = 0; i < s->n_hparams; i++) {
        const cf_space_hparam *h = &s->hparams[i];
        double u = cf_rng_uniform(rng);
        switch (h->kind) {
        case CF_HPARAM_LINEAR: out->hp[i] = keep(h, h->lo + u * (h->hi - h->lo)); break;
        case CF_HPARAM_LOG: out->hp[i] = keep(h, exp(log(h->lo) + u * (log(h->hi) - log(h->lo)))); break;
        case CF_HPARAM_INT: out->hp[i] = h->lo + floor(u * (h->hi - h->lo + 1)); break;
        case CF_HPARAM_CHOICE: out->hp[i] = floor(u * h->n_choices); break;
        }
        if (h->kind == CF_HPARAM_INT && out->hp[i] > h->hi) out->hp[i] = h->hi;
        if (h->kind == CF_HPARAM_CHOICE && out->hp[i] >= h->n_choices) out->hp[i] = h->n_choices - 1;
    }
}

/* The values one step from v (up to CF_HPARAM_MAX_CHOICES), returning how many. */
static int steps(const cf_space_hparam *h, double v, double *to) {
    int n = 0;
    if (h->kind == CF_HPARAM_CHOICE) {
        for (int c = 0; c < h->n_choices; c++)
            if (c != (int)v) to[n++] = c;
        return n;
    }
    double down, up;
    if (h->kind == CF_HPARAM_INT) {
        down = v - 1;
        up = v + 1;
    } else if (h->kind == CF_HPARAM_LOG) {
        double f = pow(h->hi / h->lo, 1.0 / STEPS);
        down = keep(h, v / f);
        up = keep(h, v * f);
    } else {
        double d = (h->hi - h->lo) / STEPS;
        down = keep(h, v - d);
        up = keep(h, v + d);
    }
    if (down >= h->lo && down != v) to[n++] = down;
    if (up <= h->hi && up != v) to[n++] = up;
    return n;
}

size_t cf_hparam_neighbors(const cf_space *s, const cf_arch *a, cf_arch *out, size_t cap) {
    size_t count = 0;
    for (int i = 0; i < s->n_hparams; i++) {
        double to[CF_HPARAM_MAX_CHOICES];
        int n = steps(&s->hparams[i], a->hp[i], to);
        for (int k = 0; k < n; k++, count++)
            if (count < cap) {
                out[count] = *a;
                out[count].hp[i] = to[k];
            }
    }
    return count;
}

void cf_hparam_crossover(const cf_space *s, cf_rng *rng, const cf_arch *a, const cf_arch *b, cf_arch *out) {
    for (int i = 0; i < s->n_hparams; i++) out->hp[i] = cf_rng_below(rng, 2) ? b->hp[i] : a->hp[i];
}

size_t cf_hparam_encoding_size(const cf_space *s) {
    size_t n = 0;
    for (int i = 0; i < s->n_hparams; i++)
        n += s->hparams[i].kind == CF_HPARAM_CHOICE ? (size_t)s->hparams[i].n_choices : 1;
    return n;
}

void cf_hparam_encode(const cf_space *s, const cf_arch *a, float *out) {
    size_t k = 0;
    for (int i = 0; i < s->n_hparams; i++) {
        const cf_space_hparam *h = &s->hparams[i];
        double v = a->hp[i];
        switch (h->kind) {
        case CF_HPARAM_CHOICE:
            for (int c = 0; c < h->n_choices; c++) out[k++] = c == (int)v ? 1.0f : 0.0f;
            break;
        case CF_HPARAM_LOG: out[k++] = (float)((log(v) - log(h->lo)) / (log(h->hi) - log(h->lo))); break;
        default: out[k++] = (float)((v - h->lo) / (h->hi - h->lo)); break;
        }
    }
}

int cf_hparam_levels(const cf_space *s, int i) {
    const cf_space_hparam *h = &s->hparams[i];
    if (h->kind == CF_HPARAM_CHOICE) return h->n_choices;
    if (h->kind == CF_HPARAM_INT) return (int)(h->hi - h->lo + 1);
    return 3;
}

double cf_hparam_level(const cf_space *s, int i, int level) {
    const cf_space_hparam *h = &s->hparams[i];
    if (h->kind == CF_HPARAM_CHOICE) return level;
    if (h->kind == CF_HPARAM_INT) return h->lo + level;
    if (level == 0) return h->lo;
    if (level == 2) return h->hi;
    return keep(h, h->kind == CF_HPARAM_LOG ? sqrt(h->lo * h->hi) : (h->lo + h->hi) / 2);
}

double cf_hparam_grid_size(const cf_space *s) {
    double n = 1;
    for (int i = 0; i < s->n_hparams; i++) n *= cf_hparam_levels(s, i);
    return n;
}
