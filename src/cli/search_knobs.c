/* search_knobs.c - every setting of `cellforge search` and `cellforge tabulate`,
 * declared once: name, default and doc feed the flag parser, the spec files,
 * the resolved spec (--print-spec, spec.json) and --help.
 */
#include <stdlib.h>
#include <string.h>

#include "cellforge/grow.h"
#include "cellforge/journal.h"
#include "cellforge/device.h"
#include "cellforge/strategy.h"
#include "cellforge/text.h"
#include "cellforge/train.h"
#include "cli.h"

#define S KNOB_SPEC
#define R KNOB_RESUMABLE
#define SE KNOB_SEARCH
#define TA KNOB_TABULATE
/* the values a numeric knob takes (cf_text_parse_value), checked alike on the
 * command line, in spec files and before --print-spec */
#define TEXT {CF_VALUE_TEXT, 0, 0}
#define COUNT(lo, hi) {CF_VALUE_COUNT, (lo), (hi)}
#define DURATION(lo, hi) {CF_VALUE_DURATION, (lo), (hi)}
#define NUMBER(lo, hi) {CF_VALUE_NUMBER, (lo), (hi)}

/* Groups print in this order; a knob's doc may hold '\n' for more lines. */
const cli_knob cli_knobs[] = {
    {"space", 1, 0, "nb201", "NAME", "nb201, darts, nb101, mobile or a .json space file; a search\ntrains small networks of the built-in spaces unless --set says\notherwise: nb201 C=8 N=1; darts C=8 layers=5 auxiliary=0\ndrop_path=0; nb101 stem_channels=16 cells_per_stack=1; mobile\nwidth=0.5", S | SE | TA, "what to search", TEXT},
    {"set", 1, 1, NULL, "KEY=VALUE", "a skeleton option of the space (C, N, layers, ...), repeatable", S | SE | TA, NULL, TEXT},
    {"search", 1, 1, NULL, "KEY=SPEC", "search a training knob or skeleton option with the architecture,\nrepeatable: lr=log:0.01..0.5, wd=0..0.001, C=int:8..32,\nbatch=choice:64,128,256, augment=choice:none,flip,crop+flip; keys\nlr, wd, momentum, batch, epochs, augment, cutout, erase,\nlabel_smoothing or an option of the space (see README)", S | SE, NULL, TEXT},
    {"dataset", 1, 0, "fashion-mnist", "NAME", "fashion-mnist (Debian's dataset-fashion-mnist), mnist, cifar10,\ncifar100, npz:FILE or folder:DIR[:HxW] (your own images)", S | SE | TA, NULL, TEXT},
    {"data-dir", 1, 0, NULL, "DIR", "where the dataset files are (default: Debian's location)", S | SE | TA, NULL, TEXT},
    {"strategy", 1, 0, "nsga2", "NAME", "random, grid, evolution, local, sh, hyperband, asha, bananas,\nnsga2; one-shot: darts, gdas, spos", S | SE, NULL, TEXT},
    {"strategy-options", 1, 0, "", "K=V,...", "the strategy's options (see below); the default search uses\npopulation=16", S | SE, NULL, TEXT},
    {"proxy", 1, 0, NULL, "LIST", "rank proposals by zero-cost proxies before training them: vote\n(synflow, snip and naswot; the default for --warmup and\n--proxy-pool), a proxy name or a comma list (a vote of those);\nbananas then also feeds them to its surrogate", S | SE, "zero-cost proxies (scores at initialization, see `cellforge score`)", TEXT},
    {"warmup", 1, 0, "0", "N", "score N random architectures before the first trial and propose\nthe best --warmup-keep first (evolution, local, random,\nbananas, nsga2)", S | SE, NULL, COUNT(0, 1e6)},
    {"warmup-keep", 1, 0, NULL, "P", "warm-up architectures proposed (default: a tenth of --warmup)", S | SE, NULL, COUNT(1, 1e6)},
    {"proxy-pool", 1, 0, "1", "K", "each random draw or mutation draws K new candidates and keeps\nthe proxies' best (evolution, local, random, nsga2)", S | SE, NULL, COUNT(1, 10000)},
    {"proxy-batch", 1, 0, "64", "B", "images in the proxies' minibatch (the first B of the seeded\norder of the training set)", S | SE, NULL, COUNT(2, 1024)},
    {"objectives", 1, 0, "acc,macs", "LIST", "acc, or acc plus any of macs,params,memory,latency and one\nzero-cost proxy (synflow, snip, naswot, ...); the front of\nthese is printed, reported and retrained", S | SE, NULL, TEXT},
    {"max-macs", 1, 0, NULL, "N", "hard limits checked with the exact cost model before a trial\nis dispatched (K/M/G suffixes); rejected proposals are counted,\nnever run", S | SE, NULL, COUNT(1, 1e15)},
    {"max-params", 1, 0, NULL, "N", "trainable parameters", S | SE, NULL, COUNT(1, 1e15)},
    {"max-memory", 1, 0, NULL, "N", "activation bytes of a training step", S | SE, NULL, COUNT(1, 1e15)},
    {"max-latency", 1, 0, NULL, "MS", "inference latency of one image, measured on one CPU thread\n(the median of 20 forward passes) before the trial is dispatched", S | SE, NULL, NUMBER(0.001, 1e6)},
    {"trials", 1, 0, NULL, "N", "stop after N trials", S | R | SE, "budget of the search (with neither, 6 minutes)", COUNT(1, 1e9)},
    {"time", 1, 0, NULL, "DURATION", "stop proposing after this run time (90s, 10m, 2h; with neither\nthis nor --trials: 6m); trials still running are cut at the end,\nand one that cannot finish in the time left is not started", S | R | SE, NULL, DURATION(1, 8760 * 3600)},
    {"sample", 1, 0, NULL, "N", "train N random architectures instead of all", TA, NULL, COUNT(1, 1e9)},
    {"epochs", 1, 0, "1", "N", "epochs per trial", S | SE | TA, "training of each trial", COUNT(1, CF_TRAIN_MAX_EPOCHS)},
    {"fraction", 1, 0, NULL, "F", "share of each epoch's batches: low-fidelity trials rank\narchitectures fast (default 0.25; with a table evaluator\nand in tabulate 1)", S | SE | TA, NULL, NUMBER(0.001, 1)},
    {"batch", 1, 0, "256", "B", "batch size (halved on out of memory)", S | SE | TA, NULL, COUNT(1, CLI_MAX_BATCH)},
    {"min-batch", 1, 0, "16", "B", "out-of-memory retries stop at this batch", S | SE | TA, NULL, COUNT(1, CLI_MAX_BATCH)},
    {"lr", 1, 0, "0.1", "LR", "peak learning rate (SGD Nesterov, cosine to 0)", S | SE | TA, NULL, NUMBER(0, 100)},
    {"precision", 1, 0, "fp32", "P", "fp32, bf16 or fp16: trials and final models in mixed precision\n(16-bit activations, f32 weights; fp16 scales its loss); on the\nCPU 16-bit values are computed in f32, for checking, not speed", S | SE | TA, NULL, TEXT},
    {"val-fraction", 1, 0, "0.1", "F", "share of the training set held out to score trials", S | SE | TA, NULL, NUMBER(0.001, 0.9)},
    {"evaluator", 1, 0, "train", "E", "train, table:FILE (a `cellforge tabulate` table: results\nlooked up, time simulated), cmd:COMMAND (any program trains\neach trial: the trial as JSON on its stdin, {\"acc\": ...} as the\nlast JSON line of its stdout; see README) or callback (a\nfunction of the library's caller: cellforge.search in Python)", S | SE, NULL, TEXT},
    {"seed", 1, 0, "0", "S", "the run seed: proposals, splits, weights, data order", S | SE | TA, NULL, COUNT(0, CF_VALUE_COUNT_MAX)},
    {"retrain", 1, 0, "3", "K", "then train up to K models of the front again, longer, and\nmeasure them on the test set (0: no final phase)", S | R | SE, "after the search", COUNT(0, CF_FINAL_MAX)},
    {"retrain-epochs", 1, 0, "3", "N", "epochs of each final model", S | R | SE, NULL, COUNT(1, CF_TRAIN_MAX_EPOCHS)},
    {"retrain-fraction", 1, 0, "1", "F", "share of each epoch's batches for the final models", S | R | SE, NULL, NUMBER(0.001, 1)},
    {"retrain-set", 1, 1, NULL, "KEY=VALUE", "a skeleton option of the final models only (wider or deeper\nthan the search's, e.g. C=16 N=3), repeatable", S | SE, NULL, TEXT},
    {"augment", 1, 0, "none", "LIST", "augmentation of the final models' training: none, or any of\ncrop,flip (crop pads 2 px on 28x28 images, 4 px otherwise)", S | SE, NULL, TEXT},
    {"cutout", 1, 0, "0", "N", "zero an NxN square of each final training image (0: off)", S | SE, NULL, COUNT(0, 4096)},
    {"erase", 1, 0, "0", "P", "random erasing of the final models' training images with this\nprobability (a rectangle of 1/8 to 1/2 of each side set to 0)", S | SE, NULL, NUMBER(0, 1)},
    {"label-smoothing", 1, 0, "0", "E", "label smoothing of the final models' loss", S | SE, NULL, NUMBER(0, 0.99)},
    {"budget", 1, 0, NULL, "DURATION", "the whole run's time (search, final phase and test), planned:\nthe search gets part of it, the final phase trains the\nbest cell widened as long as the rest allows (see README)", S | SE, NULL, DURATION(60, 8760 * 3600)},
    {"devices", 1, 0, "auto", "LIST", "auto (every GPU; the CPU only where no GPU trains), cpu,\ncuda:0,1,...", S | R | SE | TA, "devices", TEXT},
    {"cpu-workers", 1, 0, NULL, "K", "split the CPU into K workers running trials side by side\n(default: 1; beside GPUs under auto, none unless given)", S | R | SE | TA, NULL, COUNT(1, CF_MAX_WORKERS)},
    {"threads", 1, 0, NULL, "T", "CPU threads in all, divided among the workers (default: all\ncores)", S | R | SE | TA, NULL, COUNT(1, 4096)},
    {"cpu-memory", 1, 0, NULL, "N", "bytes the CPU workers may plan for trials (default: half the RAM)", S | R | SE | TA, NULL, COUNT(1, 1e15)},
    {"slots", 1, 0, "auto", "N", "trials at once on each GPU: auto (from 1, one more while the\nwork finished per second rises by 5%, up to 16) or at most N", S | R | SE, NULL, TEXT},
    {"replicas", 1, 0, NULL, "K", "run every trial data-parallel over K workers", S | SE | TA, NULL, COUNT(1, CF_MAX_WORKERS)},
    {"span-ranks", 0, 0, NULL, NULL, "let a data-parallel group (--replicas) take workers of several\nMPI ranks, its gradients summed over MPI (default: one rank's)", SE | TA, NULL, TEXT},
    {"mpi", 0, 0, NULL, NULL, "join an MPI job even where no launcher is seen (mpirun and srun\nare recognized): rank 0 searches, every rank runs its node's\nworkers (see README, Beyond one machine)", SE | TA, NULL, TEXT},
    {"rank-timeout", 1, 0, "2m", "DURATION", "an MPI rank silent this long is taken as hung: its trials fail\nnaming its rank and host, and the search stops", S | R | SE | TA, NULL, DURATION(1, 8760 * 3600)},
    {"oom-retries", 1, 0, "3", "N", "retries of an out-of-memory trial (more room, or half the batch)", S | SE | TA, NULL, COUNT(0, 100)},
    {"out", 1, 0, NULL, "DIR", "the run directory (default runs/SPACE-DATE-TIME; `none`: keep\nnothing); for tabulate, the table FILE", SE | TA, "the run", TEXT},
    {"resume", 1, 0, NULL, "DIR", "go on with a stopped or crashed run (flags may change the\nbudget and devices)", SE, NULL, TEXT},
    {"print-spec", 0, 0, NULL, NULL, "print the resolved spec as JSON and exit", SE, NULL, TEXT},
    {"spec-reference", 0, 0, NULL, NULL, "print every spec key as a Markdown table and exit", SE, NULL, TEXT},
    {"quiet", 0, 0, NULL, NULL, "no line per trial", SE | TA, NULL, TEXT},
};
const int cli_n_knobs = (int)(sizeof cli_knobs / sizeof cli_knobs[0]);

