/* test_space_load.c - the search-space files: the four shipped spaces load
 * with their published op lists and defaults, options are set and checked,
 * names resolve with suggestions, and a table of broken space texts each
 * fails with CF_ERR_PARSE and a message naming the JSON path.
 *
 *   ctest --test-dir build -R test_space_load --output-on-failure
 *   build/tests/test_space_load [SPACES_DIR]   (default: cf_space_dir())
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cellforge/space.h"
#include "check.h"

static void check_op(const cf_space *s, int i, const char *name, cf_prim prim, int kernel, int dilation) {
    CHECK(i < s->n_ops, "%s: op %d missing", s->name, i);
    if (i >= s->n_ops) return;
    const cf_space_op *op = &s->ops[i];
    CHECK(strcmp(op->name, name) == 0, "%s: op %d is '%s', expected '%s'", s->name, i, op->name, name);
    CHECK(op->prim == prim, "%s: op %s has prim %s, expected %s", s->name, name, cf_prim_name(op->prim),
          cf_prim_name(prim));
    CHECK(op->kernel == kernel, "%s: op %s kernel %d, expected %d", s->name, name, op->kernel, kernel);
    CHECK(op->dilation == dilation, "%s: op %s dilation %d, expected %d", s->name, name, op->dilation, dilation);
    CHECK(cf_space_op_index(s, name) == i, "%s: cf_space_op_index(%s) = %d", s->name, name,
          cf_space_op_index(s, name));
}

static void check_option(const cf_space *s, const char *name, double value, double min, double max, int integer) {
    const cf_space_option *o = NULL;
    for (int i = 0; i < s->n_options; i++)
        if (strcmp(s->options[i].name, name) == 0) o = &s->options[i];
    CHECK(o != NULL, "%s: option %s missing", s->name, name);
    if (!o) return;
    CHECK(o->value == value, "%s: %s = %g, expected %g", s->name, name, o->value, value);
    CHECK(o->min == min && o->max == max, "%s: %s range %g..%g, expected %g..%g", s->name, name, o->min, o->max,
          min, max);
    CHECK(o->integer == integer, "%s: %s integer %d", s->name, name, o->integer);
    CHECK(o->doc[0] != '\0', "%s: %s has no doc", s->name, name);
    CHECK(cf_space_get(s, name) == value, "%s: cf_space_get(%s)", s->name, name);
}

static void test_nb201(void) {
    cf_space *s = NULL;
    CHECK_OK(cf_space_load("nb201", &s));
    if (!s) return;
    CHECK(strcmp(s->name, "nb201") == 0, "name %s", s->name);
    CHECK(s->family == CF_SPACE_FAMILY_NB201, "family %s", cf_space_family_name(s->family));
    CHECK(strstr(s->path, "nb201.json") != NULL, "path %s", s->path);
    CHECK(s->doc[0] != '\0', "no doc");
    CHECK(s->nodes == 4, "nodes %d", s->nodes);
    CHECK(s->n_ops == 5, "n_ops %d", s->n_ops);
    check_op(s, 0, "none", CF_PRIM_ZERO, 0, 1);
    check_op(s, 1, "skip_connect", CF_PRIM_IDENTITY, 0, 1);
    check_op(s, 2, "nor_conv_1x1", CF_PRIM_RELU_CONV_BN, 1, 1);
    check_op(s, 3, "nor_conv_3x3", CF_PRIM_RELU_CONV_BN, 3, 1);
    check_op(s, 4, "avg_pool_3x3", CF_PRIM_AVG_POOL, 3, 1);
    CHECK(cf_space_op_index(s, "nor_conv_5x5") == -1, "unknown op has an index");
    CHECK(s->n_options == 2, "n_options %d", s->n_options);
    check_option(s, "C", 16, 1, 4096, 1);
    check_option(s, "N", 5, 1, 256, 1);

    /* Options: set, check, suggest. */
    CHECK_OK(cf_space_set(s, "C", "32"));
    CHECK(cf_space_get(s, "C") == 32, "C after set: %g", cf_space_get(s, "C"));
    CHECK_OK(cf_space_set_kv(s, "N=3"));
    CHECK(cf_space_get(s, "N") == 3, "N after set_kv: %g", cf_space_get(s, "N"));
    CHECK_FAILS(cf_space_set(s, "CC", "16"), CF_ERR_UNKNOWN_NAME, "did you mean 'C'?", "options: C, N");
    CHECK_FAILS(cf_space_set_kv(s, "channels=16"), CF_ERR_UNKNOWN_NAME, "unknown option 'channels'", "C, N");
    CHECK_FAILS(cf_space_set(s, "C", "0"), CF_ERR_INVALID_ARG, "C=0", "an integer in 1..4096");
    CHECK_FAILS(cf_space_set(s, "C", "5000"), CF_ERR_INVALID_ARG, "out of range", "1..4096");
    CHECK_FAILS(cf_space_set(s, "C", "16.5"), CF_ERR_INVALID_ARG, "C=16.5", "expected an integer");
    CHECK_FAILS(cf_space_set(s, "N", "abc"), CF_ERR_INVALID_ARG, "N='abc' is not a number", "1..256");
    CHECK_FAILS(cf_space_set(s, "N", ""), CF_ERR_INVALID_ARG, "not a number", "N=");
    CHECK_FAILS(cf_space_set(s, "N", "nan"), CF_ERR_INVALID_ARG, "not a number", "N=");
    CHECK_FAILS(cf_space_set(s, "N", "3x"), CF_ERR_INVALID_ARG, "not a number", "N=");
    CHECK_FAILS(cf_space_set_kv(s, "C"), CF_ERR_INVALID_ARG, "'C'", "NAME=VALUE");
    CHECK_FAILS(cf_space_set_kv(s, "=3"), CF_ERR_INVALID_ARG, "'=3'", "NAME=VALUE");
    CHECK(cf_space_get(s, "C") == 32 && cf_space_get(s, "N") == 3, "failed sets changed values");
    cf_space_destroy(s);
}

