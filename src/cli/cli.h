/* cli.h - what the command files share: exit codes, the flag parser, and the
 * options every search-space command takes (--space, --set, --dataset, --input).
 */
#ifndef CF_CLI_H
#define CF_CLI_H

#include <stdio.h>

#include "cellforge/journal.h"
#include "cellforge/net.h"
#include "cellforge/ranks.h"
#include "cellforge/sched.h"
#include "cellforge/scorer.h"
#include "cellforge/space.h"
#include "cellforge/text.h"

enum { EXIT_OK = 0, EXIT_ERROR = 1, EXIT_USAGE = 2 };

#define CLI_MAX_VALUES 32
/* The largest batch any command takes: activation sizes stay far from int and
 * size_t limits, and it is more images than any GPU holds in one step. */
#define CLI_MAX_BATCH 65536
/* --input HxWxC and --classes K: image sides, channels and classes. */
#define CLI_MAX_SIDE 65536
#define CLI_MAX_CHANNELS 4096
#define CLI_MAX_CLASSES 100000

/* One flag a command accepts. */
typedef struct cli_flag {
    const char *name;      /* without the dashes: "space" */
    int takes_value;       /* 1: --name VALUE or --name=VALUE; 0: a switch */
    int repeatable;        /* values accumulate (--set A=1 --set B=2) */
    /* filled by cli_parse */
    int count;
    const char *values[CLI_MAX_VALUES];
} cli_flag;

#define FLAG(n, v, r) {.name = (n), .takes_value = (v), .repeatable = (r)}

typedef struct cli_args {
    const char *command;   /* for messages */
    const char *usage;
    cli_flag *flags;
    int n_flags;
    const char *positional[CLI_MAX_VALUES];
    int n_positional;
    int help;              /* --help or -h was given */
    struct cf_spec *spec;  /* a spec file the flag values may point into; owned by the command */
    char *abs_paths[CLI_MAX_VALUES]; /* absolute forms of file values; owned by the command */
} cli_args;

/* Parse argv[1..argc) (argv[0] is the command name). Unknown flags, missing
 * values and repeats of a single-valued flag print a one-line error naming the
 * flag (and the closest valid one) and return EXIT_USAGE; success returns -1. */
int cli_parse(cli_args *a, int argc, char **argv);
/* The flag's (last) value, or NULL. */
const char *cli_value(const cli_args *a, const char *name);
int cli_has(const cli_args *a, const char *name);
const cli_flag *cli_get(const cli_args *a, const char *name);
/* Usage errors, help and the spec reference print nothing while muted (the
 * ranks above 0 of an MPI job; rank 0 prints them once). */
