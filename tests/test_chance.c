/* test_chance.c - the cause given for a trial that finished at chance level:
 * an NB201 or DARTS cell with no path from its input to its output, a
 * training run that learned little, or one that learned but does not
 * generalize; and no cause for a trial above chance.
 *
 *   ctest -R test_chance --output-on-failure
 */
#include <stdlib.h>
#include <string.h>

#include "cellforge/log.h"
#include "cellforge/sched.h"
#include "check.h"

static cf_trial ok_trial(const cf_space *s, const char *arch, double val, double train_acc) {
    static cf_epoch_record curve[1];
    cf_trial t;
    memset(&t, 0, sizeof t);
    CHECK_OK(cf_arch_parse(s, arch, &t.cand.arch));
    t.status = CF_TRIAL_OK;
    t.val_acc = val;
    t.epochs_done = 1;
    t.cand.fraction = 0.25;
    curve[0] = (cf_epoch_record){.epoch = 0, .train_loss = 2.2, .train_acc = train_acc, .val_acc = val};
    t.curve = curve;
    return t;
}

static void test_nb201(void) {
    cf_space *s = NULL;
    CHECK_OK(cf_space_load("nb201", &s));
    if (!s) return;
    char why[256];
    /* every path to the output goes through none: the image never reaches the classifier */
    cf_trial t = ok_trial(s, "|nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|", 0.10, 0.11);
    CHECK(cf_trial_chance_cause(s, 10, &t, why, sizeof why) == 1, "an all-none output edge set is at chance");
    CHECK(strstr(why, "no path") != NULL, "cause: %s", why);
    /* a path through a convolution and a skip: connected, so another cause */
    t = ok_trial(s, "|nor_conv_3x3~0|+|none~0|skip_connect~1|+|none~0|none~1|skip_connect~2|", 0.10, 0.12);
    CHECK(cf_trial_chance_cause(s, 10, &t, why, sizeof why) == 1, "a connected cell at chance is flagged too");
    CHECK(strstr(why, "learned little") != NULL, "cause: %s", why);
    t = ok_trial(s, "|nor_conv_3x3~0|+|none~0|skip_connect~1|+|none~0|none~1|skip_connect~2|", 0.10, 0.80);
    CHECK(cf_trial_chance_cause(s, 10, &t, why, sizeof why) == 1 && strstr(why, "generalize") != NULL,
          "cause: %s", why);
    /* above chance, failed, or not trained: nothing to say */
    t = ok_trial(s, "|nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|", 0.16, 0.2);
    CHECK(cf_trial_chance_cause(s, 10, &t, why, sizeof why) == 0, "16%% of 10 classes is above chance");
    t.val_acc = 0.1;
    t.status = CF_TRIAL_NAN;
    CHECK(cf_trial_chance_cause(s, 10, &t, why, sizeof why) == 0, "a failed trial has its own reason");
    t.status = CF_TRIAL_OK;
    t.val_acc = -1;
    CHECK(cf_trial_chance_cause(s, 10, &t, why, sizeof why) == 0, "an unscored trial is not at chance");
    /* a supernet at chance: every edge holds every op, so it is connected */
    t = ok_trial(s, "supernet", 0.10, 0.12);
    CHECK(cf_trial_chance_cause(s, 10, &t, why, sizeof why) == 1 && strstr(why, "no path") == NULL,
          "supernet cause: %s", why);
    cf_space_destroy(s);
}

static void test_darts(void) {
    cf_space *s = NULL;
    CHECK_OK(cf_space_load("darts", &s));
    if (!s) return;
    CHECK_OK(cf_space_set_kv(s, "layers=5"));
    char why[256];
    const char *cut = "Genotype(normal=[('none', 0), ('none', 1), ('skip_connect', 2), ('skip_connect', 0), "
                      "('none', 1), ('none', 0), ('none', 1), ('none', 0)], normal_concat=[2, 3, 4, 5], "
                      "reduce=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 0), "
                      "('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('dil_conv_3x3', 1), ('sep_conv_3x3', 0)], "
                      "reduce_concat=[2, 3, 4, 5])";
    /* node 2 of the normal cell has only none inputs, node 3 reads it and a none:
     * yet skip_connect from c_{k-2} into node 3 carries the image */
    cf_trial t = ok_trial(s, cut, 0.1, 0.1);
    CHECK(cf_trial_chance_cause(s, 10, &t, why, sizeof why) == 1 && strstr(why, "no path") == NULL,
          "a normal cell with a skip from its input is connected: %s", why);
    const char *dead = "Genotype(normal=[('none', 0), ('none', 1), ('none', 0), ('none', 1), "
                       "('none', 1), ('none', 0), ('none', 1), ('none', 0)], normal_concat=[2, 3, 4, 5], "
                       "reduce=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 0), "
                       "('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('dil_conv_3x3', 1), ('sep_conv_3x3', 0)], "
                       "reduce_concat=[2, 3, 4, 5])";
    t = ok_trial(s, dead, 0.1, 0.1);
    CHECK(cf_trial_chance_cause(s, 10, &t, why, sizeof why) == 1 && strstr(why, "no path") != NULL,
          "an all-none normal cell ends the network in zeros: %s", why);
    cf_space_destroy(s);
}

int main(int argc, char **argv) {
    if (argc > 1) setenv("CELLFORGE_SPACES", argv[1], 1);
    cf_log_set_level(CF_LOG_LEVEL_WARN);
    test_nb201();
    test_darts();
    return test_finish("test_chance");
}
