/* test_journal.c - the run journal and spec files: lines read back exactly, a
 * torn last line ignored, damage before the end reported by line, a full disk
 * (a file-size limit) failing cleanly with every earlier line intact, spec
 * files with unknown keys and newer formats refused, atomic writes, and a
 * search's trial events read back (a trial cut by the time budget: asked, not
 * told, restarted at its start), the devices of a run and the slots of its
 * trials.
 *
 *   ctest -R test_journal --output-on-failure
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cellforge/file.h"
#include "cellforge/journal.h"
#include "cellforge/spec.h"
#include "check.h"
#include "../src/journal/journal_read.h"

static char dir[512];

typedef struct seen {
    int64_t n;
    int64_t ids[256];
} seen;

static cf_status collect(void *ctx, const cJSON *line, int64_t lineno) {
    (void)lineno;
    seen *s = ctx;
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(line, "id");
    if (s->n < 256) s->ids[s->n] = cJSON_IsNumber(id) ? (int64_t)id->valuedouble : -1;
    s->n++;
    return CF_OK;
}

static long file_size(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 ? (long)sb.st_size : -1;
}

static void write_lines(const char *path, int n) {
    unlink(path);
    cf_journal *j = NULL;
    CHECK_OK(cf_journal_open(path, 0, 0, &j));
    for (int i = 0; i < n; i++) {
        char fields[128], esc[64];
        snprintf(fields, sizeof fields, "\"id\":%d,\"note\":\"%s\"", i, cf_journal_escape("a \"quoted\"\ttab", esc, sizeof esc));
        CHECK_OK(cf_journal_append(j, "trial_proposed", 0.5 * i, fields));
    }
    CHECK_OK(cf_journal_close(j));
}

static void corrupt_at(const char *path, long offset, char byte) {
    FILE *f = fopen(path, "r+b");
    fseek(f, offset, SEEK_SET);
    fputc(byte, f);
    fclose(f);
}

/* Offset of the start of line k (0-based). */
static long line_start(const char *path, int k) {
    FILE *f = fopen(path, "rb");
    long off = 0;
    int c, line = 0;
    while (line < k && (c = fgetc(f)) != EOF) {
        off++;
        if (c == '\n') line++;
    }
    fclose(f);
    return off;
}

static void test_round_trip(void) {
    char path[600];
    snprintf(path, sizeof path, "%s/j1.jsonl", dir);
    write_lines(path, 20);
    seen s = {0};
    cf_journal_scan scan;
    CHECK_OK(cf_journal_read(path, collect, &s, &scan));
    CHECK(s.n == 20 && scan.lines == 20 && scan.next_seq == 20 && !scan.torn, "20 lines back: %lld", (long long)s.n);
    CHECK(scan.valid_bytes == (size_t)file_size(path), "valid bytes %zu of %ld", scan.valid_bytes, file_size(path));
    int ordered = 1;
    for (int i = 0; i < 20; i++) ordered &= s.ids[i] == i;
    CHECK(ordered, "lines in order");

    /* reopen for appending where the scan ended: seq goes on */
    cf_journal *j = NULL;
    CHECK_OK(cf_journal_open(path, scan.next_seq, scan.valid_bytes, &j));
    CHECK_OK(cf_journal_append(j, "run_stopped", 10, ""));
    CHECK_OK(cf_journal_close(j));
    s.n = 0;
    CHECK_OK(cf_journal_read(path, collect, &s, &scan));
    CHECK(s.n == 21 && scan.next_seq == 21, "appended after reopening: %lld lines", (long long)s.n);
}