static void test_darts(void) {
    cf_space *s = NULL;
    CHECK_OK(cf_space_load("darts", &s));
    if (!s) return;
    CHECK(s->family == CF_SPACE_FAMILY_DARTS, "family %s", cf_space_family_name(s->family));
    CHECK(s->nodes == 4 && s->inputs_per_node == 2, "nodes %d inputs %d", s->nodes, s->inputs_per_node);
    CHECK(s->n_ops == 8, "n_ops %d", s->n_ops);
    check_op(s, 0, "none", CF_PRIM_ZERO, 0, 1);
    check_op(s, 1, "max_pool_3x3", CF_PRIM_MAX_POOL, 3, 1);
    check_op(s, 2, "avg_pool_3x3", CF_PRIM_AVG_POOL, 3, 1);
    check_op(s, 3, "skip_connect", CF_PRIM_IDENTITY, 0, 1);
    check_op(s, 4, "sep_conv_3x3", CF_PRIM_SEP_CONV, 3, 1);
    check_op(s, 5, "sep_conv_5x5", CF_PRIM_SEP_CONV, 5, 1);
    check_op(s, 6, "dil_conv_3x3", CF_PRIM_DIL_CONV, 3, 2);
    check_op(s, 7, "dil_conv_5x5", CF_PRIM_DIL_CONV, 5, 2);
    check_option(s, "C", 36, 1, 4096, 1);
    check_option(s, "layers", 20, 3, 256, 1);
    check_option(s, "auxiliary", 1, 0, 1, 1);
    check_option(s, "drop_path", 0.2, 0, 0.95, 0);
    CHECK_OK(cf_space_set(s, "drop_path", "0.3"));
    CHECK(cf_space_get(s, "drop_path") == 0.3, "drop_path %g", cf_space_get(s, "drop_path"));
    CHECK_OK(cf_space_set_kv(s, "auxiliary=0"));
    CHECK_FAILS(cf_space_set(s, "drop_path", "2"), CF_ERR_INVALID_ARG, "drop_path=2", "a number in 0..0.95");
    CHECK_FAILS(cf_space_set(s, "auxiliary", "0.5"), CF_ERR_INVALID_ARG, "auxiliary=0.5", "an integer in 0..1");
    CHECK_FAILS(cf_space_set(s, "layer", "8"), CF_ERR_UNKNOWN_NAME, "did you mean 'layers'?", "drop_path");
    cf_space_destroy(s);
}

static void test_nb101(void) {
    cf_space *s = NULL;
    CHECK_OK(cf_space_load("nb101", &s));
    if (!s) return;
    CHECK(s->family == CF_SPACE_FAMILY_NB101, "family %s", cf_space_family_name(s->family));
    CHECK(s->nodes == 7 && s->max_edges == 9, "nodes %d max_edges %d", s->nodes, s->max_edges);
    CHECK(s->n_ops == 3, "n_ops %d", s->n_ops);
    check_op(s, 0, "conv3x3-bn-relu", CF_PRIM_CONV_BN_RELU, 3, 1);
    check_op(s, 1, "conv1x1-bn-relu", CF_PRIM_CONV_BN_RELU, 1, 1);
    check_op(s, 2, "maxpool3x3", CF_PRIM_MAX_POOL, 3, 1);
    check_option(s, "stem_channels", 128, 1, 4096, 1);
    check_option(s, "stacks", 3, 1, 16, 1);
    check_option(s, "cells_per_stack", 3, 1, 64, 1);
    cf_space_destroy(s);
}

