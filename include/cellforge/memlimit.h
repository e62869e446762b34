/* memlimit.h - the address-space limit (RLIMIT_AS, `ulimit -v`) checked before
 * memory is mapped, so that hitting it is an out-of-memory error and never a hang.
 *
 * Under an address-space limit, plain malloc fails cleanly, but libraries that
 * map memory lazily do not: OpenBLAS maps a 128 MiB buffer the first time a
 * thread calls GEMM beside others and retries a failed mapping forever, and
 * libgomp ends the process when it cannot start a thread. So the CPU backend
 * maps both when it is created, after checking that they fit, and large
 * allocations check before they are made, for a message that names them.
 *
 *   CF_TRY(cf_mem_check("activation arena", bytes));     // before the malloc
 *
 * Tested by tests/cli_memlimit.sh.
 */
#ifndef CELLFORGE_MEMLIMIT_H
#define CELLFORGE_MEMLIMIT_H

#include <stddef.h>

#include "cellforge/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What OpenBLAS maps per thread that calls it at the same time as others: its
 * 128 MiB GEMM buffer (BUFFER_SIZE of x86-64 builds) and alignment slack. */
#define CF_MEM_BLAS_BUFFER ((size_t)132 << 20)

/* Bytes of address space the process may still map: the soft RLIMIT_AS minus
 * what is mapped now (/proc/self/statm). SIZE_MAX when there is no limit. */
size_t cf_mem_headroom(void);

/* CF_OK when `bytes` more fit under the limit (always without one); else
 * CF_ERR_OUT_OF_MEMORY naming what (borrowed), the size and the limit. */
cf_status cf_mem_check(const char *what, size_t bytes);

#ifdef __cplusplus
}
#endif
#endif