static void test_damage(void) {
    char path[600];
    snprintf(path, sizeof path, "%s/j2.jsonl", dir);
    seen s = {0};
    cf_journal_scan scan;

    /* a torn last line (a write cut short): ignored, the rest read */
    write_lines(path, 10);
    long full = file_size(path);
    CHECK(truncate(path, full - 7) == 0, "truncate");
    CHECK_OK(cf_journal_read(path, collect, &s, &scan));
    CHECK(s.n == 9 && scan.torn && scan.valid_bytes == (size_t)line_start(path, 9),
          "torn tail: %lld lines, torn %d", (long long)s.n, scan.torn);
    /* reopening cuts the torn line off before appending */
    cf_journal *j = NULL;
    CHECK_OK(cf_journal_open(path, scan.next_seq, scan.valid_bytes, &j));
    CHECK_OK(cf_journal_append(j, "trial_proposed", 1, "\"id\":9"));
    CHECK_OK(cf_journal_close(j));
    s.n = 0;
    CHECK_OK(cf_journal_read(path, collect, &s, &scan));
    CHECK(s.n == 10 && !scan.torn, "after the repair: %lld lines, torn %d", (long long)s.n, scan.torn);

    /* a damaged last line that still ends in a newline: a checksum catches it */
    write_lines(path, 10);
    corrupt_at(path, line_start(path, 9) + 30, 'X');
    s.n = 0;
    CHECK_OK(cf_journal_read(path, collect, &s, &scan));
    CHECK(s.n == 9 && scan.torn, "bad checksum on the last line: ignored (%lld lines)", (long long)s.n);

    /* damage in the middle: refused with the line number */
    write_lines(path, 10);
    corrupt_at(path, line_start(path, 4) + 40, 'Z');
    CHECK_FAILS(cf_journal_read(path, collect, &s, &scan), CF_ERR_PARSE, "j2.jsonl:5:", "checksum mismatch");
    /* a line missing in the middle: the seq gap is found */
    write_lines(path, 10);
    {
        FILE *f = fopen(path, "rb");
        char buf[8192];
        size_t n = fread(buf, 1, sizeof buf, f);
        fclose(f);
        long a = line_start(path, 3), b = line_start(path, 4);
        memmove(buf + a, buf + b, n - (size_t)b);
        f = fopen(path, "wb");
        fwrite(buf, 1, n - (size_t)(b - a), f);
        fclose(f);
    }
    CHECK_FAILS(cf_journal_read(path, collect, &s, &scan), CF_ERR_PARSE, "j2.jsonl:4:", "seq 4 where 3");
    CHECK_FAILS(cf_journal_read("/nonexistent/j.jsonl", collect, &s, &scan), CF_ERR_IO, "/nonexistent/j.jsonl",
                "cannot open");
}

/* A full disk, as a file-size limit: the failing append reports it, nothing
 * before it is lost and no partial line is left behind. */
static void test_disk_full(void) {
    char path[600];
    snprintf(path, sizeof path, "%s/j3.jsonl", dir);
    unlink(path);
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit old, lim;
    getrlimit(RLIMIT_FSIZE, &old);
    lim = old;
    lim.rlim_cur = 3000;
    CHECK(setrlimit(RLIMIT_FSIZE, &lim) == 0, "setrlimit");
    cf_journal *j = NULL;
    CHECK_OK(cf_journal_open(path, 0, 0, &j));
    int written = 0;
    cf_status st = CF_OK;
    for (int i = 0; i < 1000 && st == CF_OK; i++) {
        char fields[128];
        snprintf(fields, sizeof fields, "\"id\":%d,\"pad\":\"0123456789012345678901234567890123456789\"", i);
        st = cf_journal_append(j, "trial_proposed", i, fields);
        if (st == CF_OK) written++;
    }
    CHECK(st == CF_ERR_IO && strstr(cf_error_message(), "j3.jsonl") && strstr(cf_error_message(), "cannot append"),
          "the full disk is reported: %s", cf_error_message());
    setrlimit(RLIMIT_FSIZE, &old);
    /* room again, yet nothing more goes in: a later event could refer to the lost one */
    CHECK(cf_journal_append(j, "trial_finished", 1, "\"id\":0") == CF_ERR_IO, "an append after a failure fails");
    cf_journal_close(j);
    seen s = {0};
    cf_journal_scan scan;
    CHECK_OK(cf_journal_read(path, collect, &s, &scan));
    CHECK(s.n == written && written > 5 && !scan.torn, "%d lines written before the limit, %lld read back, torn %d",
          written, (long long)s.n, scan.torn);
}