static void test_mobile(void) {
    cf_space *s = NULL;
    CHECK_OK(cf_space_load("mobile", &s));
    if (!s) return;
    CHECK(s->family == CF_SPACE_FAMILY_MOBILE, "family %s", cf_space_family_name(s->family));
    CHECK(s->n_ops == 0, "n_ops %d", s->n_ops);
    CHECK(s->stem_channels == 16 && s->first_channels == 16 && s->head_channels == 0, "stem %d first %d head %d",
          s->stem_channels, s->first_channels, s->head_channels);
    static const cf_mobile_stage want[] = {{24, 1, 1, 3}, {40, 2, 1, 3}, {80, 2, 1, 4}, {96, 1, 1, 3}, {192, 2, 1, 3}};
    CHECK(s->n_stages == 5, "n_stages %d", s->n_stages);
    for (int i = 0; i < 5 && i < s->n_stages; i++)
        CHECK(memcmp(&s->stages[i], &want[i], sizeof want[i]) == 0, "stage %d: %d ch, stride %d, depth %d..%d", i,
              s->stages[i].channels, s->stages[i].stride, s->stages[i].min_depth, s->stages[i].max_depth);
    CHECK(s->n_kernels == 3 && s->kernels[0] == 3 && s->kernels[1] == 5 && s->kernels[2] == 7, "kernels");
    CHECK(s->n_expands == 3 && s->expands[0] == 3 && s->expands[1] == 4 && s->expands[2] == 6, "expands");
    check_option(s, "width", 1.0, 0.25, 4, 0);
    CHECK_OK(cf_space_set(s, "width", "0.5"));
    CHECK(cf_space_get(s, "width") == 0.5, "width %g", cf_space_get(s, "width"));
    CHECK_FAILS(cf_space_set(s, "width", "0.1"), CF_ERR_INVALID_ARG, "width=0.1", "0.25..4");
    cf_space_destroy(s);
}

static void test_names(const char *dir) {
    char names[16][32];
    size_t n = cf_space_list(names, 16);
    static const char *const shipped[] = {"darts", "mobile", "nb101", "nb201"};
    for (size_t k = 0; k < 4; k++) {
        int found = 0;
        for (size_t i = 0; i < n; i++) found |= strcmp(names[i], shipped[k]) == 0;
        CHECK(found, "cf_space_list lacks %s (%zu names in %s)", shipped[k], n, cf_space_dir());
    }
    for (size_t i = 1; i < n; i++) CHECK(strcmp(names[i - 1], names[i]) < 0, "list not sorted at %zu", i);
    CHECK(cf_space_list(names, 2) == (n < 2 ? n : 2), "cap not respected");

    cf_space *s = (cf_space *)&s; /* must come back NULL */
    CHECK_FAILS(cf_space_load("nb_201", &s), CF_ERR_UNKNOWN_NAME, "did you mean 'nb201'?", cf_space_dir());
    CHECK(s == NULL, "out not NULL on failure");
    CHECK_FAILS(cf_space_load("resnet", &s), CF_ERR_UNKNOWN_NAME, "unknown search space 'resnet'", "nb101, nb201");
    CHECK_FAILS(cf_space_load("/nonexistent/dir/my_space.json", &s), CF_ERR_IO, "/nonexistent/dir/my_space.json",
                "cannot open");
    CHECK_FAILS(cf_space_load("", &s), CF_ERR_INVALID_ARG, "cf_space_load", "no space name");

    /* By path, and with the name in messages the path. */
    char path[512];
    snprintf(path, sizeof path, "%s/darts.json", dir);
    CHECK_OK(cf_space_load(path, &s));
    if (s) CHECK(strcmp(s->path, path) == 0 && s->family == CF_SPACE_FAMILY_DARTS, "by path: %s", s->path);
    cf_space_destroy(s);
    cf_space_destroy(NULL);

    CHECK(strcmp(cf_space_family_name(CF_SPACE_FAMILY_MOBILE), "mobile") == 0, "family name");
    CHECK(strcmp(cf_space_family_name(CF_SPACE_FAMILY_COUNT), "unknown") == 0, "family name out of range");
    CHECK(strcmp(cf_prim_name(CF_PRIM_DIL_CONV), "dil_conv") == 0, "prim name");
    CHECK(strcmp(cf_prim_name(CF_PRIM_MAX_POOL), "max_pool") == 0, "prim name");
    CHECK(strcmp(cf_prim_name(CF_PRIM_COUNT), "unknown") == 0, "prim name out of range");
}

/* ---- broken space texts ------------------------------------------------------------ */

