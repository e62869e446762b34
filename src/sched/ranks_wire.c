/* ranks_wire.c - trial tasks and outcomes as JSON texts between MPI ranks.
 * Format and ownership: ranks_wire.h. Numbers are written here with 17
 * significant digits (cJSON's own printing stops at 15 when the value reads
 * back within an epsilon, e.g. 0.30000000000000004 as 0.3), so they read back
 * to the bit and a search over ranks equals one in one process.
 * Tests: tests/test_ranks_wire.c.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cellforge/sched.h"
#include "cellforge/text.h"
#include "ranks_wire.h"

/* A number as raw JSON text, exact; null for one that is not finite. */
static cJSON *exact(double v) {
    char buf[40];
    return cJSON_CreateRaw(isfinite(v) ? cf_text_exact(v, buf, sizeof buf) : "null");
}

static void add_num(cJSON *o, const char *key, double v) {
    cJSON_AddItemToObject(o, key, exact(v));
}

static cf_status print_json(cJSON *root, char **out) {
    *out = root ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    if (!*out) CF_FAIL(CF_ERR_OUT_OF_MEMORY, "ranks: no memory for a message");
    return CF_OK;
}

cf_status cf_wire_task_write(const cf_trial_task *task, int worker, const cf_wire_group *group, char **out) {
    const cf_trial *t = task->trial;
    cJSON *o = cJSON_CreateObject();
    if (o) {
        /* attached at once: one delete frees all */
        add_num(o, "id", (double)t->id);
        cJSON_AddStringToObject(o, "arch", t->arch);
        add_num(o, "epochs", t->cand.epochs);
        add_num(o, "fraction", t->cand.fraction);
        add_num(o, "parent", (double)t->cand.parent);
        add_num(o, "batch", t->batch);
        add_num(o, "params", (double)t->cost.params);
        add_num(o, "macs", (double)t->cost.macs);
        add_num(o, "activation_bytes", (double)t->cost.activation_bytes);
        add_num(o, "cost_batch", t->cost.batch);
        add_num(o, "memory", (double)t->memory);
        add_num(o, "latency_ms", t->latency_ms);
        add_num(o, "attempts", t->attempts);
        add_num(o, "retries", t->retries);
        add_num(o, "start", t->start);
        add_num(o, "worker", worker);
        add_num(o, "slot", task->slot);
        add_num(o, "time_limit", task->time_limit_s);
        cJSON_AddStringToObject(o, "checkpoint", task->checkpoint ? task->checkpoint : "");
        if (group && group->size > 0) {
            cJSON *g = cJSON_AddObjectToObject(o, "group");
            cJSON *procs = g ? cJSON_AddArrayToObject(g, "procs") : NULL;
            cJSON *local = g ? cJSON_AddArrayToObject(g, "local") : NULL;
            if (g) add_num(g, "id", (double)group->id);
            if (g) add_num(g, "replica", group->replica);
            if (g && group->device) add_num(g, "device", 1);
            for (int r = 0; procs && r < group->size; r++) cJSON_AddItemToArray(procs, exact(group->procs[r]));
            for (int r = 0; local && r < group->size; r++) cJSON_AddItemToArray(local, exact(group->local[r]));
        }
    }
    return print_json(o, out);
}

static double num(const cJSON *o, const char *key, double dflt) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : dflt;
}

