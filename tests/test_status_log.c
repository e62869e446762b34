/* test_status_log.c - error values and messages, per-thread messages, the
 * log levels and that concurrent log lines never interleave. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cellforge/log.h"
#include "cellforge/status.h"
#include "cellforge/text.h"
#include "cellforge/thread.h"
#include "check.h"

static cf_status inner(int x) {
    if (x < 0) CF_FAIL(CF_ERR_INVALID_ARG, "value %d is negative", x);
    return CF_OK;
}
static cf_status outer(int x) {
    CF_TRY(inner(x));
    return CF_OK;
}

static void check_status(void) {
    CHECK(outer(1) == CF_OK, "outer(1) failed");
    CHECK(outer(-3) == CF_ERR_INVALID_ARG, "outer(-3) did not return the inner status");
    CHECK(strcmp(cf_error_message(), "value -3 is negative") == 0, "message: '%s'", cf_error_message());
    for (int s = 0; s < CF_STATUS_COUNT; s++)
        CHECK(strcmp(cf_status_name((cf_status)s), "unknown_status") != 0, "status %d has no name", s);
    CHECK(strcmp(cf_status_name(CF_ERR_DEVICE_OOM), "device_oom") == 0, "device_oom name");
    cf_error_clear();
    CHECK(cf_error_message()[0] == '\0', "clear left '%s'", cf_error_message());
}

static void *thread_error(void *arg) {
    int id = *(int *)arg;
    char want[64];
    for (int i = 0; i < 1000; i++) {
        inner(-id);
        snprintf(want, sizeof want, "value %d is negative", -id);
        if (strcmp(cf_error_message(), want) != 0) return (void *)1;
    }
    return NULL;
}

static void check_thread_local_messages(void) {
    cf_thread t[4];
    int ids[4] = {1, 2, 3, 4};
    for (int i = 0; i < 4; i++) CHECK_OK(cf_thread_create(&t[i], "err-test", thread_error, &ids[i]));
    for (int i = 0; i < 4; i++) {
        void *res = (void *)1;
        CHECK_OK(cf_thread_join(&t[i], &res));
        CHECK(res == NULL, "thread %d saw another thread's message", i);
    }
}

static void *thread_log(void *arg) {
    int id = *(int *)arg;
    for (int i = 0; i < 500; i++) CF_LOG_INFO("thread %d line %d %s", id, i, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
    return NULL;
}

static void check_logging(void) {
    cf_log_level lv;
    CHECK(cf_log_parse_level("DEBUG", &lv) == 0 && lv == CF_LOG_LEVEL_DEBUG, "parse DEBUG");
    CHECK(cf_log_parse_level("warning", &lv) == 0 && lv == CF_LOG_LEVEL_WARN, "parse warning");
    CHECK(cf_log_parse_level("loud", &lv) == -1, "parse of an unknown level succeeded");

    FILE *f = tmpfile();
    CHECK(f != NULL, "tmpfile");
    if (!f) return;
    cf_log_set_stream(f);
    cf_log_set_level(CF_LOG_LEVEL_WARN);
    CF_LOG_INFO("hidden");
    CF_LOG_WARN("shown %d", 1);
    cf_log_set_level(CF_LOG_LEVEL_INFO);
    cf_thread t[4];
    int ids[4] = {0, 1, 2, 3};
    for (int i = 0; i < 4; i++) CHECK_OK(cf_thread_create(&t[i], "log-test", thread_log, &ids[i]));
    for (int i = 0; i < 4; i++) CHECK_OK(cf_thread_join(&t[i], NULL));
    cf_log_set_stream(NULL);

    rewind(f);
    char line[512];
    int lines = 0, good = 0, hidden = 0, shown = 0;
    while (fgets(line, sizeof line, f)) {
        lines++;
        int id, k;
        char tail[64];
        const char *msg = strstr(line, "] ");
        if (strstr(line, "hidden")) hidden++;
        if (strstr(line, "shown 1") && strstr(line, "warn")) shown++;
        if (msg && sscanf(msg + 2, "thread %d line %d %63s", &id, &k, tail) == 3 &&
            strcmp(tail, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx") == 0 && line[strlen(line) - 1] == '\n')
            good++;
    }
    fclose(f);
    CHECK(hidden == 0, "an info line passed the warn level");
    CHECK(shown == 1, "the warn line is missing");
    CHECK(good == 2000, "%d of 2000 thread lines intact (%d lines in all)", good, lines);
}

/* The one parser of counts, durations and numbers with their ranges. */
static void check_values(void) {
    const cf_value_range batch = {CF_VALUE_COUNT, 1, 65536}, time = {CF_VALUE_DURATION, 1, 3600},
                         frac = {CF_VALUE_NUMBER, 0.001, 1};
    double d = 0;
    CHECK_OK(cf_text_parse_value("64K", &batch, "--batch", &d));
    CHECK(d == 64000, "64K -> %g", d);
    CHECK_OK(cf_text_parse_value("10m", &time, "--time", &d));
    CHECK(d == 600, "10m -> %g", d);
    CHECK_OK(cf_text_parse_value("90", &time, "--time", &d));
    CHECK(d == 90, "90 -> %g", d);
    CHECK_OK(cf_text_parse_value("2.5e-1", &frac, "--fraction", &d));
    CHECK(d == 0.25, "2.5e-1 -> %g", d);
    /* 4294967552 ran at batch 256 (wrapped to int); 3000000000 became negative */
    CHECK_FAILS(cf_text_parse_value("4294967552", &batch, "--batch", &d), CF_ERR_PARSE,
                "--batch: '4294967552' is out of range", "a whole number in [1, 65536] (K/M/G suffixes allowed)");
    CHECK_FAILS(cf_text_parse_value("3000000000", &batch, "x.json: $.batch", &d), CF_ERR_PARSE,
                "x.json: $.batch: '3000000000' is out of range", "[1, 65536]");
    CHECK_FAILS(cf_text_parse_value("0", &time, "--time", &d), CF_ERR_PARSE, "'0' is out of range",
                "a duration in [1s, 1h]");
    const char *bad[] = {"abc", "-5", "0x10", "nan", "inf", "1e400", "5Q", "10mm", "", " 5", "2.5", "1.5K7"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK(cf_text_parse_value(bad[i], &batch, "--batch", &d) == CF_ERR_PARSE, "'%s' accepted as a batch", bad[i]);
    CHECK(cf_text_parse_value("1s", &frac, "--fraction", &d) == CF_ERR_PARSE, "a suffix on a plain number");
    CHECK(cf_text_parse_value("-0.5", &frac, "--fraction", &d) == CF_ERR_PARSE, "-0.5 in [0.001, 1]");
}

static void check_text(void) {
    const char *names[] = {"conv2d", "batchnorm", "maxpool2d", "avgpool2d"};
    CHECK(strcmp(cf_text_closest("conv", names, 4), "conv2d") == 0, "closest to conv");
    CHECK(strcmp(cf_text_closest("BatchNorm", names, 4), "batchnorm") == 0, "closest is case-insensitive");
    CHECK(cf_text_closest("transformer", names, 4) == NULL, "far name got a suggestion");
    uint64_t v = 0;
    CHECK_OK(cf_text_parse_count("5M", "--max-macs", &v));
    CHECK(v == 5000000, "5M -> %llu", (unsigned long long)v);
    CHECK_OK(cf_text_parse_count("1.5k", "--max-params", &v));
    CHECK(v == 1500, "1.5k -> %llu", (unsigned long long)v);
    CHECK(cf_text_parse_count("5Q", "--max-macs", &v) == CF_ERR_PARSE, "5Q accepted");
    CHECK(strstr(cf_error_message(), "--max-macs") != NULL, "message does not name the flag: %s", cf_error_message());
    CHECK(cf_text_parse_count("abc", "--trials", &v) == CF_ERR_PARSE, "abc accepted");
    CHECK(cf_text_parse_count("-4", "--trials", &v) == CF_ERR_PARSE, "-4 accepted");
    check_values();
}

int main(void) {
    check_status();
    check_thread_local_messages();
    check_logging();
    check_text();
    return test_finish("test_status_log");
}