/* Texts are written with ' for " to stay readable. */
#define NB201_OPS "'ops': [{'name': 'none', 'prim': 'zero'}, {'name': 'conv', 'prim': 'relu_conv_bn', 'kernel': 3}]"
#define NB201_CELL "'cell': {'nodes': 4, " NB201_OPS "}"
#define NB201_OPTS "'options': {'C': {'default': 16}, 'N': {'default': 5}}"
#define NB201_HEAD "{'name': 't', 'family': 'nb201', "
#define NB201_OK NB201_HEAD NB201_CELL ", 'skeleton': {" NB201_OPTS "}}"
#define WITH_CELL(cell) NB201_HEAD "'cell': " cell ", 'skeleton': {" NB201_OPTS "}}"
#define WITH_OPS(ops) NB201_HEAD "'cell': {'nodes': 4, 'ops': [" ops "]}, 'skeleton': {" NB201_OPTS "}}"
#define WITH_OPTS(opts) NB201_HEAD NB201_CELL ", 'skeleton': {'options': {" opts "}}}"

#define DARTS_OPTS \
    "'options': {'C': {'default': 16}, 'layers': {'default': 8}, 'auxiliary': {'default': 0}, 'drop_path': {'default': 0}}"
#define DARTS_WITH_OPS(ops) \
    "{'name': 'd', 'family': 'darts', 'cell': {'nodes': 4, 'ops': [" ops "]}, 'skeleton': {" DARTS_OPTS "}}"
#define NB101_OPTS \
    "'options': {'stem_channels': {'default': 16}, 'stacks': {'default': 1}, 'cells_per_stack': {'default': 1}}"
#define NB101_WITH_CELL(cell) "{'name': 'b', 'family': 'nb101', 'cell': " cell ", 'skeleton': {" NB101_OPTS "}}"
#define MOBILE_STAGE "{'channels': 24, 'stride': 2, 'depth': [1, 3]}"
#define MOBILE_WITH(blocks, skeleton)                                                    \
    "{'name': 'm', 'family': 'mobile', 'blocks': " blocks ", 'skeleton': {'stem_channels': 16, " skeleton \
    ", 'options': {'width': {'default': 1}}}}"
#define MOBILE_BLOCKS "{'kernels': [3, 5], 'expands': [3, 6]}"

typedef struct bad_case {
    const char *text;   /* ' stands for " */
    cf_status want;
    const char *path;   /* the message must contain these two */
    const char *detail;
} bad_case;

