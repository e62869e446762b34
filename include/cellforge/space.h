/* space.h - search spaces and the architectures in them.
 *
 * A space is data: a JSON file under search_spaces/ (schema in
 * search_spaces/README.md) names a family (the cell encoding and macro
 * skeleton: nb201, darts, nb101 or mobile), the candidate ops, the node count
 * and the skeleton's options. An architecture (cf_arch) is a plain value:
 * copy it with `=`, compare canonical forms with memcmp, hash it.
 *
 *   cf_space *s = NULL;
 *   CF_TRY(cf_space_load("nb201", &s));                 // or a path to a .json file
 *   CF_TRY(cf_space_set(s, "C", "16"));
 *   cf_arch a;
 *   CF_TRY(cf_arch_parse(s, "|nor_conv_3x3~0|+|none~0|skip_connect~1|+|...|", &a));
 *   char text[CF_ARCH_TEXT_MAX];
 *   CF_TRY(cf_arch_format(s, &a, text, sizeof text));
 *   uint64_t h = cf_arch_hash(s, &a);                  // same for isomorphic cells
 *   cf_space_destroy(s);
 *
 * Everything is deterministic given the RNG passed in; nothing keeps globals.
 */
#ifndef CELLFORGE_SPACE_H
#define CELLFORGE_SPACE_H

#include <stddef.h>
#include <stdint.h>

#include "cellforge/rng.h"
#include "cellforge/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CF_SPACE_MAX_OPS 16
#define CF_SPACE_MAX_OPTIONS 16
#define CF_CELL_MAX_NODES 12     /* inputs, intermediates and output of one cell */
#define CF_NODE_MAX_IN 11        /* inputs of one node */
#define CF_MOBILE_MAX_STAGES 8
#define CF_MOBILE_MAX_DEPTH 8
#define CF_MOBILE_MAX_CHOICES 4
/* The longest arch text stored (journal, trial records, checkpoints), with
 * its NUL. A space file whose arch texts could be longer (cf_arch_text_max:
 * many nodes, many inputs, long op names) is refused when loaded, with the
 * bound and the limit in the message, so no run ever records an arch it
 * cannot print. */
#define CF_ARCH_TEXT_MAX 4096
#define CF_SPACE_MAX_HPARAMS 16  /* hyperparameters searched with the architecture */
#define CF_HPARAM_MAX_CHOICES 8

/* The cell encoding and macro skeleton. */
typedef enum cf_space_family {
    CF_SPACE_FAMILY_NB201 = 0, /* ops on every edge i->j of a DAG of `nodes` nodes; NB201 skeleton */
    CF_SPACE_FAMILY_DARTS,     /* normal + reduction cell; each node picks `inputs_per_node`
                                  (input, op) pairs; DARTS CIFAR skeleton */
    CF_SPACE_FAMILY_NB101,     /* adjacency matrix + one op per vertex; NB101 skeleton */
    CF_SPACE_FAMILY_MOBILE,    /* stages of MBConv blocks: depth, kernel, expand ratio */
    CF_SPACE_FAMILY_COUNT
} cf_space_family;

/* What a cell op is built from (see src/nn for the exact layers). */
typedef enum cf_prim {
    CF_PRIM_ZERO = 0,     /* "none": zeros (subsampled by the stride) */
    CF_PRIM_IDENTITY,     /* skip; at stride 2 a factorized reduce (DARTS) */
    CF_PRIM_RELU_CONV_BN, /* ReLU, conv kxk (dilation), BN: NB201's nor_conv */
    CF_PRIM_CONV_BN_RELU, /* conv kxk, BN, ReLU: NB101's vertex ops */
    CF_PRIM_SEP_CONV,     /* DARTS: twice (ReLU, depthwise kxk, pointwise 1x1, BN) */
    CF_PRIM_DIL_CONV,     /* DARTS: ReLU, depthwise kxk dilated, pointwise 1x1, BN */
    CF_PRIM_AVG_POOL,     /* kxk, padding k/2, padding not counted */
    CF_PRIM_MAX_POOL,     /* kxk, padding k/2 */
    CF_PRIM_COUNT
} cf_prim;

