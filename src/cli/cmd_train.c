/* cmd_train.c - `cellforge train` and `cellforge eval`: one architecture
 * trained on a real dataset on the CPU or a GPU, saved as a checkpoint, evaluated.
 *
 *   cellforge train --space nb201 --set C=16 --set N=1 --dataset fashion-mnist --epochs 10 \
 *       '|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|' \
 *       --out model.cfm
 *   cellforge eval model.cfm --dataset fashion-mnist
 *   cellforge eval runs/nb201-1 --logits best.f32   # the best model of a search
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cellforge/checkpoint.h"
#include "cellforge/data.h"
#include "cellforge/file.h"
#include "cellforge/thread.h"
#include "cellforge/train.h"
#include "cli.h"

const char *const cmd_train_usage =
    "usage: cellforge train --space NAME [--set KEY=VALUE]... [--dataset NAME] [--data-dir DIR]\n"
    "                       [--epochs N] [--out FILE] [options] ARCH\n"
    "       cellforge train --from RUN|MODEL|ARCHFILE [--trial ID] [--set KEY=VALUE]... [options]\n\n"
    "Trains one architecture on the CPU or a GPU, evaluates it on the held-out validation split\n"
    "after every epoch and on the test set at the end, and writes a checkpoint.\n\n"
    "options:\n"
    "  --space NAME          a space (`cellforge space list`) or a .json file; --set KEY=VALUE\n"
    "                        sets its skeleton options (C, N, layers, ...)\n"
    "  --from SOURCE         the space, options and architecture of a run's best model (or\n"
    "                        --trial ID), a model file, or `export --format arch` text; --set\n"
    "                        still applies (e.g. wider for a final training)\n"
    "  --dataset NAME        fashion-mnist (default; Debian's dataset-fashion-mnist), mnist,\n"
    "                        cifar10, cifar100 (from --data-dir), or your own images:\n"
    "                        npz:FILE (numpy arrays x, y, x_test, y_test) or folder:DIR[:HxW]\n"
    "                        (PNG/JPEG, a folder per class, DIR/train and DIR/test)\n"
    "  --data-dir DIR        where the dataset files are\n"
    "  --epochs N            10\n"
    "  --batch B             256\n"
    "  --lr LR               peak learning rate, 0.1 (cosine to 0 per step)\n"
    "  --warmup N            epochs of linear warmup, 0\n"
    "  --momentum M          0.9 (Nesterov; --no-nesterov for plain momentum)\n"
    "  --weight-decay WD     5e-4\n"
    "  --label-smoothing E   0\n"
    "  --grad-clip G         clip the gradient norm to G, off\n"
    "  --drop-path P         DARTS drop-path probability (default: the space's drop_path)\n"
    "  --augment LIST        none (default) or any of crop,flip (crop pads 2 px on 28x28\n"
    "                        images, 4 px otherwise)\n"
    "  --cutout N            zero an NxN square of each training image, off\n"
    "  --erase P             random erasing with probability P: a rectangle of 1/8 to 1/2\n"
    "                        of each side at a random place set to 0, off\n"
    "  --val-fraction F      share of the training set held out for validation, 0.1\n"
    "  --fraction F          train on this share of each epoch's batches, 1\n"
    "  --time-limit T        stop after T (90s, 10m, 2h); the run ends with status timeout\n"
    "  --threads T           CPU threads (default: all cores)\n"
    "  --device D            cpu (default), cuda or cuda:N: train on GPU N (cuDNN, cuBLAS)\n"
    "  --deterministic       on a GPU, only convolution algorithms that repeat bit for bit\n"
    "  --precision P         fp32 (default), bf16 or fp16: mixed precision, 16-bit activations\n"
    "                        with f32 weights, BN statistics and loss (fp16 scales its loss);\n"
    "                        the checkpoint holds f32 weights. On the CPU the 16-bit values are\n"
    "                        computed in f32: for checking, not for speed\n"
    "  --reference           run the plain reference ops instead of the fast CPU backend\n"
    "  --seed S              data order, augmentation, weights; 0\n"
    "  --out FILE            write the checkpoint (format: include/cellforge/checkpoint.h)\n"
    "A progress bar shows loss, accuracy and images/s when stdout is a terminal; otherwise\n"
    "one line per epoch.\n";

const char *const cmd_eval_usage =
    "usage: cellforge eval MODEL|RUN [--trial ID] [--dataset NAME] [--data-dir DIR] [--threads T]\n"
    "                      [--batch B] [--logits FILE] [--device D]\n\n"
    "Test-set accuracy of a model, with the accuracy of each class. MODEL is a model\n"
    "file (`cellforge train --out`) or a training state (.cfs); RUN a run directory of\n"
    "`cellforge search`, read as `cellforge export` reads it (its best model, or\n"
    "--trial ID). The dataset defaults to fashion-mnist.\n\n"
    "options:\n"
    "  --logits FILE   also write the logits of every test image, in test-set order,\n"
    "                  as raw little-endian float32 (images x classes), to compare\n"
    "                  with another runtime (numpy.fromfile(FILE, '<f4'))\n"
    "  --device D      cpu (default), cuda or cuda:N\n"
    "  --reference     run the plain reference ops instead of the fast CPU backend\n";

typedef struct progress_state {
    int tty;
    double last;
} progress_state;

static void on_progress(void *ctx, const cf_train_progress *p) {
    progress_state *ps = ctx;
    if (!ps->tty) {
        /* a log line per finished epoch (validation follows in the summary) */
        if (p->step == p->steps) {
            printf("epoch %d/%d trained: loss %.4f  acc %.2f%%  %.0f img/s  %.0f s elapsed\n", p->epoch + 1,
                   p->epochs, p->loss, 100 * p->acc, p->images_per_s, p->elapsed_s);
            fflush(stdout);
        }
        return;
    }
    double now = cf_time_now();
    if (p->step != p->steps && now - ps->last < 0.2) return;
    ps->last = now;
    int width = 24, done = (int)(width * p->step / p->steps);
    char bar[32];
    for (int i = 0; i < width; i++) bar[i] = i < done ? '=' : (i == done ? '>' : ' ');
    bar[width] = 0;
    printf("\repoch %d/%d [%s] %lld/%lld  loss %.4f  acc %5.2f%%  %6.0f img/s  lr %.4f ", p->epoch + 1,
           p->epochs, bar, (long long)p->step, (long long)p->steps, p->loss, 100 * p->acc,
           p->images_per_s, p->lr);
    fflush(stdout);
}

