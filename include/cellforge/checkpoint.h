/* checkpoint.h - a trained model in one file (.cfm), enough to rebuild and run it.
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
 * The header is readable with `head -c` + jq; the CRC catches a truncated or
 * damaged file. Files are written to NAME.tmp, flushed and renamed, so a crash
 * never leaves half a checkpoint under the real name.
 *
 *   CF_TRY(cf_checkpoint_save("model.cfm", space, arch_text, model, &cfg, &res, test_acc));
 *   cf_model *m; cf_checkpoint_info info;
 *   CF_TRY(cf_checkpoint_load("model.cfm", backend, 256, &m, &info));
 */
#ifndef CELLFORGE_CHECKPOINT_H
#define CELLFORGE_CHECKPOINT_H

#include "cellforge/model.h"
#include "cellforge/space.h"
#include "cellforge/train.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cf_checkpoint_info {
    char space[32];
    char options[256];            /* "C=16, N=1" */
    char arch[CF_ARCH_TEXT_MAX];
    cf_net_input input;
    float mean[4], std[4];
    double val_acc, test_acc;     /* -1 where not measured */
    int epochs_done;
    char status[16];
} cf_checkpoint_info;

/* Write m with its space, arch and training record. cfg and res may be NULL
 * (an untrained model); test_acc < 0 when not measured. */
cf_status cf_checkpoint_save(const char *path, const cf_space *s, const char *arch_text,
                             const cf_model *m, const cf_train_config *cfg,
                             const cf_train_result *res, double test_acc);

/* Rebuild the model of a checkpoint on backend be for batches of up to
 * `batch`, weights and statistics restored. The space is loaded by name from
 * the spaces directory (or the file recorded in the checkpoint when that name
 * is not there). The caller frees *model with cf_model_destroy. Errors name the
 * file and the byte offset or header key. */
cf_status cf_checkpoint_load(const char *path, const cf_backend *be, int batch, cf_model **model,
                             cf_checkpoint_info *info);

#ifdef __cplusplus
}
#endif
#endif