static void test_spec(void) {
    static const cf_spec_key known[] = {{"space", {CF_VALUE_TEXT, 0, 0}},
                                        {"set", {CF_VALUE_TEXT, 0, 0}},
                                        {"trials", {CF_VALUE_COUNT, 1, 1000}},
                                        {"quiet", {CF_VALUE_TEXT, 0, 0}}};
    char path[600];
    snprintf(path, sizeof path, "%s/spec.json", dir);
    CHECK_OK(cf_file_write_atomic(path, "{\"format\": 1, \"space\": \"nb201\", \"set\": [\"C=8\", 4], \"trials\": 50, "
                                        "\"quiet\": true}\n"));
    cf_spec *sp = NULL;
    CHECK_OK(cf_spec_load(path, known, 4, 1, &sp));
    const cf_spec_value *v = cf_spec_get(sp, "set");
    CHECK(v && v->count == 2 && strcmp(v->values[1], "4") == 0, "array values as text");
    v = cf_spec_get(sp, "trials");
    CHECK(v && strcmp(v->values[0], "50") == 0, "number as text");
    v = cf_spec_get(sp, "quiet");
    CHECK(v && strcmp(v->values[0], "true") == 0, "boolean as text");
    CHECK(!cf_spec_get(sp, "space2"), "absent");
    cf_spec_destroy(sp);

    cf_file_write_atomic(path, "{\"space\": \"nb201\", \"trails\": 5}");
    CHECK_FAILS(cf_spec_load(path, known, 4, 1, &sp), CF_ERR_PARSE, "$.trails", "did you mean \"trials\"");
    cf_file_write_atomic(path, "{\"format\": 2, \"space\": \"nb201\"}");
    CHECK_FAILS(cf_spec_load(path, known, 4, 1, &sp), CF_ERR_UNSUPPORTED, "$.format", "newer");
    cf_file_write_atomic(path, "{\"space\": {\"name\": 1}}");
    CHECK_FAILS(cf_spec_load(path, known, 4, 1, &sp), CF_ERR_PARSE, "$.space", "expected a string");
    /* values outside their key's range: the file, the JSON path, the value and the range */
    cf_file_write_atomic(path, "{\"trials\": \"-5\"}");
    CHECK_FAILS(cf_spec_load(path, known, 4, 1, &sp), CF_ERR_PARSE, "spec.json: $.trials: '-5' is not a count",
                "a whole number in [1, 1000]");
    cf_file_write_atomic(path, "{\"trials\": 3000000000}");
    CHECK_FAILS(cf_spec_load(path, known, 4, 1, &sp), CF_ERR_PARSE, "$.trials: '3000000000' is out of range",
                "[1, 1000]");
    cf_file_write_atomic(path, "{\"trials\": [\"2K\"]}");
    CHECK_FAILS(cf_spec_load(path, known, 4, 1, &sp), CF_ERR_PARSE, "$.trials[0]: '2K' is out of range", "1000");
    cf_file_write_atomic(path, "{\"trials\": true}");
    CHECK_FAILS(cf_spec_load(path, known, 4, 1, &sp), CF_ERR_PARSE, "'true' is not a count", "[1, 1000]");
    cf_file_write_atomic(path, "{\"space\": \"nb201\",\n \"trials\": }");
    CHECK_FAILS(cf_spec_load(path, known, 4, 1, &sp), CF_ERR_PARSE, "spec.json:2:", "invalid JSON");
    CHECK_FAILS(cf_file_write_atomic("/nonexistent/dir/spec.json", "{}"), CF_ERR_IO, "/nonexistent/dir/spec.json.tmp",
                "cannot create");
    char tmp[700];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    CHECK(access(tmp, F_OK) != 0, "no temporary file is left behind");
}

/* Trial events through the journal and the replay: trial 0 finished, trial 1 stopped
 * by the budget after it started, trial 2 not started. The cut ones read back as
 * cut, asked and never told; the one that ran keeps its start and workers, to
 * restart there. */