static const char *str(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* A task's group, checked: a replica among 1 to CF_MAX_WORKERS, ranks >= 0. */
static cf_status read_group(const cJSON *o, cf_wire_group *group) {
    memset(group, 0, sizeof *group);
    const cJSON *g = cJSON_GetObjectItemCaseSensitive(o, "group");
    if (!g) return CF_OK;
    const cJSON *procs = cJSON_GetObjectItemCaseSensitive(g, "procs");
    const cJSON *local = cJSON_GetObjectItemCaseSensitive(g, "local");
    const int n = cJSON_IsArray(procs) ? cJSON_GetArraySize(procs) : 0;
    group->id = (long long)num(g, "id", -1);
    group->replica = (int)num(g, "replica", -1);
    group->device = num(g, "device", 0) != 0;
    if (n < 1 || n > CF_MAX_WORKERS || group->id < 0 || group->replica < 0 || group->replica >= n ||
        !cJSON_IsArray(local) || cJSON_GetArraySize(local) != n)
        CF_FAIL(CF_ERR_PARSE, "ranks: a trial message with a broken group (%d replicas, replica %d, id %lld)", n,
                group->replica, group->id);
    for (int r = 0; r < n; r++) {
        const cJSON *v = cJSON_GetArrayItem(procs, r), *l = cJSON_GetArrayItem(local, r);
        if (!cJSON_IsNumber(v) || v->valuedouble < 0 || !cJSON_IsNumber(l) || l->valuedouble < 0)
            CF_FAIL(CF_ERR_PARSE, "ranks: a trial message whose group names no rank or worker for replica %d", r);
        group->procs[r] = (int)v->valuedouble;
        group->local[r] = (int)l->valuedouble;
    }
    group->size = n;
    return CF_OK;
}

cf_status cf_wire_task_read(const cf_space *s, const char *text, cf_trial *t, int *worker, double *time_limit,
                            char *checkpoint, size_t cap, cf_wire_group *group) {
    memset(t, 0, sizeof *t);
    memset(group, 0, sizeof *group);
    cJSON *o = cJSON_Parse(text);
    const char *arch = o ? str(o, "arch") : NULL;
    if (!arch || strlen(arch) >= sizeof t->arch) {
        cJSON_Delete(o);
        CF_FAIL(CF_ERR_PARSE, "ranks: a trial message without a readable arch: %.120s", text);
    }
    snprintf(t->arch, sizeof t->arch, "%s", arch);
    t->id = (int64_t)num(o, "id", -1);
    t->cand.epochs = (int)num(o, "epochs", 1);
    t->cand.fraction = num(o, "fraction", 1);
    t->cand.parent = (int64_t)num(o, "parent", -1);
    t->batch = (int)num(o, "batch", 256);
    t->cost.params = (int64_t)num(o, "params", 0);
    t->cost.macs = (int64_t)num(o, "macs", 0);
    t->cost.activation_bytes = (size_t)num(o, "activation_bytes", 0);
    t->cost.batch = (int)num(o, "cost_batch", t->batch);
    t->memory = (size_t)num(o, "memory", 0);
    t->latency_ms = num(o, "latency_ms", -1);
    t->attempts = (int)num(o, "attempts", 1);
    t->retries = (int)num(o, "retries", 0);
    t->start = num(o, "start", 0);
    t->replicas = 1;
    t->val_acc = -1;
    t->status = CF_TRIAL_RUNNING;
    *worker = (int)num(o, "worker", -1);
    double slot = num(o, "slot", -1); /* the slot of that worker; -1: any */
    t->slots[0] = slot >= 0 && slot < CF_MAX_SLOTS ? (int)slot : -1;
    *time_limit = num(o, "time_limit", 0);
    const char *ck = str(o, "checkpoint");
    snprintf(checkpoint, cap, "%s", ck ? ck : "");
    cf_status st = read_group(o, group);
    cJSON_Delete(o);
    CF_TRY(st);
    if (group->size > 0) t->replicas = group->size;
    CF_TRY(cf_arch_parse(s, t->arch, &t->cand.arch));
    return CF_OK;
}

cf_status cf_wire_outcome_write(const cf_trial_outcome *o, cf_status st, const char *err, char **out) {
    cJSON *j = cJSON_CreateObject();
    if (j && st != CF_OK) {
        cJSON_AddStringToObject(j, "error", err ? err : "the evaluator failed");
        return print_json(j, out);
    }
    if (j) {
        cJSON_AddStringToObject(j, "status", cf_trial_status_name(o->status));
        cJSON_AddStringToObject(j, "reason", o->reason);
        add_num(j, "val_acc", o->val_acc);
        add_num(j, "epochs_done", o->epochs_done);
        add_num(j, "seconds", o->seconds);
        cJSON_AddStringToObject(j, "metrics", o->metrics);
        cJSON *curve = cJSON_AddArrayToObject(j, "curve");
        for (int e = 0; curve && o->curve && e < o->epochs_done; e++) {
            const cf_epoch_record *r = &o->curve[e];
            const double row[6] = {r->epoch, r->train_loss, r->train_acc, r->val_acc, r->lr, r->seconds};
            cJSON *a = cJSON_CreateArray();
            for (int k = 0; a && k < 6; k++) cJSON_AddItemToArray(a, exact(row[k]));
            cJSON_AddItemToArray(curve, a);
        }
    }
    return print_json(j, out);
}

cf_status cf_wire_outcome_read(const char *text, cf_trial_outcome *o, int *broke, char *err, size_t cap) {
    memset(o, 0, sizeof *o);
    *broke = 0;
    cJSON *j = cJSON_Parse(text);
    if (!j) CF_FAIL(CF_ERR_PARSE, "ranks: an unreadable outcome message: %.120s", text);
    const char *e = str(j, "error"), *status = str(j, "status");
    if (e) {
        *broke = 1;
        snprintf(err, cap, "%s", e);
        cJSON_Delete(j);
        return CF_OK;
    }
    if (!status || !cf_trial_status_parse(status, &o->status)) {
        cJSON_Delete(j);
        CF_FAIL(CF_ERR_PARSE, "ranks: an outcome message without a status: %.120s", text);
    }
    snprintf(o->reason, sizeof o->reason, "%s", str(j, "reason") ? str(j, "reason") : "");
    snprintf(o->metrics, sizeof o->metrics, "%s", str(j, "metrics") ? str(j, "metrics") : "");
    o->val_acc = num(j, "val_acc", -1);
    o->seconds = num(j, "seconds", 0);
    const cJSON *curve = cJSON_GetObjectItemCaseSensitive(j, "curve");
    int n = cJSON_IsArray(curve) ? cJSON_GetArraySize(curve) : 0, want = (int)num(j, "epochs_done", 0);
    if (n > want) n = want;
    /* the curve has epochs_done entries, whatever came */
    if (n > 0 && !(o->curve = calloc((size_t)want, sizeof *o->curve))) {
        cJSON_Delete(j);
        CF_FAIL(CF_ERR_OUT_OF_MEMORY, "ranks: no memory for a learning curve");
    }
    for (int ep = 0; ep < n; ep++) {
        const cJSON *row = cJSON_GetArrayItem(curve, ep);
        double v[6] = {0, 0, 0, -1, 0, 0};
        for (int k = 0; k < 6 && k < cJSON_GetArraySize(row); k++) v[k] = cJSON_GetArrayItem(row, k)->valuedouble;
        o->curve[ep] = (cf_epoch_record){(int)v[0], v[1], v[2], v[3], v[4], v[5]};
    }
    o->epochs_done = want;
    cJSON_Delete(j);
    return CF_OK;
}