const cli_knob *cli_knob_find(const char *name) {
    for (int i = 0; i < cli_n_knobs; i++)
        if (strcmp(cli_knobs[i].name, name) == 0) return &cli_knobs[i];
    return NULL;
}

int cli_knob_flags(unsigned scope, cli_flag *out) {
    int n = 0;
    for (int i = 0; i < cli_n_knobs; i++)
        if (cli_knobs[i].flags & scope)
            out[n++] = (cli_flag){.name = cli_knobs[i].name, .takes_value = cli_knobs[i].takes_value,
                                  .repeatable = cli_knobs[i].repeatable};
    return n;
}

static void append(char **buf, size_t *len, size_t *cap, const char *text) {
    size_t n = strlen(text);
    if (cf_grow((void **)buf, cap, *len + n + 1, 1) != CF_OK) return; /* the usage text stops short */
    memcpy(*buf + *len, text, n + 1);
    *len += n;
}

const char *cli_knob_usage(unsigned scope, const char *head, const char *tail) {
    static char *cache[2];
    int slot = scope == KNOB_TABULATE;
    if (cache[slot]) return cache[slot];
    char *buf = NULL;
    size_t len = 0, cap = 0;
    append(&buf, &len, &cap, head);
    for (int i = 0; i < cli_n_knobs; i++) {
        const cli_knob *k = &cli_knobs[i];
        if (!(k->flags & scope)) continue;
        char line[512];
        if (k->group) {
            snprintf(line, sizeof line, "%s:\n", k->group);
            append(&buf, &len, &cap, line);
        }
        char flag[64];
        snprintf(flag, sizeof flag, "--%s%s%s", k->name, k->arg ? " " : "", k->arg ? k->arg : "");
        /* the doc, its continuation lines indented under the first */
        const char *doc = k->doc;
        int first = 1;
        if (strlen(flag) >= 22) {
            /* a long flag gets its own line, the doc starts under the others */
            snprintf(line, sizeof line, "  %s\n", flag);
            append(&buf, &len, &cap, line);
            flag[0] = 0;
        }
        do {
            const char *nl = strchr(doc, '\n');
            int n = nl ? (int)(nl - doc) : (int)strlen(doc);
            snprintf(line, sizeof line, "  %-22s%.*s", first ? flag : "", n, doc);
            append(&buf, &len, &cap, line);
            if (!nl) {
                char range[100];
                cf_value_range_text(&k->range, range, sizeof range);
                int has_def = k->def && *k->def, has_range = k->range.kind != CF_VALUE_TEXT;
                if (has_def || has_range) {
                    snprintf(line, sizeof line, "%s(%s%s%s%s%s)", n ? " " : "", has_def ? "default " : "",
                             has_def ? k->def : "", has_def && has_range ? ", " : "", has_range ? "in " : "",
                             has_range ? range : "");
                    append(&buf, &len, &cap, line);
                }
            }
            append(&buf, &len, &cap, "\n");
            first = 0;
            doc = nl ? nl + 1 : NULL;
        } while (doc);
    }
    if (tail) append(&buf, &len, &cap, tail);
    cache[slot] = buf;
    return buf ? buf : head;
}