static void test_cut_replay(void) {
    static const char *space =
        "{\"name\": \"tiny\", \"family\": \"nb201\", \"cell\": {\"nodes\": 4, \"ops\": ["
        "{\"name\": \"none\", \"prim\": \"zero\"}, {\"name\": \"skip_connect\", \"prim\": \"identity\"}]},"
        " \"skeleton\": {\"options\": {\"C\": {\"default\": 4, \"min\": 1, \"max\": 64, \"integer\": true},"
        " \"N\": {\"default\": 1, \"min\": 1, \"max\": 8, \"integer\": true}}}}";
    cf_space *s = NULL;
    CHECK_OK(cf_space_parse(space, "tiny.json", &s));
    if (!s) return;
    char path[600];
    snprintf(path, sizeof path, "%s/cut.jsonl", dir);
    unlink(path);
    cf_journal *j = NULL;
    CHECK_OK(cf_journal_open(path, 0, 0, &j));
    CHECK_OK(cf_journal_append(j, "run_started", 0, ""));
    cf_trial t[3];
    memset(t, 0, sizeof t);
    for (int i = 0; i < 3; i++) {
        t[i].id = i;
        snprintf(t[i].arch, sizeof t[i].arch, "|%s~0|+|none~0|none~1|+|none~0|%s~1|none~2|",
                 i == 1 ? "skip_connect" : "none", i == 2 ? "skip_connect" : "none");
        CHECK_OK(cf_arch_parse(s, t[i].arch, &t[i].cand.arch));
        t[i].cand.epochs = 1;
        t[i].batch = 64;
        t[i].val_acc = -1;
        CHECK_OK(cf_journal_event(j, CF_EVENT_PROPOSED, &t[i], 0));
    }
    for (int i = 0; i < 2; i++) {
        t[i].attempts = t[i].replicas = 1;
        t[i].workers[0] = i;
        t[i].start = 2.5 * i;
        CHECK_OK(cf_journal_event(j, CF_EVENT_STARTED, &t[i], t[i].start));
    }
    t[0].status = CF_TRIAL_OK;
    t[0].val_acc = 0.5;
    t[0].end = 4;
    CHECK_OK(cf_journal_event(j, CF_EVENT_FINISHED, &t[0], 4));
    t[1].status = t[2].status = CF_TRIAL_CUT;
    t[1].end = t[2].start = t[2].end = 10;
    snprintf(t[1].reason, sizeof t[1].reason, "the time budget ended during training");
    snprintf(t[2].reason, sizeof t[2].reason, "not started: about 8 s needed, 6 s left");
    CHECK_OK(cf_journal_event(j, CF_EVENT_CUT, &t[2], 4));
    CHECK_OK(cf_journal_event(j, CF_EVENT_CUT, &t[1], 10));
    CHECK_OK(cf_journal_close(j));

    cf_search_replay r;
    cf_journal_scan scan;
    CHECK_OK(cf_search_replay_load(path, s, &r, &scan));
    CHECK(r.n == 3 && r.n_steps == 4, "%lld trials, %lld steps (3 asks, 1 tell)", (long long)r.n, (long long)r.n_steps);
    int tells = 0;
    for (int64_t k = 0; k < r.n_steps; k++) tells += r.steps[k].tell;
    CHECK(tells == 1 && r.steps[r.n_steps - 1].tell && r.steps[r.n_steps - 1].trial == 0, "only trial 0 is told");
    if (r.n == 3) {
        CHECK(r.trials[0].status == CF_TRIAL_OK && r.trials[1].status == CF_TRIAL_CUT &&
                  r.trials[2].status == CF_TRIAL_CUT,
              "statuses %s, %s, %s", cf_trial_status_name(r.trials[0].status), cf_trial_status_name(r.trials[1].status),
              cf_trial_status_name(r.trials[2].status));
        CHECK(r.started[1] == 1 && r.trials[1].start == 2.5 && r.trials[1].workers[0] == 1 &&
                  r.trials[1].attempts == 1 && r.started[2] == 0 && r.trials[2].attempts == 0,
              "the stopped trial restarts at its start on its worker, the other was never started");
        CHECK(strcmp(r.trials[2].reason, t[2].reason) == 0 && r.clock == 10, "reason '%s', clock %g",
              r.trials[2].reason, r.clock);
    }
    cf_search_replay_free(&r);
    cf_space_destroy(s);
    unlink(path);
}

/* A run_started line's "devices" and a trial event's "slots" read back; a
 * line of an older version without them; busy time as the union of spans. */
typedef struct devices_seen {
    int n_devices;
    cf_worker_desc w[CF_MAX_WORKERS];
    int slots[3], old_slots[2];
} devices_seen;

