/* device.h - what this machine offers: CPU cores and SIMD, GPUs.
 *
 * Discovery never fails on a machine without a GPU or driver: it reports zero
 * GPUs and a reason ("built without CUDA", "no NVIDIA driver", ...).
 *
 *   cf_device_report r;
 *   cf_devices_discover(&r);
 *   printf("%d cores, %s, %d GPUs\n", r.cpu_cores, r.cpu_simd, r.gpu_count);
 */
#ifndef CELLFORGE_DEVICE_H
#define CELLFORGE_DEVICE_H

#include <stddef.h>

#include "cellforge/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CF_MAX_GPUS 16

typedef struct cf_gpu_info {
    int index;
    char name[256];
    size_t total_bytes;
    size_t free_bytes;
    int cc_major, cc_minor;      /* compute capability */
    int multiprocessors;
} cf_gpu_info;

typedef struct cf_device_report {
    int cpu_cores;
    char cpu_model[128];
    char cpu_simd[64];           /* best vector ISA: "avx512f", "avx2+fma", "neon", ... */
    int gpu_count;
    cf_gpu_info gpus[CF_MAX_GPUS];
    char gpu_note[256];          /* why there are none, or "" */
    char cuda_driver[32];        /* "13.0" or "" */
    char cuda_runtime[32];
} cf_device_report;

/* Fill *r. Always succeeds; GPU problems end up in gpu_note. */
void cf_devices_discover(cf_device_report *r);

/* Libraries compiled in: "cpu-ref" plus, in a CUDA build, e.g.
 * "cuda (runtime 13.0, cuDNN 9.12.0, cuBLAS 13.0.0, NCCL 2.27.3)". */
const char *cf_build_backends(void);

/* Version string and the git commit the binary was built from. */
const char *cf_version(void);
const char *cf_git_hash(void);

#ifdef __cplusplus
}
#endif
#endif
