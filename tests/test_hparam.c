/* test_hparam.c - hyperparameters searched with the architecture: every
 * error of the KEY=SPEC parser and of a space file's "hyperparameters", arch
 * texts with values (round trips, errors), draws, steps, crossover,
 * encoding, grid levels and hashes, networks and costs that follow the
 * arch's options, and every strategy searching a space with hyperparameters.
 *
 *   ctest --test-dir build -R test_hparam --output-on-failure
 *   build/tests/test_hparam SPACES_DIR
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cellforge/cost.h"
#include "cellforge/net.h"
#include "cellforge/space.h"
#include "cellforge/strategy.h"
#include "check.h"

static const char *const k_arch = "|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|none~0|nor_conv_3x3~1|avg_pool_3x3~2|";

static double round4(double v) {
    char buf[32];
    snprintf(buf, sizeof buf, "%.4g", v);
    return strtod(buf, NULL);
}

static cf_space *load(const char *name) {
    cf_space *s = NULL;
    CHECK_OK(cf_space_load(name, &s));
    if (!s) exit(test_finish("test_hparam"));
    return s;
}

/* nb201 searching lr (log), wd (linear), C (int), batch (numeric choice) and augment (words). */
static cf_space *mixed(void) {
    cf_space *s = load("nb201");
    static const char *const specs[] = {"lr=log:0.01..0.5", "wd=0..0.001", "C=int:8..32", "batch=choice:64,128,256",
                                        "augment=choice:none,flip,crop+flip"};
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) CHECK_OK(cf_space_add_hparam_kv(s, specs[i]));
    return s;
}

/* ---- declarations ------------------------------------------------------------------ */

typedef struct bad_spec {
    const char *assignment;
    cf_status want;
    const char *text1, *text2;
} bad_spec;

