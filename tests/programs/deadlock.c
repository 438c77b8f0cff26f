/* Two threads deadlocked on two mutexes: one takes a then b, the other b
 * then a, each waiting for the other. Only FAULTHANDLER_TIMEOUT=...:exit
 * ends it. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

static pthread_mutex_t a = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t b = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t both_hold_one;

__attribute__((noinline)) void take_a_then_b(void) {
  pthread_mutex_lock(&a);
  pthread_barrier_wait(&both_hold_one);
  pthread_mutex_lock(&b);
}
__attribute__((noinline)) void *first_main(void *arg) { take_a_then_b(); return arg; }

__attribute__((noinline)) void take_b_then_a(void) {
  pthread_mutex_lock(&b);
  pthread_barrier_wait(&both_hold_one);
  pthread_mutex_lock(&a);
}
__attribute__((noinline)) void *second_main(void *arg) { take_b_then_a(); return arg; }

int main(void) {
  pthread_t t1, t2;
  pthread_barrier_init(&both_hold_one, NULL, 2);
  pthread_create(&t1, NULL, first_main, NULL);
  pthread_create(&t2, NULL, second_main, NULL);
  pthread_join(t1, NULL);
  pthread_join(t2, NULL);
  return 0;
}