static int load_data(const char *cmd, const char *dataset, const char *dir, const char *split,
                     cf_dataset **out) {
    if (cf_dataset_load(dataset, dir, split, out) != CF_OK) return cli_fail(cmd);
    return -1;
}

/* The backend of --device: "cpu" (the fast CPU backend, or the reference
 * ops with --reference) or "cuda" / "cuda:N". *owned is what close_backend frees. */
static int make_backend(const char *cmd, const char *device, int reference, int threads, int deterministic,
                        cf_backend **owned, const cf_backend **be) {
    *owned = NULL;
    if (!device || strcmp(device, "cpu") == 0) {
        if (reference) {
            *be = cf_backend_cpu_ref();
            return -1;
        }
        if (cf_backend_cpu_fast_create(threads, owned) != CF_OK) return cli_fail(cmd);
        *be = *owned;
        return -1;
    }
    int index = 0;
    char *end = NULL;
    if (strcmp(device, "cuda") != 0) {
        if (strncmp(device, "cuda:", 5) != 0 || !device[5] || (index = (int)strtol(device + 5, &end, 10)) < 0 || *end) {
            fprintf(stderr, "cellforge %s: --device %s: expected cpu, cuda or cuda:N\n", cmd, device);
            return EXIT_USAGE;
        }
    }
    if (reference) {
        fprintf(stderr, "cellforge %s: --reference runs on the CPU; drop --device %s\n", cmd, device);
        return EXIT_USAGE;
    }
    if (cf_backend_cuda_create(index, deterministic, owned) != CF_OK) return cli_fail(cmd);
    *be = *owned;
    return -1;
}

