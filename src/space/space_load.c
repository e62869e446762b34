/* space_load.c - search spaces from JSON files: finding, parsing and checking
 * them against the schema in search_spaces/README.md, and the skeleton
 * options that --set changes.
 * Tests: tests/test_space_load.c
 *   ctest --test-dir build -R test_space_load --output-on-failure */
#include "cellforge/space.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cellforge/file.h"
#include "cellforge/log.h"
#include "cellforge/text.h"
#include "family.h"

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))
#define SPACE_FILE_MAX (4u << 20) /* a space file is a few KiB; refuse anything huge */
#define SPACE_LIST_MAX 256        /* files considered by cf_space_list and suggestions */

static const char *const prim_names[CF_PRIM_COUNT] = {
    [CF_PRIM_ZERO] = "zero",
    [CF_PRIM_IDENTITY] = "identity",
    [CF_PRIM_RELU_CONV_BN] = "relu_conv_bn",
    [CF_PRIM_CONV_BN_RELU] = "conv_bn_relu",
    [CF_PRIM_SEP_CONV] = "sep_conv",
    [CF_PRIM_DIL_CONV] = "dil_conv",
    [CF_PRIM_AVG_POOL] = "avg_pool",
    [CF_PRIM_MAX_POOL] = "max_pool",
};

const char *cf_prim_name(cf_prim p) {
    if ((int)p < 0 || p >= CF_PRIM_COUNT) return "unknown";
    return prim_names[p];
}

/* ---- names -------------------------------------------------------------------- */

/* Names that appear in architecture strings and on the command line. */
static int name_chars_ok(const char *s, int allow_dash_dot) {
    for (const char *c = s; *c; c++) {
        int ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '_' ||
                 (allow_dash_dot && (*c == '-' || *c == '.'));
        if (!ok) return 0;
    }
    return 1;
}

/* Read a name (string) member and check its characters. */
static cf_status get_name(cf_json_reader *r, const cJSON *obj, const char *key, cf_json_need need, char *buf,
                          size_t cap, int allow_dash_dot, const char *why) {
    if (!cf_json_has(obj, key) && need == CF_JSON_OPTIONAL) return CF_OK;
    CF_TRY(cf_json_get_string(r, obj, key, need, 1, buf, cap));
    if (!name_chars_ok(buf, allow_dash_dot)) {
        size_t mark = cf_json_enter_key(r, key);
        cf_status s = cf_json_fail(r, CF_ERR_PARSE, "\"%s\": use letters, digits and '_'%s only (%s)", buf,
                                   allow_dash_dot ? ", '-', '.'" : "", why);
        cf_json_leave(r, mark);
        return s;
    }
    return CF_OK;
}

/* ---- cell ------------------------------------------------------------------------ */

static int prim_has_kernel(cf_prim p) { return p != CF_PRIM_ZERO && p != CF_PRIM_IDENTITY; }
static int prim_is_pool(cf_prim p) { return p == CF_PRIM_AVG_POOL || p == CF_PRIM_MAX_POOL; }

/* An op's kernel and dilation, which only prims with a kernel read. */
static cf_status parse_op_geometry(cf_json_reader *r, const cJSON *v, cf_space_op *op) {
    op->kernel = 0;
    op->dilation = 1;
    if (!prim_has_kernel(op->prim)) {
        const char *extra = cf_json_has(v, "kernel") ? "kernel" : cf_json_has(v, "dilation") ? "dilation" : NULL;
        if (!extra) return CF_OK;
        size_t mark = cf_json_enter_key(r, extra);
        cf_status st = cf_json_fail(r, CF_ERR_PARSE, "not used by prim \"%s\"", prim_names[op->prim]);
        cf_json_leave(r, mark);
        return st;
    }
    CF_TRY(cf_json_get_int(r, v, "kernel", CF_JSON_REQUIRED, 1, 7, &op->kernel));
    if (op->kernel % 2 == 0) {
        size_t mark = cf_json_enter_key(r, "kernel");
        cf_status st = cf_json_fail(r, CF_ERR_PARSE, "expected an odd kernel size (1, 3, 5 or 7), got %d", op->kernel);
        cf_json_leave(r, mark);
        return st;
    }
    if (op->prim == CF_PRIM_DIL_CONV) return cf_json_get_int(r, v, "dilation", CF_JSON_REQUIRED, 2, 4, &op->dilation);
    if (prim_is_pool(op->prim)) return cf_json_get_int(r, v, "dilation", CF_JSON_OPTIONAL, 1, 1, &op->dilation);
    return cf_json_get_int(r, v, "dilation", CF_JSON_OPTIONAL, 1, 4, &op->dilation);
}

