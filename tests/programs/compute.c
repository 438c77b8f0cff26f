/* A program at work: four threads compute checksums, one pipes data to
 * another, and with argv[1] = "prod" a "prodder" thread sends SIGUSR1
 * (registered through FAULTHANDLER_SIGNAL) to the process five times along
 * the way. Every result goes to stdout, which must be the same with the
 * dumps as without them. */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define WORKERS 4
static uint64_t results[WORKERS];
static int pipe_fds[2];
static long piped;

__attribute__((noinline)) uint64_t checksum(uint64_t seed, long rounds) {
  uint64_t x = seed;
  for (long i = 0; i < rounds; i++) x = x * 6364136223846793005ULL + 1442695040888963407ULL + (x >> 29);
  return x;
}
static void *worker(void *arg) {
  long i = (long)arg;
  results[i] = checksum((uint64_t)i + 1, 60 * 1000 * 1000);
  return NULL;
}
static void *writer(void *arg) {
  char buf[4096];
  memset(buf, 'x', sizeof buf);
  for (int i = 0; i < 2000; i++) {
    size_t done = 0;
    while (done < sizeof buf) {
      ssize_t n = write(pipe_fds[1], buf + done, sizeof buf - done);
      if (n < 0) { perror("write"); return arg; }
      done += (size_t)n;
    }
  }
  close(pipe_fds[1]);
  return arg;
}
static void *reader(void *arg) {
  char buf[1000];
  for (;;) {
    ssize_t n = read(pipe_fds[0], buf, sizeof buf);
    if (n == 0) break;
    if (n < 0) { perror("read"); break; }
    piped += n;
  }
  return arg;
}
static void *prodder(void *arg) {
  for (int i = 0; i < 5; i++) {
    usleep(20 * 1000);
    kill(getpid(), SIGUSR1);
  }
  return arg;
}

int main(int argc, char **argv) {
  int prod = argc > 1 && strcmp(argv[1], "prod") == 0;
  pthread_t w[WORKERS], wr, rd, pr;
  if (pipe(pipe_fds) != 0) return 2;
  for (long i = 0; i < WORKERS; i++) pthread_create(&w[i], NULL, worker, (void *)i);
  pthread_create(&wr, NULL, writer, NULL);
  pthread_create(&rd, NULL, reader, NULL);
  if (prod) pthread_create(&pr, NULL, prodder, NULL);
  for (int i = 0; i < WORKERS; i++) pthread_join(w[i], NULL);
  pthread_join(wr, NULL);
  pthread_join(rd, NULL);
  if (prod) pthread_join(pr, NULL);
  for (int i = 0; i < WORKERS; i++) printf("worker %d: %016llx\n", i, (unsigned long long)results[i]);
  printf("piped %ld bytes\n", piped);
  return 0;
}