static void close_backend(cf_backend *owned) { cf_backend_destroy(owned); }

/* The flags of `cellforge train` that are not fields of cf_train_config. */
typedef struct train_opts {
    long long threads;
    double val_fraction, drop_path; /* drop_path < 0: the space's */
    int want_crop;
    const char *dataset, *data_dir, *out_path;
} train_opts;

/* What one `cellforge train` holds; close_train frees it. */
typedef struct train_run {
    cf_space *s;
    char arch_text[CF_ARCH_TEXT_MAX];
    cf_arch arch;
    cf_dataset *all, *train, *val, *test; /* all: before the validation split */
    cf_backend *fast;
    const cf_backend *be;
    cf_net *net;                          /* until the model takes it */
    cf_model *m;
} train_run;

static void close_train(train_run *r) {
    cf_model_destroy(r->m);
    cf_net_destroy(r->net);
    close_backend(r->fast);
    cf_dataset_destroy(r->all);
    cf_dataset_destroy(r->train);
    cf_dataset_destroy(r->val);
    cf_dataset_destroy(r->test);
    cf_space_destroy(r->s);
}

/* The flags into the training config and the options around it. */
static int read_train_flags(cli_args *args, cf_train_config *cfg, train_opts *o) {
    cf_train_config_default(cfg);
    memset(o, 0, sizeof *o);
    long long epochs = cfg->epochs, batch = cfg->batch, seed = 0, cutout = 0, warmup = 0;
    o->val_fraction = 0.1;
    o->drop_path = -1;
    int rc;
    if ((rc = cli_count(args, "epochs", 1, CF_TRAIN_MAX_EPOCHS, &epochs)) >= 0 || (rc = cli_count(args, "batch", 1, CLI_MAX_BATCH, &batch)) >= 0 ||
        (rc = cli_count(args, "seed", 0, CF_VALUE_COUNT_MAX, &seed)) >= 0 || (rc = cli_count(args, "threads", 1, 4096, &o->threads)) >= 0 ||
        (rc = cli_count(args, "cutout", 0, 65536, &cutout)) >= 0 || (rc = cli_count(args, "warmup", 0, CF_TRAIN_MAX_EPOCHS, &warmup)) >= 0 ||
        (rc = cli_number(args, "lr", 0, 100, &cfg->lr)) >= 0 ||
        (rc = cli_number(args, "momentum", 0, 0.999, &cfg->momentum)) >= 0 ||
        (rc = cli_number(args, "weight-decay", 0, 1, &cfg->weight_decay)) >= 0 ||
        (rc = cli_number(args, "label-smoothing", 0, 0.99, &cfg->label_smoothing)) >= 0 ||
        (rc = cli_number(args, "erase", 0, 1, &cfg->augment.erase)) >= 0 ||
        (rc = cli_number(args, "grad-clip", 0, 1e9, &cfg->grad_clip)) >= 0 ||
        (rc = cli_number(args, "drop-path", 0, 0.95, &o->drop_path)) >= 0 ||
        (rc = cli_number(args, "val-fraction", 0, 0.9, &o->val_fraction)) >= 0 ||
        (rc = cli_number(args, "fraction", 0.001, 1, &cfg->max_epoch_fraction)) >= 0 ||
        (rc = cli_duration(args, "time-limit", 0, 8760 * 3600, &cfg->time_limit_s)) >= 0)
        return rc;
    cfg->epochs = (int)epochs;
    cfg->batch = (int)batch;
    cfg->seed = (uint64_t)seed;
    cfg->warmup_epochs = (int)warmup;
    cfg->nesterov = !cli_has(args, "no-nesterov");
    cfg->augment.cutout = (int)cutout;
    /* crop's padding waits for the image size */
    if ((rc = cli_augment(args, &o->want_crop, &cfg->augment.flip)) >= 0) return rc;
    if ((rc = cli_precision(args, &cfg->precision)) >= 0) return rc;
    o->dataset = cli_value(args, "dataset");
    if (!o->dataset) o->dataset = "fashion-mnist";
    o->data_dir = cli_value(args, "data-dir");
    o->out_path = cli_value(args, "out");
    return -1;
}

