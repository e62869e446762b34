/* from_run.c - `--from RUN|MODEL|ARCHFILE [--trial ID]`: the network a run searched.
 *
 * An architecture string alone does not fix a network: the space's options
 * (C, N, width, ...) and the input size do too, and `cost`, `train` and the
 * search each have their own defaults. --from takes all three from where the
 * architecture came from: a run directory (its best model, or --trial ID), a
 * model or training-state file, or the text that `cellforge export --format
 * arch` writes:
 *
 *   # cellforge-arch 1
 *   # space nb201
 *   # space-file /usr/share/cellforge/search_spaces/nb201.json
 *   # options C=8, N=1
 *   # input 28x28x1 classes 10
 *   |nor_conv_3x3~0|+|...|
 *
 * --set still applies on top (a wider network for a final training).
 * Tested by tests/cli_export.sh (export --format arch, then cost and train --from).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cellforge/backend.h"
#include "cellforge/checkpoint.h"
#include "cellforge/file.h"
#include "cellforge/model.h"
#include "cli.h"

#define ARCH_FILE_MAX (1u << 20)
static const char k_magic[] = "# cellforge-arch 1";

int cli_write_arch_file(FILE *f, const cf_space *s, const char *options, const cf_net_input *in, const char *arch) {
    return fprintf(f, "%s\n# space %s\n# space-file %s\n# options %s\n# input %dx%dx%d classes %d\n%s\n", k_magic,
                   s->name, s->path, options, in->h, in->w, in->c, in->classes, arch) > 0;
}

/* Apply "C=8, N=1" to s. */
static cf_status set_options(cf_space *s, const char *options, const char *origin) {
    char buf[512];
    snprintf(buf, sizeof buf, "%s", options);
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        while (*t == ' ') t++;
        if (!*t) continue;
        cf_status st = cf_space_set_kv(s, t);
        if (st != CF_OK) CF_FAIL(st, "%s: option '%s': %s", origin, t, cf_error_message());
    }
    return CF_OK;
}

/* The text form: header lines, then the architecture on the first other line. */
static cf_status parse_arch_file(const char *path, char *text, cli_from *out) {
    char space[64] = "", space_file[1024] = "", options[512] = "";
    int have_input = 0;
    int line = 0;
    for (char *save = NULL, *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        line++;
        size_t n = strlen(l);
        if (n && l[n - 1] == '\r') l[--n] = '\0';
        if (line == 1 && strcmp(l, k_magic) != 0)
            CF_FAIL(CF_ERR_PARSE, "%s:1: expected \"%s\" (a file of `cellforge export --format arch`)", path, k_magic);
        if (l[0] != '#') {
            if (!space[0]) CF_FAIL(CF_ERR_PARSE, "%s:%d: the architecture comes before a \"# space\" line", path, line);
            if (!(out->arch = strdup(l))) CF_FAIL(CF_ERR_OUT_OF_MEMORY, "%s: no memory", path);
            break;
        }
        cf_net_input *in = &out->input;
        if (strncmp(l, "# space-file ", 13) == 0) snprintf(space_file, sizeof space_file, "%s", l + 13);
        else if (sscanf(l, "# space %63s", space) == 1) continue;
        else if (strncmp(l, "# options ", 10) == 0) snprintf(options, sizeof options, "%s", l + 10);
        else if (strncmp(l, "# input ", 8) == 0) {
            if (sscanf(l, "# input %dx%dx%d classes %d", &in->h, &in->w, &in->c, &in->classes) != 4 || in->h < 1 ||
                in->w < 1 || in->c < 1 || in->classes < 2)
                CF_FAIL(CF_ERR_PARSE, "%s:%d: expected \"# input HxWxC classes K\"", path, line);
            have_input = 1;
        }
    }
    if (!out->arch) CF_FAIL(CF_ERR_PARSE, "%s: no architecture line", path);
    if (!have_input) CF_FAIL(CF_ERR_PARSE, "%s: no \"# input HxWxC classes K\" line", path);
    /* by name where the spaces directory has it, else the file it was read from */
    if (cf_space_load(space, &out->space) != CF_OK && (!space_file[0] || cf_space_load(space_file, &out->space) != CF_OK))
        CF_FAIL(CF_ERR_UNKNOWN_NAME, "%s: space %s is neither in the spaces directory nor at %s", path, space,
                space_file[0] ? space_file : "(no \"# space-file\" line)");
    return set_options(out->space, options, path);
}

static cf_status from_arch_file(const char *path, cli_from *out) {
    char *text = NULL;
    size_t n = 0;
    CF_TRY(cf_file_read(path, ARCH_FILE_MAX, 0, &text, &n));
    cf_status st = parse_arch_file(path, text, out);
    free(text);
    return st;
}

static cf_status from_checkpoint(const char *path, cli_from *out) {
    cf_model *m = NULL;
    cf_checkpoint_info *info = calloc(1, sizeof *info);
    if (!info) CF_FAIL(CF_ERR_OUT_OF_MEMORY, "%s: no memory", path);
    cf_status st = cf_checkpoint_load_full(path, cf_backend_cpu_ref(), 1, &m, info, &out->space);
    cf_model_destroy(m);
    if (st == CF_OK) {
        out->input = info->input;
        if (!(out->arch = strdup(info->arch))) st = cf_error_set(CF_ERR_OUT_OF_MEMORY, __FILE__, __LINE__, "no memory");
    }
    free(info);
    return st;
}

static int is_arch_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    char head[sizeof k_magic] = "";
    size_t got = fread(head, 1, sizeof k_magic - 1, f);
    fclose(f);
    return got == sizeof k_magic - 1 && memcmp(head, k_magic, got) == 0;
}

int cli_from_load(cli_args *a, cli_from *out) {
    memset(out, 0, sizeof *out);
    const char *from = cli_value(a, "from");
    if (!from) return -1;
    if (cli_has(a, "space")) return cli_usage_error(a, "--from gives the space and its options: drop --space");
    char path[4096];
    int is_run = 0, rc;
    if (!cli_has(a, "trial") && is_arch_file(from)) {
        if (from_arch_file(from, out) != CF_OK) return cli_fail(a->command);
    } else {
        if ((rc = cli_model_path(a, from, path, sizeof path, &is_run)) >= 0) return rc;
        if (from_checkpoint(path, out) != CF_OK) return cli_fail(a->command);
    }
    const cli_flag *set = cli_get(a, "set");
    for (int i = 0; set && i < set->count; i++)
        if (cf_space_set_kv(out->space, set->values[i]) != CF_OK) {
            cli_from_free(out);
            return cli_fail(a->command);
        }
    return -1;
}

void cli_from_free(cli_from *f) {
    cf_space_destroy(f->space);
    free(f->arch);
    memset(f, 0, sizeof *f);
}