static void test_spec_errors(void) {
    cf_space *s = load("nb201");
    static const bad_spec bad[] = {
        {"lr", CF_ERR_PARSE, "expected KEY=SPEC", "lr=log:0.01..0.5"},
        {"=log:1..2", CF_ERR_PARSE, "expected KEY=SPEC", "C=int:8..32"},
        {"lrr=log:0.01..0.5", CF_ERR_UNKNOWN_NAME, "unknown hyperparameter 'lrr'", "did you mean 'lr'?"},
        {"CC=int:8..16", CF_ERR_UNKNOWN_NAME, "unknown hyperparameter 'CC'", "did you mean 'C'?"},
        {"lr=", CF_ERR_PARSE, "lr: no SPEC", "log:LO..HI"},
        {"lr=exp:0.1..1", CF_ERR_PARSE, "unknown kind \"exp:\"", "choice:A,B"},
        {"lr=0.1", CF_ERR_PARSE, "expected a range LO..HI", "0.01..0.5"},
        {"lr=0.1..x", CF_ERR_PARSE, "expected a range LO..HI", "\"0.1..x\""},
        {"lr=0.5..0.1", CF_ERR_PARSE, "range 0.5..0.1", "LO < HI"},
        {"lr=log:0..0.5", CF_ERR_PARSE, "log range 0..0.5", "LO > 0"},
        {"lr=0.1..200", CF_ERR_INVALID_ARG, "200 is outside the range of training knob lr", "0..100"},
        {"wd=log:1e-5..2", CF_ERR_INVALID_ARG, "outside the range of training knob wd", "0..1"},
        {"C=0.5..8", CF_ERR_PARSE, "option C is an integer", "int:LO..HI"},
        {"C=int:8..8192", CF_ERR_INVALID_ARG, "8192 is outside the range of option C", "1..4096"},
        {"C=int:8.5..16", CF_ERR_PARSE, "expected a whole number, got 8.5", "option C is an integer"},
        {"epochs=log:1..4", CF_ERR_PARSE, "training knob epochs is an integer", "int:LO..HI"},
        {"batch=choice:64", CF_ERR_PARSE, "lists one value", "at least two"},
        {"batch=choice:64,,128", CF_ERR_PARSE, "an empty choice", "choice:A,B"},
        {"batch=choice:64,big", CF_ERR_PARSE, "choice \"big\" is not a number", "training knob batch"},
        {"batch=choice:64,64", CF_ERR_PARSE, "choice \"64\" given twice", "batch"},
        {"batch=choice:64,100.5", CF_ERR_PARSE, "expected a whole number, got 100.5", "batch"},
        {"batch=choice:0,64", CF_ERR_INVALID_ARG, "0 is outside the range of training knob batch", "1..65536"},
        {"batch=choice:1,2,3,4,5,6,7,8,9", CF_ERR_PARSE, "more than 8 choices", "batch"},
        {"augment=0..1", CF_ERR_PARSE, "training knob augment takes words", "choice:none,flip,crop+flip"},
        {"augment=choice:none,rotate", CF_ERR_PARSE, "choice \"rotate\"", "crop+flip"},
        {"augment=choice:flip,flip+flip", CF_ERR_PARSE, "choice \"flip+flip\"", "joined by '+'"},
        {"augment=choice:none,averyveryverylongchoicename", CF_ERR_PARSE, "is longer than 23 bytes", "augment"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_FAILS(cf_space_add_hparam_kv(s, bad[i].assignment), bad[i].want, bad[i].text1, bad[i].text2);
    CHECK(s->n_hparams == 0, "a failed declaration left %d hyperparameters", s->n_hparams);
    /* aliases, and a key declared again replaces the first declaration */
    CHECK_OK(cf_space_add_hparam_kv(s, "weight-decay=0..0.01"));
    CHECK_OK(cf_space_add_hparam_kv(s, "label-smoothing=0..0.2"));
    CHECK_OK(cf_space_add_hparam_kv(s, "wd=log:1e-5..1e-3"));
    CHECK(s->n_hparams == 2 && strcmp(s->hparams[0].name, "wd") == 0 && s->hparams[0].kind == CF_HPARAM_LOG &&
              strcmp(s->hparams[1].name, "label_smoothing") == 0,
          "aliases and redeclaration: %d dims, %s", s->n_hparams, s->hparams[0].name);
    char spec[128];
    cf_space_hparam_format(s, 0, spec, sizeof spec);
    CHECK(strcmp(spec, "log:1e-05..0.001") == 0, "spec text %s", spec);
    cf_space_destroy(s);
    /* at most CF_SPACE_MAX_HPARAMS: nb201 has 2 options + 9 knobs, so fill from a bigger list */
    s = load("darts");
    const char *keys[] = {"lr", "wd", "momentum", "batch", "epochs", "cutout", "erase", "label_smoothing", "C",
                          "layers", "drop_path", "auxiliary"};
    int n = 0;
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        char kv[64];
        snprintf(kv, sizeof kv, "%s=choice:%s", keys[i], "0,1");
        if (cf_space_add_hparam_kv(s, kv) == CF_OK) n++;
    }
    CHECK(n >= 6, "only %d of the choice declarations took", n);
    cf_space_destroy(s);
}

static void test_space_file(void) {
    const char *head = "{\"name\": \"t\", \"family\": \"nb201\", \"cell\": {\"nodes\": 3, \"ops\": [{\"name\": \"none\", "
                       "\"prim\": \"zero\"}, {\"name\": \"skip\", \"prim\": \"identity\"}]}, \"skeleton\": "
                       "{\"options\": {\"C\": {\"default\": 4, \"min\": 1, \"max\": 64, \"integer\": true}, \"N\": "
                       "{\"default\": 1, \"min\": 1, \"max\": 4, \"integer\": true}}}, \"hyperparameters\": ";
    char json[2048];
    cf_space *s = NULL;
    snprintf(json, sizeof json, "%s{\"lr\": \"log:0.01..0.5\", \"C\": \"int:2..8\"}}", head);
    CHECK_OK(cf_space_parse(json, "t.json", &s));
    CHECK(s && s->n_hparams == 2 && s->hparams[1].option == 0, "the file's hyperparameters");
    cf_space_destroy(s);
    snprintf(json, sizeof json, "%s{\"C\": \"int:2..128\"}}", head);
    CHECK_FAILS(cf_space_parse(json, "t.json", &s), CF_ERR_PARSE, "t.json: $.hyperparameters.C", "outside the range of option C");
    snprintf(json, sizeof json, "%s{\"lr\": 0.1}}", head);
    CHECK_FAILS(cf_space_parse(json, "t.json", &s), CF_ERR_PARSE, "$.hyperparameters.lr", "string");
    snprintf(json, sizeof json, "%s{\"rate\": \"0..1\"}}", head);
    CHECK_FAILS(cf_space_parse(json, "t.json", &s), CF_ERR_PARSE, "$.hyperparameters.rate", "unknown hyperparameter");
    snprintf(json, sizeof json, "%s[\"lr\"]}", head);
    CHECK_FAILS(cf_space_parse(json, "t.json", &s), CF_ERR_PARSE, "$.hyperparameters", "object");
}

/* ---- arch values -------------------------------------------------------------------- */

static void test_text(void) {
    cf_space *s = mixed();
    cf_rng rng = cf_rng_make(7, 1);
    char text[CF_ARCH_TEXT_MAX], again[CF_ARCH_TEXT_MAX];
    int seen_choice[3] = {0}, low_lr = 0, high_lr = 0;
    for (int k = 0; k < 300; k++) {
        cf_arch a, b;
        cf_arch_sample(s, &rng, &a);
        CHECK_OK(cf_arch_validate(s, &a));
        CHECK_OK(cf_arch_format(s, &a, text, sizeof text));
        CHECK(strlen(text) < cf_arch_text_max(s), "text of %zu bytes, bound %zu", strlen(text), cf_arch_text_max(s));
        CHECK_OK(cf_arch_parse(s, text, &b));
        CHECK(memcmp(&a, &b, sizeof a) == 0, "parse(format(a)) != a for %s", text);
        CHECK_OK(cf_arch_format(s, &b, again, sizeof again));
        CHECK(strcmp(text, again) == 0, "%s then %s", text, again);
        CHECK(a.hp[0] == round4(a.hp[0]), "lr %.17g has more than 4 digits", a.hp[0]);
        seen_choice[(int)a.hp[4]]++;
        low_lr += a.hp[0] < 0.0707; /* the geometric middle of 0.01..0.5 */
        high_lr += a.hp[0] >= 0.0707;
    }
    CHECK(seen_choice[0] && seen_choice[1] && seen_choice[2], "a choice never drawn");
    CHECK(low_lr > 100 && high_lr > 100, "log-uniform lr: %d below the geometric middle, %d above", low_lr, high_lr);
    /* any order, spaces; values exactly as given */
    cf_arch a;
    snprintf(text, sizeof text, "%s {augment=flip, C=16,lr=0.0523,wd=0.00012345678,batch=128}", k_arch);
    CHECK_OK(cf_arch_parse(s, text, &a));
    CHECK(a.hp[0] == 0.0523 && a.hp[1] == 0.00012345678 && a.hp[2] == 16 && a.hp[3] == 1 && a.hp[4] == 1,
          "values %g %g %g %g %g", a.hp[0], a.hp[1], a.hp[2], a.hp[3], a.hp[4]);
    CHECK_OK(cf_arch_format(s, &a, again, sizeof again));
    char want[CF_ARCH_TEXT_MAX];
    snprintf(want, sizeof want, "%s {lr=0.0523,wd=0.00012345678,C=16,batch=128,augment=flip}", k_arch);
    CHECK(strcmp(again, want) == 0, "formatted %s", again);
    CHECK(cf_arch_hparam(s, &a, "batch", 0) == 128 && cf_arch_hparam(s, &a, "epochs", 3) == 3 &&
              cf_arch_hparam(s, &a, "augment", -1) == -1 && strcmp(cf_arch_hparam_choice(s, &a, "augment"), "flip") == 0,
          "values by name");
    /* errors name the column and what was expected */
    static const struct {
        const char *tail;
        const char *text1, *text2;
    } bad[] = {
        {"", "expected the hyperparameters", "space nb201 searches lr, wd, C, batch, augment"},
        {" {lr=0.1,wd=0,C=16,batch=128}", "no value for augment", "searches lr, wd, C"},
        {" {lr=0.1,wd=0,C=16,batch=128,augment=flip,lr=0.2}", "lr given twice", "column"},
        {" {lr=0.1,wd=0,C=16,batch=96,augment=flip}", "batch=96 is not one of choice:64,128,256", "column"},
        {" {lr=0.9,wd=0,C=16,batch=128,augment=flip}", "lr=0.9 is outside log:0.01..0.5", "column"},
        {" {lr=0.1,wd=0,C=16.5,batch=128,augment=flip}", "C=16.5 is outside int:8..32", "column"},
        {" {lr=fast,wd=0,C=16,batch=128,augment=flip}", "lr: expected a number", "\"fast\""},
        {" {lr=0.1,wd=0,C=16,batch=128,augment=flip,N=2}", "\"N\" is not a hyperparameter", "column"},
        {" {lr=0.1;wd=0,C=16,batch=128,augment=flip}", "lr: expected a number", "0.1;wd=0"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(text, sizeof text, "%s%s", k_arch, bad[i].tail);
        CHECK_FAILS(cf_arch_parse(s, text, &a), CF_ERR_PARSE, bad[i].text1, bad[i].text2);
    }
    /* a space without hyperparameters refuses a block as before */
    cf_space *plain = load("nb201");
    snprintf(text, sizeof text, "%s {lr=0.1}", k_arch);
    CHECK(cf_arch_parse(plain, text, &a) == CF_ERR_PARSE, "a block in a space without hyperparameters");
    cf_space_destroy(plain);
    cf_space_destroy(s);
}

/* The hash as it was before archs had hyperparameter values: FNV-1a over the
 * family and the first 724 bytes (the old sizeof(cf_arch)) of the canonical form. */
static uint64_t old_hash(const cf_space *s, const cf_arch *a) {
    cf_arch c;
    memset(&c, 0, sizeof c);
    cf_arch_canonical(s, a, &c);
    memset((unsigned char *)&c + 723, 0, offsetof(cf_arch, hp) - 723);
    uint64_t h = 0xcbf29ce484222325ull;
    h = (h ^ (unsigned char)s->family) * 0x100000001b3ull;
    const unsigned char *p = (const unsigned char *)&c;
    for (size_t i = 0; i < 724; i++) h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

static void test_hash_and_steps(void) {
    cf_space *plain = load("nb201");
    cf_space *s = mixed();
    cf_arch a, b;
    CHECK_OK(cf_arch_parse(plain, k_arch, &a));
    CHECK(cf_arch_hash(plain, &a) == old_hash(plain, &a), "the hash of a space without hyperparameters changed");
    char text[CF_ARCH_TEXT_MAX];
    snprintf(text, sizeof text, "%s {lr=0.1,wd=0.0005,C=16,batch=128,augment=none}", k_arch);
    CHECK_OK(cf_arch_parse(s, text, &a));
    b = a;
    b.hp[0] = 0.2;
    CHECK(cf_arch_hash(s, &a) != cf_arch_hash(s, &b), "the hash ignores lr");
    cf_arch c;
    cf_arch_canonical(s, &a, &c);
    CHECK(memcmp(c.hp, a.hp, sizeof a.hp) == 0, "canonical dropped the values");
    /* neighbors: every family neighbor keeps the values; then one value stepped each */
    size_t nf = cf_arch_neighbors(plain, &a, NULL, 0), n = cf_arch_neighbors(s, &a, NULL, 0);
    /* lr 2, wd 2, C 2, batch 2 others, augment 2 others */
    CHECK(n == nf + 10, "%zu neighbors, %zu of the cell", n, nf);
    cf_arch *all = malloc(n * sizeof *all);
    cf_arch_neighbors(s, &a, all, n);
    int changed_hp = 0;
    for (size_t i = 0; i < n; i++) {
        CHECK_OK(cf_arch_validate(s, &all[i]));
        int d = 0;
        for (int k = 0; k < s->n_hparams; k++) d += all[i].hp[k] != a.hp[k];
        CHECK(i < nf ? d == 0 : d == 1, "neighbor %zu changes %d values", i, d);
        changed_hp += d;
    }
    CHECK(all[nf].hp[0] < 0.1 && all[nf + 1].hp[0] > 0.1 && all[nf + 4].hp[2] == 15 && all[nf + 5].hp[2] == 17,
          "steps: lr %g %g, C %g %g", all[nf].hp[0], all[nf + 1].hp[0], all[nf + 4].hp[2], all[nf + 5].hp[2]);
    CHECK(fabs(all[nf + 1].hp[0] / 0.1 - pow(50, 1.0 / 8)) < 1e-3, "lr up by %g", all[nf + 1].hp[0] / 0.1);
    CHECK(fabs(all[nf + 3].hp[1] - 0.000625) < 1e-12, "wd up to %g", all[nf + 3].hp[1]);
    free(all);
    /* at the ends, steps are clipped away */
    snprintf(text, sizeof text, "%s {lr=0.5,wd=0,C=32,batch=64,augment=none}", k_arch);
    CHECK_OK(cf_arch_parse(s, text, &a));
    CHECK(cf_arch_neighbors(s, &a, NULL, 0) == nf + 7, "at the ends: %zu", cf_arch_neighbors(s, &a, NULL, 0) - nf);
    /* crossover takes each value from a parent, both over many draws */
    snprintf(text, sizeof text, "%s {lr=0.02,wd=0.0001,C=8,batch=256,augment=flip}", k_arch);
    CHECK_OK(cf_arch_parse(s, text, &b));
    cf_rng rng = cf_rng_make(3, 2);
    int from_b[5] = {0};
    for (int k = 0; k < 200; k++) {
        cf_arch_crossover(s, &rng, &a, &b, &c);
        for (int i = 0; i < 5; i++) {
            CHECK(c.hp[i] == a.hp[i] || c.hp[i] == b.hp[i], "value %d from neither parent", i);
            from_b[i] += c.hp[i] == b.hp[i];
        }
        cf_arch m;
        CHECK_OK(cf_arch_mutate(s, &rng, &c, &m));
        CHECK_OK(cf_arch_validate(s, &m));
    }
    for (int i = 0; i < 5; i++) CHECK(from_b[i] > 60 && from_b[i] < 140, "value %d from b %d of 200", i, from_b[i]);
    /* encoding: the cell's, then lr, wd, C scaled, batch and augment one-hot */
    size_t ef = cf_arch_encoding_size(plain, CF_ARCH_ENCODING_ONEHOT), e = cf_arch_encoding_size(s, CF_ARCH_ENCODING_ONEHOT);
    CHECK(e == ef + 3 + 3 + 3, "encoding of %zu, cell %zu", e, ef);
    CHECK(cf_arch_encoding_size(s, CF_ARCH_ENCODING_PATH) == cf_arch_encoding_size(plain, CF_ARCH_ENCODING_PATH) + 9,
          "path encoding size");
    float *v = malloc(e * sizeof *v);
    snprintf(text, sizeof text, "%s {lr=0.1,wd=0.00025,C=20,batch=256,augment=flip}", k_arch);
    CHECK_OK(cf_arch_parse(s, text, &a));
    cf_arch_encode(s, &a, CF_ARCH_ENCODING_ONEHOT, v);
    const float want[9] = {(float)(log(10) / log(50)), 0.25f, 0.5f, 0, 0, 1, 0, 1, 0};
    for (int i = 0; i < 9; i++) CHECK(fabsf(v[ef + i] - want[i]) < 1e-6f, "encoding[%d] = %g, want %g", i, v[ef + i], want[i]);
    free(v);
    cf_space_destroy(s);
    cf_space_destroy(plain);
}

static int count_visit(const cf_arch *a, void *ctx) {
    (void)a;
    ++*(long *)ctx;
    return 0;
}

static void test_grid(const char *spaces) {
    char path[1024];
    snprintf(path, sizeof path, "%s/../tests/data/tiny201.json", spaces);
    cf_space *s = load(path);
    double cells = cf_space_size(s);
    CHECK_OK(cf_space_add_hparam_kv(s, "N=int:1..2"));
    CHECK_OK(cf_space_add_hparam_kv(s, "augment=choice:none,flip"));
    CHECK_OK(cf_space_add_hparam_kv(s, "lr=log:0.01..1"));
    CHECK(cf_space_size(s) == cells * 2 * 2 * 3, "size %g, cells %g", cf_space_size(s), cells);
    long n = 0;
    CHECK_OK(cf_space_enumerate(s, 1000, count_visit, &n));
    CHECK(n == (long)cf_space_size(s), "enumerated %ld of %g", n, cf_space_size(s));
    CHECK_FAILS(cf_space_enumerate(s, 100, count_visit, &n), CF_ERR_UNSUPPORTED, "with their hyperparameter levels",
                "sample it instead");
    cf_space_destroy(s);
}

/* ---- networks follow the arch's options ------------------------------------------------ */

static void test_cost(void) {
    cf_space *s = load("nb201");
    CHECK_OK(cf_space_add_hparam_kv(s, "C=int:8..32"));
    cf_space *wide = load("nb201");
    CHECK_OK(cf_space_set(wide, "C", "24"));
    const cf_net_input in = {1, 28, 28, 10};
    char text[CF_ARCH_TEXT_MAX];
    cf_arch a, p;
    snprintf(text, sizeof text, "%s {C=24}", k_arch);
    CHECK_OK(cf_arch_parse(s, text, &a));
    CHECK_OK(cf_arch_parse(wide, k_arch, &p));
    cf_cost c1, c2, c3;
    CHECK_OK(cf_cost_of(s, &a, &in, 64, &c1));
    CHECK_OK(cf_cost_of(wide, &p, &in, 64, &c2));
    CHECK(c1.params == c2.params && c1.macs == c2.macs && c1.activation_bytes == c2.activation_bytes,
          "C=24 by value: %lld params, by option: %lld", (long long)c1.params, (long long)c2.params);
    a.hp[0] = 8;
    CHECK_OK(cf_cost_of(s, &a, &in, 64, &c3));
    CHECK(c3.params < c1.params && c3.macs < c1.macs, "C=8 costs %lld params, C=24 %lld", (long long)c3.params,
          (long long)c1.params);
    cf_space sp;
    cf_space_for_arch(s, &a, &sp);
    CHECK(cf_space_get(&sp, "C") == 8 && cf_space_get(s, "C") == 16, "space_for_arch: %g", cf_space_get(&sp, "C"));
    /* the plain network a model file records */
    char net_text[CF_ARCH_TEXT_MAX];
    CHECK_OK(cf_arch_network(s, text, &sp, net_text, sizeof net_text));
    CHECK(strcmp(net_text, k_arch) == 0 && sp.n_hparams == 0 && cf_space_get(&sp, "C") == 24, "network %s", net_text);
    cf_space_destroy(wide);
    cf_space_destroy(s);
}

/* ---- every strategy ------------------------------------------------------------------------ */

/* Lower is better: lr near 0.1, C large, augment flip. */
static double objective(const cf_space *s, const cf_arch *a) {
    double lr = cf_arch_hparam(s, a, "lr", 0.1), C = cf_arch_hparam(s, a, "C", 8);
    const char *aug = cf_arch_hparam_choice(s, a, "augment");
    return fabs(log(lr / 0.1)) + (32 - C) / 32 + (aug && strcmp(aug, "flip") == 0 ? 0 : 0.5);
}

static void test_strategies(const char *spaces) {
    char path[1024];
    snprintf(path, sizeof path, "%s/../tests/data/tiny201.json", spaces);
    cf_space *s = load(path);
    CHECK_OK(cf_space_add_hparam_kv(s, "lr=log:0.01..1"));
    CHECK_OK(cf_space_add_hparam_kv(s, "C=int:2..8"));
    CHECK_OK(cf_space_add_hparam_kv(s, "augment=choice:none,flip,crop+flip"));
    static const char *const names[] = {"random", "grid", "evolution", "local", "sh", "hyperband", "asha", "bananas", "nsga2"};
    static const char *const options[] = {"", "", "population=8,sample=3", "", "", "", "", "init=6,candidates=30,steps=20", "population=8"};
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        cf_strategy_config cfg;
        cf_strategy_config_default(&cfg);
        cfg.seed = 11;
        cfg.max_epochs = 4;
        cfg.n_objectives = strcmp(names[k], "nsga2") == 0 ? 2 : 1;
        snprintf(cfg.options, sizeof cfg.options, "%s", options[k]);
        cf_strategy *st = NULL;
        CHECK_OK(cf_strategy_create(names[k], s, &cfg, &st));
        if (!st) continue;
        int asked = 0, lr_values = 0, c_seen[9] = {0}, aug_seen[3] = {0};
        double first_lr = -1;
        for (int64_t t = 0; t < 60; t++) {
            cf_candidate c;
            cf_ask_result r = cf_strategy_ask(st, t, &c);
            if (r != CF_ASK_OK) break;
            asked++;
            CHECK(cf_arch_validate(s, &c.arch) == CF_OK, "%s: proposal %lld: %s", names[k], (long long)t, cf_error_message());
            if (first_lr < 0) first_lr = c.arch.hp[0];
            lr_values += c.arch.hp[0] != first_lr;
            c_seen[(int)c.arch.hp[1]] = 1;
            aug_seen[(int)c.arch.hp[2]] = 1;
            cf_outcome o = {0};
            o.status = CF_OUTCOME_OK;
            o.n_objectives = cfg.n_objectives;
            o.objective[0] = objective(s, &c.arch) / 4;
            o.objective[1] = cf_arch_hparam(s, &c.arch, "C", 0) / 8;
            o.val_acc = 1 - o.objective[0];
            o.epochs = c.epochs > 0 ? c.epochs : cfg.max_epochs;
            c.epochs = o.epochs;
            cf_strategy_tell(st, t, &c, &o);
        }
        int cs = 0;
        for (int i = 2; i <= 8; i++) cs += c_seen[i];
        CHECK(asked >= 20, "%s asked %d times", names[k], asked);
        CHECK(lr_values > 0 && cs >= 2 && aug_seen[0] + aug_seen[1] + aug_seen[2] >= 2,
              "%s does not vary the values: lr %d, C %d", names[k], lr_values, cs);
        cf_strategy_destroy(st);
    }
    cf_space_destroy(s);
}

int main(int argc, char **argv) {
    const char *spaces = argc > 1 ? argv[1] : "search_spaces";
    setenv("CELLFORGE_SPACES", spaces, 1);
    test_spec_errors();
    test_space_file();
    test_text();
    test_hash_and_steps();
    test_grid(spaces);
    test_cost();
    test_strategies(spaces);
    return test_finish("test_hparam");
}
