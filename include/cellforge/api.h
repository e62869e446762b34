/* api.h - the stable C interface of libcellforge.so, for any language's FFI
 * (the Python package binds it with ctypes).
 *
 * Only plain C types cross it: strings (UTF-8, NUL-terminated), numbers, and
 * two opaque handles. Results too rich for a struct come back as JSON text.
 * Every function that can fail returns 0 on success and nonzero on failure,
 * with the reason in cellforge_error() (the calling thread's last error).
 * Nothing here prints except the searches, which print what `cellforge
 * search` prints (--quiet keeps it to a few lines).
 *
 *   cellforge_space *s;
 *   if (cellforge_space_load("nb201", "C=16,N=5", &s) != 0) puts(cellforge_error());
 *   char arch[CELLFORGE_ARCH_MAX];
 *   cellforge_arch_sample(s, 7, arch, sizeof arch);
 *   int64_t cost[3];   // params, MACs per image, activation bytes at the batch
 *   cellforge_arch_cost(s, arch, 1, 28, 28, 10, 256, cost);
 *   cellforge_space_free(s);
 *
 * A search runs in the calling thread with the arguments of `cellforge
 * search` and, with `--evaluator callback`, calls fn for each trial: the
 * trial as JSON (the `cmd:` evaluator's stdin, README "Your own trainer"),
 * the answer a result line {"acc": 0.91, ...} or, for a failed trial, its
 * reason. A study turns the same search inside out: ask for a trial, tell
 * its result, from one thread or several.
 *
 * The version of this interface is CELLFORGE_API_VERSION; a change that
 * breaks a caller raises it.
 */
#ifndef CELLFORGE_API_H
#define CELLFORGE_API_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CELLFORGE_API_VERSION 2
#define CELLFORGE_ARCH_MAX 4096   /* room for any arch text, with its NUL */

int cellforge_api_version(void);
/* "0.1.0 (commit)". Static storage. */
const char *cellforge_version(void);
/* The calling thread's last error message ("" when none). */
const char *cellforge_error(void);
/* Free what a function here allocated (JSON texts). NULL is accepted. */
void cellforge_free(void *p);

/* ---- spaces and architectures ---------------------------------------------- */

typedef struct cellforge_space cellforge_space;

/* A space by name (search_spaces/NAME.json) or path to a .json file, with
 * options "KEY=VALUE,KEY=VALUE" (NULL or "": its defaults). */
int cellforge_space_load(const char *name_or_path, const char *options, cellforge_space **out);
void cellforge_space_free(cellforge_space *s);
/* The space as JSON: name, family, path, doc, ops, options {name: value},
 * size (number of arch texts), syntax, encoding sizes. Free with cellforge_free. */
char *cellforge_space_json(const cellforge_space *s);
/* The names of the spaces in the spaces directory, as a JSON list. */
char *cellforge_spaces_json(void);

/* Every arch function reads and writes the space's text form and fails with
 * the parser's message (column and what was expected) on a bad one. */
int cellforge_arch_sample(const cellforge_space *s, uint64_t seed, char *out, size_t cap);
/* Parse and validate arch, then print it in the space's text form. */
int cellforge_arch_format(const cellforge_space *s, const char *arch, char *out, size_t cap);
/* One neighbour of arch drawn with seed (one op, input, edge or block changed). */
int cellforge_arch_mutate(const cellforge_space *s, const char *arch, uint64_t seed, char *out, size_t cap);
/* The canonical form (dead edges removed, isomorphic cells equal) and its hash. */
int cellforge_arch_canonical(const cellforge_space *s, const char *arch, char *out, size_t cap, uint64_t *hash);
/* Exact cost of the arch's network for images c x h x w and `classes`:
 * out[0] parameters, out[1] MACs per image, out[2] activation bytes of a
 * training step at `batch`. */
int cellforge_arch_cost(const cellforge_space *s, const char *arch, int c, int h, int w, int classes, int batch,
                        int64_t out[3]);
