/* spawnloop: times a program started with different LD_PRELOAD values,
 * interleaved run by run (A B A B ...) so that drift in the machine's load
 * hits every variant alike. The program is started with posix_spawn and
 * LD_PRELOAD set in its environment exactly as a user would set it (no
 * shell, no ld.so on the command line); stdout and stderr go to /dev/null.
 * Each run is timed from just before the spawn to the return of wait4.
 *
 * usage: spawnloop RUNS WARMUP SIGNAL PRELOAD [PRELOAD...] -- PROGRAM [ARG...]
 *   SIGNAL: 0 if the program must exit with status 0, else the number of
 *           the signal it must die of (any other end is an error).
 *   PRELOAD: the LD_PRELOAD value of a variant ("-" for none).
 * Prints hyperfine-style JSON ({"results": [{"command", "mean", "stddev",
 * "median", "min", "max", "times"}]}, seconds) on stdout, each result with
 * "cpu_s": the user and system CPU time wait4 reported for each run (it
 * does not count time spent waiting for a CPU), and "maxrss_kib": the
 * ru_maxrss that wait4 reported for each run. (After
 * posix_spawn, that is at least this program's own peak, about 1.3 MiB.) */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Writes s as the inside of a JSON string. */
static void json_str(const char *s) {
  for (; *s; s++) {
    if (*s == '"' || *s == '\\') putchar('\\');
    if ((unsigned char)*s < 0x20) printf("\\u%04x", *s);
    else putchar(*s);
  }
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* The environment of a variant: ours without LD_PRELOAD, plus its own. */
static char **variant_env(const char *preload) {
  size_t n = 0;
  while (environ[n]) n++;
  char **env = calloc(n + 2, sizeof *env);
  size_t k = 0;
  for (size_t i = 0; i < n; i++)
    if (strncmp(environ[i], "LD_PRELOAD=", 11) != 0) env[k++] = environ[i];
  if (strcmp(preload, "-") != 0) {
    char *var = malloc(strlen(preload) + 12);
    sprintf(var, "LD_PRELOAD=%s", preload);
    env[k++] = var;
  }
  env[k] = NULL;
  return env;
}

static double run_once(char **argv, char **env, int want_signal, long *maxrss, double *cpu) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid;
  double t0 = now();
  int err = posix_spawn(&pid, argv[0], &fa, NULL, argv, env);
  if (err) {
    fprintf(stderr, "spawnloop: %s: %s\n", argv[0], strerror(err));
    exit(2);
  }
  int status;
  struct rusage ru;
  while (wait4(pid, &status, 0, &ru) < 0 && errno == EINTR) {
  }
  *maxrss = ru.ru_maxrss;
  *cpu = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec * 1e-6;
  double t = now() - t0;
  posix_spawn_file_actions_destroy(&fa);
  int ok = want_signal ? WIFSIGNALED(status) && WTERMSIG(status) == want_signal
                       : WIFEXITED(status) && WEXITSTATUS(status) == 0;
  if (!ok) {
    fprintf(stderr, "spawnloop: %s ended with status 0x%x, expected %s %d\n", argv[0], status,
            want_signal ? "signal" : "exit", want_signal);
    exit(2);
  }
  return t;
}

int main(int argc, char **argv) {
  if (argc < 7) {
    fprintf(stderr, "usage: spawnloop RUNS WARMUP SIGNAL PRELOAD... -- PROGRAM [ARG...]\n");
    return 2;
  }
  int runs = atoi(argv[1]), warmup = atoi(argv[2]), sig = atoi(argv[3]);
  int nv = 0;
  while (4 + nv < argc && strcmp(argv[4 + nv], "--") != 0) nv++;
  if (nv == 0 || 4 + nv + 1 >= argc) {
    fprintf(stderr, "spawnloop: need PRELOAD values, --, and a program\n");
    return 2;
  }
  char **preloads = argv + 4, **prog = argv + 4 + nv + 1;
  char ***envs = calloc(nv, sizeof *envs);
  double **times = calloc(nv, sizeof *times);
  long **rss = calloc(nv, sizeof *rss);
  double **cpu = calloc(nv, sizeof *cpu);
  long ignored;
  double ignored_cpu;
  for (int v = 0; v < nv; v++) {
    envs[v] = variant_env(preloads[v]);
    times[v] = calloc(runs, sizeof **times);
    rss[v] = calloc(runs, sizeof **rss);
    cpu[v] = calloc(runs, sizeof **cpu);
  }
  for (int i = 0; i < warmup; i++)
    for (int v = 0; v < nv; v++) run_once(prog, envs[v], sig, &ignored, &ignored_cpu);
  for (int i = 0; i < runs; i++)
    for (int k = 0; k < nv; k++) {
      int v = (i + k) % nv; /* rotate which variant goes first */
      times[v][i] = run_once(prog, envs[v], sig, &rss[v][i], &cpu[v][i]);
    }
  printf("{\"results\": [\n");
  for (int v = 0; v < nv; v++) {
    double sum = 0, sq = 0;
    for (int i = 0; i < runs; i++) sum += times[v][i];
    double mean = sum / runs;
    for (int i = 0; i < runs; i++) sq += (times[v][i] - mean) * (times[v][i] - mean);
    double sd = runs > 1 ? sqrt(sq / (runs - 1)) : 0;
    qsort(times[v], runs, sizeof(double), cmp);
    double median = runs % 2 ? times[v][runs / 2] : (times[v][runs / 2 - 1] + times[v][runs / 2]) / 2;
    printf(" {\"command\": \"LD_PRELOAD=");
    json_str(strcmp(preloads[v], "-") ? preloads[v] : "");
    for (char **a = prog; *a; a++) {
      int quote = strpbrk(*a, " ;'\"") != NULL;
      printf(quote ? " '" : " ");
      json_str(*a);
      if (quote) putchar('\'');
    }
    printf("\", \"mean\": %.9f, \"stddev\": %.9f, \"median\": %.9f, \"min\": %.9f, \"max\": %.9f, "
           "\"times\": [",
           mean, sd, median, times[v][0], times[v][runs - 1]);
    for (int i = 0; i < runs; i++) printf("%s%.9f", i ? ", " : "", times[v][i]);
    printf("], \"cpu_s\": [");
    for (int i = 0; i < runs; i++) printf("%s%.6f", i ? ", " : "", cpu[v][i]);
    printf("], \"maxrss_kib\": [");
    for (int i = 0; i < runs; i++) printf("%s%ld", i ? ", " : "", rss[v][i]);
    printf("]}%s\n", v + 1 < nv ? "," : "");
  }
  printf("]}\n");
  return 0;
}
