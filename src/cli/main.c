/* main.c - the `cellforge` command line: a table of commands, each with its
 * usage text, dispatched by name. Exit codes: 0 ok, 1 error, 2 usage.
 *
 *   cellforge help
 *   cellforge version
 *   cellforge devices
 *   cellforge space list | show NAME | sample NAME     (cmd_space.c)
 *   cellforge cost --space NAME ARCH                    (cmd_cost.c)
 *   cellforge train ... ARCH, cellforge eval MODEL      (cmd_train.c)
 *   cellforge export RUN|MODEL                          (cmd_export.c)
 *   cellforge search ..., cellforge tabulate ...        (cmd_search.c)
 *   cellforge status RUN, cellforge report RUN          (cmd_status.c, cmd_report.c)
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cellforge/device.h"
#include "cellforge/log.h"
#include "cellforge/status.h"
#include "cellforge/text.h"
#include "cli.h"

typedef struct command {
    const char *name;
    const char *summary;
    const char *usage; /* shown by `cellforge help NAME` and `NAME --help` */
    int (*run)(int argc, char **argv);
    const char *const *usage_ref; /* the usage text of a command in its own file */
    const char *(*usage_fn)(void); /* or a usage text made at run time */
    int threads; /* trains or runs networks on CPU threads: they wait sleeping (wait_policy.c) */
} command;

static int cmd_help(int argc, char **argv);
static int cmd_version(int argc, char **argv);
static int cmd_devices(int argc, char **argv);

static const command commands[] = {
    {"search", "search a space for the best architectures on every device", NULL, cmd_search, NULL,
     cmd_search_usage_text, 1},
    {"status", "progress of a search from its run directory (running or stopped)", NULL, cmd_status,
     &cmd_status_usage, NULL, 0},
    {"report", "a run directory as one HTML page: front, timeline, curves, cells, trials", NULL, cmd_report,
     &cmd_report_usage, NULL, 0},
    {"tabulate", "train every (or a sample of) architecture and write a benchmark table", NULL, cmd_tabulate, NULL,
     cmd_tabulate_usage_text, 1},
    {"space", "list, show or sample the search spaces", NULL, cmd_space, &cmd_space_usage, NULL, 0},
    {"cost", "exact params, MACs and activation memory of an architecture", NULL, cmd_cost, &cmd_cost_usage, NULL, 0},
    {"score", "zero-cost proxies of architectures, and their rank correlation with a table", NULL, cmd_score,
     &cmd_score_usage, NULL, 1},
    {"train", "train one architecture on a dataset and save it", NULL, cmd_train, &cmd_train_usage, NULL, 1},
    {"eval", "test accuracy of a saved model", NULL, cmd_eval, &cmd_eval_usage, NULL, 1},
    {"export", "write a trained model as ONNX, a model file, JSON or an arch string", NULL, cmd_export,
     &cmd_export_usage, NULL, 0},
    {"devices", "list the CPU and GPUs cellforge can use",
     "usage: cellforge devices\n\n"
     "Shows the CPU (cores, model, best SIMD level) and every CUDA GPU (name,\n"
     "memory, compute capability), or a line saying why no GPU was found.\n",
     cmd_devices, NULL, NULL, 0},
    {"version", "print the version, git commit and compiled-in backends",
     "usage: cellforge version\n", cmd_version, NULL, NULL, 0},
    {"help", "show help for cellforge or one command",
     "usage: cellforge help [COMMAND]\n", cmd_help, NULL, NULL, 0},
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

static void print_overview(FILE *out) {
    fprintf(out,
            "cellforge %s - neural architecture search in C and CUDA\n\n"
            "usage: cellforge COMMAND [ARGS...]\n\n"
            "commands:\n",
            cf_version());
    for (size_t i = 0; i < N_COMMANDS; i++) fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out,
            "\n"
            "Run `cellforge help COMMAND` or `cellforge COMMAND --help` for a command's options.\n"
            "Environment: CELLFORGE_LOG=debug|info|warn|error|off sets the log level (default info).\n"
            "OpenMP threads spin briefly, then sleep (%s, set by the commands that train);\n"
            "OMP_WAIT_POLICY or GOMP_SPINCOUNT of your own replaces it.\n"
            "Exit codes: 0 success, 1 error, 2 usage error.\n",
            cli_wait_policy_setting());
}

