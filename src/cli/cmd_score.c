/* cmd_score.c - `cellforge score`: zero-cost proxies of architectures at
 * initialization (include/cellforge/proxy.h), and how well they rank a
 * benchmark table's accuracies.
 *
 *   cellforge score --space nb201 ARCH
 *   cellforge score --space nb201 --sample 100 --json
 *   cellforge score --space benchmarks/spaces/nb201-3op.json --table benchmarks/tables/nb201-3op-fmnist.tsv
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cellforge/checkpoint.h"
#include "cellforge/data.h"
#include "cellforge/proxy.h"
#include "cellforge/thread.h"
#include "cli.h"

const char *const cmd_score_usage =
    "usage: cellforge score --space NAME [--set KEY=VALUE]... [--dataset NAME] [--batch B]\n"
    "                       [--seed S] [--threads T] [--json] (ARCH...|--sample N|--table FILE)\n\n"
    "Scores architectures without training them: each network is initialized (seed S) and\n"
    "measured on one minibatch of B training images (the first B of the seeded order):\n"
    "  params, macs   the cost model's counts: the baseline a proxy has to beat\n"
    "  grad_norm      sum of the norms of the weights' loss gradients\n"
    "  snip           sum of |weight x gradient| (connection sensitivity)\n"
    "  synflow        sum of |weight x gradient| of the sum of the outputs, with every\n"
    "                 parameter made positive, no batch norm and an input of ones\n"
    "  naswot         log-determinant of the images' ReLU-pattern agreement kernel\n"
    "  fisher         sum over the conv and linear output channels of the squared\n"
    "                 activation x gradient products (Theis et al.'s saliency)\n"
    "  jacob_cov      how uncorrelated the images' input gradients are: minus the sum of\n"
    "                 log(v + 1e-5) + 1/(v + 1e-5) over their correlation eigenvalues v\n"
    "Higher is better for each. With --table (a `cellforge tabulate` table of the same\n"
    "space), every distinct arch of its ok rows is scored (accuracies of repeated rows\n"
    "averaged) and the Spearman and Kendall rank correlations of each proxy, and of a\n"
    "vote (the mean rank of synflow, snip and naswot), with the accuracy are printed.\n\n"
    "options:\n"
    "  --space NAME      a space name or a .json file; --set KEY=VALUE a skeleton option\n"
    "  --dataset NAME    the minibatch's images (default fashion-mnist; npz:FILE, folder:DIR)\n"
    "  --data-dir DIR    where the dataset files are\n"
    "  --batch B         images in the minibatch (default 64, in [2, 1024])\n"
    "  --seed S          weights and minibatch (default 0)\n"
    "  --threads T       CPU threads (default: all cores)\n"
    "  --sample N        score N archs sampled with the seed\n"
    "  --table FILE      score the table's archs and correlate with its val_acc\n"
    "  --save-init FILE  with one ARCH: also write the initialized model (a .cfm file)\n"
    "  --json            one JSON object per arch (and one with the correlations)\n";

typedef struct score_run {
    const cf_space *s;
    cf_dataset *data;
    float *x;
    int32_t *y;
    int batch, json;
    uint64_t seed;
    cf_backend *be;
} score_run;

/* One arch's proxies into v; prints its line. 0 on success. */
static int score_one(const score_run *r, const char *text, double acc, double v[CF_PROXY_COUNT], const char *save) {
    cf_arch a;
    cf_net *net = NULL;
    cf_net_input in = {r->data->c, r->data->h, r->data->w, r->data->classes};
    double t0 = cf_time_now();
    if (cf_arch_parse(r->s, text, &a) != CF_OK || cf_net_build(r->s, &a, &in, &net) != CF_OK ||
        cf_proxy_score(net, r->be, r->seed, r->x, r->y, r->batch, v) != CF_OK) {
        fprintf(stderr, "cellforge score: %s: %s\n", text, cf_error_message());
        cf_net_destroy(net);
        return 1;
    }
    if (save) {
        cf_model *m = NULL;
        cf_net *copy = NULL;
        if (cf_net_clone(net, &copy) != CF_OK || cf_model_create(copy, 1, cf_backend_cpu_ref(), 0, &m) != CF_OK) {
            cf_net_destroy(net);
            return cli_fail("score");
        }
        cf_model_init(m, r->seed);
        cf_status st = cf_checkpoint_save(save, r->s, text, m, NULL, NULL, -1);
        cf_model_destroy(m);
        if (st != CF_OK) {
            cf_net_destroy(net);
            return cli_fail("score");
        }
    }
    cf_net_destroy(net);
    double secs = cf_time_now() - t0;
    char esc[2 * CF_ARCH_TEXT_MAX + 8];
    if (r->json) {
        printf("{\"arch\": \"%s\"", cf_journal_escape(text, esc, sizeof esc));
        for (int k = 0; k < CF_PROXY_COUNT; k++) printf(", \"%s\": %.17g", cf_proxy_name(k), v[k]);
        if (acc >= 0) printf(", \"val_acc\": %.17g", acc);
        printf(", \"seconds\": %.3f}\n", secs);
    } else {
        printf("%s\n ", text);
        for (int k = 0; k < CF_PROXY_COUNT; k++) printf(" %s %.6g", cf_proxy_name(k), v[k]);
        if (acc >= 0) printf("  val_acc %.4f", acc);
        printf("  (%.2f s)\n", secs);
    }
    fflush(stdout);
    return 0;
}