static cf_status parse_op(cf_json_reader *r, const cJSON *v, cf_space *s, int index) {
    static const char *const keys[] = {"name", "prim", "kernel", "dilation"};
    CF_TRY(cf_json_as_object(r, v));
    CF_TRY(cf_json_check_keys(r, v, keys, COUNT_OF(keys)));
    cf_space_op *op = &s->ops[index];
    CF_TRY(get_name(r, v, "name", CF_JSON_REQUIRED, op->name, sizeof op->name, 1,
                    "op names appear in architecture strings"));
    for (int j = 0; j < index; j++) {
        if (strcmp(s->ops[j].name, op->name) == 0) {
            size_t mark = cf_json_enter_key(r, "name");
            cf_status st = cf_json_fail(r, CF_ERR_PARSE, "duplicate op name \"%s\" (also ops[%d])", op->name, j);
            cf_json_leave(r, mark);
            return st;
        }
    }
    const cJSON *pv = NULL;
    CF_TRY(cf_json_get_member(r, v, "prim", CF_JSON_REQUIRED, &pv));
    size_t mark = cf_json_enter_key(r, "prim");
    int prim = 0;
    cf_status st = cf_json_as_choice(r, pv, "prim", prim_names, CF_PRIM_COUNT, &prim);
    cf_json_leave(r, mark);
    CF_TRY(st);
    op->prim = (cf_prim)prim;
    const cf_family_ops *f = cf_family_of(s->family);
    if (f->check_op) CF_TRY(f->check_op(r, s, op));
    return parse_op_geometry(r, v, op);
}

cf_status cf_space_parse_ops(cf_json_reader *r, const cJSON *cell, cf_space *s) {
    const cJSON *ops = NULL;
    CF_TRY(cf_json_get_array(r, cell, "ops", CF_JSON_REQUIRED, 1, CF_SPACE_MAX_OPS, &ops));
    size_t mark = cf_json_enter_key(r, "ops");
    int i = 0;
    cf_status st = CF_OK;
    for (const cJSON *v = ops->child; v && st == CF_OK; v = v->next, i++) {
        size_t m = cf_json_enter_index(r, i);
        st = parse_op(r, v, s, i);
        cf_json_leave(r, m);
    }
    cf_json_leave(r, mark);
    CF_TRY(st);
    s->n_ops = i;
    return CF_OK;
}

/* ---- keys that belong to a family ------------------------------------------------- */

/* The keys of one object that family f reads: its part's ("cell", "blocks")
 * or its skeleton's. */
static const char *const *family_keys(const cf_family_ops *f, int skeleton) {
    return skeleton ? f->skeleton_keys : f->part_keys;
}

static int has_key(const char *const *keys, const char *key) {
    for (; keys && *keys; keys++)
        if (strcmp(*keys, key) == 0) return 1;
    return 0;
}

/* Check an object's keys (the part, or the skeleton) against what the
 * family reads: a key another family reads in the same place gets a message
 * naming that family, anything else the usual unknown-key one. */
static cf_status check_family_keys(cf_json_reader *r, const cJSON *obj, cf_space_family family, int skeleton) {
    const cf_family_ops *own = cf_family_of(family);
    /* NULL-terminated: has_key reads up to the NULL */
    const char *allowed[24] = {0};
    size_t n_allowed = 0;
    if (skeleton) allowed[n_allowed++] = "options";
    for (const char *const *k = family_keys(own, skeleton); k && *k && n_allowed + 1 < COUNT_OF(allowed); k++)
        allowed[n_allowed++] = *k;
    for (const cJSON *c = obj->child; c; c = c->next) {
        if (!c->string || has_key(allowed, c->string) || (skeleton && strcmp(c->string, "options") == 0)) continue;
        char users[64] = "";
        size_t len = 0;
        for (int g = 0; g < CF_SPACE_FAMILY_COUNT && len < sizeof users; g++) {
            const cf_family_ops *f = cf_family_of((cf_space_family)g);
            if (!skeleton && strcmp(f->part, own->part) != 0) continue;
            if (has_key(family_keys(f, skeleton), c->string))
                len += (size_t)snprintf(users + len, sizeof users - len, "%s%s", len ? ", " : "", f->name);
        }
        if (len)
            return cf_json_fail(r, CF_ERR_PARSE, "key \"%s\" is read only by family %s, not %s", c->string, users,
                                own->name);
    }
    return cf_json_check_keys(r, obj, allowed, n_allowed);
}