/* The space and the architecture in it (given, or --from's), in its canonical text. */
static int load_arch(cli_args *args, train_run *r) {
    cli_from from;
    int rc = cli_from_load(args, &from);
    if (rc >= 0) return rc;
    r->s = from.space;
    from.space = NULL;
    if (!r->s && (rc = cli_load_space(args, &r->s)) >= 0) return rc;
    if (from.arch) { /* the data must be what the network was built for: checked before loading it */
        cf_net_input in, *f = &from.input;
        char what[128];
        if ((rc = cli_input(args, &in, what, sizeof what)) >= 0 ||
            ((f->c != in.c || f->h != in.h || f->w != in.w || f->classes != in.classes) &&
             (rc = cli_usage_error(args, "--from %s: built for %dx%dx%d images of %d classes, and %s has those of %s "
                                   "(pass --dataset)", cli_value(args, "from"), f->h, f->w, f->c, f->classes,
                                   cli_value(args, "dataset") ? cli_value(args, "dataset") : "fashion-mnist", what)) >= 0)) {
            cli_from_free(&from);
            return rc;
        }
    }
    const char *arch = args->n_positional ? args->positional[0] : from.arch;
    cf_status st = cf_arch_parse(r->s, arch, &r->arch);
    cli_from_free(&from);
    if (st != CF_OK) return cli_fail("train");
    if (cf_arch_format(r->s, &r->arch, r->arch_text, sizeof r->arch_text) != CF_OK) return cli_fail("train");
    return -1;
}

/* The training set (less the validation share) and the test set. */
static int load_train_data(const train_opts *o, const cf_train_config *cfg, train_run *r) {
    int rc;
    if ((rc = load_data("train", o->dataset, o->data_dir, "train", &r->all)) >= 0) return rc;
    if ((rc = load_data("train", o->dataset, o->data_dir, "test", &r->test)) >= 0) return rc;
    if (o->val_fraction > 0) {
        if (cf_dataset_split(r->all, o->val_fraction, cfg->seed, &r->train, &r->val) != CF_OK) return cli_fail("train");
    } else {
        r->train = r->all;
        r->all = NULL;
    }
    return -1;
}

/* The network for the data's images, on its backend, initialized. */
static int build_model(cli_args *args, const train_opts *o, cf_train_config *cfg, train_run *r) {
    if (o->want_crop) cfg->augment.crop_pad = r->train->h <= 28 ? 2 : 4;
    double drop_path = o->drop_path < 0 ? cf_space_get_or(r->s, "drop_path", 0) : o->drop_path;
    cfg->drop_path = drop_path > 0 ? drop_path : 0;
    int with_aux = cf_space_get_or(r->s, "auxiliary", 0) != 0;
    cf_net_input in = {r->train->c, r->train->h, r->train->w, r->train->classes};
    if (cf_net_build(r->s, &r->arch, &in, &r->net) != CF_OK) return cli_fail("train");
    int rc = make_backend("train", cli_value(args, "device"), cli_has(args, "reference"), (int)o->threads,
                          cli_has(args, "deterministic"), &r->fast, &r->be);
    if (rc >= 0) return rc;
    cf_net *net = r->net;
    r->net = NULL; /* the model owns it from here on, even when its creation fails */
    if (cf_model_create_dtype(net, cfg->batch, r->be, with_aux, cfg->precision, &r->m) != CF_OK)
        return cli_fail("train");
    r->m->threads = o->threads > 0 ? (int)o->threads : cf_cpu_count();
    cf_model_init(r->m, cfg->seed);
    return -1;
}

