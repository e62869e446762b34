/* test_cuda_dp.c - (gpu) the NCCL communicator: sums of device buffers over
 * one rank per GPU, f64 sums of host scalars, an abort that releases the other
 * ranks, and a data-parallel training run through cf_train with gradients
 * summed on the devices (one rank: the same bits as training without a
 * communicator). Two-rank cases run where two GPUs are present.
 *
 * Exits 77 (skipped) in a build without CUDA or on a machine without a GPU.
 *
 *   build/tests/test_cuda_dp SPACES_DIR
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cellforge/comm.h"
#include "cellforge/device.h"
#include "cellforge/rng.h"
#include "cellforge/train.h"
#include "check.h"

#define N_FLOATS 1000

typedef struct rank_job {
    cf_comm *comm;
    int rank;
    cf_backend *be;
    cf_status st;
    float host[N_FLOATS];
    double scalar;
} rank_job;

static void *rank_main(void *arg) {
    rank_job *j = arg;
    void *dev = NULL;
    j->st = cf_backend_alloc(j->be, sizeof j->host, &dev);
    if (j->st == CF_OK) j->st = cf_backend_copy(j->be, dev, j->host, sizeof j->host, CF_COPY_TO_DEVICE);
    if (j->st == CF_OK) j->st = cf_backend_sync(j->be);
    if (j->st == CF_OK) j->st = cf_comm_allreduce_f32(j->comm, j->rank, dev, N_FLOATS);
    if (j->st == CF_OK) j->st = cf_backend_copy(j->be, j->host, dev, sizeof j->host, CF_COPY_TO_HOST);
    if (j->st == CF_OK) j->st = cf_comm_allreduce_f64(j->comm, j->rank, &j->scalar, 1);
    cf_backend_free(j->be, dev);
    return NULL;
}

/* Sums over `ranks` GPUs: rank r holds r + i / 8 at element i. */
static void sums(int ranks) {
    int devices[2] = {0, 1};
    cf_comm *comm = NULL;
    CHECK_OK(cf_comm_nccl_create(devices, ranks, &comm));
    if (!comm) return;
    CHECK(cf_comm_device_f32(comm), "the NCCL communicator takes device buffers");
    rank_job jobs[2];
    pthread_t th[2];
    for (int r = 0; r < ranks; r++) {
        memset(&jobs[r], 0, sizeof jobs[r]);
        jobs[r].comm = comm;
        jobs[r].rank = r;
        jobs[r].scalar = 1.5 * (r + 1);
        for (int i = 0; i < N_FLOATS; i++) jobs[r].host[i] = (float)r + (float)i / 8;
        CHECK_OK(cf_backend_cuda_create(devices[r], 0, &jobs[r].be));
    }
    for (int r = 0; r < ranks; r++) pthread_create(&th[r], NULL, rank_main, &jobs[r]);
    for (int r = 0; r < ranks; r++) pthread_join(th[r], NULL);
    for (int r = 0; r < ranks; r++) {
        CHECK(jobs[r].st == CF_OK, "rank %d: %s", r, cf_status_name(jobs[r].st));
        int bad = 0;
        for (int i = 0; i < N_FLOATS; i++) {
            float want = 0;
            for (int q = 0; q < ranks; q++) want += (float)q + (float)i / 8;
            bad += jobs[r].host[i] != want;
        }
        CHECK(bad == 0, "%d ranks: rank %d has %d wrong sums", ranks, r, bad);
        double want = ranks == 1 ? 1.5 : 4.5;
        CHECK(jobs[r].scalar == want, "%d ranks: rank %d f64 sum %g, want %g", ranks, r, jobs[r].scalar, want);
        cf_backend_cuda_destroy(jobs[r].be);
    }
    printf("%d rank(s): sums ok\n", ranks);
    cf_comm_destroy(comm);
}