/* The spec keys as a Markdown table: the README's spec reference is this
 * output (tests/readme_spec.sh keeps the two equal). */
char *cli_knob_markdown(void) {
    char *buf = NULL, line[1024], doc[768];
    size_t len = 0, cap = 0;
    append(&buf, &len, &cap,
           "| key (flag) | value | default | meaning | on resume |\n"
           "|---|---|---|---|---|\n");
    for (int i = 0; i < cli_n_knobs; i++) {
        const cli_knob *k = &cli_knobs[i];
        if (!(k->flags & KNOB_SPEC)) continue;
        size_t n = 0;
        for (const char *c = k->doc; *c && n + 2 < sizeof doc; c++) {
            if (*c == '|' && n + 3 < sizeof doc) doc[n++] = '\\';
            doc[n++] = *c == '\n' ? ' ' : *c;
        }
        doc[n] = 0;
        char range[100] = "";
        if (k->range.kind != CF_VALUE_TEXT) {
            char bounds[90];
            snprintf(range, sizeof range, " in %s", cf_value_range_text(&k->range, bounds, sizeof bounds));
        }
        snprintf(line, sizeof line, "| `%s` | %s%s%s | %s%s%s | %s | %s |\n", k->name, k->arg ? k->arg : "true",
                 range, k->repeatable ? " (list)" : "", k->def && *k->def ? "`" : "", k->def && *k->def ? k->def : "",
                 k->def && *k->def ? "`" : "", doc, k->flags & KNOB_RESUMABLE ? "may change" : "fixed");
        append(&buf, &len, &cap, line);
    }
    return buf;
}