typedef struct cf_space_op {
    char name[32];   /* as written in architecture strings: "nor_conv_3x3" */
    cf_prim prim;
    int kernel;      /* 1, 3, 5, 7; 0 for zero and identity */
    int dilation;    /* 1 unless a dilated conv */
} cf_space_op;

/* A numeric skeleton option settable with --set NAME=VALUE. */
typedef struct cf_space_option {
    char name[24];
    double value;    /* current value (the default until set) */
    double min, max; /* accepted range, inclusive */
    int integer;     /* 1: only whole numbers */
    char doc[96];
} cf_space_option;

/* How a searched hyperparameter varies. */
typedef enum cf_hparam_kind {
    CF_HPARAM_LINEAR = 0, /* "lo..hi": uniform, continuous */
    CF_HPARAM_LOG,        /* "log:lo..hi": log-uniform, continuous, lo > 0 */
    CF_HPARAM_INT,        /* "int:lo..hi": uniform over the whole numbers */
    CF_HPARAM_CHOICE,     /* "choice:a,b,c": one of the listed values (numbers or words) */
} cf_hparam_kind;

/* One hyperparameter searched with the architecture: a training knob (lr,
 * wd, momentum, batch, epochs, augment, cutout, erase, label_smoothing) or
 * one of the space's options (C, N, width, ...). Declared by a space file's
 * "hyperparameters" object or by `cellforge search --search KEY=SPEC`. */
typedef struct cf_space_hparam {
    char name[24];
    cf_hparam_kind kind;
    double lo, hi;                                   /* linear, log, int: inclusive */
    int n_choices;                                   /* choice */
    char choices[CF_HPARAM_MAX_CHOICES][24];         /* as written: "128", "crop+flip" */
    double choice_value[CF_HPARAM_MAX_CHOICES];      /* the number of a numeric choice; NAN for words */
    int option;                                      /* index into options; -1: a training knob */
} cf_space_hparam;

typedef struct cf_mobile_stage {
    int channels;    /* output channels before the width multiplier */
    int stride;      /* stride of the stage's first block: 1 or 2 */
    int min_depth, max_depth;
} cf_mobile_stage;

/* A loaded space. Owned by the caller of cf_space_load; free with cf_space_destroy. */
typedef struct cf_space {
    char name[32];
    char path[512];          /* the file it came from */
    char doc[256];
    cf_space_family family;
    int n_ops;
    cf_space_op ops[CF_SPACE_MAX_OPS];
    int nodes;               /* nb201: nodes incl. input and output (4);
                                darts: intermediate nodes (4);
                                nb101: most vertices incl. input and output (7) */
    int inputs_per_node;     /* darts: 2 */
    int max_edges;           /* nb101: 9 */
    int n_options;
    cf_space_option options[CF_SPACE_MAX_OPTIONS];
    /* mobile only */
    int stem_channels;       /* 3x3 stride-1 stem conv */
    int first_channels;      /* a fixed depthwise-separable block after the stem; 0: none */
    int head_channels;       /* 1x1 conv before pooling; 0: none */
    int n_stages;
    cf_mobile_stage stages[CF_MOBILE_MAX_STAGES];
    int n_kernels, kernels[CF_MOBILE_MAX_CHOICES];   /* {3, 5, 7} */
    int n_expands, expands[CF_MOBILE_MAX_CHOICES];   /* {3, 4, 6} */
    /* hyperparameters searched with the architecture; 0: none (every arch's hp is zero) */
    int n_hparams;
    cf_space_hparam hparams[CF_SPACE_MAX_HPARAMS];
} cf_space;

/* Load a space by name (a file NAME.json in the spaces directory) or by a path
 * ending in ".json". The spaces directory is $CELLFORGE_SPACES if set, else the
 * installed data directory, else the source tree's search_spaces/. Errors name
 * the file and the JSON path (e.g. `nb201.json: $.cell.ops[2].kernel: expected
 * an integer, got "3"`); an unknown name gets the closest known one. The caller
 * frees *out with cf_space_destroy; on failure *out is NULL. */