static const bad_case bad_cases[] = {
    /* The bases of the table, which must load. */
    {NB201_OK, CF_OK, "", ""},
    {DARTS_WITH_OPS("{'name': 'sep', 'prim': 'sep_conv', 'kernel': 3}"), CF_OK, "", ""},
    {NB101_WITH_CELL("{'nodes': 5, 'max_edges': 6, 'ops': [{'name': 'conv3x3-bn-relu', 'prim': 'conv_bn_relu', "
                     "'kernel': 3}]}"),
     CF_OK, "", ""},
    {MOBILE_WITH(MOBILE_BLOCKS, "'stages': [" MOBILE_STAGE "]"), CF_OK, "", ""},

    /* Syntax errors: line and column. */
    {"{\n  'name': 't',\n  'family': 'nb201' 'cell': {}\n}", CF_ERR_PARSE, "t.json:3:21:", "invalid JSON near"},
    {"{'name': 't',}", CF_ERR_PARSE, "t.json:1:", "invalid JSON"},
    {"{'name': 't'", CF_ERR_PARSE, "t.json:1:", "ends early"},
    {"  \n ", CF_ERR_PARSE, "t.json", "empty"},
    {"[1, 2]", CF_ERR_PARSE, "t.json: $: expected an object", "got an array"},

    /* Top level. */
    {"{'name': 't', 'family': 'nb210'}", CF_ERR_PARSE, "$.family: unknown family \"nb210\"", "did you mean \"nb201\"?"},
    {"{'name': 't', 'family': 3}", CF_ERR_PARSE, "$.family:", "got 3"},
    {"{'name': 't'}", CF_ERR_PARSE, "$: missing required key \"family\"", ""},
    {"{'family': 'nb201', " NB201_CELL ", 'skeleton': {" NB201_OPTS "}}", CF_ERR_PARSE,
     "$: missing required key \"name\"", ""},
    {NB201_HEAD "'cel': {}, 'skeleton': {}}", CF_ERR_PARSE, "$: unknown key \"cel\"", "did you mean \"cell\"?"},
    {NB201_HEAD "'skeleton': {" NB201_OPTS "}}", CF_ERR_PARSE, "$: missing required key \"cell\"", ""},
    {"{'name': 'a b', 'family': 'nb201', " NB201_CELL ", 'skeleton': {" NB201_OPTS "}}", CF_ERR_PARSE, "$.name:",
     "letters, digits"},
    {"{'name': 't', 'family': 'nb201', 'doc': 5, " NB201_CELL ", 'skeleton': {" NB201_OPTS "}}", CF_ERR_PARSE,
     "$.doc: expected a string", "got 5"},
    {NB201_HEAD NB201_CELL ", 'blocks': {}, 'skeleton': {" NB201_OPTS "}}", CF_ERR_PARSE, "$.blocks:",
     "not read by family nb201"},

    /* Cell. */
    {WITH_CELL("{'ops': []}"), CF_ERR_PARSE, "$.cell: missing required key \"nodes\"", ""},
    {WITH_CELL("{'nodes': 13, " NB201_OPS "}"), CF_ERR_PARSE, "$.cell.nodes:", "expected an integer in 2..12, got 13"},
    {WITH_CELL("{'nodes': 4.5, " NB201_OPS "}"), CF_ERR_PARSE, "$.cell.nodes:", "expected an integer, got 4.5"},
    {WITH_CELL("{'nodes': 4, 'nodes': 5, " NB201_OPS "}"), CF_ERR_PARSE, "$.cell: duplicate key \"nodes\"", ""},
    {WITH_CELL("{'nodes': 4, 'max_edges': 9, " NB201_OPS "}"), CF_ERR_PARSE, "$.cell: key \"max_edges\"",
     "read only by family nb101"},
    {WITH_CELL("{'nodes': 4, 'op': []}"), CF_ERR_PARSE, "$.cell: unknown key \"op\"", "did you mean \"ops\"?"},
    {WITH_CELL("{'nodes': 4, 'ops': []}"), CF_ERR_PARSE, "$.cell.ops:", "at least 1 item"},
    {WITH_CELL("{'nodes': 4, 'ops': {}}"), CF_ERR_PARSE, "$.cell.ops:", "expected an array, got an object"},
    {WITH_OPS("{'name': 'none', 'prim': 'zero'}, {'name': 'none', 'prim': 'identity'}"), CF_ERR_PARSE,
     "$.cell.ops[1].name:", "duplicate op name \"none\""},
    {WITH_OPS("{'name': 'c', 'prim': 'relu_conv_bm', 'kernel': 3}"), CF_ERR_PARSE, "$.cell.ops[0].prim:",
     "unknown prim \"relu_conv_bm\" (did you mean \"relu_conv_bn\"?)"},
    {WITH_OPS("{'name': 'a', 'prim': 'zero'}, {'name': 'b', 'prim': 'zero'}, {'name': 'c', 'prim': 'relu_conv_bn', "
              "'kernel': '3'}"),
     CF_ERR_PARSE, "t.json: $.cell.ops[2].kernel: ", "expected an integer, got \"3\""},
    {WITH_OPS("{'name': 'c', 'prim': 'relu_conv_bn', 'kernel': 3.5}"), CF_ERR_PARSE, "$.cell.ops[0].kernel:",
     "expected an integer, got 3.5"},
    {WITH_OPS("{'name': 'c', 'prim': 'relu_conv_bn', 'kernel': 4}"), CF_ERR_PARSE, "$.cell.ops[0].kernel:",
     "odd kernel size"},
    {WITH_OPS("{'name': 'c', 'prim': 'relu_conv_bn', 'kernel': 9}"), CF_ERR_PARSE, "$.cell.ops[0].kernel:",
     "in 1..7, got 9"},
    {WITH_OPS("{'name': 'c', 'prim': 'relu_conv_bn'}"), CF_ERR_PARSE, "$.cell.ops[0]:",
     "missing required key \"kernel\""},
    {WITH_OPS("{'name': 'z', 'prim': 'zero', 'kernel': 3}"), CF_ERR_PARSE, "$.cell.ops[0].kernel:",
     "not used by prim \"zero\""},
    {WITH_OPS("{'name': 'p', 'prim': 'avg_pool', 'kernel': 3, 'dilation': 2}"), CF_ERR_PARSE,
     "$.cell.ops[0].dilation:", "expected 1, got 2"},
    {WITH_OPS("{'name': 'c', 'prim': 'relu_conv_bn', 'kernal': 3}"), CF_ERR_PARSE, "$.cell.ops[0]: unknown key",
     "did you mean \"kernel\"?"},
    {WITH_OPS("{'name': 'a|b', 'prim': 'zero'}"), CF_ERR_PARSE, "$.cell.ops[0].name:", "architecture strings"},
    {WITH_OPS("{'name': 'this_op_name_is_much_longer_than_32', 'prim': 'zero'}"), CF_ERR_PARSE,
     "$.cell.ops[0].name:", "too long"},
    {WITH_OPS("'zero'"), CF_ERR_PARSE, "$.cell.ops[0]:", "expected an object, got \"zero\""},
    {WITH_OPS("{'name':'a','prim':'zero'},{'name':'b','prim':'zero'},{'name':'c','prim':'zero'},"
              "{'name':'d','prim':'zero'},{'name':'e','prim':'zero'},{'name':'f','prim':'zero'},"
              "{'name':'g','prim':'zero'},{'name':'h','prim':'zero'},{'name':'i','prim':'zero'},"
              "{'name':'j','prim':'zero'},{'name':'k','prim':'zero'},{'name':'l','prim':'zero'},"
              "{'name':'m','prim':'zero'},{'name':'n','prim':'zero'},{'name':'o','prim':'zero'},"
              "{'name':'p','prim':'zero'},{'name':'q','prim':'zero'}"),
     CF_ERR_PARSE, "$.cell.ops:", "at most 16 items, got 17"},

    /* darts and nb101 rules. */
    {DARTS_WITH_OPS("{'name': 'dil', 'prim': 'dil_conv', 'kernel': 3}"), CF_ERR_PARSE, "$.cell.ops[0]:",
     "missing required key \"dilation\""},
    {DARTS_WITH_OPS("{'name': 'dil', 'prim': 'dil_conv', 'kernel': 3, 'dilation': 1}"), CF_ERR_PARSE,
     "$.cell.ops[0].dilation:", "in 2..4, got 1"},
    {"{'name': 'd', 'family': 'darts', 'cell': {'nodes': 11, 'ops': [{'name': 'none', 'prim': 'zero'}]}, "
     "'skeleton': {" DARTS_OPTS "}}",
     CF_ERR_PARSE, "$.cell.nodes:", "in 1..8, got 11"},
    /* the cell's output joins every node in one concatenation of at most 8 inputs */
    {"{'name': 'd', 'family': 'darts', 'cell': {'nodes': 10, 'ops': [{'name': 'none', 'prim': 'zero'}]}, "
     "'skeleton': {" DARTS_OPTS "}}",
     CF_ERR_PARSE, "$.cell.nodes:", "in 1..8, got 10"},
    {"{'name': 'd', 'family': 'darts', 'cell': {'nodes': 4, 'inputs_per_node': 12, 'ops': [{'name': 'none', "
     "'prim': 'zero'}]}, 'skeleton': {" DARTS_OPTS "}}",
     CF_ERR_PARSE, "$.cell.inputs_per_node:", "in 1..11, got 12"},
    {NB101_WITH_CELL("{'nodes': 7, 'ops': [{'name': 'mp', 'prim': 'max_pool', 'kernel': 3}]}"), CF_ERR_PARSE,
     "$.cell: missing required key \"max_edges\"", ""},
    {NB101_WITH_CELL("{'nodes': 7, 'max_edges': 22, 'ops': [{'name': 'mp', 'prim': 'max_pool', 'kernel': 3}]}"),
     CF_ERR_PARSE, "$.cell.max_edges:", "in 1..21, got 22"},
    {NB101_WITH_CELL("{'nodes': 7, 'max_edges': 9, 'ops': [{'name': 'skip', 'prim': 'identity'}]}"), CF_ERR_PARSE,
     "$.cell.ops[0].prim:", "not \"identity\""},
    {NB101_WITH_CELL("{'nodes': 7, 'max_edges': 9, 'ops': [{'name': 'output', 'prim': 'max_pool', 'kernel': 3}]}"),
     CF_ERR_PARSE, "$.cell.ops[0].name:", "reserved"},

    /* Options. */
    {WITH_OPTS("'C': {'default': 16}"), CF_ERR_PARSE, "$.skeleton.options: missing required option \"N\"",
     "family nb201 reads C, N"},
    {NB201_HEAD NB201_CELL ", 'skeleton': {'optons': {}}}", CF_ERR_PARSE, "$.skeleton: unknown key \"optons\"",
     "did you mean \"options\"?"},
    {NB201_HEAD NB201_CELL ", 'skeleton': {'stages': [], " NB201_OPTS "}}", CF_ERR_PARSE,
     "$.skeleton: key \"stages\"", "read only by family mobile"},
    {WITH_OPTS("'C': {'default': 16.5}, 'N': {'default': 5}"), CF_ERR_PARSE, "$.skeleton.options.C.default:",
     "expected an integer"},
    {WITH_OPTS("'C': {'default': 0}, 'N': {'default': 5}"), CF_ERR_PARSE, "$.skeleton.options.C.default:",
     "in 1..4096, got 0"},
    {WITH_OPTS("'C': {'default': 16, 'min': 0}, 'N': {'default': 5}"), CF_ERR_PARSE, "$.skeleton.options.C.min:",
     "in 1..4096, got 0"},
    {WITH_OPTS("'C': {'default': 16, 'min': 8, 'max': 4}, 'N': {'default': 5}"), CF_ERR_PARSE,
     "$.skeleton.options.C.max:", "in 8..4096, got 4"},
    {WITH_OPTS("'C': {'default': 16, 'integer': false}, 'N': {'default': 5}"), CF_ERR_PARSE,
     "$.skeleton.options.C.integer:", "reads C as an integer"},
    {WITH_OPTS("'C': {'default': 16, 'integer': 1}, 'N': {'default': 5}"), CF_ERR_PARSE,
     "$.skeleton.options.C.integer:", "expected true or false, got 1"},
    {WITH_OPTS("'C': {'default': 16, 'dfault': 3}, 'N': {'default': 5}"), CF_ERR_PARSE,
     "$.skeleton.options.C: unknown key \"dfault\"", "did you mean \"default\"?"},
    {WITH_OPTS("'C': {'min': 1}, 'N': {'default': 5}"), CF_ERR_PARSE, "$.skeleton.options.C:",
     "missing required key \"default\""},
    {WITH_OPTS("'C': 16, 'N': {'default': 5}"), CF_ERR_PARSE, "$.skeleton.options.C:", "expected an object, got 16"},
    {WITH_OPTS("'C': {'default': 16}, 'N': {'default': 5}, 'C': {'default': 8}"), CF_ERR_PARSE,
     "$.skeleton.options:", "duplicate option \"C\""},
    {WITH_OPTS("'C': {'default': 16}, 'N': {'default': 5}, 'a=b': {'default': 1}"), CF_ERR_PARSE,
     "$.skeleton.options[\"a=b\"]:", "letters, digits"},
    {WITH_OPTS("'C': {'default': 16}, 'N': {'default': 5}, 'o1': {'default': 1}, 'o2': {'default': 1}, "
               "'o3': {'default': 1}, 'o4': {'default': 1}, 'o5': {'default': 1}, 'o6': {'default': 1}, "
               "'o7': {'default': 1}, 'o8': {'default': 1}, 'o9': {'default': 1}, 'o10': {'default': 1}, "
               "'o11': {'default': 1}, 'o12': {'default': 1}, 'o13': {'default': 1}, 'o14': {'default': 1}, "
               "'o15': {'default': 1}"),
     CF_ERR_PARSE, "$.skeleton.options:", "17 options, at most 16"},
    {"{'name': 'd', 'family': 'darts', 'cell': {'nodes': 4, 'ops': [{'name': 'none', 'prim': 'zero'}]}, "
     "'skeleton': {'options': {'C': {'default': 16}, 'layers': {'default': 8}, 'auxiliary': {'default': 0}, "
     "'drop_path': {'default': 0.2, 'max': 2}}}}",
     CF_ERR_PARSE, "$.skeleton.options.drop_path.max:", "in 0..0.95, got 2"},

    /* Mobile. */
    {"{'name': 'm', 'family': 'mobile', 'cell': {}, 'blocks': " MOBILE_BLOCKS ", 'skeleton': {}}", CF_ERR_PARSE,
     "$.cell:", "not read by family mobile"},
    {MOBILE_WITH(MOBILE_BLOCKS, "'stages': [{'chanels': 24, 'stride': 2, 'depth': 2}]"), CF_ERR_PARSE,
     "$.skeleton.stages[0]: unknown key \"chanels\"", "did you mean \"channels\"?"},
    {MOBILE_WITH(MOBILE_BLOCKS, "'stages': [" MOBILE_STAGE ", {'channels': 24, 'stride': 3, 'depth': 2}]"),
     CF_ERR_PARSE, "$.skeleton.stages[1].stride:", "in 1..2, got 3"},
    {MOBILE_WITH(MOBILE_BLOCKS, "'stages': [{'channels': 24, 'stride': 1, 'depth': [1, 9]}]"), CF_ERR_PARSE,
     "$.skeleton.stages[0].depth[1]:", "in 1..8, got 9"},
    {MOBILE_WITH(MOBILE_BLOCKS, "'stages': [{'channels': 24, 'stride': 1, 'depth': [3, 2]}]"), CF_ERR_PARSE,
     "$.skeleton.stages[0].depth[1]:", "below the smallest"},
    {MOBILE_WITH(MOBILE_BLOCKS, "'stages': [{'channels': 24, 'stride': 1, 'depth': 'deep'}]"), CF_ERR_PARSE,
     "$.skeleton.stages[0].depth:", "got \"deep\""},
    {MOBILE_WITH(MOBILE_BLOCKS, "'stages': [" MOBILE_STAGE "," MOBILE_STAGE "," MOBILE_STAGE "," MOBILE_STAGE
                                "," MOBILE_STAGE "," MOBILE_STAGE "," MOBILE_STAGE "," MOBILE_STAGE "," MOBILE_STAGE
                                "]"),
     CF_ERR_PARSE, "$.skeleton.stages:", "at most 8 items, got 9"},
    {MOBILE_WITH(MOBILE_BLOCKS, "'stages': []"), CF_ERR_PARSE, "$.skeleton.stages:", "at least 1 item"},
    {MOBILE_WITH("{'kernels': [3, 4], 'expands': [3]}", "'stages': [" MOBILE_STAGE "]"), CF_ERR_PARSE,
     "$.blocks.kernels[1]:", "odd kernel size"},
    {MOBILE_WITH("{'kernels': [3, 5, 3], 'expands': [3]}", "'stages': [" MOBILE_STAGE "]"), CF_ERR_PARSE,
     "$.blocks.kernels[2]:", "duplicate value 3"},
    {MOBILE_WITH("{'kernels': [3], 'expands': [1, 2, 3, 4, 6]}", "'stages': [" MOBILE_STAGE "]"), CF_ERR_PARSE,
     "$.blocks.expands:", "at most 4 items, got 5"},
    {MOBILE_WITH("{'kernels': [3]}", "'stages': [" MOBILE_STAGE "]"), CF_ERR_PARSE,
     "$.blocks: missing required key \"expands\"", ""},
    {"{'name': 'm', 'family': 'mobile', 'blocks': " MOBILE_BLOCKS ", 'skeleton': {'stem_channels': 16, "
     "'stages': [" MOBILE_STAGE "], 'options': {}}}",
     CF_ERR_PARSE, "$.skeleton.options: missing required option \"width\"", ""},
    {"{'name': 'm', 'family': 'mobile', 'blocks': " MOBILE_BLOCKS ", 'skeleton': {'stem_channels': 16, "
     "'stages': [" MOBILE_STAGE "], 'options': {'width': {'default': 1, 'integer': true}}}}",
     CF_ERR_PARSE, "$.skeleton.options.width.integer:", "reads width as a fraction"},
};

