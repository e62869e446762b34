/* checkpoint.h - a trained model in one file (.cfm), enough to rebuild and run
 * it, and a training state, enough to continue an interrupted run.
 *
 * Layout (little-endian):
 *   8 bytes    "CFMODEL1"
 *   u64        header length L
 *   L bytes    header, one JSON object: format, space (name, file, options),
 *              arch (the space's text form), input [c, h, w], classes,
 *              normalize {mean, std}, train (the configuration), curve (one
 *              record per epoch), status, reason, val_acc, test_acc, seconds,
 *              tensors [{name, shape, offset}] describing the data below
 *   data       f32 tensors in header order: each layer's weights (conv/linear
 *              weight then bias, BN gamma then beta), then each BN layer's
 *              running mean and running variance
 *   u32        CRC-32 (zlib) of every byte before it
 * The header is readable with `head -c` + jq (`tail -c +17 F | head -c L | jq`);
 * its numbers read back as the exact doubles written. The CRC catches a
 * truncated or damaged file. Files are written to a temporary file beside
 * NAME, flushed to the disk and renamed (cellforge/file.h), so a crash never
 * leaves half a checkpoint under the real name.
 *
 *   CF_TRY(cf_checkpoint_save("model.cfm", space, arch_text, model, &cfg, &res, test_acc));
 *   cf_model *m; cf_checkpoint_info info;
 *   CF_TRY(cf_checkpoint_load("model.cfm", backend, 256, &m, &info));  // or a .cfs state
 *
 * A training state has the same layout with the magic "CFSTATE1". Its header
 * is a .cfm header without test_acc (status "ok": a state is written between
 * epochs), plus
 *   resume     {epochs_done, step (the model's m->step), seed (a decimal
 *              string: 64 bits do not fit a JSON number), max_epoch_fraction,
 *              n_params}
 * and its tensors are the model's followed by the momentum buffer of every
 * weight tensor, named "<weight name>.momentum". cf_checkpoint_load reads a
 * state as it reads a model file (the model's tensors, test_acc -1), and
 * cf_checkpoint_convert turns one into a model file. The train evaluator
 * writes a state after every epoch of a trial with a checkpoint path
 * (cf_train's epoch_end) and continues from it after a crash:
 *
 *   // in epoch_end, rank 0:
 *   CF_TRY(cf_trainstate_save("trial-17.state", space, arch_text, m, momentum, &cfg, res_so_far));
 *   // later, on a model built for the same architecture:
 *   CF_TRY(cf_trainstate_load("trial-17.state", space, arch_text, &cfg, m, momentum, done));
 *   cfg.resume = done; cfg.resume_momentum = momentum;
 *   CF_TRY(cf_train(m, train, val, &cfg, &res));
 */
#ifndef CELLFORGE_CHECKPOINT_H
#define CELLFORGE_CHECKPOINT_H

#include "cellforge/model.h"
#include "cellforge/space.h"
#include "cellforge/train.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The largest model file or training state read back (64 GiB: some 16
 * billion parameters with their momentum). A larger file, a FIFO, a device or
 * a folder fails with an error naming the file (and the limit). */
#define CF_CHECKPOINT_MAX_BYTES ((size_t)64 << 30)

typedef struct cf_checkpoint_info {
    char space[32];
    char options[256];            /* "C=16, N=1" */
    char arch[CF_ARCH_TEXT_MAX];
    cf_net_input input;
    float mean[4], std[4];
    double val_acc, test_acc;     /* -1 where not measured (a state has no test_acc) */
    int epochs_done;
    char status[16];
    int is_state;                 /* 1: read from a training state (CFSTATE1) */
} cf_checkpoint_info;

/* Write m with its space, arch and training record. cfg and res may be NULL
 * (an untrained model); test_acc < 0 when not measured. */
cf_status cf_checkpoint_save(const char *path, const cf_space *s, const char *arch_text,
                             const cf_model *m, const cf_train_config *cfg,
                             const cf_train_result *res, double test_acc);

/* Rebuild the model of a checkpoint on backend be for batches of up to
 * `batch`, weights and statistics restored. path is a model file or a
 * training state (its weights and statistics; the momentum is checked and
 * left out, and info->test_acc is -1). The space is loaded by name from the
 * spaces directory (or the file recorded in the checkpoint when that name is
 * not there). The caller frees *model with cf_model_destroy. Errors name the
 * file and the byte offset or header key. */
cf_status cf_checkpoint_load(const char *path, const cf_backend *be, int batch, cf_model **model,
                             cf_checkpoint_info *info);

/* cf_checkpoint_load, also handing back the space the model was built in,
 * its options set as recorded. The caller frees *space with cf_space_destroy
 * (NULL on failure). */
cf_status cf_checkpoint_load_full(const char *path, const cf_backend *be, int batch, cf_model **model,
                                  cf_checkpoint_info *info, cf_space **space);

/* Write the model of a model file or training state src as a model file at
 * dst: src's header (space, arch, training configuration, curve,
 * normalization, accuracies) less a state's resume record, with test_acc -1
 * where src has none, and the model's tensors without the momentum. Written
 * like cf_checkpoint_save (a temporary file, flushed, renamed); dst may be
 * src. Errors are cf_checkpoint_load's for src, CF_ERR_IO naming dst.tmp or
 * dst. */
cf_status cf_checkpoint_convert(const char *src, const char *dst);

/* Write the state of a run after res_so_far->epochs_done epochs: m (weights,
 * BN statistics, m->step), the momentum buffer (m->n_params floats), the
 * configuration and the record so far. Everything is borrowed. */
cf_status cf_trainstate_save(const char *path, const cf_space *s, const char *arch_text, const cf_model *m,
                             const float *momentum, const cf_train_config *cfg,
                             const cf_train_result *res_so_far);

/* Restore a state into m, built for the same architecture (any batch and
 * backend), and momentum (m->n_params floats), and fill *done with the record
 * of the epochs done (curve, val_acc, seconds, images_per_s, normalization;
 * status CF_TRAIN_OK): what cf_train_config's resume and resume_momentum
 * take. Everything is borrowed. The file must have been written for the space
 * s with its options, arch_text, m's network (input, classes, parameter
 * count, tensor names and shapes) and a configuration equal to cfg in
 * everything that shapes the run (epochs, batch, seed, fraction, learning
 * rate schedule, optimizer, augmentation, drop-path; not the time limit).
 * Fails with CF_ERR_IO (cannot open), CF_ERR_PARSE (not a state, damaged or
 * truncated: the message names the file and the byte or JSON path) or
 * CF_ERR_INVALID_ARG (a state of another network or run: the message names
 * the file and what does not match). On failure m and momentum are untouched;
 * *done may be partly filled. */
cf_status cf_trainstate_load(const char *path, const cf_space *s, const char *arch_text,
                             const cf_train_config *cfg, cf_model *m, float *momentum, cf_train_result *done);

#ifdef __cplusplus
}
#endif
#endif