cf_status cf_space_load(const char *name_or_path, cf_space **out);

/* Parse a space from JSON text; `origin` names it in messages. Same ownership. */
cf_status cf_space_parse(const char *json, const char *origin, cf_space **out);

void cf_space_destroy(cf_space *s); /* NULL is accepted */

/* The spaces directory in use, and the names of the spaces in it (sorted).
 * cf_space_list fills up to cap names of up to 32 bytes; returns the count. */
const char *cf_space_dir(void);
size_t cf_space_list(char (*names)[32], size_t cap);

/* Set an option from text ("16", "0.75"); unknown names get the closest one,
 * out-of-range or non-integer values a message with the range. */
cf_status cf_space_set(cf_space *s, const char *name, const char *value);
/* Set "NAME=VALUE". */
cf_status cf_space_set_kv(cf_space *s, const char *assignment);
/* An option's value; CF_ASSERT-fails on a name the family always has. */
double cf_space_get(const cf_space *s, const char *name);
/* An option's value, or `fallback` when the space has no such option
 * (e.g. "auxiliary" outside darts). */
double cf_space_get_or(const cf_space *s, const char *name, double fallback);
/* "C=16, N=5": every option with its current value. */
void cf_space_format_options(const cf_space *s, char *buf, size_t cap);
/* Index of an op by name, or -1. */
int cf_space_op_index(const cf_space *s, const char *name);

/* ---- hyperparameters searched with the architecture (src/space/hparam.c) ---- */

/* Declare hyperparameter `key` from its SPEC: "log:0.01..0.5", "0..0.001",
 * "int:8..32", "choice:64,128,256", "choice:none,flip,crop+flip". The key is a
 * training knob (lr, wd, momentum, batch, epochs, augment, cutout, erase,
 * label_smoothing; "weight_decay" and "label-smoothing" are accepted too) or
 * an option of s; ranges must lie within the knob's or option's own. A key
 * declared again replaces its earlier declaration. Errors (CF_ERR_UNKNOWN_NAME
 * with the closest key, CF_ERR_PARSE for a bad spec, CF_ERR_INVALID_ARG out of
 * range) say what was expected; the caller adds where the spec came from. */
cf_status cf_space_add_hparam(cf_space *s, const char *key, const char *spec);
/* "KEY=SPEC", as `--search` takes it. */
cf_status cf_space_add_hparam_kv(cf_space *s, const char *assignment);
/* Index of a hyperparameter by name (aliases resolved), or -1. */
int cf_space_hparam_index(const cf_space *s, const char *name);
/* The SPEC text of hparams[i] ("log:0.01..0.5"), into buf. */
void cf_space_hparam_format(const cf_space *s, int i, char *buf, size_t cap);

/* Forward declaration: architectures follow below. */
struct cf_arch;
/* *out = a copy of s whose options take a's values for the options that are
 * hyperparameters (C, N, width, ...): the network a trial of a builds and is
 * costed with. cf_net_build applies it itself. With no such dims, a plain copy. */
void cf_space_for_arch(const cf_space *s, const struct cf_arch *a, cf_space *out);
/* The plain network of arch text `text` of s: *out = s with the option values
 * of the text's hyperparameters and none searched, and net_text the text
 * without its values (the family's text). What model files record: they load
 * as a network of the space, whatever the search tuned. */
cf_status cf_arch_network(const cf_space *s, const char *text, cf_space *out, char *net_text, size_t cap);
/* a's value of hyperparameter `name` (a choice's number), or fallback when s
 * does not search it or the choice is a word. */
double cf_arch_hparam(const cf_space *s, const struct cf_arch *a, const char *name, double fallback);
/* a's choice text of hyperparameter `name` ("crop+flip"), or NULL when s does
 * not search it. For numeric kinds, NULL too. Borrowed from s. */
const char *cf_arch_hparam_choice(const cf_space *s, const struct cf_arch *a, const char *name);
/* "lr=0.0523,C=16,augment=flip": a's values, the text inside the braces of
 * its arch text ("" when s has no hyperparameters). */