static cf_status read_devices_line(void *ctx, const cJSON *line, int64_t lineno) {
    devices_seen *d = ctx;
    if (lineno == 1) d->n_devices = cf_journal_read_devices(line, d->w, CF_MAX_WORKERS);
    if (lineno == 2) cf_journal_read_slots(line, d->slots, 3);
    if (lineno == 3) cf_journal_read_slots(line, d->old_slots, 2);
    return CF_OK;
}

static void test_devices(void) {
    char path[600];
    snprintf(path, sizeof path, "%s/devices.jsonl", dir);
    unlink(path);
    cf_worker_desc w[2];
    memset(w, 0, sizeof w);
    w[0] = (cf_worker_desc){.kind = CF_WORKER_CUDA, .index = 0, .name = "cuda:0", .device = "NVIDIA H200",
                            .threads = 1, .slots = 8, .rank = 0, .host = "node \"a\""};
    w[1] = (cf_worker_desc){.kind = CF_WORKER_CPU, .index = 0, .name = "r1/cpu:0", .device = "AMD EPYC 7B13",
                            .threads = 6, .slots = 1, .rank = 1, .host = "node\\b"};
    char devices[4096], fields[4200];
    snprintf(fields, sizeof fields, "\"workers\":2,\"devices\":%s", cf_journal_devices_json(w, 2, devices, sizeof devices));
    cf_journal *j = NULL;
    CHECK_OK(cf_journal_open(path, 0, 0, &j));
    CHECK_OK(cf_journal_append(j, "run_started", 0, fields));
    cf_trial t;
    memset(&t, 0, sizeof t);
    t.replicas = 3;
    t.workers[0] = 0, t.workers[1] = 1, t.workers[2] = 1;
    t.slots[0] = 7, t.slots[1] = 0, t.slots[2] = 1;
    t.attempts = 1;
    CHECK_OK(cf_journal_event(j, CF_EVENT_STARTED, &t, 1));
    CHECK_OK(cf_journal_append(j, "trial_started", 2, "\"id\":1,\"workers\":[0,1]"));
    CHECK_OK(cf_journal_close(j));
    devices_seen d;
    memset(&d, 0, sizeof d);
    cf_journal_scan scan;
    CHECK_OK(cf_journal_read(path, read_devices_line, &d, &scan));
    CHECK(d.n_devices == 2, "%d devices read back, want 2", d.n_devices);
    int same = 1;
    for (int i = 0; i < 2; i++)
        same &= strcmp(d.w[i].name, w[i].name) == 0 && strcmp(d.w[i].device, w[i].device) == 0 &&
                strcmp(d.w[i].host, w[i].host) == 0 && d.w[i].kind == w[i].kind && d.w[i].threads == w[i].threads &&
                d.w[i].slots == w[i].slots && d.w[i].rank == w[i].rank;
    CHECK(same, "devices read back differ: %s %s %s / %s %s %s", d.w[0].name, d.w[0].device, d.w[0].host, d.w[1].name,
          d.w[1].device, d.w[1].host);
    CHECK(d.slots[0] == 7 && d.slots[1] == 0 && d.slots[2] == 1, "slots %d %d %d, want 7 0 1", d.slots[0], d.slots[1],
          d.slots[2]);
    CHECK(d.old_slots[0] == -1 && d.old_slots[1] == -1, "a line without slots: %d %d, want -1", d.old_slots[0],
          d.old_slots[1]);
    unlink(path);
    cf_span spans[5] = {{20, 30}, {0, 10}, {5, 12}, {12, 12}, {25, 28}};
    double busy = cf_span_union(spans, 5);
    CHECK(busy == 22, "busy %g of spans [0,10] [5,12] [12,12] [20,30] [25,28], want 22", busy);
    CHECK(cf_span_union(spans, 0) == 0, "no spans, no busy time");
}

int main(int argc, char **argv) {
    snprintf(dir, sizeof dir, "%s", argc > 1 ? argv[1] : ".");
    test_cut_replay();
    test_devices();
    test_round_trip();
    test_damage();
    test_disk_full();
    test_spec();
    return test_finish("test_journal");
}
