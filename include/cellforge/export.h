/* export.h - a trained model written as an ONNX file, for other runtimes.
 *
 * The file holds one graph, opset 13 (IR version 7):
 *   input   "image"   float32 [N, C, H, W], N dynamic: pixels scaled to [0, 1]
 *                     (the byte values divided by 255, nothing else)
 *   then    (image - mean) / std per channel, the normalization the model was
 *           trained with, so callers never repeat it
 *   then    the network's layers in order, the auxiliary head left out, each
 *           layer one ONNX node named after the layer ("cells.3.n2.in0.sep.dw1";
 *           a linear layer is Flatten + Gemm, a zero op Slice + Mul by 0)
 *   output  "logits"  float32 [N, classes], before any softmax
 * Weights are float32 initializers named "<layer>.weight", "<layer>.bias",
 * and for batch norm "<layer>.gamma", "<layer>.beta", "<layer>.running_mean",
 * "<layer>.running_var" (the names of the checkpoint's tensors); batch norm is
 * in inference form with the running statistics. Only layers the logits
 * depend on are written.
 *
 *   cf_model *m; cf_checkpoint_info info;
 *   CF_TRY(cf_checkpoint_load("model.cfm", cf_backend_cpu_ref(), 1, &m, &info));
 *   cf_onnx_options opt = {.mean = info.mean, .std = info.std, .doc = "nb201 C=16 N=5"};
 *   CF_TRY(cf_export_onnx(m, &opt, "model.onnx", NULL));
 *
 * The protobuf encoding is written here (src/export/protobuf.c), from the wire
 * format and onnx.proto's field numbers; there is no library dependency.
 */
#ifndef CELLFORGE_EXPORT_H
#define CELLFORGE_EXPORT_H

#include <stddef.h>
#include <stdint.h>

#include "cellforge/model.h"
#include "cellforge/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CF_ONNX_OPSET 13
#define CF_ONNX_IR_VERSION 7

/* What to write besides the network. Everything is borrowed for the call. */
typedef struct cf_onnx_options {
    const float *mean, *std;     /* (C) the normalization; NULL: mean 0, std 1 */
    const char *graph_name;      /* the graph's name; NULL: "cellforge" */
    const char *doc;             /* the model's doc_string; may be NULL */
    const char *const *metadata; /* metadata_props: key, value, key, value, ..., NULL;
                                    may be NULL */
} cf_onnx_options;

/* What was written, for messages and tests. */
typedef struct cf_onnx_summary {
    int layers;         /* network layers exported */
    int nodes;          /* ONNX nodes, normalization included */
    int initializers;
    int64_t floats;     /* float32 values in the initializers */
    size_t bytes;       /* size of the file */
} cf_onnx_summary;

/* Encode m (an f32 model; its mode, batch and backend do not matter) as an
 * ONNX model in memory. The caller frees *data with free(). summary may be
 * NULL. Fails with CF_ERR_UNSUPPORTED for an f64 model or a layer kind that
 * has no ONNX form here (a loss), and CF_ERR_OUT_OF_MEMORY. */
cf_status cf_export_onnx_encode(const cf_model *m, const cf_onnx_options *opt, unsigned char **data,
                                size_t *size, cf_onnx_summary *summary);

/* Encode and write to path atomically (cf_file_write_bytes_atomic: a
 * temporary file flushed to the disk, renamed). Errors name the file. */
cf_status cf_export_onnx(const cf_model *m, const cf_onnx_options *opt, const char *path,
                         cf_onnx_summary *summary);

#ifdef __cplusplus
}
#endif
#endif