static void print_epochs(const cf_train_result *res, const cf_train_config *cfg) {
    for (int e = 0; e < res->epochs_done; e++) {
        const cf_epoch_record *r = &res->curve[e];
        char val_text[32] = "-";
        if (r->val_acc >= 0) snprintf(val_text, sizeof val_text, "%.2f%%", 100 * r->val_acc);
        printf("epoch %d/%d  loss %.4f  train acc %.2f%%  val acc %s  lr %.4f  %.2f s\n", e + 1, cfg->epochs,
               r->train_loss, 100 * r->train_acc, val_text, r->lr, r->seconds);
    }
    if (res->status != CF_TRAIN_OK) printf("stopped: %s (%s)\n", cf_train_status_name(res->status), res->reason);
}

/* Train with a progress line, print the curve, test, and write the checkpoint. */
static int train_and_test(train_run *r, cf_train_config *cfg, const train_opts *o) {
    char opts[256];
    cf_space_format_options(r->s, opts, sizeof opts);
    printf("train %s (%s) on %s: %zu training, %zu validation, %zu test images; %zu parameters; "
           "%d epochs of batch %d, %s backend%s%s\n",
           r->s->name, opts, o->dataset, r->train->n, r->val ? r->val->n : 0, r->test->n, (size_t)r->m->n_params,
           cfg->epochs, cfg->batch, cf_backend_name(r->be), cfg->precision != CF_DTYPE_F32 ? ", mixed precision " : "",
           cfg->precision != CF_DTYPE_F32 ? cf_dtype_name(cfg->precision) : "");
    fflush(stdout);
    progress_state ps = {isatty(STDOUT_FILENO), 0};
    cfg->progress = on_progress;
    cfg->progress_ctx = &ps;
    cf_train_result *res = calloc(1, sizeof *res);
    if (!res || cf_train(r->m, r->train, r->val, cfg, res) != CF_OK) {
        free(res);
        return cli_fail("train");
    }
    if (ps.tty) printf("\n");
    print_epochs(res, cfg);
    double test_acc = -1;
    if (res->epochs_done > 0 || res->status == CF_TRAIN_TIMEOUT) {
        if (cf_evaluate(r->m, r->test, res->mean, res->std, &test_acc, NULL) != CF_OK) {
            free(res);
            return cli_fail("train");
        }
    }
    printf("test accuracy %.2f%% (%zu images); %.0f training images/s; %.1f s in all\n", 100 * test_acc,
           r->test->n, res->images_per_s, res->seconds);
    if (cfg->precision == CF_DTYPE_F16)
        printf("fp16 loss scaling: %lld step%s skipped for an overflow\n", (long long)res->scale_skips,
               res->scale_skips == 1 ? "" : "s");
    int rc = res->status == CF_TRAIN_OK ? EXIT_OK : EXIT_ERROR;
    if (o->out_path) {
        if (cf_checkpoint_save(o->out_path, r->s, r->arch_text, r->m, cfg, res, test_acc) != CF_OK) {
            rc = cli_fail("train");
        } else {
            printf("wrote %s\n", o->out_path);
        }
    }
    free(res);
    return rc;
}