/* A table's ok rows, one per canonical arch (accuracies averaged). */
typedef struct table_row {
    char *arch;
    uint64_t hash;
    double acc_sum;
    int count;
} table_row;

static int read_table(const score_run *r, const char *path, table_row **out, size_t *n_out) {
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "cellforge score: %s: cannot open\n", path);
        return EXIT_ERROR;
    }
    char *line = NULL;
    size_t cap = 0, n = 0, room = 0, lineno = 0;
    int col_arch = -1, col_acc = -1, col_status = -1, rc = -1;
    table_row *rows = NULL;
    ssize_t len;
    while (rc < 0 && (len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = 0;
        if (line[0] == '#' || line[0] == 0) continue;
        char *field[64];
        int nf = 0;
        for (char *save = NULL, *t = strtok_r(line, "\t", &save); t && nf < 64; t = strtok_r(NULL, "\t", &save))
            field[nf++] = t;
        if (col_arch < 0) {
            for (int k = 0; k < nf; k++) {
                if (strcmp(field[k], "arch") == 0) col_arch = k;
                if (strcmp(field[k], "val_acc") == 0) col_acc = k;
                if (strcmp(field[k], "status") == 0) col_status = k;
            }
            if (col_arch < 0 || col_acc < 0) {
                fprintf(stderr, "cellforge score: %s:%zu: the header names no arch and val_acc columns\n", path, lineno);
                rc = EXIT_ERROR;
            }
            continue;
        }
        if (nf <= col_arch || nf <= col_acc || (col_status >= 0 && nf > col_status && strcmp(field[col_status], "ok")))
            continue;
        cf_arch a;
        if (cf_arch_parse(r->s, field[col_arch], &a) != CF_OK) {
            fprintf(stderr, "cellforge score: %s:%zu: %s\n", path, lineno, cf_error_message());
            rc = EXIT_ERROR;
            break;
        }
        uint64_t h = cf_arch_hash(r->s, &a);
        size_t k = 0;
        while (k < n && rows[k].hash != h) k++;
        if (k == n) {
            if (n == room) {
                room = room ? 2 * room : 64;
                table_row *more = realloc(rows, room * sizeof *rows);
                if (!more) break;
                rows = more;
            }
            rows[n++] = (table_row){strdup(field[col_arch]), h, 0, 0};
        }
        rows[k].acc_sum += atof(field[col_acc]);
        rows[k].count++;
    }
    free(line);
    fclose(f);
    *out = rows;
    *n_out = n;
    if (rc < 0 && n < 2) {
        fprintf(stderr, "cellforge score: %s: %zu distinct ok archs; correlations need at least 2\n", path, n);
        rc = EXIT_ERROR;
    }
    return rc;
}

/* The vote: mean rank of synflow, snip and naswot (higher is better). */
static void vote(double *const *v, size_t n, double *out) {
    static const cf_proxy_kind members[] = {CF_PROXY_SYNFLOW, CF_PROXY_SNIP, CF_PROXY_NASWOT};
    for (size_t i = 0; i < n; i++) {
        double sum = 0;
        for (size_t m = 0; m < 3; m++) {
            const double *p = v[members[m]];
            double below = 0;
            for (size_t j = 0; j < n; j++) below += p[j] < p[i] ? 1 : p[j] == p[i] ? 0.5 : 0;
            sum += below;
        }
        out[i] = sum / 3;
    }
}

static int score_table(const score_run *r, const char *path) {
    table_row *rows = NULL;
    size_t n = 0;
    int rc = read_table(r, path, &rows, &n);
    double *v[CF_PROXY_COUNT + 1], *acc = malloc((n ? n : 1) * sizeof *acc);
    for (int k = 0; k <= CF_PROXY_COUNT; k++) v[k] = malloc((n ? n : 1) * sizeof **v);
    for (size_t i = 0; rc < 0 && i < n; i++) {
        double one[CF_PROXY_COUNT];
        acc[i] = rows[i].acc_sum / rows[i].count;
        if (score_one(r, rows[i].arch, acc[i], one, NULL)) rc = EXIT_ERROR;
        for (int k = 0; k < CF_PROXY_COUNT; k++) v[k][i] = one[k];
    }
    if (rc < 0) {
        vote(v, n, v[CF_PROXY_COUNT]);
        if (r->json) printf("{\"table\": \"%s\", \"archs\": %zu, \"correlations\": {", path, n);
        else printf("\n%zu distinct archs of %s: rank correlation with val_acc\n%-10s %8s %8s\n", n, path, "proxy",
                    "spearman", "kendall");
        for (int k = 0; k <= CF_PROXY_COUNT; k++) {
            const char *name = k < CF_PROXY_COUNT ? cf_proxy_name(k) : "vote";
            double rho = cf_spearman(v[k], acc, n), tau = cf_kendall(v[k], acc, n);
            if (r->json) printf("%s\"%s\": {\"spearman\": %.6f, \"kendall\": %.6f}", k ? ", " : "", name, rho, tau);
            else printf("%-10s %8.3f %8.3f\n", name, rho, tau);
        }
        if (r->json) printf("}}\n");
        rc = EXIT_OK;
    }
    for (size_t i = 0; i < n; i++) free(rows[i].arch);
    free(rows);
    free(acc);
    for (int k = 0; k <= CF_PROXY_COUNT; k++) free(v[k]);
    return rc;
}

