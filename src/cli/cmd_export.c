/* cmd_export.c - `cellforge export`: a trained model (a checkpoint, a training
 * state, or the best model of a search's run directory) as an ONNX file, a
 * model file, its architecture as JSON, or the space's arch string; and the
 * resolution of MODEL arguments that `cellforge eval` shares.
 *
 *   cellforge export model.cfm                      # ./model.onnx
 *   cellforge export runs/nb201-1 --format json     # the best trial's architecture
 *   cellforge export runs/nb201-1 --trial 17 --format cfm --out t17.cfm
 *
 * Tested by tests/cli_export.sh (every format, run directories, bad input) and
 * tests/export_onnx.py (the ONNX files against `cellforge eval --logits`).
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cellforge/checkpoint.h"
#include "cellforge/cost.h"
#include "cellforge/export.h"
#include "cellforge/file.h"
#include "cellforge/text.h"
#include "cli.h"

const char *const cmd_export_usage =
    "usage: cellforge export RUN|MODEL [--trial ID] [--format onnx|cfm|json|arch] [--out FILE]\n\n"
    "Writes a trained model for use outside cellforge. MODEL is a model file (.cfm,\n"
    "`cellforge train --out`) or a training state (.cfs); RUN is a run directory of\n"
    "`cellforge search`, which means its best model: RUN/best.cfm (a retrained final\n"
    "model) when there is one, else RUN/best.cfs (the best trial's state).\n\n"
    "options:\n"
    "  --trial ID      in a RUN, trial ID instead: RUN/final/ID/model.cfm when it was\n"
    "                  retrained, else RUN/trials/ID/train.cfs\n"
    "  --format F      onnx (default)  an ONNX file, opset 13: input \"image\" float32\n"
    "                                  [N, C, H, W] of pixels scaled to [0, 1], the\n"
    "                                  training normalization inside, output \"logits\"\n"
    "                                  float32 [N, classes]\n"
    "                  cfm             a cellforge model file (a .cfs becomes a .cfm)\n"
    "                  json            the architecture: space, options, arch, input,\n"
    "                                  classes, params, MACs, accuracies\n"
    "                  arch            the arch string after `#` lines naming its space,\n"
    "                                  options and input (what `cost`/`train --from` read)\n"
    "  --out FILE      where to write; '-' is stdout (json, arch). Defaults: json and\n"
    "                  arch to stdout; onnx and cfm to NAME.onnx / NAME.cfm in the\n"
    "                  current directory for MODEL (NAME: its file name less the\n"
    "                  extension), RUN/export/best.EXT or RUN/export/trial-ID.EXT for a RUN\n";

/* ---- MODEL arguments ------------------------------------------------------- */

static int exists(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

int cli_model_path(const cli_args *a, const char *arg, char *out, size_t cap, int *is_run) {
    struct stat sb;
    const char *trial = cli_value(a, "trial");
    *is_run = stat(arg, &sb) == 0 && S_ISDIR(sb.st_mode);
    if (!*is_run) {
        if (trial) return cli_usage_error(a, "--trial goes with a run directory, and %s is none", arg);
        snprintf(out, cap, "%s", arg); /* a file, or a missing one: the loader says which */
        return -1;
    }
    char p[4096], q[4096];
    snprintf(p, sizeof p, "%s/journal.jsonl", arg);
    snprintf(q, sizeof q, "%s/spec.json", arg);
    if (!exists(p) && !exists(q)) {
        fprintf(stderr, "cellforge %s: %s is a directory but not a run of `cellforge search` (no journal.jsonl "
                "or spec.json)\n", a->command, arg);
        return EXIT_ERROR;
    }
    if (trial) {
        long long id = 0;
        int rc = cli_count(a, "trial", 0, CF_VALUE_COUNT_MAX, &id);
        if (rc >= 0) return rc;
        snprintf(p, sizeof p, "%s/final/%lld/model.cfm", arg, id);
        snprintf(q, sizeof q, "%s/trials/%lld/train.cfs", arg, id);
        if (!exists(p) && !exists(q)) {
            fprintf(stderr, "cellforge %s: %s: trial %lld has no model (neither final/%lld/model.cfm nor "
                    "trials/%lld/train.cfs)\n", a->command, arg, id, id, id);
            return EXIT_ERROR;
        }
    } else {
        snprintf(p, sizeof p, "%s/best.cfm", arg);
        snprintf(q, sizeof q, "%s/best.cfs", arg);
        if (!exists(p) && !exists(q)) {
            fprintf(stderr, "cellforge %s: %s: no best model yet (neither best.cfm nor best.cfs; a search writes "
                    "best.cfs when its first trial finishes)\n", a->command, arg);
            return EXIT_ERROR;
        }
    }
    if ((size_t)snprintf(out, cap, "%s", exists(p) ? p : q) >= cap) {
        fprintf(stderr, "cellforge %s: %s: path too long\n", a->command, arg);
        return EXIT_ERROR;
    }
    /* a model of a run directory is never read through a symlink planted there */
    if (cf_file_check_plain(out) != CF_OK) return cli_fail(a->command);
    return -1;
}

/* ---- the formats ----------------------------------------------------------- */

typedef enum format { FORMAT_ONNX, FORMAT_CFM, FORMAT_JSON, FORMAT_ARCH } format;
static const char *const k_formats[] = {"onnx", "cfm", "json", "arch"};

static void json_string(FILE *f, const char *s) {
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') fprintf(f, "\\%c", *p);
        else if (*p == '\n') fputs("\\n", f);
        else if (*p < 0x20) fprintf(f, "\\u%04x", *p);
        else fputc(*p, f);
    }
    fputc('"', f);
}