/* The encoding of the canonical form: kind 0 one-hot, 1 path (BANANAS).
 * Writes min(cap, size) floats and the size to *n. */
int cellforge_arch_encode(const cellforge_space *s, const char *arch, int kind, float *out, size_t cap, size_t *n);
/* The network of the arch as JSON: its layers in order, each with name, op,
 * inputs (layer indices, -1 the image), output shape, weight shapes, the op's
 * settings, aux; and logits, aux_logits, input. NULL on failure. */
char *cellforge_arch_net_json(const cellforge_space *s, const char *arch, int c, int h, int w, int classes);

/* Zero-cost proxies of the arch's untrained network (cellforge/proxy.h), as
 * `cellforge score` computes them: weights initialized with seed, the first
 * `batch` training images of dataset (a name, npz:FILE or folder:DIR; loaded
 * once and kept for the next call) in the seeded order, the CPU with
 * `threads` threads (0: all cores). out[0..7]: params, macs, grad_norm,
 * snip, synflow, naswot, fisher, jacob_cov (version 1 had the first six). */
int cellforge_arch_score(const cellforge_space *s, const char *arch, const char *dataset, int batch, uint64_t seed,
                         int threads, double out[8]);

/* ---- models ------------------------------------------------------------------- */

/* Inference-mode logits of a model file (.cfm) or training state (.cfs) on
 * the CPU: x holds n images (n x c x h x w floats, normalized as the model
 * was trained), out receives n x classes floats (cap floats at most). */
int cellforge_model_logits(const char *path, const float *x, int n, float *out, size_t cap);

/* ---- searches ----------------------------------------------------------------- */

/* What a trial's function answers (cf. CF_EVAL_FN_* in evaluator.h). */
enum {
    CELLFORGE_TRIAL_OK = 0,      /* result holds a JSON object with "acc" */
    CELLFORGE_TRIAL_FAILED = 1,  /* result holds the reason */
    CELLFORGE_TRIAL_CUT = 2,     /* not run: recorded as cut, run again by a resume */
};
typedef int (*cellforge_trial_fn)(void *ctx, const char *trial_json, char *result, size_t cap);

/* Run `cellforge search ARGS...` (argv[0] is "search") in this thread; with
 * --evaluator callback each trial goes through fn on the worker threads (fn
 * may be NULL otherwise). Returns the command's exit code: 0 done, 1 failed,
 * 2 bad arguments (the message on stderr and in cellforge_error()). One
 * search or study at a time per process. */
int cellforge_search(int argc, const char *const *argv, cellforge_trial_fn fn, void *ctx);
/* Ask the running search to stop: no new trial starts, trials not yet
 * answered are cut (a resume runs them). Safe from any thread. */
void cellforge_search_stop(void);

typedef struct cellforge_study cellforge_study;

/* Start the search of ARGS (with --evaluator callback) in a thread of its
 * own; its trials come out of ask and their results go in through tell. */
int cellforge_study_open(int argc, const char *const *argv, cellforge_study **out);
/* The next trial as JSON into out: returns 1 with a trial, 0 when the search
 * has ended (its budget, or the strategy ran out), 2 when timeout_s passed
 * first (ask again), -1 on error (every trial the search runs at once is
 * asked and not told: tell one first, or open with more workers). */
int cellforge_study_ask(cellforge_study *st, double timeout_s, char *out, size_t cap);
/* The result of an asked trial: status CELLFORGE_TRIAL_OK with the result
 * line, or FAILED with the reason. Returns once the journal has it. */
int cellforge_study_tell(cellforge_study *st, int64_t trial, int status, const char *result);
/* Stop: trials asked and not told are cut (a resume asks them again), the
 * run directory is completed (journal, report). Returns the search's exit
 * code and frees st. */
int cellforge_study_close(cellforge_study *st);

#ifdef __cplusplus
}
#endif
#endif