/* ---- skeleton and options ------------------------------------------------------------ */

static const cf_family_option *find_required(cf_space_family family, const char *name) {
    const cf_family_ops *f = cf_family_of(family);
    for (int i = 0; i < f->n_options; i++)
        if (strcmp(f->options[i].name, name) == 0) return &f->options[i];
    return NULL;
}

static cf_status parse_option(cf_json_reader *r, const char *name, const cJSON *v, cf_space *s,
                              cf_space_option *o) {
    static const char *const keys[] = {"default", "min", "max", "integer", "doc"};
    if (!name_chars_ok(name, 0) || !*name)
        return cf_json_fail(r, CF_ERR_PARSE, "option names use letters, digits and '_' only (they are set as NAME=VALUE)");
    if (strlen(name) >= sizeof o->name)
        return cf_json_fail(r, CF_ERR_PARSE, "option name of %zu bytes is too long (at most %zu)", strlen(name),
                            sizeof o->name - 1);
    CF_TRY(cf_json_as_object(r, v));
    CF_TRY(cf_json_check_keys(r, v, keys, COUNT_OF(keys)));
    snprintf(o->name, sizeof o->name, "%s", name);

    const cf_family_option *req = find_required(s->family, name);
    o->integer = req ? req->integer : 0;
    if (cf_json_has(v, "integer")) {
        CF_TRY(cf_json_get_bool(r, v, "integer", CF_JSON_REQUIRED, &o->integer));
        if (req && o->integer != req->integer) {
            size_t mark = cf_json_enter_key(r, "integer");
            cf_status st = cf_json_fail(r, CF_ERR_PARSE, "family %s reads %s as %s", cf_space_family_name(s->family), name,
                                        req->integer ? "an integer (integer: true)" : "a fraction (integer: false)");
            cf_json_leave(r, mark);
            return st;
        }
    }
    double lo = req ? req->lo : -HUGE_VAL, hi = req ? req->hi : HUGE_VAL;
    o->min = lo;
    o->max = hi;
    CF_TRY(cf_json_get_number(r, v, "min", CF_JSON_OPTIONAL, lo, hi, &o->min));
    CF_TRY(cf_json_get_number(r, v, "max", CF_JSON_OPTIONAL, o->min, hi, &o->max));
    CF_TRY(cf_json_get_number(r, v, "default", CF_JSON_REQUIRED, o->min, o->max, &o->value));
    if (o->integer && floor(o->value) != o->value) {
        size_t mark = cf_json_enter_key(r, "default");
        cf_status st = cf_json_fail(r, CF_ERR_PARSE, "expected an integer, got %g (the option is integer)", o->value);
        cf_json_leave(r, mark);
        return st;
    }
    o->doc[0] = '\0';
    CF_TRY(cf_json_get_string(r, v, "doc", CF_JSON_OPTIONAL, 0, o->doc, sizeof o->doc));
    if (!o->doc[0] && req) snprintf(o->doc, sizeof o->doc, "%s", req->doc);
    return CF_OK;
}

static cf_status parse_options(cf_json_reader *r, const cJSON *opts, cf_space *s) {
    int n = cJSON_GetArraySize(opts);
    if (n > CF_SPACE_MAX_OPTIONS)
        return cf_json_fail(r, CF_ERR_PARSE, "%d options, at most %d", n, CF_SPACE_MAX_OPTIONS);
    /* Option names are free (any extra option is kept); only repeats are wrong. */
    for (const cJSON *c = opts->child; c; c = c->next)
        for (const cJSON *d = opts->child; d != c; d = d->next)
            if (c->string && d->string && strcmp(c->string, d->string) == 0)
                return cf_json_fail(r, CF_ERR_PARSE, "duplicate option \"%s\"", c->string);
    s->n_options = 0;
    for (const cJSON *c = opts->child; c; c = c->next) {
        size_t mark = cf_json_enter_key(r, c->string);
        cf_status st = parse_option(r, c->string, c, s, &s->options[s->n_options]);
        cf_json_leave(r, mark);
        CF_TRY(st);
        s->n_options++;
    }
    char needed[128] = "";
    size_t len = 0;
    const cf_family_ops *f = cf_family_of(s->family);
    for (int i = 0; i < f->n_options && len < sizeof needed; i++)
        len += (size_t)snprintf(needed + len, sizeof needed - len, "%s%s", len ? ", " : "", f->options[i].name);
    for (int i = 0; i < f->n_options; i++) {
        const cf_family_option *q = &f->options[i];
        if (!cf_json_has(opts, q->name))
            return cf_json_fail(r, CF_ERR_PARSE, "missing required option \"%s\" (family %s reads %s)", q->name,
                                cf_space_family_name(s->family), needed);
    }
    return CF_OK;
}


