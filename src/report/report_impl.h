/* report_impl.h - what the parts of `cellforge report` share (private to
 * src/report): a run directory read into plain structs (report_data.c), a
 * growable text buffer with HTML escaping and guarded number printing
 * (report_buf.c), SVG plot frames (report_svg.c), the charts (report_charts.c),
 * the cell diagrams (report_cells.c), the one-shot search (report_oneshot.c)
 * and the document (report_html.c).
 *
 * Every number that reaches the page goes through rp_num / rp_xy, which print
 * a placeholder for a value that is not finite, so no NaN or inf text can
 * come out of bad data. Tests: tests/cli_report.sh.
 */
#ifndef CF_REPORT_IMPL_H
#define CF_REPORT_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "cellforge/buf.h"
#include "cellforge/sched.h"
#include "cellforge/space.h"
#include "cellforge/train.h"

/* ---- text buffer ---------------------------------------------------------------- */

/* The page is built in a cf_buf (cellforge/buf.h); `failed` says an
 * allocation failed and the text is incomplete. */
typedef cf_buf rp_buf;

void rp_buf_free(rp_buf *b);
void rp_printf(rp_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void rp_puts(rp_buf *b, const char *s);
/* s escaped for HTML text and for attribute values in double or single quotes. */
void rp_esc(rp_buf *b, const char *s);
/* A number with `digits` decimals, or "-" when it is not finite. */
void rp_num(rp_buf *b, double v, int digits);
/* A coordinate (one decimal; 0 when not finite). */
void rp_xy(rp_buf *b, double v);
/* Formatting into a caller's buffer (all return buf; never "nan" or "inf"). */
char *rp_fmt_si(double v, char *buf, size_t cap);      /* 1.76M, 21.5k, 950 */
char *rp_fmt_pct(double frac, int digits, char *buf, size_t cap); /* 52.30% or "-" */
char *rp_fmt_duration(double s, char *buf, size_t cap); /* 9.0 s, 12 min 5 s, 2 h 3 min */
int rp_finite(double v);

/* ---- the run as read from its directory ------------------------------------------ */

/* A bar of the timeline: one attempt of a trial on one worker. */
typedef enum rp_bar_kind {
    RP_BAR_OK = 0,
    RP_BAR_FAILED,      /* nan, diverged, error */
    RP_BAR_OOM,         /* ended out of memory */
    RP_BAR_TIMEOUT,
    RP_BAR_RETRY,       /* out of memory, then retried */
    RP_BAR_OPEN,        /* still running when the journal ends, or cut by a crash */
    RP_BAR_CUT,         /* stopped by the end of the time budget */
    RP_BAR_FINAL,       /* the retraining of a final model */
    RP_BAR_FINAL_FAILED,
    RP_BAR_KIND_COUNT
} rp_bar_kind;

typedef struct rp_bar {
    int64_t trial;
    int attempt;
    int worker;
    int slot;           /* the worker's slot it ran in; -1 when the journal does not say */
    double start, end;  /* run clock */
    rp_bar_kind kind;
} rp_bar;

typedef struct rp_trial {
    int64_t id;
    char *arch;                 /* owned */
    int64_t parent;             /* the trial it came from (a supernet's derived ones); -1 when none */
    int supernet;               /* arch is "supernet": a one-shot search's supernet, never a model */
    char *metrics;              /* owned; a supernet's trial_finished metrics as JSON text; NULL when none */
    char *reason;               /* owned; "" when none */
    int epochs;                 /* fidelity asked for */
    double fraction;
    int64_t params, macs;
    cf_trial_status status;
    double val_acc;             /* -1 when not trained */
    int epochs_done;
    double seconds;             /* training seconds */
    double start, end;          /* run clock of its last attempt */
    int attempts;
    int replicas;
    int workers[CF_MAX_WORKERS];
    int slots[CF_MAX_WORKERS];  /* the slot of each worker; -1 where not recorded */
    cf_epoch_record *curve;     /* (n_curve) from trial_epoch events; owned */
    int n_curve;
    /* an attempt started and not yet ended */
    int open;
    double open_start;
    int open_replicas, open_attempt;
    int open_workers[CF_MAX_WORKERS];
    int open_slots[CF_MAX_WORKERS];
} rp_trial;

/* A model of the front retrained and tested after the search (RUN/final/ID). */
typedef struct rp_final {
    int64_t trial;
    int have_test;              /* test.json was read */
    char status[24];
    char *reason;               /* owned */
    char *arch;                 /* owned; NULL when unknown */
    int epochs;
    double val_acc, test_acc, seconds;  /* -1 when unknown */
    int64_t params, macs;
    int n_classes;
    char **classes;             /* (n_classes) owned */
    double *per_class;          /* (n_classes) fractions, -1 where missing; owned */
    int64_t *confusion;         /* (n_classes^2) rows true, columns predicted; owned; NULL if absent */
    cf_epoch_record *curve;     /* (n_curve) owned */
    int n_curve;
    int is_best;                /* RUN/best.cfm is this model */
    /* from the journal's final_started / final_finished */
    int started, finished, worker;
    double t_start, t_end;
    char note[2048];            /* what could not be read, naming the file and position */
} rp_final;

typedef struct rp_kv {
    char *key, *value;          /* spec.json member as text (arrays joined by ", "); owned */
    int is_array;
    char **items;               /* (n_items) array members; owned */
    int n_items;
} rp_kv;

typedef struct rp_run {
    char dir[1024];
    rp_kv *spec;                /* (n_spec) in file order */
    int n_spec;
    cf_space *space;            /* NULL when it could not be loaded (space_error says why) */
    char space_error[600];
    rp_trial *trials;           /* (n_trials) trials[i].id == i */
    int64_t n_trials, cap_trials;
    rp_bar *bars;               /* (n_bars) */
    size_t n_bars, cap_bars;
    rp_final *finals;           /* (n_finals) best val first */
    int n_finals;
    size_t cap_finals;
    int have_final_dir;
    char final_note[2048];
    double clock;               /* run clock of the last event */
    double wall_first, wall_last;
    double resume_at[16];       /* run clock of each resume */
    int n_resumes;
    int workers;                /* lanes: the most workers seen */
    cf_worker_desc devices[CF_MAX_WORKERS]; /* each worker's name, device, slots, rank and host
                                               (the last run_started's "devices"; name ""
                                               where the journal has none) */
    int lane_rank[CF_MAX_WORKERS];   /* the MPI rank each worker's trials ran on (trial_started
                                        "rank"; 0 in a plain run) */
    char lane_host[CF_MAX_WORKERS][64];
    int ranks_seen;             /* 1 + the highest rank seen: above 1, lanes name their node */
    int64_t lines;
    int torn;                   /* the journal's last line was torn (and left out) */
    int64_t torn_line;
    int64_t retries;
    int stopped;                /* a run_stopped event ends the journal */
    int live;                   /* a search holds the run's lock: it is running now */
    char stop_reason[32];
    int simulated;              /* the table evaluator: the clock is simulated */
    int fidelity;               /* the run's epochs: the front compares trials at it */
    double final_start;         /* run clock of the first final_started; -1 when none */
} rp_run;

/* Read RUN: spec.json (required), the journal (required; a torn last line is
 * left out and noted), final/ (optional). The caller frees with rp_run_free. */
cf_status rp_run_load(const char *dir, rp_run *run);
void rp_run_free(rp_run *run);
/* A spec value as text, or NULL. */
const char *rp_spec(const rp_run *run, const char *key);
/* The curve of a training state file's header (trials/ID/train.cfs); 0 when
 * none could be read. *out is malloc'd. */
int rp_read_state_curve(const char *path, cf_epoch_record **out);

/* ---- SVG plots (report_svg.c) ------------------------------------------------------ */

typedef enum rp_ticks {
    RP_TICKS_NUM = 0,    /* 0.5, 1, 1.5 */
    RP_TICKS_SI,         /* 10k, 1M (log axes) */
    RP_TICKS_PCT,        /* fractions shown as 40% */
    RP_TICKS_INT,        /* whole numbers only (epochs) */
} rp_ticks;

typedef struct rp_axis {
    double lo, hi;       /* data range shown */
    int log;
    double p0, p1;       /* pixel positions of lo and hi */
    rp_ticks ticks;
    double scale;        /* tick labels show value / scale (time units) */
} rp_axis;

typedef struct rp_plot {
    double width, height;
    double left, right, top, bottom;   /* margins */
    rp_axis x, y;
    int y_hidden;        /* no y ticks or grid (the timeline's lanes) */
} rp_plot;

/* A range covering [lo, hi] with a margin; for a log axis positive values only. */
void rp_axis_fit(rp_axis *a, double lo, double hi, int log);
double rp_map(const rp_axis *a, double v);
/* Open an <svg> with the frame, grid, ticks and axis labels; plot coordinates
 * from rp_map. aria: a short description of the chart. */
/* <svg ...> of class cls showing (x0, y0, w, h) at w x h, with its aria label. */
void rp_svg_open(rp_buf *b, const char *cls, double x0, double y0, double w, double h, const char *aria);
void rp_plot_begin(rp_buf *b, rp_plot *p, const char *aria, const char *xlabel, const char *ylabel);
void rp_plot_end(rp_buf *b);
/* A step line through the points (x sorted ascending): horizontal then vertical. */
void rp_step_path(rp_buf *b, const rp_plot *p, const double *x, const double *y, size_t n, double x_end,
                  const char *cls);
/* A legend entry at (x, y): a swatch of the class and the text. Returns its width. */
double rp_legend_item(rp_buf *b, double x, double y, const char *swatch_cls, int shape, const char *text);
/* Rough width in pixels of text at the given font size. */
double rp_text_width(const char *s, double font_px);
/* Tooltips (<title>) on every mark only while the page stays small. */
#define RP_TOOLTIP_LIMIT 1500
/* A paragraph saying why a chart is not drawn (report_charts.c). */
void rp_empty(rp_buf *b, const char *msg);
/* A time axis in seconds, minutes or hours, whichever reads best: sets a->scale
 * and returns the axis label (report_charts.c). */
const char *rp_time_unit(rp_axis *a, double span);

/* Marks already drawn at a pixel: a dense chart draws one mark per pixel, which
 * looks the same and keeps the page small. */
typedef struct rp_pixels {
    uint64_t *keys;      /* open addressing; 0 is empty; owned */
    size_t cap;
} rp_pixels;

/* Room for n marks (on no memory every mark is drawn). Free with rp_pixels_free. */
void rp_pixels_init(rp_pixels *px, size_t n);
void rp_pixels_free(rp_pixels *px);
/* 1 the first time a mark lands on the pixel of (x, y), else 0. */
int rp_pixels_first(rp_pixels *px, double x, double y);

/* A palette of distinct series colours (dark enough on white). */
const char *rp_series_color(int i);

/* ---- sections ------------------------------------------------------------------------ */

void rp_chart_pareto(rp_buf *b, const rp_run *run, int by_params);
void rp_chart_progress(rp_buf *b, const rp_run *run);
void rp_chart_timeline(rp_buf *b, const rp_run *run);
void rp_chart_curves(rp_buf *b, const rp_run *run);
/* The hyperparameters' scatters (report_hparams.c), for a space that searches them. */
int rp_has_hparams(const rp_run *run);
void rp_chart_hparams(rp_buf *b, const rp_run *run);
void rp_cells_section(rp_buf *b, const rp_run *run);
/* A figure of one architecture's cells (arch borrowed; a note where it does
 * not parse or the space is unknown), titled with title. */
void rp_cell_figure(rp_buf *b, const rp_run *run, const char *title, const char *arch);
/* The one-shot search (report_oneshot.c), for a run with a supernet trial. */
int rp_has_oneshot(const rp_run *run);
void rp_oneshot_section(rp_buf *b, const rp_run *run);

/* 1 for a trial that finished ok and is a model of the search: not a
 * supernet, which is never the best, a point of the front or a best cell. */
int rp_trial_is_model(const rp_trial *t);

/* Trials sorted for display: the models (rp_trial_is_model) by val_acc (best
 * first), then the supernets that finished ok, then the others by id, then
 * the rejected proposals by id.
 * Returns a malloc'd array of n pointers (NULL when n is 0 or on no memory). */
const rp_trial **rp_sorted_trials(const rp_run *run);
/* Short op label for diagrams: "conv 3x3", "skip", "avg pool 3x3". */
const char *rp_op_label(const cf_space *s, int op, char *buf, size_t cap);

#endif