void cli_usage_mute(int on);
int cli_usage_muted(void);
/* Print "cellforge CMD: message" and the usage to stderr; returns EXIT_USAGE. */
int cli_usage_error(const cli_args *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Print "cellforge CMD: <the library's error message>" and return EXIT_ERROR. */
int cli_fail(const char *command);
/* A flag's value in [min, max] into *out, unchanged when the flag is absent;
 * -1, or EXIT_USAGE after a message naming the flag, the value and the range
 * (the parser of the knob table and spec files: cf_text_parse_value).
 * A whole number with K/M/G suffixes (max at most CF_VALUE_COUNT_MAX): */
int cli_count(const cli_args *a, const char *name, double min, double max, long long *out);
/* A number: */
int cli_number(const cli_args *a, const char *name, double min, double max, double *out);
/* A duration "90", "90s", "10m", "2h" in seconds: */
int cli_duration(const cli_args *a, const char *name, double min, double max, double *out);

/* --augment LIST (none, or any of crop,flip) into *crop and *flip (0 or 1);
 * -1, or EXIT_USAGE after a message naming the unknown item. */
int cli_augment(const cli_args *a, int *crop, int *flip);

/* --precision fp32 (default), bf16 or fp16 into *out (CF_DTYPE_F32, _BF16,
 * _F16); -1, or EXIT_USAGE after a message naming the value. */
int cli_precision(const cli_args *a, cf_dtype *out);

/* Load --space (required) and apply every --set. Returns -1 on success. */
int cli_load_space(const cli_args *a, cf_space **out);
/* Input geometry from --dataset NAME or --input HxWxC [--classes K];
 * default fashion-mnist. Returns -1 on success. `what` receives a description. */
int cli_input(const cli_args *a, cf_net_input *in, char *what, size_t cap);

/* ---- --from RUN|MODEL|ARCHFILE [--trial ID] (from_run.c) -------------------- */

/* The network an architecture came from: its space with the options it was
 * searched or trained with (then every --set), the input it was built for,
 * and the architecture text. */
typedef struct cli_from {
    cf_space *space;       /* owned */
    cf_net_input input;
    char *arch;            /* owned */
} cli_from;

/* Fill *out from --from (and --trial) when given, else leave it empty
 * (out->space NULL). --space with --from is a usage error. Returns -1 on
 * success, else the exit code after printing why. Free with cli_from_free. */
int cli_from_load(cli_args *a, cli_from *out);
void cli_from_free(cli_from *f);
/* The text form --from reads: "# cellforge-arch 1", "# space", "# space-file",
 * "# options", "# input" lines, then the architecture. Returns 1 on success. */
int cli_write_arch_file(FILE *f, const cf_space *s, const char *options, const cf_net_input *in, const char *arch);

/* ---- the settings of search and tabulate (search_knobs.c) ------------------ */

#include "cellforge/spec.h"

enum {
    KNOB_SPEC = 1,        /* saved in spec files and spec.json */
    KNOB_RESUMABLE = 2,   /* may change when a run is resumed (budget, devices) */
    KNOB_SEARCH = 4,      /* a flag of `cellforge search` */
    KNOB_TABULATE = 8,    /* a flag of `cellforge tabulate` */
};

typedef struct cli_knob {
    const char *name;     /* the flag without dashes, and the spec key */
    int takes_value, repeatable;
    const char *def;      /* default as text; NULL: unset */
    const char *arg;      /* the value's name in --help */
    const char *doc;      /* lines separated by '\n' */
    unsigned flags;       /* KNOB_* */
    const char *group;    /* a heading printed before this knob in --help, or NULL */
    cf_value_range range; /* a count, duration or number and its range; zero: text */
} cli_knob;

extern const cli_knob cli_knobs[];
extern const int cli_n_knobs;
const cli_knob *cli_knob_find(const char *name);
/* The flags of the knobs in scope, for cli_parse; returns their number. */
int cli_knob_flags(unsigned scope, cli_flag *out);
/* head, then every knob in scope with its doc and default, then tail (cached). */
const char *cli_knob_usage(unsigned scope, const char *head, const char *tail);
/* Fill flags not given on the command line from a spec (flags override the
 * file). resuming: only KNOB_RESUMABLE flags may be given. -1 or an exit code. */
int cli_knob_merge(cli_args *a, const cf_spec *spec, int resuming);
/* Fill what is still unset with the defaults (the default search's C=8 N=1 included). */
void cli_knob_defaults(cli_args *a);
/* The search skeleton of a built-in space (search_knobs.c): its options put in
 * front of set's values for every key set does not name. */
void search_skeleton_defaults(const char *space, cli_flag *set);
/* Every spec key as a Markdown table (the README's reference); the caller frees it. */
char *cli_knob_markdown(void);
/* The resolved spec as JSON text; the caller frees it. */
char *cli_knob_spec_json(const cli_args *a);
/* Check every numeric knob given in a's flags against its range (the same
 * parser and message as spec files); -1, or EXIT_USAGE after the message. */
int cli_knob_check(const cli_args *a);
/* A numeric knob's value (a duration in seconds) into *out, unchanged when
 * the flag is unset; -1 or an exit code. */
int cli_knob_number(const cli_args *a, const char *name, double *out);
int cli_knob_count(const cli_args *a, const char *name, long long *out);
/* Load a spec file for a's command, each value checked against its knob's
 * range; -1 or an exit code (message printed). */
int cli_knob_load_spec(const cli_args *a, const char *path, cf_spec **out);

/* ---- the run directory of a search (run_dir.c) ------------------------------ */
/* The run directory, locked against a second search; *lock_fd is the lock
 * (the caller closes it). A resume works in dir itself; a new run (refused
 * when dir holds anything) is built in a temporary directory beside it, whose
 * path comes back in work (room for cap; dir itself for a resume), and is
 * named dir by cli_publish_run_dir once spec.json and the journal's first
 * line are in it, or removed by cli_discard_run_dir. Returns -1, or an exit
 * code after a message. */
int cli_open_run_dir(const cli_args *a, const char *dir, int resuming, int *lock_fd, char *work, size_t cap);
/* Rename work to dir (nothing when they are equal). -1, or an exit code after
 * a message (work is removed then). */
int cli_publish_run_dir(const cli_args *a, const char *work, const char *dir);
/* Remove a new run's temporary directory and what it holds. */
void cli_discard_run_dir(const char *work);
/* runs/SPACE-DATE-TIME for space s. */
void cli_default_run_dir(const cf_space *s, char *buf, size_t cap);
/* dst becomes a hard link to src, swapped in atomically (a unique temporary
 * name, rename; a symlink at dst is replaced). 0, or -1 after cf_error_set. */
int cli_link_atomic(const char *src, const char *dst);
/* The end of a run: its report and, where it has a best model, the model as
 * ONNX in dir/export. -1, or EXIT_ERROR after a message (the run itself is
 * complete either way). */
int cli_finish_run_dir(const char *dir);

/* ---- the final phase of a search (search_final.c) -------------------------- */
#define CF_FINAL_MAX 64

/* Everything search and tabulate share, parsed and loaded (cmd_search.c). */
typedef struct run_setup {
    cf_space *space;
    cf_dataset *all, *train, *val;
    cf_evaluator *ev;
    cf_strategy *st;
    cf_worker_desc workers[CF_MAX_WORKERS];
    int n_workers;
    int n_local;                     /* the first n_local workers are this process's; the rest
                                        belong to other MPI ranks (search_ranks.c) */
    cf_search_config cfg;
    cf_train_config tc;              /* the train evaluator's configuration */
    const char *dataset;
    cf_scorer *scorer;               /* zero-cost proxies, when the run uses them */
    cf_dataset *proxy_data;          /* their images when no other set is loaded */
    struct search_admit *admit;      /* a one-shot search's constraints (search_oneshot.c); owned */
} run_setup;
typedef struct search_admit search_admit;

/* Parse the flags of search and tabulate and load the space, data, evaluator,
 * workers and strategy (search_setup.c). strategy: its name (its options from
 * --strategy-options); evaluator: train, table:FILE, cmd:COMMAND or callback.
 * Returns -1 on success, else the exit code after a message. */
int search_setup(const cli_args *a, const char *strategy, const char *evaluator, run_setup *r);
void search_setup_free(run_setup *r);
/* For a one-shot strategy, configure the train evaluator's supernet trials
 * (search_oneshot.c); -1 on success or for any other strategy, else the exit
 * code after a message. */
int search_oneshot_setup(const cli_args *a, const char *strategy, run_setup *r);
/* --objectives into cfg->objectives and n_objectives, and the zero-cost proxy
 * among them into *proxy (a cf_proxy_kind, or -1); -1 or EXIT_USAGE. */
int search_parse_objectives(const cli_args *a, cf_search_config *cfg, int *proxy);

/* The function that `--evaluator callback` runs each trial through: set by
 * the library API for the one search it runs in the process, NULL otherwise. */
typedef struct search_external {
    cf_eval_fn fn;
    void *ctx;
    void (*on_started)(void *ctx, int64_t trial); /* each dispatch, on the controller's thread; may be NULL */
    void (*on_recorded)(void *ctx, int64_t trial); /* a trial's end is in the journal; may be NULL */
    volatile int *stop;    /* nonzero: start no new trial (the running ones end); may be NULL */
} search_external;
void search_external_set(const search_external *x);
const search_external *search_external_get(void);

typedef struct search_final_args {
    const char *dir;                 /* the run directory */
    const cf_space *space;
    cf_evaluator *ev;                /* the train evaluator of the search */
    const cf_worker_desc *workers;
    int n_workers;
    const cf_search_config *cfg;     /* the search's objectives and fidelity */
    const char *dataset, *data_dir;  /* the test set: split "test" of these */
    cf_journal *journal;             /* the run's journal; NULL: none */
    const cf_space *final_space;     /* the final models' network (--retrain-set); NULL: space */
    cf_evaluator *final_ev;          /* trains them (augmentation, smoothing); NULL: ev */
    double deadline_s;               /* run clock by which the phase ends (--budget); 0: none */
    size_t n_train, n_val;           /* images of the splits (to plan epochs from trial times) */
    const cf_dataset *train;         /* to measure the final network's speed; NULL: none */
    const cf_train_config *final_tc; /* final_ev's configuration */
    int count, epochs;               /* --retrain K, --retrain-epochs N */
    double fraction;                 /* --retrain-fraction F */
    int quiet;
    double clock0;                   /* the run clock when the phase starts */
} search_final_args;

/* `cellforge search` as one rank of an MPI job (search_ranks.c). begin: before
 * anything else, join the job when launched by mpirun/srun or asked by --mpi
 * (*rk stays NULL otherwise); -1 or an exit code. join: after every rank's
 * setup (rc: its result so far); on rank 0 (and in a plain run) -1 to go on
 * with the search over every rank's workers; on the other ranks they serve
 * trials until rank 0 is done, and their exit code comes back. */
int search_ranks_begin(int argc, char **argv, cf_ranks **rk);
int search_ranks_join(const cli_args *a, cf_ranks *rk, int rc, run_setup *r);

/* The pre-flight line before a search's first trial (search_plan.c), printed
 * under --quiet too: sets r->cfg.est_s_per_work from a measured throughput. */
void search_preflight(run_setup *r);

/* The final phase's own network and evaluator (--retrain-set, --augment,
 * --cutout, --label-smoothing); both NULL without a train evaluator. */
typedef struct search_final_setup_out {
    cf_space *space;                 /* NULL: the search's */
    cf_evaluator *ev;
    cf_train_config tc;              /* ev's configuration */
} search_final_setup_out;
/* Images per second of training arch's network with cfg on CPU worker w: one
 * warm-up step, then four timed ones; 0 on a GPU worker or a failure. */
double search_measure_ips(const cf_space *s, const cf_arch *arch, const cf_dataset *train,
                          const cf_train_config *cfg, const cf_worker_desc *w, int batch);
int search_final_setup(const cli_args *a, const run_setup *r, search_final_setup_out *out);
void search_final_setup_free(search_final_setup_out *o);

/* Retrain the best trials of the run's journal longer and test them; every
 * pointer borrowed. -1 on success (or nothing to do), else an exit code. */
int search_final(const search_final_args *a);

/* Commands (cmd_*.c). */
int cmd_space(int argc, char **argv);
int cmd_cost(int argc, char **argv);
int cmd_score(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_search(int argc, char **argv);
int cmd_tabulate(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_report(int argc, char **argv);
const char *cmd_search_usage_text(void);
const char *cmd_tabulate_usage_text(void);
extern const char *const cmd_space_usage;
extern const char *const cmd_cost_usage;
extern const char *const cmd_score_usage;
extern const char *const cmd_train_usage;
extern const char *const cmd_eval_usage;
extern const char *const cmd_status_usage;
extern const char *const cmd_export_usage;

/* A MODEL argument of eval and export (cmd_export.c): a model file or training
 * state as given, or for a run directory of `cellforge search` its best model
 * (best.cfm, else best.cfs) or with --trial ID (a flag of a's command) that
 * trial's (final/ID/model.cfm, else trials/ID/train.cfs). The path goes to out;
 * *is_run says whether arg was a run. Returns -1, or an exit code after
 * printing a one-line message naming what is missing. */
int cli_model_path(const cli_args *a, const char *arg, char *out, size_t cap, int *is_run);
extern const char *const cmd_report_usage;

/* The `cellforge` binary's OpenMP wait policy (wait_policy.c): unless the
 * user set OMP_WAIT_POLICY or GOMP_SPINCOUNT, start this binary again, once,
 * with the sleeping setting in its environment (libgomp reads it only when it
 * is loaded); in the process started again, remove it from the environment
 * again. Returns when nothing is to be done or the exec failed. */
void cli_wait_policy_apply(char **argv);
/* The setting as VAR=VALUE, for messages. */
const char *cli_wait_policy_setting(void);

#endif