static void test_bad_texts(void) {
    char text[4096];
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        const bad_case *c = &bad_cases[i];
        size_t n = strlen(c->text);
        CF_ASSERT(n < sizeof text);
        for (size_t k = 0; k <= n; k++) text[k] = c->text[k] == '\'' ? '"' : c->text[k];
        cf_space *s = NULL;
        cf_error_clear();
        cf_status st = cf_space_parse(text, "t.json", &s);
        CHECK(st == c->want, "case %zu: got %s, expected %s: %s\n  text: %s", i, cf_status_name(st),
              cf_status_name(c->want), cf_error_message(), text);
        if (c->want != CF_OK) {
            CHECK(s == NULL, "case %zu: out not NULL on failure", i);
            CHECK(strncmp(cf_error_message(), "t.json", 6) == 0, "case %zu: message '%s' does not start with the origin",
                  i, cf_error_message());
            CHECK(strstr(cf_error_message(), c->path) != NULL, "case %zu: message '%s' lacks '%s'", i,
                  cf_error_message(), c->path);
            CHECK(strstr(cf_error_message(), c->detail) != NULL, "case %zu: message '%s' lacks '%s'", i,
                  cf_error_message(), c->detail);
        }
        cf_space_destroy(s);
    }
    /* A user-defined option is kept next to the required ones. */
    cf_space *s = NULL;
    const char *extra = "{\"name\": \"t\", \"family\": \"nb201\", \"cell\": {\"nodes\": 3, \"ops\": [{\"name\": "
                        "\"none\", \"prim\": \"zero\"}]}, \"skeleton\": {\"options\": {\"C\": {\"default\": 8}, "
                        "\"N\": {\"default\": 1}, \"stem_mult\": {\"default\": 3, \"min\": 1, \"integer\": true, "
                        "\"doc\": \"stem channels as a multiple of C\"}}}}";
    CHECK_OK(cf_space_parse(extra, NULL, &s));
    if (s) {
        check_option(s, "stem_mult", 3, 1, HUGE_VAL, 1);
        CHECK_OK(cf_space_set(s, "stem_mult", "100000"));
        CHECK_FAILS(cf_space_set(s, "stem_mult", "0"), CF_ERR_INVALID_ARG, "stem_mult=0", "an integer >= 1");
        CHECK(s->path[0] == '\0', "parsed space has a path: %s", s->path);
    }
    cf_space_destroy(s);
    CHECK_FAILS(cf_space_parse(NULL, "x", &s), CF_ERR_INVALID_ARG, "x", "no JSON text");
}

int main(int argc, char **argv) {
    if (argc > 1) setenv("CELLFORGE_SPACES", argv[1], 1);
    const char *dir = cf_space_dir();
    test_nb201();
    test_darts();
    test_nb101();
    test_mobile();
    test_names(dir);
    test_bad_texts();
    return test_finish("test_space_load");
}