/* The shortest of 15..17 digits that reads back as v; null for -1 (not measured). */
static void json_number(FILE *f, double v, int unmeasured_null) {
    if ((unmeasured_null && v < 0) || !isfinite(v)) {
        fputs("null", f);
        return;
    }
    char text[40];
    fputs(cf_text_exact(v, text, sizeof text), f);
}

/* A float32 in the fewest digits (6..9) that read back as it. */
static void json_float(FILE *f, float v) {
    char text[32];
    for (int digits = 6; digits <= 9; digits++) {
        snprintf(text, sizeof text, "%.*g", digits, (double)v);
        if (strtof(text, NULL) == v) break;
    }
    fputs(text, f);
}

static int write_json(FILE *f, const char *source, const cf_checkpoint_info *info, const cf_space *s,
                      const cf_model *m) {
    cf_cost c;
    if (cf_cost_of_net(m->net, 1, 0, &c) != CF_OK) return 0;
    fputs("{\n  \"source\": ", f);
    json_string(f, source);
    fprintf(f, ",\n  \"kind\": \"%s\",\n  \"space\": ", info->is_state ? "training state" : "model");
    json_string(f, s->name);
    fputs(",\n  \"options\": {", f);
    for (int k = 0; k < s->n_options; k++) {
        fputs(k ? ", " : "", f);
        json_string(f, s->options[k].name);
        fputs(": ", f);
        json_number(f, s->options[k].value, 0);
    }
    fputs("},\n  \"arch\": ", f);
    json_string(f, info->arch);
    fprintf(f, ",\n  \"input\": [%d, %d, %d],\n  \"classes\": %d,\n", info->input.c, info->input.h, info->input.w,
            info->input.classes);
    fprintf(f, "  \"params\": %" PRId64 ",\n  \"params_aux\": %" PRId64 ",\n  \"macs\": %" PRId64 ",\n", c.params,
            c.params_aux, c.macs);
    fprintf(f, "  \"layers\": %d,\n  \"normalize\": {\"mean\": [", m->net->n);
    for (int k = 0; k < info->input.c && k < 4; k++) {
        fputs(k ? ", " : "", f);
        json_float(f, info->mean[k]);
    }
    fputs("], \"std\": [", f);
    for (int k = 0; k < info->input.c && k < 4; k++) {
        fputs(k ? ", " : "", f);
        json_float(f, info->std[k]);
    }
    fprintf(f, "]},\n  \"epochs\": %d,\n  \"status\": ", info->epochs_done);
    json_string(f, info->status[0] ? info->status : "-");
    fputs(",\n  \"val_acc\": ", f);
    json_number(f, info->val_acc, 1);
    fputs(",\n  \"test_acc\": ", f);
    json_number(f, info->test_acc, 1);
    fputs("\n}\n", f);
    return 1;
}

static int write_onnx(const char *source, const char *out, const cf_checkpoint_info *info, const cf_space *s,
                      const cf_model *m) {
    char doc[CF_ARCH_TEXT_MAX + 1024], val[32], test[32], epochs[16];
    snprintf(val, sizeof val, "%.6g", info->val_acc);
    snprintf(test, sizeof test, "%.6g", info->test_acc);
    snprintf(epochs, sizeof epochs, "%d", info->epochs_done);
    snprintf(doc, sizeof doc,
             "cellforge %s (%s) %s. Input \"image\": float32 [N, %d, %d, %d], pixels scaled to [0, 1]; the "
             "normalization is inside. Output \"logits\": float32 [N, %d].",
             s->name, info->options, info->arch, info->input.c, info->input.h, info->input.w, info->input.classes);
    const char *meta[] = {"cellforge.space", s->name, "cellforge.options", info->options,
                          "cellforge.arch", info->arch, "cellforge.source", source,
                          "cellforge.epochs", epochs, "cellforge.val_acc", val,
                          "cellforge.test_acc", test, NULL};
    cf_onnx_options opt = {.mean = info->mean, .std = info->std, .graph_name = s->name, .doc = doc, .metadata = meta};
    cf_onnx_summary sum;
    if (cf_export_onnx(m, &opt, out, &sum) != CF_OK) return cli_fail("export");
    printf("wrote %s from %s: ONNX opset %d, %d layers as %d nodes, %d initializers (%" PRId64 " floats), "
           "%.1f KiB\n", out, source, CF_ONNX_OPSET, sum.layers, sum.nodes, sum.initializers, sum.floats,
           (double)sum.bytes / 1024);
    return EXIT_OK;
}

