/* cmd_space.c - `cellforge space`: list the spaces, show one, sample from it.
 *
 *   cellforge space list
 *   cellforge space show nb201
 *   cellforge space sample darts --count 5 --seed 1
 */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

const char *const cmd_space_usage =
    "usage: cellforge space list\n"
    "       cellforge space show NAME [--set KEY=VALUE]...\n"
    "       cellforge space sample NAME [--count N] [--seed S] [--set KEY=VALUE]...\n\n"
    "list    the spaces in the spaces directory, with family, size and description\n"
    "show    a space's ops, cell, skeleton options, size and architecture format;\n"
    "        for spaces small enough to list, the number of distinct cells after\n"
    "        removing dead edges and merging isomorphic ones\n"
    "sample  N architectures drawn uniformly (default 10, seed 0), one per line,\n"
    "        in the space's text form (ready for `cellforge cost ... -`)\n"
    "NAME is a space name or a path to a space .json file (schema: search_spaces/README.md).\n";

static void print_size(double size) {
    if (size < 1e15) printf("%.0f", size);
    else printf("about 10^%.1f", log10(size));
}

static int space_list(void) {
    char names[128][32];
    size_t n = cf_space_list(names, 128);
    printf("spaces in %s:\n", cf_space_dir());
    for (size_t i = 0; i < n && i < 128; i++) {
        cf_space *s = NULL;
        if (cf_space_load(names[i], &s) != CF_OK) {
            printf("  %-12s (does not load: %s)\n", names[i], cf_error_message());
            continue;
        }
        printf("  %-12s %-7s ", s->name, cf_space_family_name(s->family));
        print_size(cf_space_size(s));
        printf(" archs\n               %s\n", s->doc);
        cf_space_destroy(s);
    }
    return EXIT_OK;
}

typedef struct unique_ctx {
    const cf_space *s;
    uint64_t *hashes;
    size_t n;
} unique_ctx;

static int collect_hash(const cf_arch *a, void *ctx) {
    unique_ctx *u = ctx;
    u->hashes[u->n++] = cf_arch_hash(u->s, a);
    return 0;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Distinct canonical cells of an enumerable space, or 0 when it is too large. */
static size_t count_unique(const cf_space *s) {
    const double limit = 2e6;
    double size = cf_space_size(s);
    if (size > limit) return 0;
    unique_ctx u = {s, malloc((size_t)size * sizeof(uint64_t)), 0};
    if (!u.hashes) return 0;
    if (cf_space_enumerate(s, (uint64_t)limit, collect_hash, &u) != CF_OK) {
        cf_error_clear();
        free(u.hashes);
        return 0;
    }
    qsort(u.hashes, u.n, sizeof *u.hashes, cmp_u64);
    size_t distinct = u.n ? 1 : 0;
    for (size_t i = 1; i < u.n; i++) distinct += u.hashes[i] != u.hashes[i - 1];
    free(u.hashes);
    return distinct;
}

static int space_show(const cf_space *s) {
    printf("space     %s (%s family)\n", s->name, cf_space_family_name(s->family));
    printf("file      %s\n", s->path);
    printf("about     %s\n", s->doc);
    printf("size      ");
    print_size(cf_space_size(s));
    printf(" architectures\n");
    size_t unique = count_unique(s);
    if (unique) printf("distinct  %zu after removing dead edges and merging isomorphic cells\n", unique);
    char family_lines[1024];
    cf_space_describe(s, family_lines, sizeof family_lines);
    fputs(family_lines, stdout);
    if (s->n_ops > 0) {
        printf("ops      ");
        for (int k = 0; k < s->n_ops; k++)
        {
            char geom[32] = "";
            if (s->ops[k].kernel) snprintf(geom, sizeof geom, " %dx%d", s->ops[k].kernel, s->ops[k].kernel);
            if (s->ops[k].dilation > 1)
                snprintf(geom + strlen(geom), sizeof geom - strlen(geom), " dilation %d", s->ops[k].dilation);
            printf(" %s (%s%s)%s", s->ops[k].name, cf_prim_name(s->ops[k].prim), geom,
                   k + 1 < s->n_ops ? "," : "");
        }
        printf("\n");
    }
    printf("options\n");
    for (int k = 0; k < s->n_options; k++) {
        const cf_space_option *o = &s->options[k];
        printf("  %-14s %-8g %s (%g..%g)\n", o->name, o->value, o->doc, o->min, o->max);
    }
    printf("format    %s\n", cf_space_arch_syntax(s));
    return EXIT_OK;
}

int cmd_space(int argc, char **argv) {
    cli_flag flags[] = {FLAG("set", 1, 1), FLAG("count", 1, 0), FLAG("seed", 1, 0)};
    cli_args args = {.command = "space", .usage = cmd_space_usage, .flags = flags,
                      .n_flags = (int)(sizeof flags / sizeof flags[0])};
    int rc = cli_parse(&args, argc, argv);
    if (rc >= 0) return rc;
    if (args.help) {
        fputs(cmd_space_usage, stdout);
        return EXIT_OK;
    }
    if (args.n_positional < 1) return cli_usage_error(&args, "expected list, show NAME or sample NAME");
    const char *sub = args.positional[0];
    if (strcmp(sub, "list") == 0) {
        if (args.n_positional != 1) return cli_usage_error(&args, "list takes no argument");
        return space_list();
    }
    if (strcmp(sub, "show") != 0 && strcmp(sub, "sample") != 0)
        return cli_usage_error(&args, "unknown subcommand '%s' (list, show, sample)", sub);
    if (args.n_positional != 2) return cli_usage_error(&args, "%s needs one space NAME", sub);
    long long count = 10, seed = 0;
    if ((rc = cli_count(&args, "count", 1, 1e9, &count)) >= 0) return rc;
    if ((rc = cli_count(&args, "seed", 0, CF_VALUE_COUNT_MAX, &seed)) >= 0) return rc;
    cf_space *s = NULL;
    if (cf_space_load(args.positional[1], &s) != CF_OK) return cli_fail("space");
    const cli_flag *set = cli_get(&args, "set");
    for (int i = 0; set && i < set->count; i++)
        if (cf_space_set_kv(s, set->values[i]) != CF_OK) {
            cf_space_destroy(s);
            return cli_fail("space");
        }
    if (strcmp(sub, "show") == 0) {
        rc = space_show(s);
    } else {
        cf_rng rng = cf_rng_make((uint64_t)seed, cf_rng_stream(0, CF_RNG_PURPOSE_SAMPLE));
        rc = EXIT_OK;
        for (long long i = 0; i < count; i++) {
            cf_arch a;
            char text[CF_ARCH_TEXT_MAX];
            cf_arch_sample(s, &rng, &a);
            if (cf_arch_format(s, &a, text, sizeof text) != CF_OK) {
                rc = cli_fail("space");
                break;
            }
            printf("%s\n", text);
        }
    }
    cf_space_destroy(s);
    return rc;
}
