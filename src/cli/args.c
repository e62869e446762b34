/* args.c - the flag parser every command uses, and the space/input options
 * shared by the space-aware commands. Tested by the cli tests in tests/CMakeLists.txt.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cellforge/text.h"
#include "cli.h"

static cli_flag *find_flag(cli_args *a, const char *name, size_t len) {
    for (int i = 0; i < a->n_flags; i++)
        if (strlen(a->flags[i].name) == len && strncmp(a->flags[i].name, name, len) == 0)
            return &a->flags[i];
    return NULL;
}

/* Set on the ranks above 0 of an MPI job: every rank parses the same command
 * line, and one copy of its usage errors and help is enough. */
static int g_usage_muted;

void cli_usage_mute(int on) { g_usage_muted = on; }
int cli_usage_muted(void) { return g_usage_muted; }

int cli_usage_error(const cli_args *a, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (!g_usage_muted) fprintf(stderr, "cellforge %s: %s\n(see `cellforge %s --help`)\n", a->command, msg, a->command);
    cf_error_set(CF_ERR_INVALID_ARG, __FILE__, __LINE__, "%s", msg); /* for the library API's callers */
    return EXIT_USAGE;
}

int cli_fail(const char *command) {
    fprintf(stderr, "cellforge %s: %s\n", command, cf_error_message());
    return EXIT_ERROR;
}

int cli_parse(cli_args *a, int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            a->help = 1;
            continue;
        }
        if (strcmp(arg, "-") == 0 || arg[0] != '-' || strcmp(arg, "--") == 0) {
            if (strcmp(arg, "--") == 0) {
                for (i++; i < argc; i++) {
                    if (a->n_positional == CLI_MAX_VALUES)
                        return cli_usage_error(a, "too many arguments");
                    a->positional[a->n_positional++] = argv[i];
                }
                break;
            }
            if (a->n_positional == CLI_MAX_VALUES) return cli_usage_error(a, "too many arguments");
            a->positional[a->n_positional++] = arg;
            continue;
        }
        const char *name = arg + (arg[1] == '-' ? 2 : 1);
        const char *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        cli_flag *f = find_flag(a, name, len);
        if (!f) {
            char given[64];
            snprintf(given, sizeof given, "%.*s", (int)(len < 60 ? len : 60), name);
            const char *names[64];
            int n = 0;
            for (int k = 0; k < a->n_flags && n < 64; k++) names[n++] = a->flags[k].name;
            const char *near = cf_text_closest(given, names, (size_t)n);
            if (near) return cli_usage_error(a, "unknown option '--%s'; did you mean '--%s'?", given, near);
            return cli_usage_error(a, "unknown option '--%s'", given);
        }
        const char *value = NULL;
        if (f->takes_value) {
            if (eq) value = eq + 1;
            else if (i + 1 < argc) value = argv[++i];
            else return cli_usage_error(a, "option '--%s' needs a value", f->name);
        } else if (eq) {
            return cli_usage_error(a, "option '--%s' takes no value", f->name);
        }
        if (f->count > 0 && !f->repeatable)
            return cli_usage_error(a, "option '--%s' given twice", f->name);
        if (f->count == CLI_MAX_VALUES) return cli_usage_error(a, "option '--%s' given too often", f->name);
        f->values[f->count++] = value;
    }
    return -1;
}

const cli_flag *cli_get(const cli_args *a, const char *name) {
    for (int i = 0; i < a->n_flags; i++)
        if (strcmp(a->flags[i].name, name) == 0) return &a->flags[i];
    return NULL;
}

const char *cli_value(const cli_args *a, const char *name) {
    const cli_flag *f = cli_get(a, name);
    return f && f->count ? f->values[f->count - 1] : NULL;
}

int cli_has(const cli_args *a, const char *name) {
    const cli_flag *f = cli_get(a, name);
    return f && f->count;
}

/* The flag's value parsed as kind within [min, max] (cf_text_parse_value: the
 * parser and message the search knobs and spec files use too). */
static int parse_flag(const cli_args *a, const char *name, cf_value_kind kind, double min, double max,
                      double *out) {
    const char *v = cli_value(a, name);
    if (!v) return -1;
    char what[64];
    snprintf(what, sizeof what, "--%s", name);
    cf_value_range r = {kind, min, max};
    if (cf_text_parse_value(v, &r, what, out) != CF_OK) return cli_usage_error(a, "%s", cf_error_message());
    return -1;
}

int cli_count(const cli_args *a, const char *name, double min, double max, long long *out) {
    double v = (double)*out;
    int rc = parse_flag(a, name, CF_VALUE_COUNT, min, max, &v);
    *out = (long long)v; /* whole, and at most 2^53 - 1 */
    return rc;
}

int cli_number(const cli_args *a, const char *name, double min, double max, double *out) {
    return parse_flag(a, name, CF_VALUE_NUMBER, min, max, out);
}

int cli_duration(const cli_args *a, const char *name, double min, double max, double *out) {
    return parse_flag(a, name, CF_VALUE_DURATION, min, max, out);
}