int cli_knob_merge(cli_args *a, const cf_spec *spec, int resuming) {
    for (int i = 0; i < a->n_flags; i++) {
        cli_flag *f = &a->flags[i];
        const cli_knob *k = cli_knob_find(f->name);
        if (!k || !(k->flags & KNOB_SPEC)) continue;
        if (resuming && f->count && !(k->flags & KNOB_RESUMABLE))
            return cli_usage_error(a, "--%s cannot change in a resumed run (only the budget and the devices can); "
                                      "start a new run instead",
                                   f->name);
        const cf_spec_value *v = cf_spec_get(spec, f->name);
        if (f->count || !v) continue;
        if (!k->takes_value) {
            if (strcmp(v->values[0], "true") == 0) f->values[f->count++] = NULL;
            continue;
        }
        for (int j = 0; j < v->count && f->count < CLI_MAX_VALUES; j++) f->values[f->count++] = v->values[j];
    }
    return -1;
}

/* The skeleton a search of a built-in space trains when --set leaves an
 * option out. The spaces' own defaults are the published evaluation networks
 * (NB201 C=16 N=5, DARTS C=36 with 20 layers, NB101 with 128 stem channels,
 * a full-width mobile net): 30 to 450 M MACs per image, minutes per trial on
 * two cores and several GB of activations for DARTS at batch 256. A search
 * ranks cells with small networks instead (DARTS itself searches with 8
 * cells of 16 channels), sized so that a trial takes seconds on two CPU
 * cores on 28x28x1 and 32x32x3 alike (about 1.3 times the MACs on the
 * latter): every median cell of these is 2 to 15 M MACs and under 1 GB of
 * activations at batch 256. The final phase widens them (--retrain-set). */