static cf_status parse_skeleton(cf_json_reader *r, const cJSON *sk, cf_space *s) {
    CF_TRY(check_family_keys(r, sk, s->family, 1));
    const cf_family_ops *f = cf_family_of(s->family);
    if (f->parse_skeleton) CF_TRY(f->parse_skeleton(r, sk, s));
    const cJSON *opts = NULL;
    CF_TRY(cf_json_get_object(r, sk, "options", CF_JSON_REQUIRED, &opts));
    size_t mark = cf_json_enter_key(r, "options");
    cf_status st = parse_options(r, opts, s);
    cf_json_leave(r, mark);
    return st;
}

/* ---- the whole file ---------------------------------------------------------------- */

static cf_status parse_family(cf_json_reader *r, const cJSON *root, cf_space *s) {
    const char *names[CF_SPACE_FAMILY_COUNT];
    for (int f = 0; f < CF_SPACE_FAMILY_COUNT; f++) names[f] = cf_space_family_name((cf_space_family)f);
    const cJSON *fv = NULL;
    CF_TRY(cf_json_get_member(r, root, "family", CF_JSON_REQUIRED, &fv));
    size_t mark = cf_json_enter_key(r, "family");
    int family = 0;
    cf_status st = cf_json_as_choice(r, fv, "family", names, CF_SPACE_FAMILY_COUNT, &family);
    cf_json_leave(r, mark);
    s->family = (cf_space_family)family;
    return st;
}

/* Another family's part ("blocks" in a cell family, "cell" in mobile) gets a
 * message that says what this family reads instead. */
static cf_status refuse_other_parts(cf_json_reader *r, const cJSON *root, const cf_family_ops *own) {
    for (int g = 0; g < CF_SPACE_FAMILY_COUNT; g++) {
        const cf_family_ops *f = cf_family_of((cf_space_family)g);
        if (strcmp(f->part, own->part) == 0 || !cf_json_has(root, f->part)) continue;
        char users[64] = "";
        size_t len = 0;
        for (int k = 0; k < CF_SPACE_FAMILY_COUNT && len < sizeof users; k++)
            if (strcmp(cf_family_of((cf_space_family)k)->part, f->part) == 0)
                len += (size_t)snprintf(users + len, sizeof users - len, "%s%s", len ? ", " : "",
                                        cf_space_family_name((cf_space_family)k));
        size_t mark = cf_json_enter_key(r, f->part);
        cf_status st = cf_json_fail(r, CF_ERR_PARSE, "not read by family %s (\"%s\" belongs to %s spaces; this family has \"%s\")",
                                    own->name, f->part, users, own->part);
        cf_json_leave(r, mark);
        return st;
    }
    return CF_OK;
}

/* "hyperparameters": {"lr": "log:0.01..0.5", "C": "int:8..32", ...}: each a
 * SPEC as `--search KEY=SPEC` takes it (hparam.c checks it). */
static cf_status parse_hparams(cf_json_reader *r, const cJSON *root, cf_space *s) {
    const cJSON *hp = NULL;
    CF_TRY(cf_json_get_object(r, root, "hyperparameters", CF_JSON_REQUIRED, &hp));
    size_t mark = cf_json_enter_key(r, "hyperparameters");
    cf_status st = CF_OK;
    for (const cJSON *c = hp->child; c && st == CF_OK; c = c->next) {
        char spec[512];
        st = cf_json_get_string(r, hp, c->string, CF_JSON_REQUIRED, 1, spec, sizeof spec);
        if (st == CF_OK && cf_space_add_hparam(s, c->string, spec) != CF_OK) {
            size_t m = cf_json_enter_key(r, c->string);
            char why[512];
            snprintf(why, sizeof why, "%s", cf_error_message());
            st = cf_json_fail(r, CF_ERR_PARSE, "%s", why);
            cf_json_leave(r, m);
        }
    }
    cf_json_leave(r, mark);
    return st;
}