int cli_load_space(const cli_args *a, cf_space **out) {
    *out = NULL;
    const char *name = cli_value(a, "space");
    if (!name) return cli_usage_error(a, "--space NAME is required (see `cellforge space list`)");
    cf_space *s = NULL;
    if (cf_space_load(name, &s) != CF_OK) return cli_fail(a->command);
    const cli_flag *set = cli_get(a, "set");
    for (int i = 0; set && i < set->count; i++)
        if (cf_space_set_kv(s, set->values[i]) != CF_OK) {
            cf_space_destroy(s);
            return cli_fail(a->command);
        }
    /* hyperparameters searched with the architecture, beside (or replacing) the space file's */
    const cli_flag *search = cli_get(a, "search");
    for (int i = 0; search && i < search->count; i++)
        if (cf_space_add_hparam_kv(s, search->values[i]) != CF_OK) {
            cf_space_destroy(s);
            return cli_usage_error(a, "--search %s: %s", search->values[i], cf_error_message());
        }
    *out = s;
    return -1;
}

typedef struct known_input {
    const char *dataset;
    cf_net_input in;
} known_input;

static const known_input k_inputs[] = {
    {"fashion-mnist", {1, 28, 28, 10}},
    {"mnist", {1, 28, 28, 10}},
    {"cifar10", {3, 32, 32, 10}},
    {"cifar100", {3, 32, 32, 100}},
};
#define N_INPUTS (sizeof k_inputs / sizeof k_inputs[0])

int cli_input(const cli_args *a, cf_net_input *in, char *what, size_t cap) {
    const char *dataset = cli_value(a, "dataset"), *geom = cli_value(a, "input");
    if (dataset && geom) return cli_usage_error(a, "give --dataset or --input, not both");
    if (geom) {
        long dim[3];
        const char *p = geom;
        for (int k = 0; k < 3; k++) {
            char *end = NULL;
            dim[k] = isdigit((unsigned char)*p) ? strtol(p, &end, 10) : -1;
            if (dim[k] < 1 || dim[k] > (k < 2 ? CLI_MAX_SIDE : CLI_MAX_CHANNELS) || *end != (k < 2 ? 'x' : 0))
                return cli_usage_error(a, "--input '%s' is not HxWxC with sides in [1, %d] and channels in "
                                          "[1, %d] (e.g. 32x32x3)", geom, CLI_MAX_SIDE, CLI_MAX_CHANNELS);
            p = end + 1;
        }
        int h = (int)dim[0], w = (int)dim[1], c = (int)dim[2];
        long long classes = 10;
        int rc = cli_count(a, "classes", 2, CLI_MAX_CLASSES, &classes);
        if (rc >= 0) return rc;
        *in = (cf_net_input){c, h, w, (int)classes};
        snprintf(what, cap, "%dx%dx%d, %d classes", h, w, c, (int)classes);
        return -1;
    }
    if (cli_has(a, "classes")) return cli_usage_error(a, "--classes goes with --input");
    if (!dataset) dataset = "fashion-mnist";
    for (size_t i = 0; i < N_INPUTS; i++)
        if (strcmp(k_inputs[i].dataset, dataset) == 0) {
            *in = k_inputs[i].in;
            snprintf(what, cap, "%s (%dx%dx%d, %d classes)", dataset, in->h, in->w, in->c,
                     in->classes);
            return -1;
        }
    const char *names[N_INPUTS];
    for (size_t i = 0; i < N_INPUTS; i++) names[i] = k_inputs[i].dataset;
    const char *near = cf_text_closest(dataset, names, N_INPUTS);
    if (near) return cli_usage_error(a, "unknown dataset '%s'; did you mean '%s'?", dataset, near);
    return cli_usage_error(a, "unknown dataset '%s' (fashion-mnist, mnist, cifar10, cifar100)",
                           dataset);
}

int cli_precision(const cli_args *a, cf_dtype *out) {
    const char *p = cli_value(a, "precision");
    *out = CF_DTYPE_F32;
    if (!p || strcmp(p, "fp32") == 0 || strcmp(p, "f32") == 0) return -1;
    if (strcmp(p, "bf16") == 0) *out = CF_DTYPE_BF16;
    else if (strcmp(p, "fp16") == 0 || strcmp(p, "f16") == 0) *out = CF_DTYPE_F16;
    else return cli_usage_error(a, "--precision '%s': fp32, bf16 or fp16", p);
    return -1;
}

int cli_augment(const cli_args *a, int *crop, int *flip) {
    const char *aug = cli_value(a, "augment");
    *crop = *flip = 0;
    char list[128];
    snprintf(list, sizeof list, "%s", aug ? aug : "none");
    for (char *save = NULL, *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (strcmp(t, "crop") == 0) *crop = 1;
        else if (strcmp(t, "flip") == 0) *flip = 1;
        else if (strcmp(t, "none") != 0) return cli_usage_error(a, "--augment: unknown '%s' (none, crop, flip)", t);
    }
    return -1;
}