static const struct {
    const char *space;
    const char *sets[4];
} k_skeletons[] = {
    {"nb201", {"C=8", "N=1"}},
    {"darts", {"C=8", "layers=5", "auxiliary=0", "drop_path=0"}},
    {"nb101", {"stem_channels=16", "cells_per_stack=1"}},
    {"mobile", {"width=0.5"}},
};

/* 1 when some value of set (KEY=VALUE) names the key of kv. */
static int sets_key(const cli_flag *set, const char *kv) {
    size_t n = strcspn(kv, "=");
    for (int i = 0; i < set->count; i++)
        if (strncmp(set->values[i], kv, n) == 0 && set->values[i][n] == '=') return 1;
    return 0;
}

void search_skeleton_defaults(const char *space, cli_flag *set) {
    for (size_t k = 0; k < sizeof k_skeletons / sizeof k_skeletons[0]; k++) {
        if (strcmp(space, k_skeletons[k].space) != 0) continue;
        /* in front of the user's values, which still override them */
        for (int i = 3; i >= 0; i--) {
            const char *kv = k_skeletons[k].sets[i];
            if (!kv || sets_key(set, kv) || set->count >= CLI_MAX_VALUES) continue;
            memmove(set->values + 1, set->values, (size_t)set->count * sizeof set->values[0]);
            set->values[0] = kv;
            set->count++;
        }
    }
}

/* --budget: the final phase of a planned run trains one model, the search's
 * best cell in the wider network the published searches evaluate at (twice
 * the search's channels), with crop, flip and label smoothing, for as many
 * epochs as the budget leaves (search_final.c plans them). The search's
 * small skeleton stays where a space file is searched. */
static const struct {
    const char *space;
    const char *sets[2];
} k_final_skeletons[] = {
    {"nb201", {"C=16"}},
    {"darts", {"C=16", "layers=8"}},
    {"nb101", {"stem_channels=32"}},
    {"mobile", {"width=1"}},
};

static cli_flag *flag_named(cli_args *a, const char *name) {
    for (int i = 0; i < a->n_flags; i++)
        if (strcmp(a->flags[i].name, name) == 0) return &a->flags[i];
    return NULL;
}

static void budget_defaults(cli_args *a, const char *space) {
    cli_flag *f;
    if ((f = flag_named(a, "retrain")) && f->count == 0) f->values[f->count++] = "1";
    if ((f = flag_named(a, "augment")) && f->count == 0) f->values[f->count++] = "crop,flip";
    if ((f = flag_named(a, "label-smoothing")) && f->count == 0) f->values[f->count++] = "0.1";
    if ((f = flag_named(a, "retrain-set")) && f->count == 0)
        for (size_t k = 0; k < sizeof k_final_skeletons / sizeof k_final_skeletons[0]; k++)
            for (int i = 0; strcmp(space, k_final_skeletons[k].space) == 0 && i < 2; i++)
                if (k_final_skeletons[k].sets[i]) f->values[f->count++] = k_final_skeletons[k].sets[i];
}

