/* test_cuda_smoke.c - (gpu) a CUDA build finds its devices and moves data
 * through one: host -> device -> host round trip on every GPU. Exits 77
 * (skipped) in a build without CUDA or on a machine without a GPU. */
#include <stdio.h>
#include <string.h>

#include "cellforge/device.h"
#include "check.h"

#ifdef CF_HAVE_CUDA
#include "../src/backend/cuda/cuda_backend.h"
#endif

int main(void) {
    cf_device_report r;
    cf_devices_discover(&r);
    if (r.gpu_count == 0) {
        printf("skipped: %s\n", r.gpu_note);
        return CF_TEST_SKIP;
    }
#ifdef CF_HAVE_CUDA
    float host[1024], back[1024];
    for (int i = 0; i < 1024; i++) host[i] = (float)i * 0.5f - 7.0f;
    for (int g = 0; g < r.gpu_count; g++) {
        memset(back, 0, sizeof back);
        CHECK_OK(cf_cuda_roundtrip(r.gpus[g].index, host, back, sizeof host));
        CHECK(memcmp(host, back, sizeof host) == 0, "GPU %d: data changed in the round trip", g);
        CHECK(r.gpus[g].total_bytes > 0 && r.gpus[g].cc_major >= 3, "GPU %d: implausible properties", g);
    }
#endif
    return test_finish("test_cuda_smoke");
}
