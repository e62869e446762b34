/* device.c - machine discovery: CPU cores, model and SIMD level; GPUs through
 * the CUDA backend where it is compiled in (so it lives with the backends,
 * above core: its import of backend/cuda points down). */
#include "cellforge/device.h"

#include <stdio.h>
#include <string.h>

#include "cellforge/thread.h"

#ifdef CF_HAVE_CUDA
#include "cuda/cuda_backend.h"
#endif

#ifndef CF_VERSION_STRING
#define CF_VERSION_STRING "0.0.0"
#endif
#include "cf_git_hash.h" /* generated at build time by cmake/git_hash.cmake */

const char *cf_version(void) { return CF_VERSION_STRING; }
const char *cf_git_hash(void) { return CF_GIT_HASH; }

static void cpu_model(char *out, size_t size) {
    snprintf(out, size, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) == 0 || strncmp(line, "Model", 5) == 0) {
            char *colon = strchr(line, ':');
            if (!colon) continue;
            colon++;
            while (*colon == ' ' || *colon == '\t') colon++;
            colon[strcspn(colon, "\n")] = '\0';
            snprintf(out, size, "%s", colon);
            break;
        }
    }
    fclose(f);
}

static const char *cpu_simd(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return "avx512f";
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "avx2+fma";
    if (__builtin_cpu_supports("avx")) return "avx";
    if (__builtin_cpu_supports("sse4.2")) return "sse4.2";
    return "sse2";
#elif defined(__aarch64__)
    return "neon";
#else
    return "scalar";
#endif
}

void cf_devices_discover(cf_device_report *r) {
    memset(r, 0, sizeof *r);
    r->cpu_cores = cf_cpu_count();
    cpu_model(r->cpu_model, sizeof r->cpu_model);
    snprintf(r->cpu_simd, sizeof r->cpu_simd, "%s", cpu_simd());
#ifdef CF_HAVE_CUDA
    cf_cuda_discover(r);
#else
    snprintf(r->gpu_note, sizeof r->gpu_note, "no GPU: this build has no CUDA backend (configure with CF_CUDA=ON)");
#endif
}

const char *cf_build_backends(void) {
#ifdef CF_HAVE_CUDA
    static char buf[256];
    snprintf(buf, sizeof buf, "cpu-ref, %s", cf_cuda_library_versions());
    return buf;
#else
    return "cpu-ref";
#endif
}