void cli_knob_defaults(cli_args *a) {
    cli_flag *space = NULL, *set = NULL, *strategy = NULL, *options = NULL, *fraction = NULL, *evaluator = NULL;
    for (int i = 0; i < a->n_flags; i++) {
        if (strcmp(a->flags[i].name, "space") == 0) space = &a->flags[i];
        if (strcmp(a->flags[i].name, "set") == 0) set = &a->flags[i];
        if (strcmp(a->flags[i].name, "strategy") == 0) strategy = &a->flags[i];
        if (strcmp(a->flags[i].name, "strategy-options") == 0) options = &a->flags[i];
        if (strcmp(a->flags[i].name, "fraction") == 0) fraction = &a->flags[i];
        if (strcmp(a->flags[i].name, "evaluator") == 0) evaluator = &a->flags[i];
    }
    /* the default strategy's population sized for a ten-minute search; another
     * strategy keeps its own defaults */
    if (strategy && strategy->count == 0 && options && options->count == 0) options->values[options->count++] = "population=16";
    /* a search ranks with low-fidelity trials; a table records whole epochs,
     * and so does a search that reads one */
    int whole = strcmp(a->command, "tabulate") == 0 ||
                (evaluator && evaluator->count > 0 && strncmp(evaluator->values[evaluator->count - 1], "table:", 6) == 0);
    if (fraction && fraction->count == 0) fraction->values[fraction->count++] = whole ? "1" : "0.25";
    const char *space_name = space && space->count ? space->values[space->count - 1] : "nb201";
    if (space && set) search_skeleton_defaults(space_name, set);
    cli_flag *budget = flag_named(a, "budget");
    int planned = budget && budget->count > 0;
    if (planned) budget_defaults(a, space_name);
    for (int i = 0; i < a->n_flags; i++) {
        cli_flag *f = &a->flags[i];
        const cli_knob *k = cli_knob_find(f->name);
        /* a planned run's final epochs come from the time left (0 in the spec) */
        if (planned && f->count == 0 && strcmp(f->name, "retrain-epochs") == 0) continue;
        if (k && f->count == 0 && k->def && *k->def && k->takes_value) f->values[f->count++] = k->def;
    }
}

char *cli_knob_spec_json(const cli_args *a) {
    char *buf = NULL, esc[4096], line[4400];
    size_t len = 0, cap = 0;
    snprintf(line, sizeof line, "{\n  \"format\": %d,\n  \"cellforge\": \"%s\"", CF_RUN_FORMAT, cf_version());
    append(&buf, &len, &cap, line);
    for (int i = 0; i < a->n_flags; i++) {
        const cli_flag *f = &a->flags[i];
        const cli_knob *k = cli_knob_find(f->name);
        if (!k || !(k->flags & KNOB_SPEC) || f->count == 0) continue;
        if (!k->takes_value) {
            snprintf(line, sizeof line, ",\n  \"%s\": true", f->name);
        } else if (k->repeatable) {
            snprintf(line, sizeof line, ",\n  \"%s\": [", f->name);
            append(&buf, &len, &cap, line);
            for (int j = 0; j < f->count; j++) {
                snprintf(line, sizeof line, "%s\"%s\"", j ? ", " : "", cf_journal_escape(f->values[j], esc, sizeof esc));
                append(&buf, &len, &cap, line);
            }
            snprintf(line, sizeof line, "]");
        } else {
            snprintf(line, sizeof line, ",\n  \"%s\": \"%s\"", f->name,
                     cf_journal_escape(f->values[f->count - 1], esc, sizeof esc));
        }
        append(&buf, &len, &cap, line);
    }
    append(&buf, &len, &cap, "\n}\n");
    return buf;
}

int cli_knob_load_spec(const cli_args *a, const char *path, cf_spec **out) {
    cf_spec_key keys[64];
    int n = 0;
    for (int i = 0; i < cli_n_knobs && n < 64; i++)
        if (cli_knobs[i].flags & KNOB_SPEC) keys[n++] = (cf_spec_key){cli_knobs[i].name, cli_knobs[i].range};
    if (cf_spec_load(path, keys, (size_t)n, CF_RUN_FORMAT, out) != CF_OK) return cli_fail(a->command);
    return -1;
}