/* The minibatch: the first B images of the seeded order, normalized. */
static int load_batch(const cli_args *a, score_run *r) {
    const char *ds = cli_value(a, "dataset");
    if (cf_dataset_load(ds ? ds : "fashion-mnist", cli_value(a, "data-dir"), "train", &r->data) != CF_OK)
        return cli_fail("score");
    if ((size_t)r->batch > r->data->n)
        return cli_usage_error(a, "--batch %d: the dataset has %zu images", r->batch, r->data->n);
    r->x = malloc((size_t)r->batch * r->data->c * r->data->h * r->data->w * sizeof *r->x);
    r->y = malloc((size_t)r->batch * sizeof *r->y);
    if (!r->x || !r->y) {
        fprintf(stderr, "cellforge score: no memory for the minibatch\n");
        return EXIT_ERROR;
    }
    if (cf_proxy_minibatch(r->data, r->batch, r->seed, r->x, r->y) != CF_OK) return cli_fail("score");
    return -1;
}

int cmd_score(int argc, char **argv) {
    cli_flag flags[] = {FLAG("space", 1, 0), FLAG("set", 1, 1), FLAG("dataset", 1, 0), FLAG("data-dir", 1, 0),
                        FLAG("batch", 1, 0), FLAG("seed", 1, 0), FLAG("threads", 1, 0), FLAG("sample", 1, 0),
                        FLAG("table", 1, 0), FLAG("save-init", 1, 0), FLAG("json", 0, 0)};
    cli_args a = {.command = "score", .usage = cmd_score_usage, .flags = flags,
                  .n_flags = (int)(sizeof flags / sizeof flags[0])};
    int rc = cli_parse(&a, argc, argv);
    if (rc >= 0) return rc;
    if (a.help) {
        fputs(cmd_score_usage, stdout);
        return EXIT_OK;
    }
    long long batch = 64, seed = 0, threads = 0, sample = 0;
    if ((rc = cli_count(&a, "batch", 2, 1024, &batch)) >= 0 || (rc = cli_count(&a, "seed", 0, CF_VALUE_COUNT_MAX, &seed)) >= 0 ||
        (rc = cli_count(&a, "threads", 1, 1024, &threads)) >= 0 || (rc = cli_count(&a, "sample", 1, 1e7, &sample)) >= 0)
        return rc;
    int sources = (a.n_positional > 0) + (sample > 0) + cli_has(&a, "table");
    if (sources != 1) return cli_usage_error(&a, "give architectures, --sample N or --table FILE (one of them)");
    if (cli_has(&a, "save-init") && a.n_positional != 1)
        return cli_usage_error(&a, "--save-init goes with one ARCH");
    cf_space *space = NULL;
    if ((rc = cli_load_space(&a, &space)) >= 0) return rc;
    score_run r = {.s = space, .batch = (int)batch, .json = cli_has(&a, "json"), .seed = (uint64_t)seed};
    if ((rc = load_batch(&a, &r)) < 0 && cf_backend_cpu_fast_create((int)threads, &r.be) != CF_OK) rc = cli_fail("score");
    if (rc < 0 && cli_has(&a, "table")) {
        rc = score_table(&r, cli_value(&a, "table"));
    } else if (rc < 0 && sample > 0) {
        cf_rng rng = cf_rng_make(r.seed, cf_rng_stream(0, CF_RNG_PURPOSE_SAMPLE));
        for (long long i = 0; rc < 0 && i < sample; i++) {
            cf_arch arch;
            char text[CF_ARCH_TEXT_MAX];
            double v[CF_PROXY_COUNT];
            cf_arch_sample(space, &rng, &arch);
            if (cf_arch_format(space, &arch, text, sizeof text) != CF_OK || score_one(&r, text, -1, v, NULL))
                rc = EXIT_ERROR;
        }
    } else if (rc < 0) {
        for (int i = 0; rc < 0 && i < a.n_positional; i++) {
            double v[CF_PROXY_COUNT];
            if (score_one(&r, a.positional[i], -1, v, cli_value(&a, "save-init"))) rc = EXIT_ERROR;
        }
    }
    if (rc < 0) rc = EXIT_OK;
    cf_backend_cpu_fast_destroy(r.be);
    cf_dataset_destroy(r.data);
    free(r.x);
    free(r.y);
    cf_space_destroy(space);
    return rc;
}