/* After an abort every collective fails with the abort's status. */
static void abort_releases(void) {
    int devices[1] = {0};
    cf_comm *comm = NULL;
    cf_backend *be = NULL;
    CHECK_OK(cf_comm_nccl_create(devices, 1, &comm));
    CHECK_OK(cf_backend_cuda_create(0, 0, &be));
    if (!comm || !be) goto exit;
    void *dev = NULL;
    CHECK_OK(cf_backend_alloc(be, 64, &dev));
    cf_comm_abort(comm, 0, CF_ERR_DEVICE_OOM);
    CHECK(cf_comm_allreduce_f32(comm, 0, dev, 16) == CF_ERR_DEVICE_OOM, "f32 sum after an abort");
    double v = 1;
    CHECK(cf_comm_allreduce_f64(comm, 0, &v, 1) == CF_ERR_DEVICE_OOM, "f64 sum after an abort");
    cf_backend_free(be, dev);
exit:
    cf_comm_destroy(comm);
    cf_backend_cuda_destroy(be);
}

static cf_model *build(const cf_backend *be) {
    cf_space *s = NULL;
    cf_arch a;
    cf_net *net = NULL;
    cf_model *m = NULL;
    cf_net_input in = {1, 12, 12, 10};
    CHECK_OK(cf_space_load("nb201", &s));
    if (!s) return NULL;
    CHECK_OK(cf_space_set_kv(s, "C=4"));
    CHECK_OK(cf_space_set_kv(s, "N=1"));
    if (cf_arch_parse(s, "|nor_conv_3x3~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|none~2|", &a) ==
            CF_OK &&
        cf_net_build(s, &a, &in, &net) == CF_OK && cf_model_create(net, 16, be, 0, &m) == CF_OK)
        cf_model_init(m, 77);
    else
        CHECK(0, "build: %s", cf_error_message());
    cf_space_destroy(s);
    return m;
}

/* One rank through NCCL gives the bits of training without a communicator. */
static void one_rank_training(void) {
    cf_backend *be = NULL;
    cf_comm *comm = NULL;
    cf_dataset *ds = NULL;
    int devices[1] = {0};
    CHECK_OK(cf_backend_cuda_create(0, 1, &be));
    CHECK_OK(cf_comm_nccl_create(devices, 1, &comm));
    CHECK_OK(cf_dataset_create("synthetic", 64, 1, 12, 12, 10, &ds));
    if (!be || !comm || !ds) goto exit;
    cf_rng r = cf_rng_make(3, cf_rng_stream(1, CF_RNG_PURPOSE_TEST));
    for (size_t i = 0; i < 64 * 144; i++) ds->images[i] = (uint8_t)cf_rng_below(&r, 256);
    for (size_t i = 0; i < 64; i++) ds->labels[i] = (int32_t)cf_rng_below(&r, 10);
    cf_model *a = build(be), *b = build(be);
    cf_train_result *ra = calloc(1, sizeof *ra), *rb = calloc(1, sizeof *rb);
    if (a && b && ra && rb) {
        cf_train_config cfg;
        cf_train_config_default(&cfg);
        cfg.epochs = 2;
        cfg.batch = 16;
        CHECK_OK(cf_train(a, ds, NULL, &cfg, ra));
        cfg.comm = comm;
        cfg.rank = 0;
        CHECK_OK(cf_train(b, ds, NULL, &cfg, rb));
        CHECK(memcmp(a->param, b->param, a->n_params * sizeof(float)) == 0,
              "one NCCL rank changed the weights of the run");
        CHECK(ra->curve[1].train_loss == rb->curve[1].train_loss, "loss %.9g without, %.9g with the communicator",
              ra->curve[1].train_loss, rb->curve[1].train_loss);
    }
    free(ra);
    free(rb);
    cf_model_destroy(a);
    cf_model_destroy(b);
exit:
    cf_dataset_destroy(ds);
    cf_comm_destroy(comm);
    cf_backend_cuda_destroy(be);
}

int main(int argc, char **argv) {
    if (argc > 1) setenv("CELLFORGE_SPACES", argv[1], 1);
    cf_device_report rep;
    cf_devices_discover(&rep);
    cf_comm *probe = NULL;
    int one = 0;
    if (rep.gpu_count == 0 || cf_comm_nccl_create(&one, 1, &probe) == CF_ERR_UNSUPPORTED) {
        printf("skipped: %s\n", rep.gpu_count == 0 ? rep.gpu_note : cf_error_message());
        return CF_TEST_SKIP;
    }
    cf_comm_destroy(probe);
    sums(1);
    if (rep.gpu_count >= 2) sums(2);
    else printf("one GPU: the two-rank sums are not run\n");
    abort_releases();
    one_rank_training();
    return test_finish("test_cuda_dp");
}