static cf_status parse_space(cf_json_reader *r, const cJSON *root, cf_space *s) {
    CF_TRY(cf_json_as_object(r, root));
    /* The family first: it decides which other keys belong. */
    CF_TRY(parse_family(r, root, s));
    const cf_family_ops *f = cf_family_of(s->family);
    CF_TRY(refuse_other_parts(r, root, f));
    const char *const keys[] = {"name", "doc", "family", "skeleton", f->part, "hyperparameters"};
    CF_TRY(cf_json_check_keys(r, root, keys, COUNT_OF(keys)));
    CF_TRY(get_name(r, root, "name", CF_JSON_REQUIRED, s->name, sizeof s->name, 1,
                    "the name is given to --space"));
    CF_TRY(cf_json_get_string(r, root, "doc", CF_JSON_OPTIONAL, 0, s->doc, sizeof s->doc));

    const cJSON *part = NULL;
    CF_TRY(cf_json_get_object(r, root, f->part, CF_JSON_REQUIRED, &part));
    size_t mark = cf_json_enter_key(r, f->part);
    cf_status st = check_family_keys(r, part, s->family, 0);
    if (st == CF_OK) st = f->parse_part(r, part, s);
    cf_json_leave(r, mark);
    CF_TRY(st);

    const cJSON *sk = NULL;
    CF_TRY(cf_json_get_object(r, root, "skeleton", CF_JSON_REQUIRED, &sk));
    mark = cf_json_enter_key(r, "skeleton");
    st = parse_skeleton(r, sk, s);
    cf_json_leave(r, mark);
    CF_TRY(st);
    if (cf_json_has(root, "hyperparameters")) CF_TRY(parse_hparams(r, root, s));
    /* Every arch text of the space must fit where runs store it. */
    size_t need = cf_arch_text_max(s);
    if (need > CF_ARCH_TEXT_MAX)
        return cf_json_fail(r, CF_ERR_PARSE,
                            "the space's longest arch text takes up to %zu bytes, more than the %d that runs "
                            "store (journal, checkpoints); use fewer nodes or inputs, or shorter op names",
                            need, CF_ARCH_TEXT_MAX);
    return CF_OK;
}


cf_status cf_space_parse(const char *json, const char *origin, cf_space **out) {
    if (!out) CF_FAIL(CF_ERR_INVALID_ARG, "cf_space_parse: out is NULL");
    *out = NULL;
    if (!origin) origin = "<text>";
    cJSON *root = NULL;
    CF_TRY(cf_json_parse(json, origin, &root));
    cf_space *s = calloc(1, sizeof *s);
    if (!s) {
        cJSON_Delete(root);
        CF_FAIL(CF_ERR_OUT_OF_MEMORY, "%s: cannot allocate the space", origin);
    }
    cf_json_reader r;
    cf_json_reader_init(&r, origin);
    cf_status st = parse_space(&r, root, s);
    cJSON_Delete(root);
    if (st != CF_OK) {
        free(s);
        return st;
    }
    *out = s;
    return CF_OK;
}

void cf_space_destroy(cf_space *s) { free(s); }

/* ---- finding files ------------------------------------------------------------------ */

#ifdef CF_SPACES_INSTALL_DIR
static int is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}
#endif

const char *cf_space_dir(void) {
    const char *env = getenv("CELLFORGE_SPACES");
    if (env && *env) return env;
#ifdef CF_SPACES_INSTALL_DIR
    if (is_dir(CF_SPACES_INSTALL_DIR)) return CF_SPACES_INSTALL_DIR;
#endif
#ifdef CF_SPACES_SOURCE_DIR
    return CF_SPACES_SOURCE_DIR;
#else
    return "search_spaces";
#endif
}

static int compare_names(const void *a, const void *b) { return strcmp((const char *)a, (const char *)b); }

