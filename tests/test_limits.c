/* test_limits.c - readers of user files refuse what would hang or fill memory,
 * and long architecture texts are stored whole.
 *
 * A FIFO (no writer: a blocking open would hang the test) and a sparse file
 * one byte over the limit are handed to the dataset, journal, table,
 * checkpoint and spec readers: each fails at once with a message naming the
 * file (and the limit). A line longer than the journal's or the table's line
 * limit fails the same way. Then spaces with long arch texts: one whose texts
 * pass 2,048 bytes loads, prints, parses back and goes through the journal
 * whole; one whose texts could pass CF_ARCH_TEXT_MAX is refused when loaded.
 *
 *   ctest -R test_limits --output-on-failure
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cellforge/backend.h"
#include "cellforge/checkpoint.h"
#include "cellforge/data.h"
#include "cellforge/evaluator.h"
#include "cellforge/file.h"
#include "cellforge/journal.h"
#include "cellforge/model.h"
#include "cellforge/sched.h"
#include "cellforge/space.h"
#include "cellforge/spec.h"
#include "check.h"

static char dir[512], fifo[600];

/* A sparse file of size bytes at dir/name; 0 where the file system refuses. */
static int sparse(const char *name, size_t size, char *path, size_t cap) {
    snprintf(path, cap, "%s/%s", dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return 0;
    int ok = ftruncate(fd, (off_t)size) == 0;
    close(fd);
    if (!ok) printf("skipped: %s: a sparse file of %zu bytes\n", path, size);
    return ok;
}

/* A file of one line of n bytes (and a newline) after head. */
static void long_line(const char *path, const char *head, size_t n) {
    FILE *f = fopen(path, "w");
    CHECK(f != NULL, "cannot write %s", path);
    if (!f) return;
    fputs(head, f);
    for (size_t i = 0; i < n; i++) fputc('x', f);
    fputc('\n', f);
    fclose(f);
}

static void test_dataset(void) {
    cf_dataset *ds = NULL;
    CHECK_FAILS(cf_data_idx_load(fifo, fifo, 10, "x", &ds), CF_ERR_IO, fifo, "is a FIFO");
    const char *paths[1] = {fifo};
    CHECK_FAILS(cf_data_cifar_load(paths, 1, CF_CIFAR_FORMAT_10, "x", &ds), CF_ERR_IO, fifo, "is a FIFO");
    char big[700];
    if (sparse("big.idx", CF_DATA_FILE_MAX_BYTES + 1, big, sizeof big))
        CHECK_FAILS(cf_data_idx_load(big, big, 10, "x", &ds), CF_ERR_PARSE, big, "larger than");
}

static void test_journal(const cf_space *s) {
    cf_search_replay r;
    cf_journal_scan scan;
    CHECK_FAILS(cf_search_replay_load(fifo, s, &r, &scan), CF_ERR_IO, fifo, "is a FIFO");
    char big[700];
    if (sparse("big.jsonl", CF_JOURNAL_MAX_BYTES + 1, big, sizeof big))
        CHECK_FAILS(cf_search_replay_load(big, s, &r, &scan), CF_ERR_PARSE, big, "larger than");
    snprintf(big, sizeof big, "%s/long.jsonl", dir);
    long_line(big, "{\"seq\":0,\"event\":\"", CF_JOURNAL_LINE_MAX);
    CHECK_FAILS(cf_search_replay_load(big, s, &r, &scan), CF_ERR_PARSE, big, "a line longer than");
}

static void test_table(const cf_space *s) {
    cf_evaluator *ev = NULL;
    CHECK_FAILS(cf_evaluator_table_create(fifo, s, &ev), CF_ERR_IO, fifo, "is a FIFO");
    char big[700];
    if (sparse("big.tsv", CF_TABLE_MAX_BYTES + 1, big, sizeof big))
        CHECK_FAILS(cf_evaluator_table_create(big, s, &ev), CF_ERR_PARSE, big, "larger than");
    snprintf(big, sizeof big, "%s/long.tsv", dir);
    long_line(big, "# ", CF_TABLE_LINE_MAX);
    CHECK_FAILS(cf_evaluator_table_create(big, s, &ev), CF_ERR_PARSE, big, "a line longer than");
}

static void test_checkpoint_and_spec(void) {
    cf_model *m = NULL;
    cf_checkpoint_info info;
    CHECK_FAILS(cf_checkpoint_load(fifo, cf_backend_cpu_ref(), 1, &m, &info), CF_ERR_IO, fifo, "is a FIFO");
    char big[700];
    if (sparse("big.cfm", CF_CHECKPOINT_MAX_BYTES + 1, big, sizeof big))
        CHECK_FAILS(cf_checkpoint_load(big, cf_backend_cpu_ref(), 1, &m, &info), CF_ERR_PARSE, big, "larger than");
    CHECK_FAILS(cf_checkpoint_load("/dev/zero", cf_backend_cpu_ref(), 1, &m, &info), CF_ERR_IO, "/dev/zero",
                "is a device");
    static const cf_spec_key known[] = {{"space", {CF_VALUE_TEXT}}};
    cf_spec *sp = NULL;
    CHECK_FAILS(cf_spec_load(fifo, known, 1, 1, &sp), CF_ERR_IO, fifo, "is a FIFO");
}

static const char k_nb201_options[] =
    "\"C\": {\"default\": 4, \"min\": 1, \"max\": 64, \"integer\": true},"
    "\"N\": {\"default\": 1, \"min\": 1, \"max\": 8, \"integer\": true}";
static const char k_darts_options[] =
    "\"C\": {\"default\": 4, \"min\": 1, \"max\": 64, \"integer\": true},"
    "\"layers\": {\"default\": 3, \"min\": 3, \"max\": 8, \"integer\": true},"
    "\"auxiliary\": {\"default\": 0, \"min\": 0, \"max\": 1, \"integer\": true},"
    "\"drop_path\": {\"default\": 0, \"min\": 0, \"max\": 0.5, \"integer\": false}";

/* A space of the family with three ops of 31-character names. */
static cf_status long_space(const char *family, const char *cell, const char *options, cf_space **out) {
    char json[4096];
    snprintf(json, sizeof json,
             "{\"name\": \"long\", \"family\": \"%s\", \"cell\": {%s, \"ops\": ["
             "{\"name\": \"a_very_long_name_of_a_skip_op_1\", \"prim\": \"identity\"},"
             "{\"name\": \"a_very_long_name_of_a_conv_op_2\", \"prim\": \"relu_conv_bn\", \"kernel\": 3},"
             "{\"name\": \"a_very_long_name_of_a_pool_op_3\", \"prim\": \"avg_pool\", \"kernel\": 3}]},"
             "\"skeleton\": {\"options\": {%s}}}",
             family, cell, options);
    return cf_space_parse(json, "long.json", out);
}

static void test_long_arch(void) {
    cf_space *s = NULL;
    CHECK_OK(long_space("nb201", "\"nodes\": 12", k_nb201_options, &s));
    if (!s) return;
    CHECK(cf_arch_text_max(s) > 2048 && cf_arch_text_max(s) <= CF_ARCH_TEXT_MAX, "bound %zu",
          cf_arch_text_max(s));
    cf_rng rng = cf_rng_make(5, cf_rng_stream(0, CF_RNG_PURPOSE_INIT));
    cf_arch a, b;
    cf_arch_sample(s, &rng, &a);
    static cf_trial t;
    CHECK_OK(cf_arch_format(s, &a, t.arch, sizeof t.arch));
    CHECK(strlen(t.arch) > 2048 && strlen(t.arch) < cf_arch_text_max(s), "text of %zu bytes", strlen(t.arch));
    CHECK_OK(cf_arch_parse(s, t.arch, &b));
    CHECK(memcmp(&a, &b, sizeof a) == 0, "the long text parses back to the same arch");

    /* through the journal and back, whole */
    char path[700];
    snprintf(path, sizeof path, "%s/long_arch.jsonl", dir);
    unlink(path);
    cf_journal *j = NULL;
    CHECK_OK(cf_journal_open(path, 0, 0, &j));
    t.id = 0;
    t.cand.arch = a;
    t.cand.epochs = 1;
    t.cand.fraction = 1;
    t.cand.parent = -1;
    t.latency_ms = -1;
    CHECK_OK(cf_journal_event(j, CF_EVENT_PROPOSED, &t, 0));
    CHECK_OK(cf_journal_close(j));
    cf_search_replay r;
    cf_journal_scan scan;
    CHECK_OK(cf_search_replay_load(path, s, &r, &scan));
    CHECK(r.n == 1 && strcmp(r.trials[0].arch, t.arch) == 0, "the journal gives the arch back whole (%lld trials)",
          (long long)r.n);
    if (r.n == 1) cf_search_replay_free(&r);
    cf_space_destroy(s);

    /* 8 nodes of 11 inputs with long names: texts up to ~7 KiB, refused */
    CHECK_FAILS(long_space("darts", "\"nodes\": 8, \"inputs_per_node\": 11", k_darts_options, &s), CF_ERR_PARSE, "long.json",
                "longest arch text");
    CHECK(s == NULL, "no space on failure");
}

int main(int argc, char **argv) {
    snprintf(dir, sizeof dir, "%s/limits", argc > 1 ? argv[1] : ".");
    mkdir(dir, 0755);
    snprintf(fifo, sizeof fifo, "%s/fifo", dir);
    unlink(fifo);
    CHECK(mkfifo(fifo, 0644) == 0, "mkfifo %s", fifo);
    cf_space *s = NULL;
    CHECK_OK(cf_space_load("nb201", &s));
    test_dataset();
    if (s) test_journal(s);
    if (s) test_table(s);
    test_checkpoint_and_spec();
    test_long_arch();
    cf_space_destroy(s);
    char big[700];
    const char *names[] = {"big.idx", "big.jsonl", "big.tsv", "big.cfm", "long.jsonl", "long.tsv"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(big, sizeof big, "%s/%s", dir, names[i]);
        unlink(big);
    }
    return test_finish("test_limits");
}