/* A text format to stdout or a file (written atomically: cf_file_writer). */
static int write_text(format fmt, const char *source, const char *out, const cf_checkpoint_info *info,
                      const cf_space *s, const cf_model *m) {
    int to_stdout = !out || strcmp(out, "-") == 0;
    cf_file_writer w = {0};
    FILE *f = stdout;
    if (!to_stdout) {
        if (cf_file_writer_open(&w, out) != CF_OK) {
            fprintf(stderr, "cellforge export: %s\n", cf_error_message());
            return EXIT_ERROR;
        }
        f = w.f;
    }
    int ok = fmt == FORMAT_JSON ? write_json(f, source, info, s, m)
                                : cli_write_arch_file(f, s, info->options, &info->input, info->arch);
    if (!ok) {
        cf_file_writer_abort(&w);
        return cli_fail("export");
    }
    if (to_stdout) return fflush(stdout) == 0 ? EXIT_OK : EXIT_ERROR;
    if (cf_file_writer_commit(&w) != CF_OK) {
        fprintf(stderr, "cellforge export: %s\n", cf_error_message());
        return EXIT_ERROR;
    }
    printf("wrote %s from %s\n", out, source);
    return EXIT_OK;
}

/* The default output of a binary format: NAME.EXT here for a MODEL, under
 * RUN/export/ for a run (made if needed). -1 or an exit code. */
static int default_out(const cli_args *a, const char *arg, int is_run, const char *ext, char *out, size_t cap) {
    if (!is_run) {
        const char *base = strrchr(arg, '/');
        base = base ? base + 1 : arg;
        const char *dot = strrchr(base, '.');
        int len = dot && dot != base ? (int)(dot - base) : (int)strlen(base);
        snprintf(out, cap, "%.*s.%s", len, base, ext);
        return -1;
    }
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/export", arg);
    if (cf_file_make_dir(dir) != CF_OK) return cli_fail("export");
    long long id = -1;
    int rc = cli_count(a, "trial", 0, CF_VALUE_COUNT_MAX, &id);
    if (rc >= 0) return rc;
    if (id >= 0) snprintf(out, cap, "%s/trial-%lld.%s", dir, id, ext);
    else snprintf(out, cap, "%s/best.%s", dir, ext);
    return -1;
}

int cmd_export(int argc, char **argv) {
    cli_flag flags[] = {FLAG("trial", 1, 0), FLAG("format", 1, 0), FLAG("out", 1, 0)};
    cli_args args = {.command = "export", .usage = cmd_export_usage, .flags = flags,
                     .n_flags = (int)(sizeof flags / sizeof flags[0])};
    int rc = cli_parse(&args, argc, argv);
    if (rc >= 0) return rc;
    if (args.help) {
        fputs(cmd_export_usage, stdout);
        return EXIT_OK;
    }
    if (args.n_positional != 1) return cli_usage_error(&args, "expected one RUN directory or MODEL file");
    const char *name = cli_value(&args, "format");
    format fmt = FORMAT_ONNX;
    if (name) {
        size_t k = 0;
        while (k < 4 && strcmp(name, k_formats[k]) != 0) k++;
        if (k == 4) return cli_usage_error(&args, "unknown format '%s' (onnx, cfm, json, arch)", name);
        fmt = (format)k;
    }
    const char *out = cli_value(&args, "out");
    if (out && strcmp(out, "-") == 0 && (fmt == FORMAT_ONNX || fmt == FORMAT_CFM))
        return cli_usage_error(&args, "--out -: %s is binary; give a file", k_formats[fmt]);
    char source[4096], out_buf[4200];
    int is_run = 0;
    if ((rc = cli_model_path(&args, args.positional[0], source, sizeof source, &is_run)) >= 0) return rc;
    if (!out && (fmt == FORMAT_ONNX || fmt == FORMAT_CFM)) {
        if ((rc = default_out(&args, args.positional[0], is_run, k_formats[fmt], out_buf, sizeof out_buf)) >= 0)
            return rc;
        out = out_buf;
    }
    if (fmt == FORMAT_CFM) {
        if (cf_checkpoint_convert(source, out) != CF_OK) return cli_fail("export");
        printf("wrote %s from %s\n", out, source);
        return EXIT_OK;
    }
    cf_model *m = NULL;
    cf_space *s = NULL;
    cf_checkpoint_info info;
    if (cf_checkpoint_load_full(source, cf_backend_cpu_ref(), 1, &m, &info, &s) != CF_OK) return cli_fail("export");
    rc = fmt == FORMAT_ONNX ? write_onnx(source, out, &info, s, m) : write_text(fmt, source, out, &info, s, m);
    cf_model_destroy(m);
    cf_space_destroy(s);
    return rc;
}