/* Commands in their own files keep their usage text there. */
static const char *usage_of(const command *cmd) {
    if (cmd->usage) return cmd->usage;
    if (cmd->usage_fn) return cmd->usage_fn();
    return cmd->usage_ref ? *cmd->usage_ref : "";
}

static const command *find_command(const char *name) {
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0) return &commands[i];
    return NULL;
}

static int unknown_command(const char *name) {
    const char *names[N_COMMANDS];
    for (size_t i = 0; i < N_COMMANDS; i++) names[i] = commands[i].name;
    const char *near = cf_text_closest(name, names, N_COMMANDS);
    if (near)
        fprintf(stderr, "cellforge: unknown command '%s'; did you mean '%s'? (see `cellforge help`)\n", name, near);
    else
        fprintf(stderr, "cellforge: unknown command '%s' (see `cellforge help`)\n", name);
    return EXIT_USAGE;
}

/* Commands that take no arguments accept only --help. */
static int no_arguments(const command *cmd, int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(cmd->usage, stdout);
            return EXIT_OK;
        }
        fprintf(stderr, "cellforge %s: unexpected argument '%s'\n%s", cmd->name, argv[i], cmd->usage);
        return EXIT_USAGE;
    }
    return -1;
}

static int cmd_help(int argc, char **argv) {
    if (argc < 2) {
        print_overview(stdout);
        return EXIT_OK;
    }
    const command *cmd = find_command(argv[1]);
    if (!cmd) return unknown_command(argv[1]);
    fputs(usage_of(cmd), stdout);
    return EXIT_OK;
}

static int cmd_version(int argc, char **argv) {
    int rc = no_arguments(find_command("version"), argc, argv);
    if (rc >= 0) return rc;
    printf("cellforge %s (git %s)\n", cf_version(), cf_git_hash());
    printf("backends: %s\n", cf_build_backends());
    return EXIT_OK;
}

static int cmd_devices(int argc, char **argv) {
    int rc = no_arguments(find_command("devices"), argc, argv);
    if (rc >= 0) return rc;
    cf_device_report r;
    cf_devices_discover(&r);
    printf("cpu: %d cores, %s, simd %s\n", r.cpu_cores, r.cpu_model, r.cpu_simd);
    if (r.cuda_runtime[0])
        printf("cuda: runtime %s, driver %s\n", r.cuda_runtime, r.cuda_driver[0] ? r.cuda_driver : "none");
    if (r.gpu_count == 0) {
        printf("gpus: 0 (%s)\n", r.gpu_note);
        return EXIT_OK;
    }
    printf("gpus: %d\n", r.gpu_count);
    for (int i = 0; i < r.gpu_count; i++) {
        const cf_gpu_info *g = &r.gpus[i];
        printf("  cuda:%d %s, %.1f GiB (%.1f GiB free), compute capability %d.%d, %d SMs\n", g->index, g->name,
               (double)g->total_bytes / (1 << 30), (double)g->free_bytes / (1 << 30), g->cc_major, g->cc_minor,
               g->multiprocessors);
    }
    return EXIT_OK;
}

int main(int argc, char **argv) {
    cf_log_get_level(); /* read CELLFORGE_LOG once, up front, so a bad value warns early */
    if (argc < 2) {
        print_overview(stderr);
        return EXIT_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0) {
        print_overview(stdout);
        return EXIT_OK;
    }
    if (strcmp(name, "--version") == 0) name = "version";
    const command *cmd = find_command(name);
    if (!cmd) return unknown_command(name);
    if (cmd->threads) cli_wait_policy_apply(argv); /* may start this binary again, once */
    int rc = cmd->run(argc - 1, argv + 1);
    if (rc != EXIT_OK) {
        /* A failed command has said why and closed its files; leave without
         * the exit handlers, whose library shutdowns (OpenBLAS joins its
         * threads) could wait on a thread stuck where the error came from. */
        fflush(NULL);
        _exit(rc);
    }
    return rc;
}