void cf_arch_format_hparams(const cf_space *s, const struct cf_arch *a, char *buf, size_t cap);

/* ---- architectures ------------------------------------------------------- */

typedef struct cf_arch_in {
    int8_t from;   /* an earlier node of the same cell */
    int8_t op;     /* index into space->ops; -1 for a plain edge (nb101) */
} cf_arch_in;

typedef struct cf_arch_cell {
    int8_t n_nodes;                             /* nodes in use, incl. inputs and output */
    int8_t n_in[CF_CELL_MAX_NODES];
    cf_arch_in in[CF_CELL_MAX_NODES][CF_NODE_MAX_IN];
    int8_t node_op[CF_CELL_MAX_NODES];          /* nb101: op of each vertex, -1 at the ends */
    uint16_t concat;                            /* darts: bit i set = node i joins the output */
} cf_arch_cell;

/* Node numbering per family:
 *   nb201   node 0 is the input, node n-1 the output; node j has n_in = j inputs,
 *           in[j][i] = {i, op} for every i < j ("none" edges kept explicit).
 *   darts   nodes 0 and 1 are the cell inputs c_{k-2} and c_{k-1}; nodes 2..5
 *           have two inputs each; the output concatenates the nodes in `concat`.
 *           cell[0] is the normal cell, cell[1] the reduction cell.
 *   nb101   vertex 0 is the input, n_nodes-1 the output; in[j] lists the
 *           predecessors of j in increasing order with op -1; node_op[j] is the
 *           vertex op (index into space->ops) for 0 < j < n_nodes-1.
 *   mobile  no cells: depth[s] blocks in stage s, block b has kernel choice
 *           kernel[s][b] and expand choice expand[s][b] (indices into
 *           space->kernels and space->expands).
 * Unused fields are zero, so two equal archs are equal byte for byte. */
typedef struct cf_arch {
    int8_t n_cells;
    cf_arch_cell cell[2];
    int8_t n_stages;
    int8_t depth[CF_MOBILE_MAX_STAGES];
    int8_t kernel[CF_MOBILE_MAX_STAGES][CF_MOBILE_MAX_DEPTH];
    int8_t expand[CF_MOBILE_MAX_STAGES][CF_MOBILE_MAX_DEPTH];
    /* The values of the space's hyperparameters, hp[i] for hparams[i]: the
     * number (a whole one for int), or the index of a choice; zero beyond
     * n_hparams. Continuous values are kept to 4 significant digits when
     * drawn or stepped, so their text stays short. */
    double hp[CF_SPACE_MAX_HPARAMS];
    /* 1: the space's supernet (nb201 and darts families): every candidate op
     * on every edge, mixed by architecture weights (one-shot search); the
     * cells above are then unused and zero. Its text form is "supernet". */
    uint8_t supernet;
} cf_arch;

/* Whether the space's family has a supernet (cf_arch.supernet): nb201, darts. */
int cf_space_has_supernet(const cf_space *s);

/* Parse the family's text form (followed, when the space has
 * hyperparameters, by " {lr=0.0523,C=16,augment=flip}": every one exactly
 * once, in any order; format writes them in declaration order):
 *   nb201   |nor_conv_3x3~0|+|none~0|skip_connect~1|+|...~0|...~1|...~2|
 *   darts   Genotype(normal=[('sep_conv_3x3', 0), ...], normal_concat=[2, 3, 4, 5],
 *                    reduce=[...], reduce_concat=[2, 3, 4, 5])  (range(2, 6) accepted)
 *   nb101   {"matrix": [[0,1,...],...], "ops": ["input", "conv3x3-bn-relu", ..., "output"]}
 *   mobile  k3e4-k5e6|k3e3|k7e6-k5e4-k3e3|...  (stages split by '|', blocks by '-')
 * then validate. Errors say which character (1-based column) and what was
 * expected. *out is zeroed on failure. */
cf_status cf_arch_parse(const cf_space *s, const char *text, cf_arch *out);