/* The value of flag f (its last), parsed by its knob's range. */
static int knob_parse(const cli_args *a, const cli_knob *k, const char *value, double *out) {
    char what[64];
    snprintf(what, sizeof what, "--%s", k->name);
    if (cf_text_parse_value(value, &k->range, what, out) != CF_OK) return cli_usage_error(a, "%s", cf_error_message());
    return -1;
}

int cli_knob_check(const cli_args *a) {
    for (int i = 0; i < a->n_flags; i++) {
        const cli_flag *f = &a->flags[i];
        const cli_knob *k = cli_knob_find(f->name);
        double v;
        for (int j = 0; k && k->range.kind != CF_VALUE_TEXT && j < f->count; j++) {
            int rc = knob_parse(a, k, f->values[j], &v);
            if (rc >= 0) return rc;
        }
    }
    return -1;
}

int cli_knob_number(const cli_args *a, const char *name, double *out) {
    const cli_knob *k = cli_knob_find(name);
    const char *v = cli_value(a, name);
    CF_ASSERT(k && k->range.kind != CF_VALUE_TEXT);
    return v ? knob_parse(a, k, v, out) : -1;
}

int cli_knob_count(const cli_args *a, const char *name, long long *out) {
    double v = (double)*out;
    int rc = cli_knob_number(a, name, &v);
    *out = (long long)v; /* a count's range ends at 2^53 - 1 */
    return rc;
}

/* ---- the usage of search and tabulate: their words around the knob table ---- */

static const char *const search_head =
    "usage: cellforge search [SPEC.json] [options]\n"
    "       cellforge search --resume DIR [--trials N] [--time T] [--devices ...]\n\n"
    "Searches a space: the strategy proposes architectures, each trial trains on a\n"
    "free device (or is looked up in a benchmark table), results go back to the\n"
    "strategy. A failed trial (out of memory, NaN, timeout) is recorded and the\n"
    "search goes on. Everything lands in the run directory (spec.json, the journal,\n"
    "trials.tsv, trial checkpoints), so a stopped or crashed run resumes where it\n"
    "was. A spec file (JSON, keys named like the flags) sets any option; flags\n"
    "override it.\n\n";

static const char *const search_tail =
    "\nstrategy options (--strategy-options):\n"
    "  random     dedup=1\n"
    "  grid       limit=100000 shuffle=1\n"
    "  evolution  population=50 sample=10 dedup=1\n"
    "  local      (none)\n"
    "  sh         eta=3 n=0 (eta^(rungs-1)) sampler=random|evolution sample=10 parallel=1\n"
    "  hyperband  eta=3 sampler=random|evolution sample=10 parallel=1\n"
    "  asha       eta=3 sampler=random|evolution sample=10\n"
    "  bananas    ensemble=5 init=10 candidates=100 parents=10 acquisition=its|ucb kappa=1\n"
    "             steps=200\n"
    "  nsga2      population=50 tournament=2 (every objective of --objectives)\n"
    "  darts      epochs=0 (the run's --epochs) derive=1 order=1|2 lr=0.025 lr_min=0.001\n"
    "             wd=3e-4 arch_lr=3e-4 arch_wd=1e-3\n"
    "  gdas       as darts without order, and tau_max=10 tau_min=0.1\n"
    "  spos       epochs derive=3 lr lr_min wd population=20 generations=10 bn_batches=4\n"
    "             val_images=1000\n"
    "\nrun directory: spec.json (the resolved spec), journal.jsonl (one JSON event per\n"
    "line, jq-readable), trials.tsv (a benchmark table of the finished trials),\n"
    "trials/ID/train.cfs (a trial's state after each epoch), best.cfs (the best\n"
    "trial's). `cellforge status DIR` shows its progress.\n";

static const char *const tabulate_head =
    "usage: cellforge tabulate --space NAME [--set KEY=VALUE]... [--dataset NAME] --epochs N\n"
    "                          [--sample N] --out FILE [options]\n\n"
    "Trains every architecture of a space (each canonical cell once), or --sample N\n"
    "random ones, at one fidelity on all workers and writes a benchmark table for\n"
    "`cellforge search --evaluator table:FILE`. Rows are written as trials finish.\n\n";

const char *cmd_search_usage_text(void) {
    return cli_knob_usage(KNOB_SEARCH, search_head, search_tail);
}

const char *cmd_tabulate_usage_text(void) {
    return cli_knob_usage(KNOB_TABULATE, tabulate_head, NULL);
}
