/* cmd_cost.c - `cellforge cost`: parameters, MACs and activation memory of an
 * architecture, before anything is trained.
 *
 *   cellforge cost --space nb201 --set C=16 --set N=5 --dataset cifar10 \
 *       '|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|'
 *   cellforge space sample nb201 --count 100 | cellforge cost --space nb201 --json -
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cellforge/cost.h"
#include "cli.h"

const char *const cmd_cost_usage =
    "usage: cellforge cost --space NAME [--set KEY=VALUE]... [--search KEY=SPEC]...\n"
    "                      [--dataset NAME | --input HxWxC]\n"
    "                      [--classes K]] [--batch B] [--json] ARCH|-\n"
    "       cellforge cost --from RUN|MODEL|ARCHFILE [--trial ID] [--set KEY=VALUE]... [ARCH|-]\n\n"
    "Prints the exact cost of an architecture of a space:\n"
    "  params            trainable parameters (conv, linear, BN gamma/beta; no auxiliary head)\n"
    "  macs              multiply-accumulates of one image's forward pass (conv + linear),\n"
    "                    the convention of NAS-Bench-201, DARTS and mobile papers\n"
    "  activation_bytes  activation memory of one fp32 training step at the batch size\n"
    "also params_aux (a DARTS auxiliary head) and flops_nb201 (NAS-Bench-201's counter,\n"
    "which adds the classifier bias). ARCH is the space's text form (see `cellforge space\n"
    "show NAME`); '-' reads one architecture per line from stdin and prints one result each.\n"
    "A network whose counts do not fit 64 bits fails with a message naming the count and the\n"
    "layer (never a wrapped figure).\n\n"
    "options:\n"
    "  --space NAME        a space name (`cellforge space list`) or a .json file\n"
    "  --from SOURCE       the space, options, input and architecture of a run's best model\n"
    "                      (or --trial ID), a model file, or `export --format arch` text;\n"
    "                      an ARCH given besides is costed in that network instead\n"
    "  --set KEY=VALUE     a skeleton option, e.g. --set C=16 --set N=5 (repeatable)\n"
    "  --search KEY=SPEC   a hyperparameter searched with the architecture, as `search`\n"
    "                      takes it (repeatable): ARCH then ends in its values, e.g.\n"
    "                      '... {C=16}', and the network is built with them\n"
    "  --dataset NAME      input geometry of fashion-mnist (default), mnist, cifar10, cifar100\n"
    "  --input HxWxC       input geometry given directly, e.g. 32x32x3 (sides up to 65536,\n"
    "                      channels up to 4096), with --classes K (10; up to 100000)\n"
    "  --batch B           batch size for activation memory (default 256, or the arch's\n"
    "                      batch where it is searched; at most 65536)\n"
    "  --json              one JSON object per architecture\n";

typedef struct cost_run {
    const cf_space *s;
    cf_net_input in;
    int batch, json, batch_given;
    const char *what;
} cost_run;

static void json_string(FILE *out, const char *text) {
    fputc('"', out);
    for (const char *p = text; *p; p++) {
        if (*p == '"' || *p == '\\') fprintf(out, "\\%c", *p);
        else if ((unsigned char)*p < 0x20) fprintf(out, "\\u%04x", *p);
        else fputc(*p, out);
    }
    fputc('"', out);
}

/* "1,531,546" */
static const char *grouped(int64_t v, char *buf, size_t cap) {
    char digits[32];
    snprintf(digits, sizeof digits, "%" PRId64, v);
    size_t n = strlen(digits), o = 0;
    for (size_t i = 0; i < n && o + 2 < cap; i++) {
        if (i && (n - i) % 3 == 0 && digits[i - 1] != '-') buf[o++] = ',';
        buf[o++] = digits[i];
    }
    buf[o] = 0;
    return buf;
}