/* Print the canonical text form; parse(format(a)) == a. Fails with
 * CF_ERR_INVALID_ARG when cap is too small, which a buffer of
 * CF_ARCH_TEXT_MAX bytes never is: a space whose texts may be longer is
 * refused when loaded. */
cf_status cf_arch_format(const cf_space *s, const cf_arch *a, char *buf, size_t cap);

/* Bytes (with the NUL) that the text of any arch of s fits in (an upper
 * bound from the space's sizes and its longest op name); at most
 * CF_ARCH_TEXT_MAX for every loaded space. */
size_t cf_arch_text_max(const cf_space *s);

/* Check an arch against its space: op indices, node inputs, acyclicity, edge
 * limits, depths. The message names the cell, node and rule broken. */
cf_status cf_arch_validate(const cf_space *s, const cf_arch *a);

/* The canonical form: edges into or out of dead nodes (not reachable from the
 * input or not reaching the output) removed, and for nb201 and nb101 the
 * smallest relabeling among all isomorphic ones; darts node inputs sorted.
 * Two archs compute the same network iff their canonical forms are equal. */
void cf_arch_canonical(const cf_space *s, const cf_arch *a, cf_arch *out);

/* 64-bit hash of the canonical form (FNV-1a over its bytes and the family). */
uint64_t cf_arch_hash(const cf_space *s, const cf_arch *a);

/* Uniform sample: every op / input choice uniform and independent; nb101 by
 * rejection of invalid matrices, as NAS-Bench-101 samples. */
void cf_arch_sample(const cf_space *s, cf_rng *rng, cf_arch *out);

/* Every valid arch one step away: one op changed, one input (darts) or edge
 * (nb101) changed, one block choice or one stage depth changed (mobile).
 * Writes up to cap archs to out and returns how many there are in all. */
size_t cf_arch_neighbors(const cf_space *s, const cf_arch *a, cf_arch *out, size_t cap);

/* One neighbor drawn uniformly. Fails only for an arch with no neighbors. */
cf_status cf_arch_mutate(const cf_space *s, cf_rng *rng, const cf_arch *a, cf_arch *out);

/* Child taking each unit (nb201 edge, darts node, nb101 vertex with its
 * incoming edges, mobile stage) from a or b with equal odds; retried until
 * valid, falling back to a copy of a. */
void cf_arch_crossover(const cf_space *s, cf_rng *rng, const cf_arch *a, const cf_arch *b,
                       cf_arch *out);

typedef enum cf_arch_encoding {
    CF_ARCH_ENCODING_ONEHOT = 0, /* one-hot of every choice (ops, inputs, edges) */
    CF_ARCH_ENCODING_PATH,       /* count of each input-to-output op path (BANANAS) */
} cf_arch_encoding;

/* Length of the encoding vector for this space. */
size_t cf_arch_encoding_size(const cf_space *s, cf_arch_encoding kind);
/* Write the encoding (cf_arch_encoding_size floats) of the canonical form. */
void cf_arch_encode(const cf_space *s, const cf_arch *a, cf_arch_encoding kind, float *out);

/* Number of distinct texts of the space (all op/input choices), as a double
 * since darts is about 1e18; and log10 of it. */
double cf_space_size(const cf_space *s);

/* Call fn on every arch of the space in a fixed order (nb201 and mobile spaces
 * small enough; fails with CF_ERR_UNSUPPORTED above max_count). fn returns
 * nonzero to stop early. */
cf_status cf_space_enumerate(const cf_space *s, uint64_t max_count,
                             int (*fn)(const cf_arch *a, void *ctx), void *ctx);

const char *cf_space_family_name(cf_space_family f);
const char *cf_prim_name(cf_prim p);

/* The family's lines of `cellforge space NAME`: its cell (sizes) or its blocks
 * and stages, each line ending in a newline, into buf (at most cap bytes). */
void cf_space_describe(const cf_space *s, char *buf, size_t cap);
/* The family's architecture text form in one line, e.g. "|op~0|+|op~0|op~1|...".
 * Static storage. */
const char *cf_space_arch_syntax(const cf_space *s);

#ifdef __cplusplus
}
#endif
#endif