size_t cf_space_list(char (*names)[32], size_t cap) {
    DIR *d = opendir(cf_space_dir());
    if (!d) return 0;
    char(*found)[32] = malloc(SPACE_LIST_MAX * sizeof *found);
    if (!found) {
        closedir(d);
        return 0;
    }
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n < SPACE_LIST_MAX) {
        size_t len = strlen(e->d_name);
        if (e->d_name[0] == '.' || len <= 5 || strcmp(e->d_name + len - 5, ".json") != 0) continue;
        if (len - 5 >= sizeof found[0]) continue; /* a name too long to load by name */
        memcpy(found[n], e->d_name, len - 5);
        found[n][len - 5] = '\0';
        n++;
    }
    closedir(d);
    qsort(found, n, sizeof found[0], compare_names);
    size_t filled = n < cap ? n : cap;
    if (filled) memcpy(names, found, filled * sizeof found[0]);
    free(found);
    return filled;
}

static cf_status unknown_space(const char *name, const char *dir) {
    char(*names)[32] = malloc(SPACE_LIST_MAX * sizeof *names);
    if (!names) CF_FAIL(CF_ERR_OUT_OF_MEMORY, "unknown search space '%s'", name);
    size_t n = cf_space_list(names, SPACE_LIST_MAX);
    const char *ptrs[SPACE_LIST_MAX];
    char known[512] = "";
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        ptrs[i] = names[i];
        if (len < sizeof known) len += (size_t)snprintf(known + len, sizeof known - len, "%s%s", i ? ", " : "", names[i]);
    }
    const char *near = cf_text_closest(name, ptrs, n);
    cf_status st;
    if (n == 0)
        st = cf_error_set(CF_ERR_UNKNOWN_NAME, __FILE__, __LINE__,
                          "unknown search space '%s': no spaces (*.json) in %s; set CELLFORGE_SPACES to the folder "
                          "that holds them, or give a path to a .json file",
                          name, dir);
    else if (near)
        st = cf_error_set(CF_ERR_UNKNOWN_NAME, __FILE__, __LINE__,
                          "unknown search space '%s' (did you mean '%s'?); spaces in %s: %s", name, near, dir, known);
    else
        st = cf_error_set(CF_ERR_UNKNOWN_NAME, __FILE__, __LINE__, "unknown search space '%s'; spaces in %s: %s", name,
                          dir, known);
    free(names);
    return st;
}

static cf_status read_text(const char *path, char **out) {
    *out = NULL;
    char *buf = NULL;
    size_t n = 0;
    CF_TRY(cf_file_read(path, SPACE_FILE_MAX, 0, &buf, &n));
    size_t text_len = strlen(buf);
    if (text_len != n) {
        free(buf);
        CF_FAIL(CF_ERR_PARSE, "%s: contains a NUL byte at offset %zu; not a JSON text", path, text_len);
    }
    *out = buf;
    return CF_OK;
}

cf_status cf_space_load(const char *name_or_path, cf_space **out) {
    if (!out) CF_FAIL(CF_ERR_INVALID_ARG, "cf_space_load: out is NULL");
    *out = NULL;
    if (!name_or_path || !*name_or_path) CF_FAIL(CF_ERR_INVALID_ARG, "cf_space_load: no space name or path");
    char path[sizeof((cf_space *)0)->path];
    size_t len = strlen(name_or_path);
    int is_path = strchr(name_or_path, '/') != NULL || (len >= 5 && strcmp(name_or_path + len - 5, ".json") == 0);
    if (is_path) {
        if (len >= sizeof path) CF_FAIL(CF_ERR_INVALID_ARG, "space file path too long (%zu bytes): %s", len, name_or_path);
        memcpy(path, name_or_path, len + 1);
    } else {
        const char *dir = cf_space_dir();
        int w = snprintf(path, sizeof path, "%s/%s.json", dir, name_or_path);
        if (w < 0 || (size_t)w >= sizeof path)
            CF_FAIL(CF_ERR_INVALID_ARG, "space directory path too long: %s", dir);
        struct stat st;
        if (stat(path, &st) != 0 && errno == ENOENT) return unknown_space(name_or_path, dir);
    }
    char *text = NULL;
    CF_TRY(read_text(path, &text));
    cf_status st = cf_space_parse(text, path, out);
    free(text);
    CF_TRY(st);
    snprintf((*out)->path, sizeof (*out)->path, "%s", path);
    return CF_OK;
}

/* ---- options ------------------------------------------------------------------------ */

static cf_space_option *find_option(const cf_space *s, const char *name) {
    for (int i = 0; i < s->n_options; i++)
        if (strcmp(s->options[i].name, name) == 0) return (cf_space_option *)&s->options[i];
    return NULL;
}