static int cost_one(const cost_run *r, const char *text, int line) {
    cf_arch a;
    if (cf_arch_parse(r->s, text, &a) != CF_OK) {
        if (line > 0) fprintf(stderr, "cellforge cost: stdin line %d: %s\n", line, cf_error_message());
        else fprintf(stderr, "cellforge cost: %s\n", cf_error_message());
        return EXIT_ERROR;
    }
    cf_cost c;
    const int batch = r->batch_given ? r->batch : (int)cf_arch_hparam(r->s, &a, "batch", r->batch);
    if (cf_cost_of(r->s, &a, &r->in, batch, &c) != CF_OK) return cli_fail("cost");
    char canon[CF_ARCH_TEXT_MAX];
    cf_arch ca;
    cf_arch_canonical(r->s, &a, &ca);
    uint64_t hash = cf_arch_hash(r->s, &a);
    if (r->json) {
        printf("{\"params\":%" PRId64 ",\"macs\":%" PRId64 ",\"activation_bytes\":%zu,"
               "\"params_aux\":%" PRId64 ",\"flops_nb201\":%" PRId64 ",\"batch\":%d,"
               "\"hash\":\"%016" PRIx64 "\",\"arch\":",
               c.params, c.macs, c.activation_bytes, c.params_aux, c.flops_nb201, c.batch, hash);
        cf_arch_format(r->s, &a, canon, sizeof canon);
        json_string(stdout, canon);
        printf("}\n");
        return EXIT_OK;
    }
    char b1[32], b2[32], b3[32];
    char opts[256];
    cf_space *own = malloc(sizeof *own); /* the options the arch's network is built with */
    if (own) cf_space_for_arch(r->s, &a, own);
    cf_space_format_options(own ? own : r->s, opts, sizeof opts);
    free(own);
    printf("space             %s (%s)\n", r->s->name, opts);
    printf("input             %s, batch %d\n", r->what, batch);
    printf("params            %s (%.3f M)\n", grouped(c.params, b1, sizeof b1), c.params / 1e6);
    if (c.params_aux)
        printf("params_aux        %s (auxiliary head, not in params)\n",
               grouped(c.params_aux, b2, sizeof b2));
    printf("macs              %s (%.2f M)\n", grouped(c.macs, b3, sizeof b3), c.macs / 1e6);
    printf("activation_bytes  %zu (%.1f MiB)\n", c.activation_bytes,
           (double)c.activation_bytes / (1 << 20));
    if (c.fused) printf("layers            %d (%d of them batchnorm+relu)\n", c.layers, c.fused);
    else printf("layers            %d\n", c.layers);
    printf("hash              %016" PRIx64 "\n", hash);
    return EXIT_OK;
}

int cmd_cost(int argc, char **argv) {
    cli_flag flags[] = {FLAG("space", 1, 0), FLAG("set", 1, 1),     FLAG("dataset", 1, 0), FLAG("input", 1, 0),
                        FLAG("classes", 1, 0), FLAG("batch", 1, 0), FLAG("json", 0, 0),  FLAG("from", 1, 0),
                        FLAG("trial", 1, 0), FLAG("search", 1, 1)};
    cli_args args = {.command = "cost", .usage = cmd_cost_usage, .flags = flags,
                      .n_flags = (int)(sizeof flags / sizeof flags[0])};
    int rc = cli_parse(&args, argc, argv);
    if (rc >= 0) return rc;
    if (args.help) {
        fputs(cmd_cost_usage, stdout);
        return EXIT_OK;
    }
    if (args.n_positional > 1 || (args.n_positional == 0 && !cli_has(&args, "from")))
        return cli_usage_error(&args, "expected one architecture (or '-' for stdin), got %d",
                               args.n_positional);
    cost_run r = {0};
    char what[128];
    long long batch = 256;
    if ((rc = cli_count(&args, "batch", 1, CLI_MAX_BATCH, &batch)) >= 0) return rc;
    cli_from from;
    if ((rc = cli_from_load(&args, &from)) >= 0) return rc;
    if (from.space && !cli_has(&args, "dataset") && !cli_has(&args, "input")) {
        r.in = from.input;
        snprintf(what, sizeof what, "%dx%dx%d, %d classes (from %s)", r.in.h, r.in.w, r.in.c, r.in.classes,
                 cli_value(&args, "from"));
    } else if ((rc = cli_input(&args, &r.in, what, sizeof what)) >= 0) {
        cli_from_free(&from);
        return rc;
    }
    cf_space *s = from.space;
    from.space = NULL;
    if (!s && (rc = cli_load_space(&args, &s)) >= 0) return rc;
    const char *arch = args.n_positional ? args.positional[0] : from.arch;
    r.s = s;
    r.batch = (int)batch;
    r.batch_given = cli_has(&args, "batch");
    r.json = cli_has(&args, "json");
    r.what = what;
    if (strcmp(arch, "-") != 0) {
        rc = cost_one(&r, arch, 0);
    } else {
        rc = EXIT_OK;
        char *line = NULL;
        size_t cap = 0;
        ssize_t len;
        int number = 0;
        while ((len = getline(&line, &cap, stdin)) >= 0) {
            number++;
            while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = 0;
            if (len == 0 || line[0] == '#') continue;
            if (cost_one(&r, line, number) != EXIT_OK) rc = EXIT_ERROR;
            if (!r.json) printf("\n");
        }
        free(line);
    }
    cf_space_destroy(s);
    cli_from_free(&from);
    return rc;
}