int cmd_train(int argc, char **argv) {
    cli_flag flags[] = {
        FLAG("space", 1, 0), FLAG("set", 1, 1), FLAG("dataset", 1, 0), FLAG("data-dir", 1, 0),
        FLAG("epochs", 1, 0), FLAG("batch", 1, 0), FLAG("lr", 1, 0), FLAG("warmup", 1, 0),
        FLAG("momentum", 1, 0), FLAG("no-nesterov", 0, 0), FLAG("weight-decay", 1, 0),
        FLAG("label-smoothing", 1, 0), FLAG("grad-clip", 1, 0), FLAG("drop-path", 1, 0),
        FLAG("augment", 1, 0), FLAG("cutout", 1, 0), FLAG("erase", 1, 0), FLAG("val-fraction", 1, 0), FLAG("fraction", 1, 0),
        FLAG("time-limit", 1, 0), FLAG("threads", 1, 0), FLAG("reference", 0, 0), FLAG("seed", 1, 0),
        FLAG("out", 1, 0), FLAG("device", 1, 0), FLAG("deterministic", 0, 0), FLAG("from", 1, 0),
        FLAG("trial", 1, 0), FLAG("precision", 1, 0)};
    cli_args args = {.command = "train", .usage = cmd_train_usage, .flags = flags,
                     .n_flags = (int)(sizeof flags / sizeof flags[0])};
    int rc = cli_parse(&args, argc, argv);
    if (rc >= 0) return rc;
    if (args.help) {
        fputs(cmd_train_usage, stdout);
        return EXIT_OK;
    }
    if (args.n_positional > 1 || (args.n_positional == 0 && !cli_has(&args, "from")))
        return cli_usage_error(&args, "expected one architecture, got %d arguments", args.n_positional);
    cf_train_config cfg;
    train_opts o;
    if ((rc = read_train_flags(&args, &cfg, &o)) >= 0) return rc;
    train_run r;
    memset(&r, 0, sizeof r);
    if ((rc = load_arch(&args, &r)) < 0 && (rc = load_train_data(&o, &cfg, &r)) < 0 &&
        (rc = build_model(&args, &o, &cfg, &r)) < 0)
        rc = train_and_test(&r, &cfg, &o);
    close_train(&r);
    return rc;
}

/* Raw little-endian float32, written atomically (cf_file_writer). */
static int write_logits(const char *path, const float *v, size_t count) {
    cf_file_writer w;
    if (cf_file_writer_open(&w, path) != CF_OK) {
        fprintf(stderr, "cellforge eval: %s\n", cf_error_message());
        return 0;
    }
    const uint16_t probe = 1;
    cf_status st = CF_OK;
    if (*(const unsigned char *)&probe == 1) {
        st = cf_file_writer_write(&w, v, count * sizeof *v);
    } else {
        for (size_t i = 0; i < count && st == CF_OK; i++) {
            unsigned char b[4];
            uint32_t bits;
            memcpy(&bits, &v[i], 4);
            for (int k = 0; k < 4; k++) b[k] = (unsigned char)(bits >> (8 * k));
            st = cf_file_writer_write(&w, b, 4);
        }
    }
    if (st == CF_OK) st = cf_file_writer_commit(&w);
    else cf_file_writer_abort(&w);
    if (st != CF_OK) fprintf(stderr, "cellforge eval: %s\n", cf_error_message());
    return st == CF_OK;
}