/* "an integer in 1..4096", "a number >= 0", ... */
static const char *describe_range(const cf_space_option *o, char *buf, size_t cap) {
    const char *kind = o->integer ? "an integer" : "a number";
    int has_lo = isfinite(o->min), has_hi = isfinite(o->max);
    if (has_lo && has_hi)
        snprintf(buf, cap, "%s in %g..%g", kind, o->min, o->max);
    else if (has_lo)
        snprintf(buf, cap, "%s >= %g", kind, o->min);
    else if (has_hi)
        snprintf(buf, cap, "%s <= %g", kind, o->max);
    else
        snprintf(buf, cap, "%s", kind);
    return buf;
}

cf_status cf_space_set(cf_space *s, const char *name, const char *value) {
    if (!s || !name || !value) CF_FAIL(CF_ERR_INVALID_ARG, "cf_space_set: NULL argument");
    cf_space_option *o = find_option(s, name);
    if (!o) {
        const char *names[CF_SPACE_MAX_OPTIONS];
        char known[512] = "";
        size_t len = 0;
        for (int i = 0; i < s->n_options; i++) {
            names[i] = s->options[i].name;
            if (len < sizeof known)
                len += (size_t)snprintf(known + len, sizeof known - len, "%s%s", i ? ", " : "", names[i]);
        }
        const char *near = cf_text_closest(name, names, (size_t)s->n_options);
        if (near)
            CF_FAIL(CF_ERR_UNKNOWN_NAME, "space %s: unknown option '%s' (did you mean '%s'?); options: %s", s->name,
                    name, near, known);
        CF_FAIL(CF_ERR_UNKNOWN_NAME, "space %s: unknown option '%s'; options: %s", s->name, name,
                s->n_options ? known : "(none)");
    }
    char range[96];
    describe_range(o, range, sizeof range);
    errno = 0;
    char *end = NULL;
    double v = strtod(value, &end);
    if (!*value || end == value || *end || errno == ERANGE || !isfinite(v))
        CF_FAIL(CF_ERR_INVALID_ARG, "space %s: option %s='%s' is not a number: expected %s", s->name, name, value,
                range);
    if (o->integer && (floor(v) != v || fabs(v) > (double)INT_MAX))
        CF_FAIL(CF_ERR_INVALID_ARG, "space %s: option %s=%s: expected %s", s->name, name, value, range);
    if (v < o->min || v > o->max)
        CF_FAIL(CF_ERR_INVALID_ARG, "space %s: option %s=%s is out of range: expected %s", s->name, name, value,
                range);
    o->value = v;
    return CF_OK;
}

cf_status cf_space_set_kv(cf_space *s, const char *assignment) {
    if (!s || !assignment) CF_FAIL(CF_ERR_INVALID_ARG, "cf_space_set_kv: NULL argument");
    const char *eq = strchr(assignment, '=');
    if (!eq || eq == assignment)
        CF_FAIL(CF_ERR_INVALID_ARG, "'%s': expected NAME=VALUE (e.g. C=16)", assignment);
    char name[64];
    size_t len = (size_t)(eq - assignment);
    if (len >= sizeof name) CF_FAIL(CF_ERR_UNKNOWN_NAME, "space %s: unknown option '%.*s'", s->name, (int)len, assignment);
    memcpy(name, assignment, len);
    name[len] = '\0';
    return cf_space_set(s, name, eq + 1);
}

double cf_space_get(const cf_space *s, const char *name) {
    CF_ASSERT(s != NULL && name != NULL);
    const cf_space_option *o = find_option(s, name);
    if (!o) CF_LOG_ERROR("space %s has no option '%s'", s->name, name);
    CF_ASSERT(o != NULL);
    return o->value;
}

double cf_space_get_or(const cf_space *s, const char *name, double fallback) {
    const cf_space_option *o = s && name ? find_option(s, name) : NULL;
    return o ? o->value : fallback;
}

void cf_space_format_options(const cf_space *s, char *buf, size_t cap) {
    size_t len = 0;
    if (cap) buf[0] = 0;
    for (int k = 0; k < s->n_options && len < cap; k++) {
        int w = snprintf(buf + len, cap - len, "%s%s=%g", k ? ", " : "", s->options[k].name, s->options[k].value);
        if (w < 0) break;
        len += (size_t)w;
    }
}

int cf_space_op_index(const cf_space *s, const char *name) {
    if (!s || !name) return -1;
    for (int i = 0; i < s->n_ops; i++)
        if (strcmp(s->ops[i].name, name) == 0) return i;
    return -1;
}
