/* cuda_backend.h - private entry points of the CUDA backend used by core code
 * in a CUDA build (CF_HAVE_CUDA). */
#ifndef CF_CUDA_BACKEND_H
#define CF_CUDA_BACKEND_H

#include "cellforge/device.h"
#include "cellforge/status.h"

/* Fill the GPU part of *r. Never fails: no driver or no device becomes
 * gpu_count = 0 with the reason in gpu_note. */
void cf_cuda_discover(cf_device_report *r);

/* "cuda (runtime 13.0, cuDNN 9.12.0, cuBLAS 13.0.0, NCCL 2.27.3)"; static storage. */
const char *cf_cuda_library_versions(void);

/* Copy `bytes` host -> device -> host on GPU `index` and compare: a check that
 * the runtime, driver and device work together. */
cf_status cf_cuda_roundtrip(int index, const void *host, void *back, size_t bytes);

#endif