int cmd_eval(int argc, char **argv) {
    cli_flag flags[] = {FLAG("dataset", 1, 0), FLAG("data-dir", 1, 0), FLAG("threads", 1, 0),
                        FLAG("batch", 1, 0), FLAG("reference", 0, 0), FLAG("trial", 1, 0),
                        FLAG("logits", 1, 0), FLAG("device", 1, 0)};
    cli_args args = {.command = "eval", .usage = cmd_eval_usage, .flags = flags,
                     .n_flags = (int)(sizeof flags / sizeof flags[0])};
    int rc = cli_parse(&args, argc, argv);
    if (rc >= 0) return rc;
    if (args.help) {
        fputs(cmd_eval_usage, stdout);
        return EXIT_OK;
    }
    if (args.n_positional != 1) return cli_usage_error(&args, "expected one MODEL file or RUN directory");
    long long threads = 0, batch = 256;
    if ((rc = cli_count(&args, "threads", 1, 4096, &threads)) >= 0 || (rc = cli_count(&args, "batch", 1, CLI_MAX_BATCH, &batch)) >= 0)
        return rc;
    const char *dataset = cli_value(&args, "dataset");
    if (!dataset) dataset = "fashion-mnist";
    const char *logits_path = cli_value(&args, "logits");
    char path[4096];
    int is_run = 0;
    if ((rc = cli_model_path(&args, args.positional[0], path, sizeof path, &is_run)) >= 0) return rc;
    cf_backend *fast = NULL;
    const cf_backend *be = NULL;
    cf_model *m = NULL;
    cf_dataset *test = NULL;
    int64_t *confusion = NULL;
    float *logits = NULL;
    if ((rc = make_backend("eval", cli_value(&args, "device"), cli_has(&args, "reference"), (int)threads, 0, &fast,
                           &be)) >= 0)
        return rc;
    rc = EXIT_ERROR;
    cf_checkpoint_info info;
    if (cf_checkpoint_load(path, be, (int)batch, &m, &info) != CF_OK) {
        rc = cli_fail("eval");
        goto exit;
    }
    m->threads = threads > 0 ? (int)threads : cf_cpu_count();
    if ((rc = load_data("eval", dataset, cli_value(&args, "data-dir"), "test", &test)) >= 0) goto exit;
    rc = EXIT_ERROR;
    const cf_net_input *in = &m->net->input;
    if (test->c != in->c || test->h != in->h || test->w != in->w || test->classes > in->classes) {
        fprintf(stderr, "cellforge eval: %s: images are %dx%dx%d with %d classes, the model takes %dx%dx%d "
                "with %d\n", test->name, test->h, test->w, test->c, test->classes, in->h, in->w, in->c,
                in->classes);
        goto exit;
    }
    int K = info.input.classes;
    confusion = calloc((size_t)K * K, sizeof *confusion);
    logits = malloc((test->n ? test->n : 1) * (size_t)K * sizeof *logits);
    if (!confusion || !logits) {
        fprintf(stderr, "cellforge eval: no memory for the logits of %zu images\n", test->n);
        goto exit;
    }
    double measured = 0;
    if (cf_evaluate_logits(m, test, info.mean, info.std, &measured, confusion, logits) != CF_OK) {
        rc = cli_fail("eval");
        goto exit;
    }
    int64_t correct = 0;
    for (int k = 0; k < K; k++) correct += confusion[(size_t)k * K + k];
    double acc = measured;
    printf("model     %s: %s (%s), %d epochs, status %s\n", path, info.space, info.options,
           info.epochs_done, info.status[0] ? info.status : "-");
    printf("arch      %s\n", info.arch);
    printf("dataset   %s test, %zu images\n", dataset, test->n);
    printf("accuracy  %.2f%% (%lld of %zu)\n", 100 * acc, (long long)correct, test->n);
    printf("per class");
    for (int k = 0; k < K; k++) {
        int64_t total = 0;
        for (int j = 0; j < K; j++) total += confusion[(size_t)k * K + j];
        const char *name = cf_dataset_class_name(test, k);
        if (name) printf(" %s:%.1f%%", name, total ? 100.0 * (double)confusion[(size_t)k * K + k] / (double)total : 0.0);
        else printf(" %d:%.1f%%", k, total ? 100.0 * (double)confusion[(size_t)k * K + k] / (double)total : 0.0);
    }
    printf("\n");
    if (logits_path) {
        if (!write_logits(logits_path, logits, test->n * (size_t)K)) goto exit;
        printf("wrote %s: %zu x %d logits, float32 little-endian\n", logits_path, test->n, K);
    }
    rc = EXIT_OK;
exit:
    free(logits);
    free(confusion);
    cf_model_destroy(m);
    cf_dataset_destroy(test);
    close_backend(fast);
    return rc;
}
